import CNGHTTP2

/// The methods a server serves, by `:path`. Immutable after start.
final class ServerRouter: Sendable {
  let methods: [String: ServerMethod]

  init(services: [ServiceDefinition]) throws {
    var methods: [String: ServerMethod] = [:]
    for service in services {
      for method in service.methods {
        let path = method.descriptor.path
        guard methods[path] == nil else {
          throw ServerConfigurationError(message: "method \(path) is registered twice")
        }
        methods[path] = method
      }
    }
    self.methods = methods
  }
}

/// The gRPC side of one HTTP/2 connection: it turns HTTP/2 streams into calls, runs each in
/// a task, and turns the tasks' results back into frames. It moves no bytes itself: the
/// owner feeds ``receive(_:)`` and drains ``produceOutput(into:limit:)``, so the protocol
/// logic works the same over a socket, TLS, or in a test.
///
/// Thread ownership: every method runs on ``loop``'s thread. Handler tasks reach it only
/// through `loop.execute` (see ``ServerCall``); hence `@unchecked Sendable`.
///
/// How requests that are not well-formed gRPC are answered (grpc/grpc
/// `doc/PROTOCOL-HTTP2.md`; where it is silent, grpc-go's server, whose tests pin these):
/// - `:method` other than POST: HTTP 405 with `grpc-status` INTERNAL.
/// - `content-type` not `application/grpc[+…|;…]`: HTTP 415 with `grpc-status`
///   INVALID_ARGUMENT and `invalid gRPC request content-type "…"` (grpc-go sends the same;
///   a client that reads only the HTTP status maps 415 to INTERNAL anyway).
/// - missing `te: trailers`: accepted. grpc-go does not check it and grpc-java only logs a
///   warning; grpc-core refuses. The header exists to detect proxies that drop trailers,
///   and an HTTP/2 client that reached us receives the trailers regardless.
/// - malformed `grpc-timeout` (not 1–8 digits + one of `HMSmun`): HTTP 400 with
///   `grpc-status` INTERNAL "malformed grpc-timeout", as grpc-go.
/// - `grpc-encoding` other than `identity`/`gzip`: UNIMPLEMENTED; a message with the
///   compressed flag set but no (or `identity`) encoding: UNIMPLEMENTED as well (grpc-go
///   says INTERNAL there; the compression spec asks for UNIMPLEMENTED). Every response
///   carries `grpc-accept-encoding: gzip`.
/// - unknown path: trailers-only UNIMPLEMENTED. A second request message on a unary or
///   server-streaming method, a frame cut by END_STREAM, or a compressed flag other than
///   0/1: INTERNAL. A declared length above the limit: RESOURCE_EXHAUSTED at once, before
///   the body is buffered; the same for gzip output above the limit.
/// - header block above ``ServerConfiguration/maxHeaderListSize``: RST_STREAM
///   (INTERNAL_ERROR) — no status can be sent for a request whose headers were not read.
final class ServerConnection: HTTP2SessionDelegate, @unchecked Sendable {
  let loop: EventLoop
  let router: ServerRouter
  let configuration: ServerConfiguration
  let peer: PeerInfo
  private var session: HTTP2Session!
  private var streams: [Int32: ServerStream] = [:]
  /// Called (once per loop iteration at most) when there is output to send.
  var onOutputPending: (() -> Void)?
  private var flushRequested = false
  /// Whether the peer broke the protocol; the connection closes after flushing.
  private(set) var failed = false
  private(set) var lastStreamActivity = ContinuousClock.now
  private(set) var pingOutstandingSince: ContinuousClock.Instant?
  private var draining = false
  private var scratchMessages: [GRPCFramedMessage] = []

  var activeStreamCount: Int { streams.count }

  init(
    loop: EventLoop, router: ServerRouter, configuration: ServerConfiguration, peer: PeerInfo
  ) throws {
    self.loop = loop
    self.router = router
    self.configuration = configuration
    self.peer = peer
    var limits = HTTP2SessionLimits()
    limits.maxConcurrentStreams = UInt32(clamping: configuration.maxConcurrentStreams)
    limits.maxHeaderListSize = UInt32(clamping: configuration.maxHeaderListSize)
    limits.streamResetBurst = UInt64(clamping: configuration.streamResetBurst)
    limits.streamResetRatePerSecond = UInt64(clamping: configuration.streamResetRatePerSecond)
    session = try HTTP2Session(serverWith: self, limits: limits)
  }

  // MARK: Bytes in and out

  /// Feeds bytes from the client. Returns `false` if the connection must close.
  func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
    if !session.receive(bytes) { failed = true }
    return !failed
  }

  /// Appends up to about `limit` bytes of output.
  func produceOutput(into buffer: inout [UInt8], limit: Int) {
    if !session.send(into: &buffer, limit: limit) { failed = true }
  }

  var wantsWrite: Bool { session.wantsWrite }
  /// False once the connection is finished (GOAWAY exchanged and no streams, or failed).
  var isAlive: Bool {
    !failed && (session.wantsRead || session.wantsWrite) && !(finalGoAwaySent && streams.isEmpty)
  }

  private func requestFlush() {
    guard !flushRequested else { return }
    flushRequested = true
    loop.flushAtEndOfIteration(flushWork)
  }

  /// Allocated once per connection rather than per flush. Weak: the connection may be gone
  /// (socket closed) by the time the loop runs its flushes.
  private lazy var flushWork: () -> Void = { [weak self] in
    guard let self else { return }
    flushRequested = false
    onOutputPending?()
  }

  // MARK: Lifecycle

  /// Starts a graceful close: GOAWAY, no new streams; the owner closes once ``isAlive`` is
  /// false (in-flight calls finished) or the grace period is over.
  ///
  /// Two steps, as grpc-go and grpc-core do: a GOAWAY with the maximum stream id (clients stop
  /// opening streams) and a PING; when its acknowledgement arrives, every stream the client
  /// opened before seeing the first GOAWAY has reached us, and the final GOAWAY names the last
  /// one. Streams the client opened in between are still served instead of being refused.
  func beginDraining() {
    guard !draining else { return }
    draining = true
    session.shutdownNotice()
    session.ping(payload: Self.drainPingPayload)
    requestFlush()
    // A client that never acknowledges gets the final GOAWAY after a second anyway.
    loop.schedule(at: .now + .seconds(1)) { [weak self] in self?.sendFinalGoAway() }
  }

  private func sendFinalGoAway() {
    guard draining, !finalGoAwaySent else { return }
    finalGoAwaySent = true
    session.goAway()
    requestFlush()
  }

  private static let drainPingPayload: UInt64 = 0x4452_4149_4E5F_4F4B  // "DRAIN_OK"
  /// The final GOAWAY went out: once no stream is left, the connection is done.
  private var finalGoAwaySent = false

  /// Ends every call at once (grace period over, or the socket died).
  func cancelAll(_ status: RPCError) {
    for (_, stream) in streams {
      stream.deadlineTimer?.cancel()
      stream.call?.fail(status)
      stream.task?.cancel()
    }
    streams.removeAll()
  }

  func sendPing() {
    pingOutstandingSince = .now
    session.ping()
    requestFlush()
  }

  // MARK: HTTP2SessionDelegate

  func sessionBeginHeaders(streamID: Int32) {
    if streams[streamID] == nil {
      streams[streamID] = ServerStream(
        id: streamID, maxMessageSize: configuration.maxReceiveMessageSize)
      lastStreamActivity = .now
    }
  }

  func sessionHeader(
    streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
  ) -> Bool {
    guard let stream = streams[streamID] else { return true }
    // RFC 7541 §4.1 size: name + value + 32. nghttp2 does not bound what it receives.
    stream.headerBytes += name.count + value.count + 32
    if stream.headerBytes > configuration.maxHeaderListSize { return false }
    if stream.headersDone { return true }  // request trailers carry nothing we use
    // Most names fit a small (inline) String; values are only materialized when used.
    let nameString = String(decoding: name, as: UTF8.self)
    switch nameString {
    case ":method": stream.httpMethod = String(decoding: value, as: UTF8.self)
    case ":path": stream.path = String(decoding: value, as: UTF8.self)
    case "content-type": stream.contentType = String(decoding: value, as: UTF8.self)
    case "grpc-timeout": stream.timeout = String(decoding: value, as: UTF8.self)
    case "grpc-encoding": stream.encoding = String(decoding: value, as: UTF8.self)
    case "grpc-accept-encoding": stream.acceptEncoding = String(decoding: value, as: UTF8.self)
    case ":scheme", ":authority", "te", "user-agent":
      // `te` is deliberately not required (see the type's documentation).
      break
    default:
      guard !GRPCHeaders.isReserved(nameString) else { break }
      GRPCHeaders.appendReceived(
        name: nameString, value: String(decoding: value, as: UTF8.self), to: &stream.metadata)
    }
    return true
  }

  func sessionHeadersComplete(streamID: Int32, endStream: Bool) {
    guard let stream = streams[streamID] else { return }
    if stream.headersDone {
      // Trailers from the client end its side of the stream.
      endOfRequest(stream)
      return
    }
    stream.headersDone = true
    startStream(stream)
    if endStream { endOfRequest(stream) }
  }

  func sessionData(streamID: Int32, bytes: UnsafeRawBufferPointer) {
    guard let stream = streams[streamID] else {
      session.consumeConnection(count: bytes.count)
      return
    }
    guard stream.accepting else {
      session.consume(streamID: streamID, count: bytes.count)
      return
    }
    do {
      try stream.deframer.process(bytes, into: &scratchMessages)
    } catch {
      scratchMessages.removeAll(keepingCapacity: true)
      session.consume(streamID: streamID, count: bytes.count)
      abort(stream, error.rpcError)
      return
    }
    stream.unconsumed += bytes.count
    guard let call = stream.call else { return }
    if call.streamingRequests {
      // Client/bidi streaming: the window reopens as the handler reads (backpressure).
      if scratchMessages.isEmpty {
        if !call.inbound.withLock({ $0.stalled }) { consumeAll(stream) }
      } else if call.deliver(&scratchMessages, end: false) {
        consumeAll(stream)
      }
    } else {
      // Unary and server-streaming: hold the one request until END_STREAM.
      stream.pending.append(contentsOf: scratchMessages)
      scratchMessages.removeAll(keepingCapacity: true)
      consumeAll(stream)
      if stream.pending.count > 1 {
        abort(stream, RPCError(.internal, "expected one request message, got more"))
      }
    }
  }

  func sessionDataEndStream(streamID: Int32) {
    guard let stream = streams[streamID] else { return }
    endOfRequest(stream)
  }

  func sessionStreamClosed(streamID: Int32, errorCode: UInt32) {
    guard let stream = streams.removeValue(forKey: streamID) else { return }
    stream.deadlineTimer?.cancel()
    if stream.unconsumed > 0 { session.consumeConnection(count: stream.unconsumed) }
    if !stream.finished {
      // RST_STREAM from the client (or a stream error): cancel the handler.
      stream.finished = true
      stream.call?.fail(RPCError(.cancelled, "the client cancelled the call"))
      stream.task?.cancel()
    } else {
      stream.call?.fail(RPCError(.cancelled, "the call is over"))
    }
    lastStreamActivity = .now
  }

  func sessionReadData(
    streamID: Int32, into buffer: UnsafeMutableRawBufferPointer, eof: inout Bool
  ) -> Int? {
    guard let call = streams[streamID]?.call else {
      eof = true
      return 0
    }
    let (count, trailers) = call.read(into: buffer, eof: &eof)
    if let trailers { session.submitTrailers(streamID: streamID, headers: trailers) }
    return count
  }

  func sessionSentEndStream(streamID: Int32) {
    // The response is complete; if the client is still sending, tell it to stop (RFC 9113
    // §8.1: RST_STREAM with NO_ERROR after a complete response).
    if streams[streamID] != nil && session.isRemoteOpen(streamID: streamID) {
      session.resetStream(streamID: streamID, errorCode: 0)
    }
  }

  func sessionPingAcknowledged(payload: UInt64) {
    if payload == Self.drainPingPayload {
      sendFinalGoAway()
      return
    }
    pingOutstandingSince = nil
  }

  // MARK: Calls

  private func startStream(_ stream: ServerStream) {
    guard let httpMethod = stream.httpMethod, httpMethod == "POST" else {
      reject(
        stream, httpStatus: "405", RPCError(.internal, "invalid HTTP method, which should be POST"))
      return
    }
    guard let contentType = stream.contentType, GRPCHeaders.isGRPCContentType(contentType) else {
      let text = stream.contentType ?? ""
      reject(
        stream, httpStatus: "415",
        RPCError(.invalidArgument, "invalid gRPC request content-type \"\(text)\""))
      return
    }
    // `te: trailers` is not required: grpc-go and grpc-java accept requests without it
    // (grpc-java logs a warning), and trailers reach HTTP/2 clients either way.
    var deadline: ContinuousClock.Instant? = nil
    if let timeout = stream.timeout {
      guard let duration = GRPCTimeout.parse(timeout) else {
        reject(stream, httpStatus: "400", RPCError(.internal, "malformed grpc-timeout"))
        return
      }
      deadline = .now + duration
    }
    var requestGzip = false
    if let encoding = stream.encoding?.lowercased(), encoding != "identity" {
      guard encoding == "gzip" else {
        reject(
          stream, httpStatus: "200",
          RPCError(.unimplemented, "grpc-encoding \"\(encoding)\" is not supported"))
        return
      }
      requestGzip = true
    }
    guard let path = stream.path, let method = router.methods[path] else {
      reject(
        stream, httpStatus: "200",
        RPCError(.unimplemented, "method not found: \(stream.path ?? "")"))
      return
    }
    let limit = method.maxReceiveMessageSize ?? configuration.maxReceiveMessageSize
    stream.deframer.maxMessageSize = limit
    stream.method = method
    stream.deadline = deadline
    if let deadline {
      let id = stream.id
      stream.deadlineTimer = loop.schedule(at: deadline) { [weak self] in
        self?.deadlineExceeded(streamID: id)
      }
    }
    let context = ServerContext(
      method: method.descriptor, requestMetadata: stream.metadata, deadline: deadline, peer: peer)
    let acceptsGzip = stream.acceptEncoding.map { GRPCHeaders.list($0, contains: "gzip") } ?? false
    stream.call = ServerCall(
      streamID: stream.id, loop: loop, connection: self, context: context,
      kind: method.descriptor.kind, maxReceiveMessageSize: limit,
      requestEncodingIsGzip: requestGzip, clientAcceptsGzip: acceptsGzip,
      compressByDefault: configuration.compressResponsesByDefault)
    stream.metadata = [:]
    if stream.call!.streamingRequests { launch(stream) }
  }

  private func launch(_ stream: ServerStream) {
    guard let call = stream.call, let method = stream.method, stream.task == nil else { return }
    if method.runsOnEventLoop || configuration.runsHandlersOnEventLoops {
      stream.task = Task(executorPreference: loop) { await call.run(method) }
    } else {
      stream.task = Task { await call.run(method) }
    }
  }

  private func endOfRequest(_ stream: ServerStream) {
    guard stream.accepting, let call = stream.call else { return }
    do {
      try stream.deframer.finish()
    } catch {
      abort(stream, error.rpcError)
      return
    }
    if stream.task == nil {
      _ = call.deliver(&stream.pending, end: true)
      launch(stream)
    } else {
      var none: [GRPCFramedMessage] = []
      _ = call.deliver(&none, end: true)
    }
    stream.requestEnded = true
  }

  private func consumeAll(_ stream: ServerStream) {
    if stream.unconsumed > 0 {
      session.consume(streamID: stream.id, count: stream.unconsumed)
      stream.unconsumed = 0
      requestFlush()
    }
  }

  /// The handler took messages and the backlog is small again (hop from its task).
  func reopenWindow(streamID: Int32, call: ServerCall) {
    guard let stream = streams[streamID], stream.call === call else { return }
    consumeAll(stream)
  }

  /// The handler queued response bytes (hop from its task).
  func outputReady(streamID: Int32, call: ServerCall) {
    let headers = call.outbound.withLock { s -> [(String, String)]? in
      s.hopScheduled = false
      return s.headers
    }
    guard let stream = streams[streamID], stream.call === call else { return }
    if !stream.responseStarted {
      stream.responseStarted = true
      session.submitResponse(
        streamID: streamID, headers: headers ?? Self.responseHeaders(metadata: [:], gzip: false),
        hasBody: true)
    } else {
      session.resumeData(streamID: streamID)
    }
    requestFlush()
  }

  /// The handler returned or threw (hop from its task).
  func callFinished(streamID: Int32, call: ServerCall, status: RPCError, trailing: Metadata) {
    guard let stream = streams[streamID], stream.call === call, !stream.finished else { return }
    finish(stream, status, trailing: trailing)
  }

  private func deadlineExceeded(streamID: Int32) {
    guard let stream = streams[streamID], !stream.finished else { return }
    let status = RPCError(.deadlineExceeded, "deadline exceeded")
    stream.call?.fail(status)
    stream.task?.cancel()
    finish(stream, status, trailing: stream.call?.context.trailingMetadata ?? [:])
  }

  /// Ends a call that is running or about to run, because of what the client sent.
  private func abort(_ stream: ServerStream, _ status: RPCError) {
    guard !stream.finished else { return }
    stream.accepting = false
    stream.call?.fail(status)
    stream.task?.cancel()
    finish(stream, status, trailing: [:])
  }

  /// Answers a request that never becomes a call.
  private func reject(_ stream: ServerStream, httpStatus: String, _ status: RPCError) {
    stream.accepting = false
    stream.finished = true
    var headers: [(String, String)] = [
      (":status", httpStatus), ("content-type", "application/grpc"),
      ("grpc-accept-encoding", "gzip"),
    ]
    Self.appendStatus(status, trailing: [:], to: &headers)
    session.submitResponse(streamID: stream.id, headers: headers, hasBody: false)
    requestFlush()
  }

  /// Sends the status: as trailers after the response, or as a trailers-only response.
  private func finish(_ stream: ServerStream, _ status: RPCError, trailing: Metadata) {
    stream.finished = true
    stream.deadlineTimer?.cancel()
    stream.deadlineTimer = nil
    var trailers: [(String, String)] = []
    Self.appendStatus(status, trailing: trailing, to: &trailers)
    guard let call = stream.call else {
      reject(stream, httpStatus: "200", status)
      return
    }
    if stream.responseStarted {
      call.outbound.withLock { $0.trailers = trailers }
      session.resumeData(streamID: stream.id)
    } else {
      let (headers, hasBody) = call.outbound.withLock { s -> ([(String, String)]?, Bool) in
        if s.pending > 0 { s.trailers = trailers }
        return (s.headers, s.pending > 0)
      }
      stream.responseStarted = true
      if hasBody, let headers {
        session.submitResponse(streamID: stream.id, headers: headers, hasBody: true)
      } else {
        // Trailers-only: initial metadata, if any, travels with the status.
        var fields = Self.responseHeaders(
          metadata: call.context.takeInitialMetadataForSending(), gzip: false)
        fields.append(contentsOf: trailers)
        session.submitResponse(streamID: stream.id, headers: fields, hasBody: false)
      }
    }
    requestFlush()
  }
}
