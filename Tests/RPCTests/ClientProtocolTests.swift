import Testing

@testable import RPC

/// The client's gRPC protocol logic, without sockets: request headers, reading trailers and
/// HTTP statuses, and the call state a ``ClientStream`` keeps between callers and the loop.
@Suite("Client protocol logic")
struct ClientProtocolTests {
  static let method = MethodDescriptor(service: "pkg.Svc", method: "Do", kind: .unary)
  static let configuration = ClientChannelConfiguration(host: "example.org", port: 8443, tls: nil)

  /// One idle loop for every stream here (no connection is ever made).
  static let loop = ClientEventLoop(configuration: configuration)

  static func stream(options: CallOptions = .defaults, metadata: Metadata = [:]) -> ClientStream {
    ClientStream(method: method, metadata: metadata, options: options, loop: loop)
  }

  static func value(_ fields: [(String, String)], _ name: String) -> [String] {
    fields.filter { $0.0 == name }.map(\.1)
  }

  // MARK: Request headers

  @Test func requestHeadersFollowTheProtocol() {
    let fields = ClientRequestHeaders.fields(for: Self.stream(), configuration: Self.configuration)
    #expect(fields.prefix(4).map(\.0) == [":method", ":scheme", ":path", ":authority"])
    #expect(Self.value(fields, ":method") == ["POST"])
    #expect(Self.value(fields, ":scheme") == ["http"])
    #expect(Self.value(fields, ":path") == ["/pkg.Svc/Do"])
    #expect(Self.value(fields, ":authority") == ["example.org:8443"])
    #expect(Self.value(fields, "content-type") == ["application/grpc"])
    #expect(Self.value(fields, "te") == ["trailers"])
    #expect(Self.value(fields, "grpc-accept-encoding") == ["gzip"])
    #expect(Self.value(fields, "grpc-encoding").isEmpty)
    #expect(Self.value(fields, "grpc-timeout").isEmpty)
    #expect(!Self.value(fields, "user-agent").isEmpty)
  }

  @Test func timeoutAndCompressionAreAnnounced() {
    let stream = Self.stream(
      options: CallOptions(timeout: .milliseconds(1_500), compressRequests: true))
    let fields = ClientRequestHeaders.fields(for: stream, configuration: Self.configuration)
    // What is left of the deadline when the headers are built: at most the whole timeout.
    let sent = Self.value(fields, "grpc-timeout").first.flatMap(GRPCTimeout.parse)
    #expect(sent.map { $0 <= .milliseconds(1_500) && $0 > .milliseconds(1_000) } == true)
    #expect(Self.value(fields, "grpc-encoding") == ["gzip"])
  }

  @Test func tlsChannelsUseHTTPSAndTheOverriddenAuthority() {
    let configuration = ClientChannelConfiguration(
      host: "127.0.0.1", port: 443, tls: TLSClientConfiguration(serverName: "api.example"))
    let fields = ClientRequestHeaders.fields(for: Self.stream(), configuration: configuration)
    #expect(Self.value(fields, ":scheme") == ["https"])
    #expect(Self.value(fields, ":authority") == ["api.example:443"])
  }

  @Test func customMetadataIsSentWithBinaryValuesInBase64AndReservedKeysDropped() {
    var metadata = Metadata()
    metadata.addString("v1", forKey: "x-text")
    metadata.addBinary([0xab, 0xab, 0xab], forKey: "x-data-bin")
    metadata.addString("evil", forKey: "grpc-status")
    metadata.addString("evil", forKey: ":path")
    let fields = ClientRequestHeaders.fields(
      for: Self.stream(metadata: metadata), configuration: Self.configuration)
    #expect(Self.value(fields, "x-text") == ["v1"])
    #expect(Self.value(fields, "x-data-bin") == ["q6ur"])
    #expect(Self.value(fields, "grpc-status").isEmpty)
    #expect(Self.value(fields, ":path") == ["/pkg.Svc/Do"])
  }

  // MARK: Trailers and statuses

  @Test func okTrailersGiveTheTrailingMetadata() throws {
    let outcome = ClientResponseParser.outcome(trailers: [
      ("grpc-status", "0"), ("x-trailer", "t"), ("x-bin", "AQID"),
    ])
    let metadata = try outcome.get()
    #expect(metadata.firstString(forKey: "x-trailer") == "t")
    #expect(metadata.firstBinary(forKey: "x-bin") == [1, 2, 3])
    #expect(metadata.firstString(forKey: "grpc-status") == nil)
  }

  @Test func errorTrailersGiveCodeDecodedMessageDetailsAndMetadata() {
    let outcome = ClientResponseParser.outcome(trailers: [
      ("grpc-status", "5"), ("grpc-message", "caf%C3%A9 %25 not found"),
      ("grpc-status-details-bin", "CAUSA25v"), ("x-why", "because"),
    ])
    guard case .failure(let error) = outcome else {
      Issue.record("expected a failure")
      return
    }
    #expect(error.code == .notFound)
    #expect(error.message == "café % not found")
    #expect(error.details == GRPCBase64.decode("CAUSA25v"))
    #expect(error.trailingMetadata.firstString(forKey: "x-why") == "because")
  }

  @Test func missingOrOutOfRangeStatusIsUnknown() {
    guard case .failure(let missing) = ClientResponseParser.outcome(trailers: [("x", "y")]),
      case .failure(let outOfRange) = ClientResponseParser.outcome(trailers: [("grpc-status", "99")]
      )
    else {
      Issue.record("expected failures")
      return
    }
    #expect(missing.code == .unknown)
    #expect(outOfRange.code == .unknown)
  }

  @Test func httpStatusesMapPerTheSpec() {
    let expected: [Int: StatusCode] = [
      400: .internal, 401: .unauthenticated, 403: .permissionDenied, 404: .unimplemented,
      429: .unavailable, 502: .unavailable, 503: .unavailable, 504: .unavailable, 500: .unknown,
      302: .unknown,
    ]
    for (status, code) in expected {
      #expect(ClientResponseParser.errorForHTTPStatus(status).code == code, "HTTP \(status)")
    }
  }

  @Test func streamResetsMapToStatuses() {
    #expect(ClientResponseParser.errorForReset(0x8).code == .cancelled)
    #expect(ClientResponseParser.errorForReset(0x7).code == .unavailable)
    #expect(ClientResponseParser.errorForReset(0xb).code == .resourceExhausted)
    #expect(ClientResponseParser.errorForReset(0xc).code == .permissionDenied)
    #expect(ClientResponseParser.errorForReset(0x2).code == .internal)
  }

  // MARK: Call state

  @Test func messagesBufferedBeforeAnErrorAreReadFirst() async throws {
    let stream = Self.stream()
    stream.deliverMessage([1])
    stream.deliverMessage([2])
    stream.finish(.failure(RPCError(.aborted, "late failure")))
    #expect(try await stream.nextResponse() == [1])
    #expect(try await stream.nextResponse() == [2])
    let error = await #expect(throws: RPCError.self) { _ = try await stream.nextResponse() }
    #expect(error?.code == .aborted)
  }

  @Test func cancelDropsBufferedMessagesAndFailsEveryWaiter() async throws {
    let stream = Self.stream()
    stream.deliverMessage([1])
    let trailers = Task { try await stream.trailingMetadata() }
    stream.cancel()
    await #expect(throws: RPCError(.cancelled, "call cancelled by the client")) {
      _ = try await stream.nextResponse()
    }
    let error = await #expect(throws: RPCError.self) { _ = try await trailers.value }
    #expect(error?.code == .cancelled)
    await #expect(throws: RPCError.self) { try await stream.send([1], compress: false) }
  }

  @Test func aWaitingReaderGetsTheNextMessage() async throws {
    let stream = Self.stream()
    let reader = Task { try await stream.nextResponse() }
    try await Task.sleep(for: .milliseconds(50))
    stream.deliverMessage([7, 7])
    #expect(try await reader.value == [7, 7])
  }

  @Test func trailersOnlyOKResponseHasEmptyInitialMetadata() async throws {
    let stream = Self.stream()
    var trailing = Metadata()
    trailing.addString("v", forKey: "k")
    stream.finish(.success(trailing))
    #expect(try await stream.initialMetadata().isEmpty)
    #expect(try await stream.trailingMetadata() == trailing)
    #expect(try await stream.nextResponse() == nil)
  }

  @Test func sendFramesMessagesAndCompressesWhenTheCallDoes() async throws {
    let plain = Self.stream()
    try await plain.send([1, 2, 3], compress: true)  // the call did not announce gzip
    try await plain.closeSend()
    let (bytes, end) = plain.takeOutbound(limit: 1_000)
    #expect(Array(bytes) == [0, 0, 0, 0, 3, 1, 2, 3])
    #expect(end)

    let compressed = Self.stream(options: CallOptions(compressRequests: true))
    let message = [UInt8](repeating: 9, count: 1_000)
    try await compressed.send(message, compress: true)
    let (frame, _) = compressed.takeOutbound(limit: 10_000)
    let frameBytes = Array(frame)
    #expect(frameBytes[0] == 1)
    #expect(try Gzip.decompress(Array(frameBytes.dropFirst(5)), limit: 10_000) == message)
  }

  @Test func sendWaitsWhileTooMuchIsBufferedAndResumesAsItDrains() async throws {
    let stream = Self.stream()
    let big = [UInt8](repeating: 0, count: ClientStream.outboundBound + 1)
    let sender = Task { try await stream.send(big, compress: false) }
    try await Task.sleep(for: .milliseconds(100))
    // Still waiting: nothing drained yet.
    #expect(stream.takeOutbound(limit: 0).bytes.isEmpty)
    var drained = 0
    while drained < big.count + 5 {
      drained += stream.takeOutbound(limit: 16_384).bytes.count
    }
    try await sender.value
    #expect(drained == big.count + 5)
  }

  @Test func deadlineFailsTheCallLocally() async throws {
    let stream = Self.stream(options: CallOptions(timeout: .milliseconds(20)))
    stream.armDeadline(.milliseconds(20))
    let error = await #expect(throws: RPCError.self) { _ = try await stream.nextResponse() }
    #expect(error?.code == .deadlineExceeded)
  }
}
