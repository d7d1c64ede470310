import Contracts
import RPC

/// The client-side interop cases this program implements, by their standard names.
enum InteropCase: String, CaseIterable {
  case emptyUnary = "empty_unary"
  case largeUnary = "large_unary"
  case clientStreaming = "client_streaming"
  case serverStreaming = "server_streaming"
  case pingPong = "ping_pong"
  case emptyStream = "empty_stream"
  case customMetadata = "custom_metadata"
  case statusCodeAndMessage = "status_code_and_message"
  case specialStatusMessage = "special_status_message"
  case unimplementedMethod = "unimplemented_method"
  case unimplementedService = "unimplemented_service"
  case cancelAfterBegin = "cancel_after_begin"
  case cancelAfterFirstResponse = "cancel_after_first_response"
  case timeoutOnSleepingServer = "timeout_on_sleeping_server"
  case clientCompressedUnary = "client_compressed_unary"
  case serverCompressedUnary = "server_compressed_unary"
  case clientCompressedStreaming = "client_compressed_streaming"
  case serverCompressedStreaming = "server_compressed_streaming"

  static var allNames: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// A case's assertion did not hold.
struct InteropFailure: Error {
  var message: String
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
  if !condition { throw InteropFailure(message: message()) }
}

/// Runs `body` and checks it fails with `code` (and `message`, when given).
func expectError(
  _ code: StatusCode, message: String? = nil, _ what: String,
  _ body: () async throws -> Void
) async throws {
  do {
    try await body()
  } catch let error as RPCError {
    try check(error.code == code, "\(what): expected \(code), got \(error.code): \(error.message)")
    if let message {
      try check(
        error.message == message,
        "\(what): expected message \(message.debugDescription), got \(error.message.debugDescription)"
      )
    }
    return
  }
  throw InteropFailure(message: "\(what): expected \(code), but the call succeeded")
}

/// The procedures of grpc/grpc doc/interop-test-descriptions.md, client side.
struct InteropCases {
  let client: Grpc_Testing_TestServiceClient
  let unimplemented: Grpc_Testing_UnimplementedServiceClient
  let compressionProbe: Bool

  static let echoInitialKey = "x-grpc-test-echo-initial"
  static let echoInitialValue = "test_initial_metadata_value"
  static let echoTrailingKey = "x-grpc-test-echo-trailing-bin"
  static let echoTrailingValue: [UInt8] = [0xab, 0xab, 0xab]
  static let specialMessage =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n"

  func run(_ interopCase: InteropCase) async throws {
    switch interopCase {
    case .emptyUnary: try await emptyUnary()
    case .largeUnary: try await largeUnary()
    case .clientStreaming: try await clientStreaming()
    case .serverStreaming: try await serverStreaming()
    case .pingPong: try await pingPong()
    case .emptyStream: try await emptyStream()
    case .customMetadata: try await customMetadata()
    case .statusCodeAndMessage: try await statusCodeAndMessage()
    case .specialStatusMessage: try await specialStatusMessage()
    case .unimplementedMethod: try await unimplementedMethod()
    case .unimplementedService: try await unimplementedService()
    case .cancelAfterBegin: try await cancelAfterBegin()
    case .cancelAfterFirstResponse: try await cancelAfterFirstResponse()
    case .timeoutOnSleepingServer: try await timeoutOnSleepingServer()
    case .clientCompressedUnary: try await clientCompressedUnary()
    case .serverCompressedUnary: try await serverCompressedUnary()
    case .clientCompressedStreaming: try await clientCompressedStreaming()
    case .serverCompressedStreaming: try await serverCompressedStreaming()
    }
  }

  // MARK: Message helpers

  static func payload(_ size: Int) -> Grpc_Testing_Payload {
    var payload = Grpc_Testing_Payload()
    payload.type = .compressable
    payload.body = [UInt8](repeating: 0, count: size)
    return payload
  }

  static func checkPayload(_ payload: Grpc_Testing_Payload?, size: Int, _ what: String) throws {
    guard let payload else { throw InteropFailure(message: "\(what): response has no payload") }
    try check(
      payload.body.count == size,
      "\(what): payload of \(payload.body.count) bytes, expected \(size)"
    )
    try check(payload.body.allSatisfy { $0 == 0 }, "\(what): payload is not all zeros")
  }

  static func largeRequest() -> Grpc_Testing_SimpleRequest {
    var request = Grpc_Testing_SimpleRequest()
    request.responseType = .compressable
    request.responseSize = 314_159
    request.payload = payload(271_828)
    return request
  }

  static func boolValue(_ value: Bool) -> Grpc_Testing_BoolValue {
    var wrapped = Grpc_Testing_BoolValue()
    wrapped.value = value
    return wrapped
  }

  static func echoStatus(_ code: Int32, _ message: String) -> Grpc_Testing_EchoStatus {
    var status = Grpc_Testing_EchoStatus()
    status.code = code
    status.message = message
    return status
  }

  static func streamingRequest(
    responseSizes: [Int], payloadSize: Int? = nil, compressed: [Bool]? = nil
  ) -> Grpc_Testing_StreamingOutputCallRequest {
    var request = Grpc_Testing_StreamingOutputCallRequest()
    request.responseType = .compressable
    request.responseParameters = responseSizes.enumerated().map { index, size in
      var parameters = Grpc_Testing_ResponseParameters()
      parameters.size = Int32(size)
      if let compressed { parameters.compressed = boolValue(compressed[index]) }
      return parameters
    }
    if let payloadSize { request.payload = payload(payloadSize) }
    return request
  }

  static func inputRequest(size: Int, expectCompressed: Bool? = nil)
    -> Grpc_Testing_StreamingInputCallRequest
  {
    var request = Grpc_Testing_StreamingInputCallRequest()
    request.payload = payload(size)
    if let expectCompressed { request.expectCompressed = boolValue(expectCompressed) }
    return request
  }

  // MARK: Cases

  func emptyUnary() async throws {
    let response = try await client.emptyCall(Grpc_Testing_Empty())
    try check(response.message == Grpc_Testing_Empty(), "empty_unary: non-empty response")
  }

  func largeUnary() async throws {
    let response = try await client.unaryCall(Self.largeRequest())
    try Self.checkPayload(response.message.payload, size: 314_159, "large_unary")
  }

  func clientStreaming() async throws {
    let call = try await client.streamingInputCall()
    for size in [27_182, 8, 1_828, 45_904] {
      try await call.send(Self.inputRequest(size: size))
    }
    let response = try await call.closeAndReceive()
    try check(
      response.message.aggregatedPayloadSize == 74_922,
      "client_streaming: aggregated \(response.message.aggregatedPayloadSize), expected 74922")
  }

  func serverStreaming() async throws {
    let sizes = [31_415, 9, 2_653, 58_979]
    let call = try await client.streamingOutputCall(Self.streamingRequest(responseSizes: sizes))
    var received: [Int] = []
    for try await response in call.responses {
      try Self.checkPayload(
        response.payload, size: response.payload?.body.count ?? -1, "server_streaming")
      received.append(response.payload?.body.count ?? -1)
    }
    try check(received == sizes, "server_streaming: got sizes \(received), expected \(sizes)")
  }

  func pingPong() async throws {
    let pairs = [(27_182, 31_415), (8, 9), (1_828, 2_653), (45_904, 58_979)]
    let call = try await client.fullDuplexCall()
    var responses = call.responses.makeAsyncIterator()
    for (requestSize, responseSize) in pairs {
      try await call.send(
        Self.streamingRequest(responseSizes: [responseSize], payloadSize: requestSize))
      guard let response = try await responses.next() else {
        throw InteropFailure(
          message: "ping_pong: stream ended before the response to \(requestSize)")
      }
      try Self.checkPayload(response.payload, size: responseSize, "ping_pong")
    }
    try await call.closeSend()
    let extra = try await responses.next()
    try check(extra == nil, "ping_pong: unexpected extra response")
  }

  func emptyStream() async throws {
    let call = try await client.fullDuplexCall()
    try await call.closeSend()
    var count = 0
    for try await _ in call.responses { count += 1 }
    try check(count == 0, "empty_stream: received \(count) responses, expected none")
  }

  func customMetadata() async throws {
    var metadata = Metadata()
    metadata.addString(Self.echoInitialValue, forKey: Self.echoInitialKey)
    metadata.addBinary(Self.echoTrailingValue, forKey: Self.echoTrailingKey)

    let unary = try await client.unaryCall(Self.largeRequest(), metadata: metadata)
    try Self.checkPayload(unary.message.payload, size: 314_159, "custom_metadata (unary)")
    try checkEcho(initial: unary.initialMetadata, trailing: unary.trailingMetadata, "unary")

    let call = try await client.fullDuplexCall(metadata: metadata)
    try await call.send(Self.streamingRequest(responseSizes: [314_159], payloadSize: 271_828))
    try await call.closeSend()
    var count = 0
    for try await response in call.responses {
      try Self.checkPayload(response.payload, size: 314_159, "custom_metadata (full duplex)")
      count += 1
    }
    try check(count == 1, "custom_metadata: \(count) responses on the full-duplex call")
    try checkEcho(
      initial: try await call.initialMetadata(), trailing: try await call.trailingMetadata(),
      "full duplex")
  }

  private func checkEcho(initial: Metadata, trailing: Metadata, _ what: String) throws {
    let echoedInitial = initial.firstString(forKey: Self.echoInitialKey)
    try check(
      echoedInitial == Self.echoInitialValue,
      "custom_metadata (\(what)): initial metadata \(Self.echoInitialKey) = \(String(describing: echoedInitial))"
    )
    let echoedTrailing = trailing.firstBinary(forKey: Self.echoTrailingKey)
    try check(
      echoedTrailing == Self.echoTrailingValue,
      "custom_metadata (\(what)): trailing metadata \(Self.echoTrailingKey) = \(String(describing: echoedTrailing))"
    )
  }

  func statusCodeAndMessage() async throws {
    let message = "test status message"
    var request = Grpc_Testing_SimpleRequest()
    request.responseStatus = Self.echoStatus(2, message)
    try await expectError(.unknown, message: message, "status_code_and_message (unary)") {
      _ = try await client.unaryCall(request)
    }
    var streaming = Grpc_Testing_StreamingOutputCallRequest()
    streaming.responseStatus = Self.echoStatus(2, message)
    try await expectError(.unknown, message: message, "status_code_and_message (full duplex)") {
      let call = try await client.fullDuplexCall()
      try await call.send(streaming)
      try await call.closeSend()
      for try await _ in call.responses {}
    }
  }

  func specialStatusMessage() async throws {
    var request = Grpc_Testing_SimpleRequest()
    request.responseStatus = Self.echoStatus(2, Self.specialMessage)
    try await expectError(.unknown, message: Self.specialMessage, "special_status_message") {
      _ = try await client.unaryCall(request)
    }
  }

  func unimplementedMethod() async throws {
    try await expectError(.unimplemented, "unimplemented_method") {
      _ = try await client.unimplementedCall(Grpc_Testing_Empty())
    }
  }

  func unimplementedService() async throws {
    try await expectError(.unimplemented, "unimplemented_service") {
      _ = try await unimplemented.unimplementedCall(Grpc_Testing_Empty())
    }
  }

  func cancelAfterBegin() async throws {
    let call = try await client.streamingInputCall()
    call.cancel()
    try await expectError(.cancelled, "cancel_after_begin") {
      _ = try await call.closeAndReceive()
    }
  }

  func cancelAfterFirstResponse() async throws {
    let call = try await client.fullDuplexCall()
    var responses = call.responses.makeAsyncIterator()
    try await call.send(Self.streamingRequest(responseSizes: [31_415], payloadSize: 27_182))
    guard let first = try await responses.next() else {
      throw InteropFailure(message: "cancel_after_first_response: no first response")
    }
    try Self.checkPayload(first.payload, size: 31_415, "cancel_after_first_response")
    call.cancel()
    try await expectError(.cancelled, "cancel_after_first_response") {
      _ = try await responses.next()
    }
  }

  func timeoutOnSleepingServer() async throws {
    let call = try await client.fullDuplexCall(options: CallOptions(timeout: .milliseconds(1)))
    try await expectError(.deadlineExceeded, "timeout_on_sleeping_server") {
      // The send itself may already see the deadline; either way the call must end with it.
      try await call.send(Self.streamingRequest(responseSizes: [], payloadSize: 27_182))
      for try await _ in call.responses {}
    }
  }

  func clientCompressedUnary() async throws {
    if compressionProbe {
      var probe = Self.largeRequest()
      probe.expectCompressed = Self.boolValue(true)
      try await expectError(.invalidArgument, "client_compressed_unary (probe)") {
        _ = try await client.unaryCall(probe)
      }
    }
    var compressed = Self.largeRequest()
    compressed.expectCompressed = Self.boolValue(true)
    let first = try await client.unaryCall(
      compressed, options: CallOptions(compressRequests: true))
    try Self.checkPayload(
      first.message.payload, size: 314_159, "client_compressed_unary (compressed)")

    var plain = Self.largeRequest()
    plain.expectCompressed = Self.boolValue(false)
    let second = try await client.unaryCall(plain)
    try Self.checkPayload(second.message.payload, size: 314_159, "client_compressed_unary (plain)")
  }

  func serverCompressedUnary() async throws {
    for compressed in [true, false] {
      var request = Self.largeRequest()
      request.responseCompressed = Self.boolValue(compressed)
      let response = try await client.unaryCall(request)
      try Self.checkPayload(
        response.message.payload, size: 314_159,
        "server_compressed_unary (response_compressed=\(compressed))")
    }
  }

  func clientCompressedStreaming() async throws {
    if compressionProbe {
      try await expectError(.invalidArgument, "client_compressed_streaming (probe)") {
        let probe = try await client.streamingInputCall()
        try await probe.send(Self.inputRequest(size: 27_182, expectCompressed: true))
        _ = try await probe.closeAndReceive()
      }
    }
    let call = try await client.streamingInputCall(options: CallOptions(compressRequests: true))
    try await call.send(Self.inputRequest(size: 27_182, expectCompressed: true), compress: true)
    try await call.send(Self.inputRequest(size: 45_904, expectCompressed: false), compress: false)
    let response = try await call.closeAndReceive()
    try check(
      response.message.aggregatedPayloadSize == 73_086,
      "client_compressed_streaming: aggregated \(response.message.aggregatedPayloadSize), expected 73086"
    )
  }

  func serverCompressedStreaming() async throws {
    let sizes = [31_415, 92_653]
    let call = try await client.streamingOutputCall(
      Self.streamingRequest(responseSizes: sizes, compressed: [true, false]))
    var received: [Int] = []
    for try await response in call.responses {
      received.append(response.payload?.body.count ?? -1)
      try Self.checkPayload(
        response.payload, size: response.payload?.body.count ?? -1, "server_compressed_streaming")
    }
    try check(received == sizes, "server_compressed_streaming: got \(received), expected \(sizes)")
  }
}
