import Contracts
import Interop
import RPC
import Testing

/// The interop cases of grpc/grpc `doc/interop-test-descriptions.md`, run by our own generated
/// client against our own server (in process, over loopback h2c). Interop with independent
/// implementations is in `Tests/interop/`; this suite checks that both halves of Cassetto agree
/// on the same cases.
@Suite("Interop cases over loopback")
struct InteropLoopbackTests {
  static let specialMessage = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"

  @Test func emptyUnary() async throws {
    try await withInteropClient { client in
      let response = try await client.emptyCall(Grpc_Testing_Empty())
      #expect(response.message.serializedBytes().isEmpty)
    }
  }

  @Test func largeUnary() async throws {
    try await withInteropClient { client in
      let response = try await client.unaryCall(largeUnaryRequest())
      #expect(response.message.payload?.body == zeros(314_159))
    }
  }

  @Test func clientCompressedUnary() async throws {
    try await withInteropClient { client in
      var request = largeUnaryRequest()
      request.expectCompressed = loopbackBool(true)
      let probe = await #expect(throws: RPCError.self) {
        try await client.unaryCall(request)
      }
      #expect(probe?.code == .invalidArgument)
      let compressed = try await client.unaryCall(
        request, options: CallOptions(compressRequests: true))
      #expect(compressed.message.payload?.body.count == 314_159)
      request.expectCompressed = loopbackBool(false)
      let plain = try await client.unaryCall(request)
      #expect(plain.message.payload?.body.count == 314_159)
    }
  }

  @Test func serverCompressedUnary() async throws {
    try await withInteropClient { client in
      for value in [true, false] {
        var request = largeUnaryRequest()
        request.responseCompressed = loopbackBool(value)
        let response = try await client.unaryCall(request)
        #expect(response.message.payload?.body == zeros(314_159))
      }
    }
  }

  @Test func clientStreaming() async throws {
    try await withInteropClient { client in
      let call = try await client.streamingInputCall()
      for size in [27182, 8, 1828, 45904] {
        var request = Grpc_Testing_StreamingInputCallRequest()
        request.payload = loopbackPayload(size)
        try await call.send(request)
      }
      let response = try await call.closeAndReceive()
      #expect(response.message.aggregatedPayloadSize == 74922)
    }
  }

  @Test func clientCompressedStreaming() async throws {
    try await withInteropClient { client in
      var first = Grpc_Testing_StreamingInputCallRequest()
      first.expectCompressed = loopbackBool(true)
      first.payload = loopbackPayload(27182)

      let probe = try await client.streamingInputCall()
      try await probe.send(first, compress: false)
      let error = await #expect(throws: RPCError.self) { try await probe.closeAndReceive() }
      #expect(error?.code == .invalidArgument)

      var second = Grpc_Testing_StreamingInputCallRequest()
      second.expectCompressed = loopbackBool(false)
      second.payload = loopbackPayload(45904)
      // The call declares gzip (grpc-encoding) up front; the second message opts out.
      let call = try await client.streamingInputCall(options: CallOptions(compressRequests: true))
      try await call.send(first, compress: true)
      try await call.send(second, compress: false)
      let response = try await call.closeAndReceive()
      #expect(response.message.aggregatedPayloadSize == 73086)
    }
  }

  @Test func serverStreaming() async throws {
    try await withInteropClient { client in
      let sizes: [Int32] = [31415, 9, 2653, 58979]
      let call = try await client.streamingOutputCall(outputRequest(sizes))
      var received: [Int] = []
      for try await response in call.responses {
        received.append(response.payload?.body.count ?? -1)
      }
      #expect(received == sizes.map(Int.init))
    }
  }

  @Test func serverCompressedStreaming() async throws {
    try await withInteropClient { client in
      var request = outputRequest([31415, 92653])
      request.responseParameters[0].compressed = loopbackBool(true)
      request.responseParameters[1].compressed = loopbackBool(false)
      let call = try await client.streamingOutputCall(request)
      var received: [Int] = []
      for try await response in call.responses {
        received.append(response.payload?.body.count ?? -1)
      }
      #expect(received == [31415, 92653])
    }
  }

  @Test func pingPong() async throws {
    try await withInteropClient { client in
      let call = try await client.fullDuplexCall()
      var responses = call.responses.makeAsyncIterator()
      for (size, payload) in [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)] {
        try await call.send(outputRequest([Int32(size)], payload: payload))
        let response = try await responses.next()
        #expect(response?.payload?.body.count == size)
      }
      try await call.closeSend()
      #expect(try await responses.next() == nil)
    }
  }

  @Test func emptyStream() async throws {
    try await withInteropClient { client in
      let call = try await client.fullDuplexCall()
      try await call.closeSend()
      var count = 0
      for try await _ in call.responses { count += 1 }
      #expect(count == 0)
    }
  }

  @Test func customMetadata() async throws {
    try await withInteropClient { client in
      var metadata = Metadata()
      metadata.addString("test_initial_metadata_value", forKey: "x-grpc-test-echo-initial")
      metadata.addBinary([0xAB, 0xAB, 0xAB], forKey: "x-grpc-test-echo-trailing-bin")

      let unary = try await client.unaryCall(largeUnaryRequest(), metadata: metadata)
      #expect(
        unary.initialMetadata.firstString(forKey: "x-grpc-test-echo-initial")
          == "test_initial_metadata_value")
      #expect(
        unary.trailingMetadata.firstBinary(forKey: "x-grpc-test-echo-trailing-bin")
          == [0xAB, 0xAB, 0xAB])

      let call = try await client.fullDuplexCall(metadata: metadata)
      try await call.send(outputRequest([314_159], payload: 271_828))
      try await call.closeSend()
      var sizes: [Int] = []
      for try await response in call.responses { sizes.append(response.payload?.body.count ?? -1) }
      #expect(sizes == [314_159])
      #expect(
        try await call.initialMetadata().firstString(forKey: "x-grpc-test-echo-initial")
          == "test_initial_metadata_value")
      #expect(
        try await call.trailingMetadata().firstBinary(forKey: "x-grpc-test-echo-trailing-bin")
          == [0xAB, 0xAB, 0xAB])
    }
  }

  @Test(arguments: ["test status message", InteropLoopbackTests.specialMessage])
  func statusCodeAndMessage(message: String) async throws {
    try await withInteropClient { client in
      var status = Grpc_Testing_EchoStatus()
      status.code = 2
      status.message = message
      var request = Grpc_Testing_SimpleRequest()
      request.responseStatus = status
      let unary = await #expect(throws: RPCError.self) { try await client.unaryCall(request) }
      #expect(unary?.code == .unknown)
      #expect(unary?.message == message)

      var streaming = Grpc_Testing_StreamingOutputCallRequest()
      streaming.responseStatus = status
      let call = try await client.fullDuplexCall()
      try await call.send(streaming)
      try await call.closeSend()
      let duplex = await #expect(throws: RPCError.self) {
        for try await _ in call.responses {}
      }
      #expect(duplex?.code == .unknown)
      #expect(duplex?.message == message)
    }
  }

  @Test func unimplementedMethod() async throws {
    try await withInteropClient { client in
      let error = await #expect(throws: RPCError.self) {
        try await client.unimplementedCall(Grpc_Testing_Empty())
      }
      #expect(error?.code == .unimplemented)
    }
  }

  @Test func unimplementedService() async throws {
    try await withInteropClient { client in
      let other = Grpc_Testing_UnimplementedServiceClient(channel: client.channel)
      let error = await #expect(throws: RPCError.self) {
        try await other.unimplementedCall(Grpc_Testing_Empty())
      }
      #expect(error?.code == .unimplemented)
    }
  }

  @Test func cancelAfterBegin() async throws {
    try await withInteropClient { client in
      let call = try await client.streamingInputCall()
      call.cancel()
      let error = await #expect(throws: RPCError.self) { try await call.closeAndReceive() }
      #expect(error?.code == .cancelled)
      _ = try await client.emptyCall(Grpc_Testing_Empty())
    }
  }

  @Test func cancelAfterFirstResponse() async throws {
    try await withInteropClient { client in
      let call = try await client.fullDuplexCall()
      var responses = call.responses.makeAsyncIterator()
      try await call.send(outputRequest([31415], payload: 27182))
      #expect(try await responses.next()?.payload?.body.count == 31415)
      call.cancel()
      let error = await #expect(throws: RPCError.self) { _ = try await responses.next() }
      #expect(error?.code == .cancelled)
      _ = try await client.emptyCall(Grpc_Testing_Empty())
    }
  }

  @Test func timeoutOnSleepingServer() async throws {
    try await withInteropClient { client in
      let call = try await client.fullDuplexCall(options: CallOptions(timeout: .milliseconds(1)))
      var request = Grpc_Testing_StreamingOutputCallRequest()
      request.payload = loopbackPayload(27182)
      // The send itself may already fail: the deadline can pass before it.
      try? await call.send(request)
      let error = await #expect(throws: RPCError.self) {
        for try await _ in call.responses {}
      }
      #expect(error?.code == .deadlineExceeded)
    }
  }
}

// MARK: - Helpers

private func withInteropClient(
  _ body: (Grpc_Testing_TestServiceClient) async throws -> Void
) async throws {
  let configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
  let server = try Server(
    configuration: configuration, services: [InteropTestService().serviceDefinition])
  try server.start()
  let channel = Channel(host: "127.0.0.1", port: server.localPort)
  do {
    try await body(Grpc_Testing_TestServiceClient(channel: channel))
  } catch {
    channel.close()
    await server.shutdown(gracePeriod: .seconds(1))
    throw error
  }
  channel.close()
  await server.shutdown(gracePeriod: .seconds(1))
}

private func zeros(_ count: Int) -> [UInt8] { [UInt8](repeating: 0, count: count) }

private func loopbackPayload(_ size: Int) -> Grpc_Testing_Payload {
  var payload = Grpc_Testing_Payload()
  payload.body = zeros(size)
  return payload
}

private func loopbackBool(_ value: Bool) -> Grpc_Testing_BoolValue {
  var bool = Grpc_Testing_BoolValue()
  bool.value = value
  return bool
}

private func largeUnaryRequest() -> Grpc_Testing_SimpleRequest {
  var request = Grpc_Testing_SimpleRequest()
  request.responseSize = 314_159
  request.payload = loopbackPayload(271_828)
  return request
}

private func outputRequest(
  _ sizes: [Int32], payload: Int = 0
) -> Grpc_Testing_StreamingOutputCallRequest {
  var request = Grpc_Testing_StreamingOutputCallRequest()
  request.responseParameters = sizes.map { size in
    var parameters = Grpc_Testing_ResponseParameters()
    parameters.size = size
    return parameters
  }
  if payload > 0 { request.payload = loopbackPayload(payload) }
  return request
}
