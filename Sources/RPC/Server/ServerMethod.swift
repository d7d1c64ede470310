/// One method a server can run: its descriptor and a type-erased handler.
///
/// Generated service code builds these with ``unary(_:handler:)`` and its siblings; the
/// transport only ever sees raw message bytes.
public struct ServerMethod: Sendable {
  public let descriptor: MethodDescriptor
  /// Largest request message accepted, overriding the server-wide limit.
  public var maxReceiveMessageSize: Int?
  /// The handler never blocks its thread (it may suspend): the server runs it directly on its
  /// connection's event loop instead of the cooperative pool, with no thread hop per call.
  /// Set with ``ServiceDefinition/runningOnEventLoops()``.
  public var runsOnEventLoop = false

  /// Runs the call: reads raw requests, writes raw responses, throws to end with a status.
  package let run:
    @Sendable (
      _ requests: RequestStream<RawMessage>, _ responses: ResponseWriter<RawMessage>,
      _ context: ServerContext
    ) async throws -> Void

  package init(
    descriptor: MethodDescriptor, maxReceiveMessageSize: Int? = nil,
    run: @escaping @Sendable (
      RequestStream<RawMessage>, ResponseWriter<RawMessage>, ServerContext
    ) async throws -> Void
  ) {
    self.descriptor = descriptor
    self.maxReceiveMessageSize = maxReceiveMessageSize
    self.run = run
  }

  /// A method that takes one request and returns one response.
  public static func unary<Request: ProtoMessage, Response: ProtoMessage>(
    _ descriptor: MethodDescriptor,
    handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
  ) -> ServerMethod {
    ServerMethod(descriptor: descriptor) { requests, responses, context in
      let request: Request = try await singleRequest(requests)
      let response = try await handler(request, context)
      try await responses.writeRaw(response.serializedBytes(), nil)
    }
  }

  /// A method that takes a stream of requests and returns one response.
  public static func clientStreaming<Request: ProtoMessage, Response: ProtoMessage>(
    _ descriptor: MethodDescriptor,
    handler: @escaping @Sendable (RequestStream<Request>, ServerContext) async throws -> Response
  ) -> ServerMethod {
    ServerMethod(descriptor: descriptor) { requests, responses, context in
      let response = try await handler(RequestStream(nextRaw: requests.nextRaw), context)
      try await responses.writeRaw(response.serializedBytes(), nil)
    }
  }

  /// A method that takes one request and sends a stream of responses.
  public static func serverStreaming<Request: ProtoMessage, Response: ProtoMessage>(
    _ descriptor: MethodDescriptor,
    handler: @escaping @Sendable (Request, ResponseWriter<Response>, ServerContext) async throws
      -> Void
  ) -> ServerMethod {
    ServerMethod(descriptor: descriptor) { requests, responses, context in
      let request: Request = try await singleRequest(requests)
      try await handler(request, ResponseWriter(writeRaw: responses.writeRaw), context)
    }
  }

  /// A method where both sides stream.
  public static func bidirectionalStreaming<Request: ProtoMessage, Response: ProtoMessage>(
    _ descriptor: MethodDescriptor,
    handler: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, ServerContext)
      async throws -> Void
  ) -> ServerMethod {
    ServerMethod(descriptor: descriptor) { requests, responses, context in
      try await handler(
        RequestStream(nextRaw: requests.nextRaw), ResponseWriter(writeRaw: responses.writeRaw),
        context)
    }
  }

  /// Reads exactly one request message: none or two is a protocol error (`INTERNAL`, as in
  /// grpc-java and grpc-go).
  private static func singleRequest<Request: ProtoMessage>(
    _ requests: RequestStream<RawMessage>
  ) async throws -> Request {
    guard let first = try await requests.nextRaw() else {
      throw RPCError(.internal, "expected one request message, got none")
    }
    guard try await requests.nextRaw() == nil else {
      throw RPCError(.internal, "expected one request message, got more")
    }
    do {
      return try Request(serializedBytes: first)
    } catch {
      throw RPCError(.internal, "could not decode \(Request.self)")
    }
  }
}

/// An undecoded message: the bytes exactly as they crossed the wire (decompressed).
public struct RawMessage: ProtoMessage, Hashable {
  public var bytes: [UInt8]
  public init() { bytes = [] }
  public init(bytes: [UInt8]) { self.bytes = bytes }
  public init(serializedBytes: UnsafeRawBufferPointer) throws { bytes = Array(serializedBytes) }
  public func serialize(into buffer: inout [UInt8]) { buffer.append(contentsOf: bytes) }
}
