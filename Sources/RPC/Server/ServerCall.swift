import Synchronization

/// The state of one call shared between its connection's event loop and the handler's task:
/// request messages waiting for the handler, and response bytes waiting for nghttp2.
///
/// Thread ownership: ``connection`` and ``streamID`` are only used inside `loop.execute`
/// closures (on the loop thread); everything mutable is behind the two mutexes, each held
/// only for a few instructions.
final class ServerCall: @unchecked Sendable {
  let streamID: Int32
  let loop: EventLoop
  let connection: ServerConnection
  let context: ServerContext
  /// Unary and client-streaming methods answer with one message: it is kept until the
  /// handler returns and goes out with the status in one loop hop.
  let singleResponse: Bool
  /// Streaming methods: request messages are flow-controlled by the handler's reads.
  let streamingRequests: Bool
  let maxReceiveMessageSize: Int
  let requestEncodingIsGzip: Bool
  let clientAcceptsGzip: Bool
  let compressByDefault: Bool

  /// Backlog of undelivered request bytes above which the stream's window stays closed.
  static let inboundHighWater = 256 * 1024
  /// Pending response bytes above which `write` suspends.
  static let outboundHighWater = 256 * 1024

  struct Inbound {
    var messages: [GRPCFramedMessage] = []
    var head = 0
    var queuedBytes = 0
    var ended = false
    var failure: RPCError?
    var waiter: CheckedContinuation<GRPCFramedMessage?, any Error>?
    /// The loop holds back window updates until the handler catches up.
    var stalled = false
  }

  struct Outbound {
    var buffer: [UInt8] = []
    var readOffset = 0
    /// Response headers to send (set at the first write or at the end); `nil` until then.
    var headers: [(String, String)]?
    var gzipAnnounced = false
    /// A loop hop to push output is already on its way.
    var hopScheduled = false
    var writer: CheckedContinuation<Void, any Error>?
    /// Trailers, once the call ended; sent when the buffer drains.
    var trailers: [(String, String)]?
    /// Set when the call is over from the transport's side: writes fail with it.
    var closed: RPCError?
    var pending: Int { buffer.count - readOffset }
  }

  enum Step {
    case message(GRPCFramedMessage, wakeLoop: Bool)
    case end
    case fail(RPCError)
    case wait
  }

  let inbound = Mutex(Inbound())
  let outbound = Mutex(Outbound())

  init(
    streamID: Int32, loop: EventLoop, connection: ServerConnection, context: ServerContext,
    kind: RPCKind, maxReceiveMessageSize: Int, requestEncodingIsGzip: Bool,
    clientAcceptsGzip: Bool, compressByDefault: Bool
  ) {
    self.streamID = streamID
    self.loop = loop
    self.connection = connection
    self.context = context
    self.singleResponse = kind == .unary || kind == .clientStreaming
    self.streamingRequests = kind == .clientStreaming || kind == .bidirectionalStreaming
    self.maxReceiveMessageSize = maxReceiveMessageSize
    self.requestEncodingIsGzip = requestEncodingIsGzip
    self.clientAcceptsGzip = clientAcceptsGzip
    self.compressByDefault = compressByDefault
  }

  // MARK: Handler side (any thread)

  /// Runs the method and hands the outcome back to the loop.
  func run(_ method: ServerMethod) async {
    let requests = RequestStream<RawMessage>(nextRaw: { [self] in try await nextMessage() })
    let responses = ResponseWriter<RawMessage>(writeRaw: { [self] bytes, compress in
      try await write(bytes, compress: compress)
    })
    let status: RPCError
    do {
      try await method.run(requests, responses, context)
      status = RPCError(.ok)
    } catch let error as RPCError {
      status = error
    } catch is CancellationError {
      status = RPCError(.cancelled, "call cancelled")
    } catch {
      // Never leak internals: the error's text stays on the server.
      status = RPCError(.unknown, "unexpected error in the service handler")
    }
    let trailing = context.trailingMetadata
    loop.execute { [self] in
      connection.callFinished(streamID: streamID, call: self, status: status, trailing: trailing)
    }
  }

  /// The next request message, decompressed; `nil` at the end of the request stream.
  func nextMessage() async throws -> [UInt8]? {
    let step = inbound.withLock { s -> Step in
      if let failure = s.failure { return .fail(failure) }
      if s.head < s.messages.count { return Self.pop(&s) }
      if s.ended { return .end }
      return .wait
    }
    let framed: GRPCFramedMessage
    switch step {
    case .message(let message, let wakeLoop):
      if wakeLoop { reopenWindow() }
      framed = message
    case .end:
      return nil
    case .fail(let error):
      throw error
    case .wait:
      let next = try await withCheckedThrowingContinuation {
        (continuation: CheckedContinuation<GRPCFramedMessage?, any Error>) in
        let immediate = inbound.withLock { s -> Result<GRPCFramedMessage?, RPCError>? in
          if let failure = s.failure { return .failure(failure) }
          if s.head < s.messages.count {
            if case .message(let m, let wake) = Self.pop(&s) {
              if wake { s.stalled = true }  // re-marked; reopened below
              return .success(m)
            }
          }
          if s.ended { return .success(nil) }
          s.waiter = continuation
          return nil
        }
        if let immediate { continuation.resume(with: immediate) }
      }
      guard let next else { return nil }
      if inbound.withLock({ s in
        if s.stalled && s.queuedBytes < Self.inboundHighWater {
          s.stalled = false
          return true
        }
        return false
      }) {
        reopenWindow()
      }
      framed = next
    }
    return try decode(framed)
  }

  private static func pop(_ s: inout Inbound) -> Step {
    let message = s.messages[s.head]
    s.messages[s.head] = GRPCFramedMessage(bytes: [], compressed: false)
    s.head += 1
    if s.head == s.messages.count {
      s.messages.removeAll(keepingCapacity: true)
      s.head = 0
    }
    s.queuedBytes -= message.bytes.count
    var wake = false
    if s.stalled && s.queuedBytes < inboundHighWater {
      s.stalled = false
      wake = true
    }
    return .message(message, wakeLoop: wake)
  }

  private func decode(_ framed: GRPCFramedMessage) throws -> [UInt8] {
    context.setLastRequestWasCompressed(framed.compressed)
    guard framed.compressed else { return framed.bytes }
    guard requestEncodingIsGzip else {
      throw RPCError(
        .unimplemented,
        "compressed message received without a supported grpc-encoding (supported: gzip)")
    }
    do {
      return try Gzip.decompress(framed.bytes, limit: maxReceiveMessageSize)
    } catch GzipError.tooLarge {
      throw RPCError(
        .resourceExhausted,
        "decompressed message larger than max (\(maxReceiveMessageSize))")
    } catch {
      throw RPCError(.internal, "could not decompress message (gzip)")
    }
  }

  private func reopenWindow() {
    loop.execute { [self] in connection.reopenWindow(streamID: streamID, call: self) }
  }

  /// Queues one response message; suspends while too much output is pending.
  func write(_ message: [UInt8], compress: Bool?) async throws {
    // Decide compression and the response headers at the first message.
    let first = outbound.withLock { s -> (announced: Bool, isFirst: Bool, closed: RPCError?) in
      (s.gzipAnnounced, s.headers == nil, s.closed)
    }
    if let closed = first.closed { throw closed }
    let wantsGzip =
      clientAcceptsGzip && (compress ?? context.compressResponses ?? compressByDefault)
    var headers: [(String, String)]? = nil
    var announce = first.announced
    if first.isFirst {
      announce = clientAcceptsGzip && (wantsGzip || context.compressResponses == true)
      headers = ServerConnection.responseHeaders(
        metadata: context.takeInitialMetadataForSending(), gzip: announce)
    }
    var frame: [UInt8]
    if announce && wantsGzip, let compressed = try? Gzip.compress(message) {
      frame = []
      compressed.withUnsafeBytes { GRPCFraming.appendFrame($0, compressed: true, to: &frame) }
    } else {
      frame = []
      message.withUnsafeBytes { GRPCFraming.appendFrame($0, compressed: false, to: &frame) }
    }

    enum Action {
      case done, hop, wait
      case fail(RPCError)
    }
    let action = outbound.withLock { s -> Action in
      if let closed = s.closed { return .fail(closed) }
      if let headers, s.headers == nil {
        s.headers = headers
        s.gzipAnnounced = announce
      }
      if s.buffer.isEmpty {
        s.buffer = frame
        s.readOffset = 0
      } else {
        s.buffer.append(contentsOf: frame)
      }
      if singleResponse { return .done }
      let hop = !s.hopScheduled
      s.hopScheduled = true
      return s.pending > Self.outboundHighWater ? .wait : (hop ? .hop : .done)
    }
    switch action {
    case .done:
      return
    case .fail(let error):
      throw error
    case .hop:
      loop.execute { [self] in connection.outputReady(streamID: streamID, call: self) }
    case .wait:
      loop.execute { [self] in connection.outputReady(streamID: streamID, call: self) }
      try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
        let resumeNow = outbound.withLock { s -> Result<Void, RPCError>? in
          if let closed = s.closed { return .failure(closed) }
          if s.pending <= Self.outboundHighWater { return .success(()) }
          s.writer = c
          return nil
        }
        if let resumeNow { c.resume(with: resumeNow) }
      }
    }
  }

  // MARK: Loop side

  /// Delivers request messages (loop thread). Returns whether the window may be reopened
  /// now (the backlog is small).
  func deliver(_ messages: inout [GRPCFramedMessage], end: Bool) -> Bool {
    var waiter: CheckedContinuation<GRPCFramedMessage?, any Error>?
    var handOff: GRPCFramedMessage?? = nil
    let open = inbound.withLock { s -> Bool in
      for message in messages {
        s.messages.append(message)
        s.queuedBytes += message.bytes.count
      }
      if end { s.ended = true }
      if let w = s.waiter {
        if s.head < s.messages.count {
          if case .message(let m, _) = Self.pop(&s) {
            handOff = .some(m)
          }
          waiter = w
          s.waiter = nil
        } else if s.ended {
          handOff = .some(nil)
          waiter = w
          s.waiter = nil
        }
      }
      if s.queuedBytes >= Self.inboundHighWater {
        s.stalled = true
        return false
      }
      return true
    }
    messages.removeAll(keepingCapacity: true)
    if let waiter, let handOff { waiter.resume(returning: handOff) }
    return open
  }

  /// Ends the call from the transport's side (loop thread): pending and future reads and
  /// writes fail with `error`.
  func fail(_ error: RPCError) {
    let reader = inbound.withLock { s -> CheckedContinuation<GRPCFramedMessage?, any Error>? in
      if s.failure == nil { s.failure = error }
      let w = s.waiter
      s.waiter = nil
      return w
    }
    let writer = outbound.withLock { s -> CheckedContinuation<Void, any Error>? in
      if s.closed == nil { s.closed = error }
      let w = s.writer
      s.writer = nil
      return w
    }
    reader?.resume(throwing: error)
    writer?.resume(throwing: error)
  }

  /// Copies pending response bytes into nghttp2's buffer (loop thread, data provider).
  /// `nil`: nothing yet (defer). `eof`: everything was sent and the trailers are ready.
  func read(into buffer: UnsafeMutableRawBufferPointer, eof: inout Bool) -> (
    Int?, trailers: [(String, String)]?
  ) {
    var writer: CheckedContinuation<Void, any Error>?
    let result = outbound.withLock { s -> (Int?, [(String, String)]?) in
      let available = s.pending
      if available == 0 {
        if let trailers = s.trailers {
          s.trailers = nil
          return (0, trailers)
        }
        return (nil, nil)
      }
      let n = min(available, buffer.count)
      s.buffer.withUnsafeBytes { source in
        buffer.baseAddress!.copyMemory(
          from: source.baseAddress! + s.readOffset, byteCount: n)
      }
      s.readOffset += n
      if s.readOffset == s.buffer.count {
        s.buffer.removeAll(keepingCapacity: s.buffer.capacity <= 1 << 20)
        s.readOffset = 0
      } else if s.readOffset > 1 << 20 {
        s.buffer.removeFirst(s.readOffset)
        s.readOffset = 0
      }
      if s.writer != nil && s.pending <= Self.outboundHighWater {
        writer = s.writer
        s.writer = nil
      }
      return (n, nil)
    }
    writer?.resume()
    if result.1 != nil { eof = true }
    return (result.0, result.1)
  }
}
