import Contracts
import RPC

/// The server side of gRPC's interoperability `grpc.testing.TestService`, as grpc/grpc
/// `doc/interop-test-descriptions.md` ("Server" section) asks of every implementation.
///
/// `cassetto-server --interop` serves it so that independent clients (grpcio, grpc-go, the
/// official interop clients) can check Cassetto's wire behaviour. The features it implements:
/// payloads of a requested size, echoed status (`response_status`), echoed metadata
/// (`x-grpc-test-echo-initial` to initial metadata, `x-grpc-test-echo-trailing-bin` to trailing
/// metadata), request compression checks (`expect_compressed`), response compression on request
/// (`response_compressed`, per message in streams), and `interval_us` delays that a deadline or a
/// cancellation cuts short.
public struct InteropTestService: Grpc_Testing_TestServiceHandler {
  public init() {}

  public func emptyCall(
    request: Grpc_Testing_Empty, context: ServerContext
  ) async throws -> Grpc_Testing_Empty {
    Grpc_Testing_Empty()
  }

  public func unaryCall(
    request: Grpc_Testing_SimpleRequest, context: ServerContext
  ) async throws -> Grpc_Testing_SimpleResponse {
    echoMetadata(context)
    try throwIfRequested(request.responseStatus)
    if request.expectCompressed?.value == true, !context.lastRequestWasCompressed {
      throw RPCError(.invalidArgument, "expected a compressed request")
    }
    if let compressed = request.responseCompressed {
      context.compressResponses = compressed.value
    }
    var response = Grpc_Testing_SimpleResponse()
    response.payload = try payload(type: request.responseType, size: request.responseSize)
    // fill_username / fill_oauth_scope: the interop server authenticates nobody, so both stay
    // empty, which the descriptions allow for unauthenticated calls.
    return response
  }

  /// Like ``unaryCall(request:context:)``, plus the cache-control header the description asks
  /// for (it only matters behind a caching proxy).
  public func cacheableUnaryCall(
    request: Grpc_Testing_SimpleRequest, context: ServerContext
  ) async throws -> Grpc_Testing_SimpleResponse {
    context.addInitialMetadata(["cache-control": "max-age=60, public"])
    return try await unaryCall(request: request, context: context)
  }

  public func streamingOutputCall(
    request: Grpc_Testing_StreamingOutputCallRequest,
    responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
    context: ServerContext
  ) async throws {
    echoMetadata(context)
    try await respond(to: request, with: responses)
    try throwIfRequested(request.responseStatus)
  }

  public func streamingInputCall(
    requests: RequestStream<Grpc_Testing_StreamingInputCallRequest>, context: ServerContext
  ) async throws -> Grpc_Testing_StreamingInputCallResponse {
    echoMetadata(context)
    var total = 0
    for try await request in requests {
      if request.expectCompressed?.value == true, !context.lastRequestWasCompressed {
        throw RPCError(.invalidArgument, "expected a compressed request")
      }
      total += request.payload?.body.count ?? 0
    }
    guard let aggregated = Int32(exactly: total) else {
      throw RPCError(.outOfRange, "aggregated payload size does not fit in int32")
    }
    var response = Grpc_Testing_StreamingInputCallResponse()
    response.aggregatedPayloadSize = aggregated
    return response
  }

  /// Answers each request as it arrives. A request carrying a non-OK `response_status` ends the
  /// call with it at once (as the reference servers do): later requests are not processed.
  public func fullDuplexCall(
    requests: RequestStream<Grpc_Testing_StreamingOutputCallRequest>,
    responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
    context: ServerContext
  ) async throws {
    echoMetadata(context)
    for try await request in requests {
      try throwIfRequested(request.responseStatus)
      try await respond(to: request, with: responses)
    }
  }

  /// Buffers every request until the client half-closes, then answers them in order.
  public func halfDuplexCall(
    requests: RequestStream<Grpc_Testing_StreamingOutputCallRequest>,
    responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
    context: ServerContext
  ) async throws {
    echoMetadata(context)
    var buffered: [Grpc_Testing_StreamingOutputCallRequest] = []
    for try await request in requests {
      buffered.append(request)
    }
    for request in buffered {
      try throwIfRequested(request.responseStatus)
      try await respond(to: request, with: responses)
    }
  }

  /// The one method a conforming server must not implement.
  public func unimplementedCall(
    request: Grpc_Testing_Empty, context: ServerContext
  ) async throws -> Grpc_Testing_Empty {
    throw RPCError(.unimplemented, "grpc.testing.TestService/UnimplementedCall is not implemented")
  }
}

// MARK: - The shared features

extension InteropTestService {
  /// Largest payload the service builds for one response, so a request cannot make it allocate
  /// without bound (the default receive limit of gRPC clients is 4 MiB anyway).
  public static let maximumPayloadSize = 16 * 1024 * 1024

  /// "Echo Metadata": every value the client sent under the two echo keys goes back, the first
  /// in the initial metadata, the second in the trailing metadata.
  func echoMetadata(_ context: ServerContext) {
    var initial = Metadata()
    for value in context.requestMetadata["x-grpc-test-echo-initial"] {
      initial.add(value, forKey: "x-grpc-test-echo-initial")
    }
    if !initial.isEmpty { context.addInitialMetadata(initial) }
    var trailing = Metadata()
    for value in context.requestMetadata["x-grpc-test-echo-trailing-bin"] {
      trailing.add(value, forKey: "x-grpc-test-echo-trailing-bin")
    }
    if !trailing.isEmpty { context.addTrailingMetadata(trailing) }
  }

  /// "Echo Status": a non-OK `response_status` ends the call with that code and message. Codes
  /// outside 0...16 become UNKNOWN, as on the wire.
  func throwIfRequested(_ status: Grpc_Testing_EchoStatus?) throws {
    guard let status, status.code != 0 else { return }
    throw RPCError(StatusCode(wireValue: Int(status.code)), status.message)
  }

  /// A payload of `size` zero bytes of the requested type; only COMPRESSABLE exists.
  func payload(type: Grpc_Testing_PayloadType, size: Int32) throws -> Grpc_Testing_Payload {
    guard case .compressable = type else {
      throw RPCError(.invalidArgument, "unsupported response_type \(type)")
    }
    guard size >= 0, Int(size) <= Self.maximumPayloadSize else {
      throw RPCError(.invalidArgument, "response size \(size) out of range")
    }
    var payload = Grpc_Testing_Payload()
    payload.type = .compressable
    payload.body = [UInt8](repeating: 0, count: Int(size))
    return payload
  }

  /// One response per `response_parameters` entry, in order: sleep `interval_us` first (with
  /// `Task.sleep`, so a deadline or a cancellation ends it), then send `size` bytes, compressed
  /// when `compressed` asks for it.
  func respond(
    to request: Grpc_Testing_StreamingOutputCallRequest,
    with responses: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>
  ) async throws {
    for parameters in request.responseParameters {
      if parameters.intervalUs > 0 {
        try await Task.sleep(for: .microseconds(Int64(parameters.intervalUs)))
      }
      try Task.checkCancellation()
      var response = Grpc_Testing_StreamingOutputCallResponse()
      response.payload = try payload(type: request.responseType, size: parameters.size)
      try await responses.write(response, compress: parameters.compressed?.value)
    }
  }
}
