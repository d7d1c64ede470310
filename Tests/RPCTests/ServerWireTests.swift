import Testing

@testable import RPC

/// The server over a real loopback socket, driven by independent clients: Python grpcio
/// (calls, metadata, compression, deadlines, streaming) and raw HTTP/2 frames from the `h2`
/// package (bad input the grpcio client would never send). Every bad request is followed by
/// a normal call on the same server. Requires `.venv-test` (see ``runPytest``).
@Suite(.serialized) struct ServerWireTests {
  @Test func grpcioClientCallsEveryKindOfMethod() async throws {
    try await withEchoServer { server in
      guard let (status, output) = try runPytest("test_server_grpcio.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test: cannot run the grpcio client")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }

  @Test func rawHTTP2BadInputIsAnsweredAndTheServerKeepsServing() async throws {
    try await withEchoServer { server in
      guard let (status, output) = try runPytest("test_server_raw_h2.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test: cannot run the h2 client")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }
}
