import Glibc
import Testing

@testable import RPC

/// The server over a real loopback socket, driven by independent clients: Python grpcio
/// (calls, metadata, compression, deadlines, streaming) and raw HTTP/2 frames from the `h2`
/// package (bad input the grpcio client would never send). Every bad request is followed by
/// a normal call on the same server. Requires `.venv-test` (see ``runPytest``).
@Suite(.serialized) struct ServerWireTests {
  @Test func grpcioClientCallsEveryKindOfMethod() async throws {
    try await withEchoServer { server in
      guard
        let (status, output) = try await runPytest("test_server_grpcio.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test: cannot run the grpcio client")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }

  @Test func http2AbuseEndsOnlyTheAbusiveConnection() async throws {
    try await withEchoServer { server in
      guard
        let (status, output) = try await runPytest("test_server_abuse.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }

  @Test func rawHTTP2BadInputIsAnsweredAndTheServerKeepsServing() async throws {
    try await withEchoServer { server in
      guard
        let (status, output) = try await runPytest("test_server_raw_h2.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test: cannot run the h2 client")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }
}

/// Flow control: a slow reader suspends `ResponseWriter.write`, a handler that does not read
/// closes the client's window, and RST_STREAM cancels the handler.
@Suite(.serialized) struct ServerFlowControlWireTests {
  @Test func backpressureBothWaysAndCancellation() async throws {
    try await withEchoServer { server in
      guard
        let (status, output) = try await runPytest(
          "test_server_flow_control.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }
}

/// TLS (ALPN h2, mutual TLS) and graceful shutdown, seen from grpcio and raw h2 clients.
@Suite(.serialized) struct ServerLifecycleWireTests {
  @Test func tlsWithClientCertificatesServesGRPCIO() async throws {
    let certificates = try makeTestCertificates()
    try await withEchoServer({ configuration in
      configuration.tls = TLSServerConfiguration(
        certificateChainFile: certificates + "/server.pem",
        privateKeyFile: certificates + "/server.key",
        clientCAFile: certificates + "/ca.pem")
    }) { server in
      guard
        let (status, output) = try await runPytest(
          "test_server_tls.py", port: server.localPort,
          environment: ["CASSETTO_SERVER_TEST_CERTS": certificates])
      else {
        Issue.record("missing .venv-test")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }

  @Test func idleConnectionIsClosedAfterIdleTimeout() async throws {
    try await withEchoServer({ $0.idleTimeout = .seconds(1) }) { server in
      guard
        let (status, output) = try await runPytest("test_server_idle.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }

  @Test func keepalivePingsAndMaxConnectionAge() async throws {
    try await withEchoServer({
      $0.idleTimeout = nil
      $0.keepaliveInterval = .milliseconds(800)
      $0.keepaliveTimeout = .seconds(5)
      $0.maxConnectionAge = .seconds(2)
      $0.shutdownGracePeriod = .seconds(1)
    }) { server in
      guard
        let (status, output) = try await runPytest(
          "test_server_keepalive.py", port: server.localPort)
      else {
        Issue.record("missing .venv-test")
        return
      }
      #expect(status == 0, "\(output)")
    }
  }

  @Test func gracefulShutdownFinishesInFlightCallsThenStops() async throws {
    let server = try Server(
      configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 2),
      services: [EchoService.definition()])
    try server.start()
    let name = "graceful-\(server.localPort)"
    ShutdownTriggers.register(server, as: name)
    guard
      let (status, output) = try await runPytest(
        "test_server_shutdown.py", port: server.localPort,
        environment: ["CASSETTO_SERVER_TEST_TRIGGER": name])
    else {
      Issue.record("missing .venv-test")
      await server.shutdown(gracePeriod: .zero)
      return
    }
    #expect(status == 0, "\(output)")
    // The shutdown the client triggered completes on its own.
    await server.waitUntilStopped()
  }

  @Test func shutdownOfAnIdleServerReturnsAndClosesTheListener() async throws {
    let server = try Server(
      configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 3),
      services: [EchoService.definition()])
    try server.start()
    let port = server.localPort
    #expect(port > 0)
    #expect(canConnect(port: port))
    await server.shutdown(gracePeriod: .seconds(1))
    await server.waitUntilStopped()
    #expect(!canConnect(port: port), "a listener is still open after shutdown")
  }

  @Test func duplicateMethodsAndBadConfigurationAreRefused() {
    #expect(throws: ServerConfigurationError.self) {
      _ = try Server(
        configuration: ServerConfiguration(),
        services: [EchoService.definition(), EchoService.definition()])
    }
    #expect(throws: ServerConfigurationError.self) {
      _ = try Server(configuration: ServerConfiguration(eventLoopCount: 0), services: [])
    }
  }
}

/// Whether a TCP connection to 127.0.0.1:`port` is accepted.
func canConnect(port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = UInt16(port).bigEndian
  address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
  let rc = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  return rc == 0
}
