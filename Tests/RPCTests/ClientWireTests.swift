import Foundation
import Testing

@testable import RPC

/// The client runtime over a real socket, against an independent server (Python grpcio).
@Suite(
  "Client over the wire (grpcio interop server)",
  .enabled(if: ClientTestSupport.pythonAvailable, "needs .venv-test with grpcio"),
  .timeLimit(.minutes(2)))
struct ClientWireTests {
  @Test func unaryCallReturnsTheResponse() async throws {
    try await withInteropServer { _, channel in
      let response = try await channel.unary(
        TestService.unaryCall,
        request: Interop.simpleRequest(responseSize: 314_159, payloadSize: 271_828),
        responseType: RawMessage.self)
      #expect(Interop.responsePayloadSize(response.message) == 314_159)
    }
  }

  @Test func emptyMessagesRoundTrip() async throws {
    try await withInteropServer { _, channel in
      let response = try await channel.unary(
        TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
      #expect(response.message.bytes.isEmpty)
    }
  }

  @Test func errorStatusCarriesThePercentDecodedMessage() async throws {
    let message = "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n"
    try await withInteropServer { _, channel in
      let error = await #expect(throws: RPCError.self) {
        _ = try await channel.unary(
          TestService.unaryCall, request: Interop.simpleRequest(status: (2, message)),
          responseType: RawMessage.self)
      }
      #expect(error?.code == .unknown)
      #expect(error?.message == message)
    }
  }

  @Test func customMetadataIsSentAndEchoed() async throws {
    try await withInteropServer { _, channel in
      var metadata = Metadata()
      metadata.addString("test_initial_metadata_value", forKey: "x-grpc-test-echo-initial")
      metadata.addBinary([0xab, 0x00, 0xff], forKey: "x-grpc-test-echo-trailing-bin")
      let response = try await channel.unary(
        TestService.unaryCall, request: Interop.simpleRequest(responseSize: 10),
        metadata: metadata, responseType: RawMessage.self)
      #expect(
        response.initialMetadata.firstString(forKey: "x-grpc-test-echo-initial")
          == "test_initial_metadata_value")
      #expect(
        response.trailingMetadata.firstBinary(forKey: "x-grpc-test-echo-trailing-bin")
          == [0xab, 0x00, 0xff])
    }
  }

  @Test func serverStreamingDeliversEveryMessageInOrder() async throws {
    try await withInteropServer { _, channel in
      let sizes = [31_415, 9, 2_653, 58_979]
      let call = try await channel.serverStreaming(
        TestService.streamingOutputCall, request: Interop.streamingOutputRequest(sizes: sizes),
        responseType: RawMessage.self)
      var received: [Int?] = []
      for try await message in call.responses {
        received.append(Interop.responsePayloadSize(message))
      }
      #expect(received == sizes)
      _ = try await call.trailingMetadata()
    }
  }

  @Test func clientStreamingAggregates() async throws {
    try await withInteropServer { _, channel in
      let call = try await channel.clientStreaming(
        TestService.streamingInputCall, requestType: RawMessage.self, responseType: RawMessage.self)
      for size in [27_182, 8, 1_828, 45_904] {
        try await call.send(Interop.streamingInputRequest(size: size))
      }
      let response = try await call.closeAndReceive()
      #expect(Interop.aggregatedSize(response.message) == 74_922)
    }
  }

  @Test func pingPongInterleavesSendsAndReceives() async throws {
    try await withInteropServer { _, channel in
      let call = try await channel.bidirectionalStreaming(
        TestService.fullDuplexCall, requestType: RawMessage.self, responseType: RawMessage.self)
      var responses = call.responses.makeAsyncIterator()
      for (request, response) in [(27_182, 31_415), (8, 9), (1_828, 2_653), (45_904, 58_979)] {
        try await call.send(Interop.streamingOutputRequest(sizes: [response], payloadSize: request))
        let message = try await responses.next()
        #expect(message.flatMap(Interop.responsePayloadSize) == response)
      }
      try await call.closeSend()
      #expect(try await responses.next() == nil)
    }
  }

  @Test func compressedRequestsAndResponsesRoundTrip() async throws {
    try await withInteropServer { _, channel in
      let response = try await channel.unary(
        TestService.unaryCall,
        request: Interop.simpleRequest(
          responseSize: 314_159, payloadSize: 271_828, responseCompressed: true),
        options: CallOptions(compressRequests: true), responseType: RawMessage.self)
      #expect(Interop.responsePayloadSize(response.message) == 314_159)
    }
  }

  @Test func unknownMethodIsUnimplemented() async throws {
    try await withInteropServer { _, channel in
      let error = await #expect(throws: RPCError.self) {
        _ = try await channel.unary(
          TestService.unimplementedCall, request: RawMessage(), responseType: RawMessage.self)
      }
      #expect(error?.code == .unimplemented)
    }
  }

  @Test func deadlineFailsTheCallWithDeadlineExceeded() async throws {
    try await withInteropServer { _, channel in
      let call = try await channel.bidirectionalStreaming(
        TestService.fullDuplexCall, options: CallOptions(timeout: .milliseconds(100)),
        requestType: RawMessage.self, responseType: RawMessage.self)
      let start = ContinuousClock.now
      let error = await #expect(throws: RPCError.self) {
        for try await _ in call.responses {}
      }
      #expect(error?.code == .deadlineExceeded)
      #expect(ContinuousClock.now - start < .seconds(5))
    }
  }

  @Test func cancelFailsPendingReadsWithCancelled() async throws {
    try await withInteropServer { _, channel in
      let call = try await channel.bidirectionalStreaming(
        TestService.fullDuplexCall, requestType: RawMessage.self, responseType: RawMessage.self)
      let reader = Task {
        var iterator = call.responses.makeAsyncIterator()
        return try await iterator.next()
      }
      try await Task.sleep(for: .milliseconds(100))
      call.cancel()
      let error = await #expect(throws: RPCError.self) { _ = try await reader.value }
      #expect(error?.code == .cancelled)
    }
  }

  @Test func oversizedResponseIsResourceExhausted() async throws {
    try await withInteropServer { _, channel in
      let error = await #expect(throws: RPCError.self) {
        _ = try await channel.unary(
          TestService.unaryCall, request: Interop.simpleRequest(responseSize: 100_000),
          options: CallOptions(maxReceiveMessageSize: 1_000), responseType: RawMessage.self)
      }
      #expect(error?.code == .resourceExhausted)
    }
  }

  @Test func callsAreMultiplexedOnOneChannel() async throws {
    try await withInteropServer { _, channel in
      try await withThrowingTaskGroup(of: Int?.self) { group in
        for index in 0..<50 {
          group.addTask {
            let response = try await channel.unary(
              TestService.unaryCall, request: Interop.simpleRequest(responseSize: 1_000 + index),
              responseType: RawMessage.self)
            return Interop.responsePayloadSize(response.message)
          }
        }
        var sizes: Set<Int> = []
        for try await size in group { if let size { sizes.insert(size) } }
        #expect(sizes == Set((0..<50).map { 1_000 + $0 }))
      }
    }
  }

  @Test func slowReaderStillReceivesEverything() async throws {
    // 40 × 256 KiB = 10 MiB: more than the stream and connection windows, so the server can
    // only finish if the client gives window back as the reader consumes.
    try await withInteropServer { _, channel in
      let sizes = [Int](repeating: 256 * 1024, count: 40)
      let call = try await channel.serverStreaming(
        TestService.streamingOutputCall, request: Interop.streamingOutputRequest(sizes: sizes),
        responseType: RawMessage.self)
      var count = 0
      for try await message in call.responses {
        if count == 0 { try await Task.sleep(for: .milliseconds(300)) }
        #expect(Interop.responsePayloadSize(message) == 256 * 1024)
        count += 1
      }
      #expect(count == 40)
    }
  }

  @Test func deadServerFailsWithUnavailableAndTheChannelReconnects() async throws {
    let server = try PythonInteropServer.start()
    let port = server.port
    server.stop()
    let channel = Channel(host: "127.0.0.1", port: port)
    defer { channel.close() }
    let error = await #expect(throws: RPCError.self) {
      _ = try await channel.unary(
        TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
    }
    #expect(error?.code == .unavailable)
    // A server comes (back) on that port: the next call dials again and succeeds.
    let revived = try PythonInteropServer.start(port: port)
    defer { revived.stop() }
    let response = try await channel.unary(
      TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
    #expect(response.message.bytes.isEmpty)
  }

  @Test func aServerThatNeverAnswersTheHandshakeFailsTheCallWithUnavailable() async throws {
    // A listening socket nobody serves: TCP connects (the backlog accepts), TLS never does.
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, length)
        listen(listener, 8)
        return getsockname(listener, $0, &length)
      }
    }
    var configuration = ClientChannelConfiguration(
      host: "127.0.0.1", port: Int(UInt16(bigEndian: address.sin_port)),
      tls: TLSClientConfiguration(verifyPeer: false))
    configuration.setupTimeout = .milliseconds(300)
    let channel = Channel(configuration: configuration)
    defer { channel.close() }
    let start = ContinuousClock.now
    let error = await #expect(throws: RPCError.self) {
      _ = try await channel.unary(
        TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
    }
    #expect(error?.code == .unavailable)
    #expect(ContinuousClock.now - start < .seconds(10))
  }

  @Test func callsStartedAfterCloseFailAtOnce() async throws {
    try await withInteropServer { _, channel in
      _ = try await channel.unary(
        TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
      channel.close()
      try await Task.sleep(for: .milliseconds(100))  // the I/O thread is gone by now
      let error = await #expect(throws: RPCError.self) {
        _ = try await channel.unary(
          TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
      }
      #expect(error?.code == .unavailable)
    }
  }

  @Test func closedChannelFailsCallsWithUnavailable() async throws {
    try await withInteropServer { _, channel in
      _ = try await channel.unary(
        TestService.emptyCall, request: RawMessage(), responseType: RawMessage.self)
      let call = try await channel.bidirectionalStreaming(
        TestService.fullDuplexCall, requestType: RawMessage.self, responseType: RawMessage.self)
      try await Task.sleep(for: .milliseconds(100))
      channel.close()
      let error = await #expect(throws: RPCError.self) {
        for try await _ in call.responses {}
      }
      #expect(error?.code == .unavailable)
    }
  }
}
