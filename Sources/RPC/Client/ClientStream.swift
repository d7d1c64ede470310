import Synchronization

/// One client call: the caller-facing side of an HTTP/2 stream (``ClientStreamCore``).
///
/// Callers (any task) and the channel's loop thread meet in ``State``, behind a `Mutex`:
/// the loop delivers headers, messages and the final status and drains outbound bytes; the
/// callers append outbound bytes and wait for what they need by parking a continuation that
/// the loop (or a cancellation) resumes. ``io`` is the loop's own bookkeeping and is touched
/// only on the loop thread.
///
/// Flow control, both ways:
/// - Outbound, ``send(_:compress:)`` appends the framed message and then suspends while more
///   than ``outboundBound`` bytes wait to be taken by nghttp2's data provider (which takes
///   them only as the peer's window allows).
/// - Inbound, the connection turns nghttp2's automatic WINDOW_UPDATEs off and consumes the
///   bytes of DATA frames itself: at once while fewer than ``inboundHighWater`` bytes of
///   decoded messages wait for the reader, otherwise only once the reader takes messages
///   (``nextResponse()``), so a slow reader stops the server through HTTP/2 windows.
final class ClientStream: ClientStreamCore {
  static let outboundBound = 256 * 1024
  static let inboundHighWater = 1024 * 1024

  let method: MethodDescriptor
  let metadata: Metadata
  let options: CallOptions
  /// When the call's `timeout` runs out, counted from the call's start; `grpc-timeout` sends
  /// what is left of it when the request goes out.
  let deadline: ContinuousClock.Instant?
  private let loop: ClientEventLoop
  private let state = Mutex(State())

  /// Loop-thread bookkeeping (stream id, connection, deframer); see the type's comment.
  nonisolated(unsafe) var io: ClientStreamIO?

  struct State: ~Copyable {
    var messages: [[UInt8]] = []
    var messagesHead = 0
    var bufferedBytes = 0
    var reader: CheckedContinuation<[UInt8]?, any Error>?
    var initialMetadata: Metadata?
    var initialWaiters: [CheckedContinuation<Metadata, any Error>] = []
    var outcome: Result<Metadata, RPCError>?
    var outcomeWaiters: [CheckedContinuation<Metadata, any Error>] = []
    var outbound: [UInt8] = []
    var outboundHead = 0
    var outboundClosed = false
    var senders: [CheckedContinuation<Void, any Error>] = []
    var resumeScheduled = false
    /// The loop holds back window for this stream until the reader catches up.
    var windowHeld = false
    var deadlineTask: Task<Void, Never>?

    var pendingOutbound: Int { outbound.count - outboundHead }
  }

  init(
    method: MethodDescriptor, metadata: Metadata, options: CallOptions, loop: ClientEventLoop
  ) {
    self.method = method
    self.metadata = metadata
    self.options = options
    self.deadline = options.timeout.map { .now + $0 }
    self.loop = loop
  }

  /// Arms the local deadline: when it passes the call fails with `DEADLINE_EXCEEDED` and the
  /// stream is reset with CANCEL, whatever the server does.
  func armDeadline(_ timeout: Duration) {
    let task = Task { [weak self] in
      do { try await Task.sleep(for: timeout) } catch { return }
      guard let self else { return }
      self.failLocally(RPCError(.deadlineExceeded, "deadline exceeded after \(timeout)"))
    }
    let finished = state.withLock { state -> Bool in
      if state.outcome != nil { return true }
      state.deadlineTask = task
      return false
    }
    if finished { task.cancel() }
  }

  var isFinished: Bool { state.withLock { $0.outcome != nil } }

  // MARK: ClientStreamCore

  func send(_ bytes: [UInt8], compress: Bool) async throws {
    let shouldCompress = compress && options.compressRequests
    let payload: [UInt8]
    if shouldCompress {
      do { payload = try Gzip.compress(bytes) } catch {
        throw RPCError(.internal, "could not compress the request: \(error)")
      }
    } else {
      payload = bytes
    }
    let frame = GRPCFraming.frame(payload, compressed: shouldCompress)
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Void, any Error>) in
      enum Next {
        case resume
        case fail(RPCError)
        case wait
      }
      let (next, schedule) = state.withLock { state -> (Next, Bool) in
        if let outcome = state.outcome {
          switch outcome {
          case .failure(let error): return (.fail(error), false)
          case .success: return (.fail(RPCError(.internal, "the call already ended")), false)
          }
        }
        if state.outboundClosed {
          return (.fail(RPCError(.internal, "send after the request stream was closed")), false)
        }
        state.outbound.append(contentsOf: frame)
        let schedule = !state.resumeScheduled
        state.resumeScheduled = true
        if state.pendingOutbound > Self.outboundBound {
          state.senders.append(continuation)
          return (.wait, schedule)
        }
        return (.resume, schedule)
      }
      if schedule { scheduleResume() }
      switch next {
      case .resume: continuation.resume()
      case .fail(let error): continuation.resume(throwing: error)
      case .wait: break
      }
    }
  }

  func closeSend() async throws {
    let schedule = state.withLock { state -> Bool in
      guard !state.outboundClosed else { return false }
      state.outboundClosed = true
      let schedule = !state.resumeScheduled
      state.resumeScheduled = true
      return schedule
    }
    if schedule { scheduleResume() }
  }

  func nextResponse() async throws -> [UInt8]? {
    var release = false
    let message = try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<[UInt8]?, any Error>) in
      enum Next {
        case message([UInt8])
        case end
        case fail(RPCError)
        case wait
      }
      let next = state.withLock { state -> Next in
        if state.messagesHead < state.messages.count {
          let message = state.takeMessage()
          if state.windowHeld && state.bufferedBytes < Self.inboundHighWater {
            state.windowHeld = false
            release = true
          }
          return .message(message)
        }
        switch state.outcome {
        case .success?: return .end
        case .failure(let error)?: return .fail(error)
        case nil:
          state.reader = continuation
          return .wait
        }
      }
      switch next {
      case .message(let bytes): continuation.resume(returning: bytes)
      case .end: continuation.resume(returning: nil)
      case .fail(let error): continuation.resume(throwing: error)
      case .wait: break
      }
    }
    if release { loop.execute { [self] core in core.releaseWindow(self) } }
    return message
  }

  func initialMetadata() async throws -> Metadata {
    try await withCheckedThrowingContinuation { continuation in
      let ready = state.withLock { state -> Result<Metadata, RPCError>? in
        if let metadata = state.initialMetadata { return .success(metadata) }
        switch state.outcome {
        // Trailers-only response: no initial metadata was sent.
        case .success?: return .success([:])
        case .failure(let error)?: return .failure(error)
        case nil:
          state.initialWaiters.append(continuation)
          return nil
        }
      }
      if let ready { continuation.resume(with: ready) }
    }
  }

  func trailingMetadata() async throws -> Metadata {
    try await withCheckedThrowingContinuation { continuation in
      let ready = state.withLock { state -> Result<Metadata, RPCError>? in
        if let outcome = state.outcome { return outcome }
        state.outcomeWaiters.append(continuation)
        return nil
      }
      if let ready { continuation.resume(with: ready) }
    }
  }

  func cancel() {
    failLocally(RPCError(.cancelled, "call cancelled by the client"))
  }

  // MARK: Loop side

  /// Ends the call from this side: fails everything pending with `error` (buffered
  /// responses are dropped) and resets the stream with CANCEL.
  func failLocally(_ error: RPCError) {
    if finish(.failure(error), discardBuffered: true) {
      loop.execute { [self] core in core.reset(self, errorCode: 0x8) }
    }
  }

  private func scheduleResume() {
    loop.execute { [self] core in
      state.withLock { $0.resumeScheduled = false }
      core.resumeSending(self)
    }
  }

  /// Response headers arrived.
  func deliverInitialMetadata(_ metadata: Metadata) {
    let waiters = state.withLock { state -> [CheckedContinuation<Metadata, any Error>] in
      guard state.outcome == nil, state.initialMetadata == nil else { return [] }
      state.initialMetadata = metadata
      defer { state.initialWaiters = [] }
      return state.initialWaiters
    }
    for waiter in waiters { waiter.resume(returning: metadata) }
  }

  /// A response message arrived.
  func deliverMessage(_ message: [UInt8]) {
    let reader = state.withLock { state -> CheckedContinuation<[UInt8]?, any Error>? in
      guard state.outcome == nil else { return nil }
      if let reader = state.reader {
        state.reader = nil
        return reader
      }
      state.messages.append(message)
      state.bufferedBytes += message.count
      return nil
    }
    reader?.resume(returning: message)
  }

  /// Whether the connection should hold back the window of bytes just received because the
  /// reader lags; if so, the reader releases it (``ClientChannelCore/releaseWindow(_:)``)
  /// once it has caught up.
  func shouldHoldWindow() -> Bool {
    state.withLock { state in
      guard state.outcome == nil, state.bufferedBytes >= Self.inboundHighWater else {
        return false
      }
      state.windowHeld = true
      return true
    }
  }

  /// Ends the call with `outcome` (trailing metadata for OK). Returns false if it had already
  /// ended. Buffered responses stay readable unless `discardBuffered`.
  @discardableResult
  func finish(_ outcome: Result<Metadata, RPCError>, discardBuffered: Bool = false) -> Bool {
    struct Wake {
      var reader: CheckedContinuation<[UInt8]?, any Error>?
      var initial: [CheckedContinuation<Metadata, any Error>]
      var outcome: [CheckedContinuation<Metadata, any Error>]
      var senders: [CheckedContinuation<Void, any Error>]
      var deadline: Task<Void, Never>?
    }
    let wake = state.withLock { state -> Wake? in
      guard state.outcome == nil else { return nil }
      state.outcome = outcome
      if discardBuffered {
        state.messages = []
        state.messagesHead = 0
        state.bufferedBytes = 0
      }
      let wake = Wake(
        reader: state.reader, initial: state.initialWaiters, outcome: state.outcomeWaiters,
        senders: state.senders, deadline: state.deadlineTask)
      state.reader = nil
      state.initialWaiters = []
      state.outcomeWaiters = []
      state.senders = []
      state.deadlineTask = nil
      return wake
    }
    guard let wake else { return false }
    wake.deadline?.cancel()
    let failure: RPCError? =
      if case .failure(let error) = outcome { error } else { nil }
    if let failure {
      wake.reader?.resume(throwing: failure)
      for waiter in wake.initial { waiter.resume(throwing: failure) }
      for sender in wake.senders { sender.resume(throwing: failure) }
    } else {
      wake.reader?.resume(returning: nil)
      for waiter in wake.initial { waiter.resume(returning: [:]) }
      for sender in wake.senders {
        sender.resume(throwing: RPCError(.internal, "the call ended before the request"))
      }
    }
    for waiter in wake.outcome { waiter.resume(with: outcome.mapError { $0 as any Error }) }
    return true
  }

  /// What nghttp2's data provider may send now: up to `limit` request bytes, and whether
  /// the request stream is complete after them. `nil` bytes with `end == false` means
  /// "nothing yet" (the provider defers).
  func takeOutbound(limit: Int) -> (bytes: ArraySlice<UInt8>, end: Bool) {
    let (slice, end, senders) = state.withLock {
      state -> (ArraySlice<UInt8>, Bool, [CheckedContinuation<Void, any Error>]) in
      let available = state.pendingOutbound
      let count = min(available, limit)
      let slice = state.outbound[state.outboundHead..<(state.outboundHead + count)]
      state.outboundHead += count
      if state.outboundHead == state.outbound.count {
        state.outbound = []
        state.outboundHead = 0
      } else if state.outboundHead > 64 * 1024 && state.outboundHead * 2 > state.outbound.count {
        state.outbound.removeFirst(state.outboundHead)
        state.outboundHead = 0
      }
      var senders: [CheckedContinuation<Void, any Error>] = []
      if state.pendingOutbound <= Self.outboundBound {
        senders = state.senders
        state.senders = []
      }
      let end = state.outboundClosed && state.pendingOutbound == 0
      return (slice, end, senders)
    }
    for sender in senders { sender.resume() }
    return (slice, end)
  }
}

extension ClientStream.State {
  fileprivate mutating func takeMessage() -> [UInt8] {
    let message = messages[messagesHead]
    messages[messagesHead] = []
    messagesHead += 1
    bufferedBytes -= message.count
    if messagesHead == messages.count {
      messages = []
      messagesHead = 0
    }
    return message
  }
}
