/// Per-call settings of a client call.
public struct CallOptions: Sendable {
  /// Sent as `grpc-timeout`; the call fails with `DEADLINE_EXCEEDED` when it passes.
  public var timeout: Duration?
  /// Compress request messages with gzip (`grpc-encoding: gzip`).
  public var compressRequests: Bool
  /// Largest response message accepted; larger ones fail the call with `RESOURCE_EXHAUSTED`.
  public var maxReceiveMessageSize: Int

  public init(
    timeout: Duration? = nil, compressRequests: Bool = false,
    maxReceiveMessageSize: Int = 4 * 1024 * 1024
  ) {
    self.timeout = timeout
    self.compressRequests = compressRequests
    self.maxReceiveMessageSize = maxReceiveMessageSize
  }

  public static var defaults: CallOptions { CallOptions() }
}

/// A finished call's single response with the metadata that came with it.
public struct ClientResponse<Message: ProtoMessage>: Sendable {
  public var message: Message
  public var initialMetadata: Metadata
  public var trailingMetadata: Metadata

  public init(message: Message, initialMetadata: Metadata, trailingMetadata: Metadata) {
    self.message = message
    self.initialMetadata = initialMetadata
    self.trailingMetadata = trailingMetadata
  }
}

/// The transport side of one client call (one HTTP/2 stream), in raw bytes.
///
/// `nextResponse` returns `nil` at a clean end (status OK) and throws ``RPCError`` for any
/// other status.
package protocol ClientStreamCore: AnyObject, Sendable {
  func send(_ bytes: [UInt8], compress: Bool) async throws
  func closeSend() async throws
  func nextResponse() async throws -> [UInt8]?
  func initialMetadata() async throws -> Metadata
  func trailingMetadata() async throws -> Metadata
  func cancel()
}

/// The responses of a streaming call, as they arrive. Iteration ends after the last
/// message when the status is OK and throws ``RPCError`` otherwise.
public struct ResponseStream<Message: ProtoMessage>: AsyncSequence, Sendable {
  public typealias Element = Message
  public typealias Failure = any Error
  let core: any ClientStreamCore

  public struct AsyncIterator: AsyncIteratorProtocol {
    let core: any ClientStreamCore
    public mutating func next() async throws -> Message? {
      guard let bytes = try await core.nextResponse() else { return nil }
      do {
        return try Message(serializedBytes: bytes)
      } catch {
        core.cancel()
        throw RPCError(.internal, "could not decode \(Message.self)")
      }
    }
  }

  public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(core: core) }
}

/// A call where the server streams: read ``responses``, then ``trailingMetadata()``.
public final class ServerStreamingCall<Response: ProtoMessage>: Sendable {
  let core: any ClientStreamCore
  package init(core: any ClientStreamCore) { self.core = core }

  public var responses: ResponseStream<Response> { ResponseStream(core: core) }
  public func initialMetadata() async throws -> Metadata { try await core.initialMetadata() }
  /// Waits for the end of the call.
  public func trailingMetadata() async throws -> Metadata { try await core.trailingMetadata() }
  /// Cancels the call (RST_STREAM); pending reads throw `CANCELLED`.
  public func cancel() { core.cancel() }
}

/// A call where the client streams requests and gets one response.
public final class ClientStreamingCall<Request: ProtoMessage, Response: ProtoMessage>: Sendable {
  let core: any ClientStreamCore
  let compress: Bool
  package init(core: any ClientStreamCore, compress: Bool) {
    self.core = core
    self.compress = compress
  }

  /// Sends one request; suspends while the server's flow-control window is closed.
  public func send(_ message: Request, compress: Bool? = nil) async throws {
    try await core.send(message.serializedBytes(), compress: compress ?? self.compress)
  }

  /// Ends the request stream and waits for the response and status.
  public func closeAndReceive() async throws -> ClientResponse<Response> {
    try await core.closeSend()
    return try await receiveSingleResponse(core)
  }

  public func cancel() { core.cancel() }
}

/// A call where both sides stream, independently.
public final class BidirectionalStreamingCall<Request: ProtoMessage, Response: ProtoMessage>:
  Sendable
{
  let core: any ClientStreamCore
  let compress: Bool
  package init(core: any ClientStreamCore, compress: Bool) {
    self.core = core
    self.compress = compress
  }

  public func send(_ message: Request, compress: Bool? = nil) async throws {
    try await core.send(message.serializedBytes(), compress: compress ?? self.compress)
  }
  /// Half-closes: the server sees the end of the request stream.
  public func closeSend() async throws { try await core.closeSend() }
  public var responses: ResponseStream<Response> { ResponseStream(core: core) }
  public func initialMetadata() async throws -> Metadata { try await core.initialMetadata() }
  public func trailingMetadata() async throws -> Metadata { try await core.trailingMetadata() }
  public func cancel() { core.cancel() }
}

/// Reads exactly one response and the OK status after it.
func receiveSingleResponse<Response: ProtoMessage>(
  _ core: any ClientStreamCore
) async throws -> ClientResponse<Response> {
  guard let bytes = try await core.nextResponse() else {
    throw RPCError(.internal, "call ended without a response message")
  }
  let message: Response
  do {
    message = try Response(serializedBytes: bytes)
  } catch {
    core.cancel()
    throw RPCError(.internal, "could not decode \(Response.self)")
  }
  guard try await core.nextResponse() == nil else {
    core.cancel()
    throw RPCError(.internal, "unary call received more than one response message")
  }
  return ClientResponse(
    message: message, initialMetadata: try await core.initialMetadata(),
    trailingMetadata: try await core.trailingMetadata())
}

extension Channel {
  /// Calls a unary method.
  public func unary<Request: ProtoMessage, Response: ProtoMessage>(
    _ method: MethodDescriptor, request: Request, metadata: Metadata = [:],
    options: CallOptions = .defaults, responseType: Response.Type = Response.self
  ) async throws -> ClientResponse<Response> {
    let core = try await startCall(method, metadata: metadata, options: options)
    try await core.send(request.serializedBytes(), compress: options.compressRequests)
    try await core.closeSend()
    return try await receiveSingleResponse(core)
  }

  /// Starts a server-streaming call.
  public func serverStreaming<Request: ProtoMessage, Response: ProtoMessage>(
    _ method: MethodDescriptor, request: Request, metadata: Metadata = [:],
    options: CallOptions = .defaults, responseType: Response.Type = Response.self
  ) async throws -> ServerStreamingCall<Response> {
    let core = try await startCall(method, metadata: metadata, options: options)
    try await core.send(request.serializedBytes(), compress: options.compressRequests)
    try await core.closeSend()
    return ServerStreamingCall(core: core)
  }

  /// Starts a client-streaming call.
  public func clientStreaming<Request: ProtoMessage, Response: ProtoMessage>(
    _ method: MethodDescriptor, metadata: Metadata = [:], options: CallOptions = .defaults,
    requestType: Request.Type = Request.self, responseType: Response.Type = Response.self
  ) async throws -> ClientStreamingCall<Request, Response> {
    let core = try await startCall(method, metadata: metadata, options: options)
    return ClientStreamingCall(core: core, compress: options.compressRequests)
  }

  /// Starts a bidirectional-streaming call.
  public func bidirectionalStreaming<Request: ProtoMessage, Response: ProtoMessage>(
    _ method: MethodDescriptor, metadata: Metadata = [:], options: CallOptions = .defaults,
    requestType: Request.Type = Request.self, responseType: Response.Type = Response.self
  ) async throws -> BidirectionalStreamingCall<Request, Response> {
    let core = try await startCall(method, metadata: metadata, options: options)
    return BidirectionalStreamingCall(core: core, compress: options.compressRequests)
  }
}
