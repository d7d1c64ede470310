import Contracts
import Interop
import RPC
import Synchronization
import Testing

/// `InteropTestService` called directly, without a network: the server features of grpc/grpc
/// `doc/interop-test-descriptions.md`. The wire behaviour is covered by
/// `Tests/interop/test_interop_server.py`.
@Suite("Interop TestService")
struct InteropServiceTests {
  let service = InteropTestService()

  // MARK: UnaryCall

  @Test func unaryCallAnswersWithZeroBytesOfTheRequestedSize() async throws {
    var request = Grpc_Testing_SimpleRequest()
    request.responseSize = 314_159
    request.payload = zeroPayload(271_828)
    let response = try await service.unaryCall(request: request, context: makeContext())
    #expect(response.payload?.body == [UInt8](repeating: 0, count: 314_159))
    #expect(response.payload.map { isCompressable($0.type) } == true)
  }

  @Test func unaryCallEchoesTheRequestedStatus() async throws {
    var request = Grpc_Testing_SimpleRequest()
    request.responseStatus = echoStatus(
      2, "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")
    let error = await #expect(throws: RPCError.self) {
      try await service.unaryCall(request: request, context: makeContext())
    }
    #expect(error?.code == .unknown)
    #expect(error?.message == "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n")
  }

  @Test func unaryCallIgnoresAnOKEchoStatus() async throws {
    var request = Grpc_Testing_SimpleRequest()
    request.responseSize = 3
    request.responseStatus = echoStatus(0, "fine")
    let response = try await service.unaryCall(request: request, context: makeContext())
    #expect(response.payload?.body.count == 3)
  }

  @Test func unaryCallRejectsAnUncompressedRequestThatShouldBeCompressed() async throws {
    var request = Grpc_Testing_SimpleRequest()
    request.expectCompressed = boolValue(true)
    let error = await #expect(throws: RPCError.self) {
      try await service.unaryCall(request: request, context: makeContext())
    }
    #expect(error?.code == .invalidArgument)

    let compressed = makeContext()
    compressed.setLastRequestWasCompressed(true)
    _ = try await service.unaryCall(request: request, context: compressed)
  }

  @Test func unaryCallCompressesTheResponseOnlyWhenAsked() async throws {
    var request = Grpc_Testing_SimpleRequest()
    let untouched = makeContext()
    _ = try await service.unaryCall(request: request, context: untouched)
    #expect(untouched.compressResponses == nil)

    for value in [true, false] {
      request.responseCompressed = boolValue(value)
      let context = makeContext()
      _ = try await service.unaryCall(request: request, context: context)
      #expect(context.compressResponses == value)
    }
  }

  @Test func unaryCallRefusesAnUnknownPayloadTypeAndBadSizes() async throws {
    for size: Int32 in [-1, Int32(InteropTestService.maximumPayloadSize) + 1] {
      var request = Grpc_Testing_SimpleRequest()
      request.responseSize = size
      let error = await #expect(throws: RPCError.self) {
        try await service.unaryCall(request: request, context: makeContext())
      }
      #expect(error?.code == .invalidArgument)
    }
    var request = Grpc_Testing_SimpleRequest()
    request.responseType = .unrecognized(7)
    let error = await #expect(throws: RPCError.self) {
      try await service.unaryCall(request: request, context: makeContext())
    }
    #expect(error?.code == .invalidArgument)
  }

  @Test func echoMetadataGoesToInitialAndTrailingMetadata() async throws {
    var metadata = Metadata()
    metadata.addString("test_initial_metadata_value", forKey: "x-grpc-test-echo-initial")
    metadata.addBinary([0xAB, 0xAB, 0xAB], forKey: "x-grpc-test-echo-trailing-bin")
    metadata.addString("not echoed", forKey: "x-other")
    let context = makeContext(metadata: metadata)
    _ = try await service.unaryCall(request: Grpc_Testing_SimpleRequest(), context: context)

    let initial = context.takeInitialMetadataForSending()
    #expect(initial.count == 1)
    #expect(
      initial.firstString(forKey: "x-grpc-test-echo-initial") == "test_initial_metadata_value")
    let trailing = context.trailingMetadata
    #expect(trailing.count == 1)
    #expect(trailing.firstBinary(forKey: "x-grpc-test-echo-trailing-bin") == [0xAB, 0xAB, 0xAB])
  }

  @Test func nothingIsEchoedUnasked() async throws {
    let context = makeContext()
    _ = try await service.unaryCall(request: Grpc_Testing_SimpleRequest(), context: context)
    #expect(context.takeInitialMetadataForSending().isEmpty)
    #expect(context.trailingMetadata.isEmpty)
  }

  @Test func unimplementedCallIsUnimplemented() async throws {
    let error = await #expect(throws: RPCError.self) {
      try await service.unimplementedCall(request: Grpc_Testing_Empty(), context: makeContext())
    }
    #expect(error?.code == .unimplemented)
  }

  // MARK: Streams

  @Test func streamingOutputCallSendsOneResponsePerParameterInOrder() async throws {
    var request = Grpc_Testing_StreamingOutputCallRequest()
    request.responseParameters = [
      parameters(31415, compressed: true), parameters(9), parameters(2653, compressed: false),
    ]
    let sink = ResponseSink()
    try await service.streamingOutputCall(
      request: request, responses: sink.writer(), context: makeContext())
    let sent = try sink.decoded(Grpc_Testing_StreamingOutputCallResponse.self)
    #expect(sent.map { $0.message.payload?.body.count } == [31415, 9, 2653])
    #expect(sent.map(\.compress) == [true, nil, false])
  }

  @Test func streamingOutputCallEchoesTheStatusAfterTheResponses() async throws {
    var request = Grpc_Testing_StreamingOutputCallRequest()
    request.responseParameters = [parameters(5), parameters(6)]
    request.responseStatus = echoStatus(9, "after two")
    let sink = ResponseSink()
    let error = await #expect(throws: RPCError.self) {
      try await service.streamingOutputCall(
        request: request, responses: sink.writer(), context: makeContext())
    }
    #expect(error == RPCError(.failedPrecondition, "after two"))
    #expect(try sink.decoded(Grpc_Testing_StreamingOutputCallResponse.self).count == 2)
  }

  @Test func intervalSleepEndsWhenTheCallIsCancelled() async throws {
    var request = Grpc_Testing_StreamingOutputCallRequest()
    request.responseParameters = [parameters(1), parameters(1, intervalUs: 30_000_000)]
    let sink = ResponseSink()
    let task = Task {
      try await service.streamingOutputCall(
        request: request, responses: sink.writer(), context: makeContext())
    }
    while sink.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
    // Timed from the cancellation, not the start: under a loaded parallel test run the task
    // may wait seconds for a thread before its first message (the sleep itself is 30 s).
    let started = ContinuousClock.now
    task.cancel()
    await #expect(throws: CancellationError.self) { try await task.value }
    #expect(ContinuousClock.now - started < .seconds(10))
    #expect(sink.count == 1)
  }

  @Test func streamingInputCallSumsThePayloads() async throws {
    let requests = [27182, 8, 1828, 45904].map { size in
      var request = Grpc_Testing_StreamingInputCallRequest()
      request.payload = zeroPayload(size)
      return request
    }
    let context = makeContext()
    let response = try await service.streamingInputCall(
      requests: RequestFeed(requests, context: context).stream(), context: context)
    #expect(response.aggregatedPayloadSize == 74922)
  }

  @Test func streamingInputCallChecksCompressionPerMessage() async throws {
    var first = Grpc_Testing_StreamingInputCallRequest()
    first.expectCompressed = boolValue(true)
    first.payload = zeroPayload(27182)
    var second = Grpc_Testing_StreamingInputCallRequest()
    second.expectCompressed = boolValue(false)
    second.payload = zeroPayload(45904)

    let context = makeContext()
    let response = try await service.streamingInputCall(
      requests: RequestFeed([first, second], compressed: [true, false], context: context).stream(),
      context: context)
    #expect(response.aggregatedPayloadSize == 73086)

    let probe = makeContext()
    let error = await #expect(throws: RPCError.self) {
      try await service.streamingInputCall(
        requests: RequestFeed([first], compressed: [false], context: probe).stream(),
        context: probe)
    }
    #expect(error?.code == .invalidArgument)
  }

  @Test func fullDuplexCallAnswersEachRequestAndStopsAtAnEchoedStatus() async throws {
    var first = Grpc_Testing_StreamingOutputCallRequest()
    first.responseParameters = [parameters(1), parameters(2)]
    var failing = Grpc_Testing_StreamingOutputCallRequest()
    failing.responseParameters = [parameters(3)]
    failing.responseStatus = echoStatus(2, "test status message")
    var never = Grpc_Testing_StreamingOutputCallRequest()
    never.responseParameters = [parameters(4)]

    let context = makeContext()
    let sink = ResponseSink()
    let error = await #expect(throws: RPCError.self) {
      try await service.fullDuplexCall(
        requests: RequestFeed([first, failing, never], context: context).stream(),
        responses: sink.writer(), context: context)
    }
    #expect(error == RPCError(.unknown, "test status message"))
    let sizes = try sink.decoded(Grpc_Testing_StreamingOutputCallResponse.self).map {
      $0.message.payload?.body.count
    }
    #expect(sizes == [1, 2])
  }

  @Test func halfDuplexCallWaitsForTheEndOfTheRequests() async throws {
    let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
    let box = IteratorBox(stream.makeAsyncIterator())
    let requests = RequestStream<Grpc_Testing_StreamingOutputCallRequest>(nextRaw: {
      await box.next()
    })
    let sink = ResponseSink()
    let context = makeContext()
    let call = Task {
      try await service.halfDuplexCall(
        requests: requests, responses: sink.writer(), context: context)
    }
    var request = Grpc_Testing_StreamingOutputCallRequest()
    request.responseParameters = [parameters(7)]
    continuation.yield(request.serializedBytes())
    request.responseParameters = [parameters(8), parameters(9)]
    continuation.yield(request.serializedBytes())
    try await Task.sleep(for: .milliseconds(100))
    #expect(sink.count == 0)
    continuation.finish()
    try await call.value
    let sizes = try sink.decoded(Grpc_Testing_StreamingOutputCallResponse.self).map {
      $0.message.payload?.body.count
    }
    #expect(sizes == [7, 8, 9])
  }

  @Test func serviceDefinitionRoutesEveryTestServiceMethod() {
    let definition = service.serviceDefinition
    #expect(definition.name == "grpc.testing.TestService")
    let kinds = Dictionary(
      uniqueKeysWithValues: definition.methods.map { ($0.descriptor.method, $0.descriptor.kind) })
    #expect(
      kinds == [
        "EmptyCall": .unary, "UnaryCall": .unary, "CacheableUnaryCall": .unary,
        "StreamingOutputCall": .serverStreaming, "StreamingInputCall": .clientStreaming,
        "FullDuplexCall": .bidirectionalStreaming, "HalfDuplexCall": .bidirectionalStreaming,
        "UnimplementedCall": .unary,
      ])
  }
}

// MARK: - Helpers

private func makeContext(metadata: Metadata = [:]) -> ServerContext {
  ServerContext(
    method: MethodDescriptor(service: "grpc.testing.TestService", method: "Test", kind: .unary),
    requestMetadata: metadata, deadline: nil,
    peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: false))
}

private func zeroPayload(_ size: Int) -> Grpc_Testing_Payload {
  var payload = Grpc_Testing_Payload()
  payload.body = [UInt8](repeating: 0, count: size)
  return payload
}

private func isCompressable(_ type: Grpc_Testing_PayloadType) -> Bool {
  if case .compressable = type { return true }
  return false
}

private func echoStatus(_ code: Int32, _ message: String) -> Grpc_Testing_EchoStatus {
  var status = Grpc_Testing_EchoStatus()
  status.code = code
  status.message = message
  return status
}

private func boolValue(_ value: Bool) -> Grpc_Testing_BoolValue {
  var bool = Grpc_Testing_BoolValue()
  bool.value = value
  return bool
}

private func parameters(
  _ size: Int32, compressed: Bool? = nil, intervalUs: Int32 = 0
) -> Grpc_Testing_ResponseParameters {
  var parameters = Grpc_Testing_ResponseParameters()
  parameters.size = size
  parameters.intervalUs = intervalUs
  parameters.compressed = compressed.map(boolValue)
  return parameters
}

/// Requests handed to a handler one by one, each marking the context's "last request was
/// compressed" flag the way the transport does.
private final class RequestFeed<Message: ProtoMessage>: Sendable {
  private let pending: Mutex<[(bytes: [UInt8], compressed: Bool)]>
  private let context: ServerContext

  init(_ messages: [Message], compressed: [Bool]? = nil, context: ServerContext) {
    let flags = compressed ?? Array(repeating: false, count: messages.count)
    pending = Mutex(zip(messages, flags).map { ($0.serializedBytes(), $1) })
    self.context = context
  }

  func stream() -> RequestStream<Message> {
    RequestStream(nextRaw: { [self] in
      guard let next = pending.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
        return nil
      }
      context.setLastRequestWasCompressed(next.compressed)
      return next.bytes
    })
  }
}

/// Owns an `AsyncStream` iterator. `@unchecked Sendable`: only the handler under test calls
/// `next`, and it awaits each call before making the next, so the iterator is never shared.
private final class IteratorBox: @unchecked Sendable {
  private var iterator: AsyncStream<[UInt8]>.Iterator
  init(_ iterator: AsyncStream<[UInt8]>.Iterator) { self.iterator = iterator }
  func next() async -> [UInt8]? { await iterator.next() }
}

/// Collects what a handler writes: the serialized messages and their compression override.
private final class ResponseSink: Sendable {
  private let written = Mutex<[(bytes: [UInt8], compress: Bool?)]>([])

  var count: Int { written.withLock { $0.count } }

  func writer<Message: ProtoMessage>() -> ResponseWriter<Message> {
    ResponseWriter(writeRaw: { [self] bytes, compress in
      written.withLock { $0.append((bytes, compress)) }
    })
  }

  func decoded<Message: ProtoMessage>(
    _ type: Message.Type
  ) throws -> [(message: Message, compress: Bool?)] {
    try written.withLock { $0 }.map { (try Message(serializedBytes: $0.bytes), $0.compress) }
  }
}
