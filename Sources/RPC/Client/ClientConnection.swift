import CNGHTTP2

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One HTTP/2 connection of a ``Channel``: a non-blocking socket, optionally TLS, and an
/// nghttp2 client session fed through `mem_recv` / `mem_send`.
///
/// Thread ownership: created, used and destroyed only on the channel's loop thread; nghttp2
/// calls back into it synchronously from `mem_recv` / `mem_send` on that same thread.
final class ClientConnection {
  enum Phase { case connecting, handshaking, open, closed }

  private(set) var fd: Int32 = -1
  private(set) var phase: Phase = .connecting
  /// When dialing (TCP connect and TLS handshake) must be done; `nil` once the connection
  /// is open.
  private(set) var setupDeadline: ContinuousClock.Instant?
  /// The nghttp2 session; `nil` once the connection closed.
  private(set) var session: OpaquePointer?
  private var security: (any ClientSecurityLayer)?
  private var addresses: ClientAddressList
  private var lastConnectError: String?
  /// Streams that reached nghttp2, by stream id.
  var streams: [Int32: ClientStreamIO] = [:]
  private var output: [UInt8] = []
  private var outputHead = 0
  var goawayReceived = false
  private unowned let core: ClientChannelCore

  /// Receive limits: what we advertise and enforce.
  static let initialStreamWindow: Int32 = 1 << 20
  static let connectionWindow: Int32 = 8 << 20
  static let maxHeaderListSize = 64 * 1024

  init(
    configuration: ClientChannelConfiguration, tls: TLSContext?, core: ClientChannelCore
  ) throws {
    self.core = core
    self.addresses = try ClientAddressList(host: configuration.host, port: configuration.port)
    if let tls {
      security = try ClientTLSLayer(
        context: tls, serverName: configuration.host)
    }
    try makeSession()
    setupDeadline = .now + configuration.setupTimeout
    try connectNext()
  }

  /// Fails the connection if dialing took too long.
  func checkSetupDeadline(now: ContinuousClock.Instant) {
    guard phase == .connecting || phase == .handshaking, let setupDeadline,
      now >= setupDeadline
    else { return }
    fail(RPCError(.unavailable, "connecting to the server timed out"))
  }

  deinit {
    if let session { nghttp2_session_del(session) }
    if fd >= 0 { close(fd) }
  }

  /// Whether new calls may start here (not failing, not told to go away).
  var acceptsNewStreams: Bool { phase != .closed && !goawayReceived }

  var pollEvents: Int16 {
    switch phase {
    case .connecting: return Int16(POLLOUT)
    case .closed: return 0
    case .handshaking, .open:
      return Int16(POLLIN) | (outputHead < output.count ? Int16(POLLOUT) : 0)
    }
  }

  // MARK: Calls

  func submit(_ stream: ClientStream) {
    guard let session, acceptsNewStreams else {
      stream.finish(.failure(RPCError(.unavailable, "connection not available")))
      return
    }
    let fields = ClientRequestHeaders.fields(
      for: stream, configuration: core.configuration)
    var provider = nghttp2_data_provider(
      source: nghttp2_data_source(ptr: nil), read_callback: clientDataSourceRead)
    let streamID = withHeaderFields(fields) { nva, count in
      nghttp2_submit_request(session, nil, nva, count, &provider, nil)
    }
    guard streamID > 0 else {
      if streamID == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE.rawValue { goawayReceived = true }
      stream.finish(
        .failure(RPCError(.unavailable, "could not start the stream: \(nghttp2Error(streamID))")))
      return
    }
    let io = ClientStreamIO(stream: stream, connection: self, streamID: streamID)
    streams[streamID] = io
    stream.io = io
  }

  func resumeData(_ stream: ClientStream) {
    guard let session, let io = stream.io, streams[io.streamID] != nil else { return }
    nghttp2_session_resume_data(session, io.streamID)
  }

  func reset(_ stream: ClientStream, errorCode: UInt32) {
    guard let session, let io = stream.io, streams[io.streamID] != nil else { return }
    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), io.streamID, errorCode)
  }

  func releaseWindow(_ stream: ClientStream) {
    guard let session, let io = stream.io, streams[io.streamID] != nil,
      io.heldWindow > 0
    else { return }
    nghttp2_session_consume(session, io.streamID, io.heldWindow)
    io.heldWindow = 0
  }

  // MARK: I/O

  func handle(revents: Int16) {
    switch phase {
    case .closed:
      return
    case .connecting:
      var error: Int32 = 0
      var length = socklen_t(MemoryLayout<Int32>.size)
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
      if error != 0 {
        lastConnectError = String(cString: strerror(error))
        close(fd)
        fd = -1
        do { try connectNext() } catch let error as RPCError {
          fail(error)
        } catch {
          fail(RPCError(.unavailable, "\(error)"))
        }
        return
      }
      phase = security == nil ? .open : .handshaking
      if phase == .open { setupDeadline = nil }
    case .handshaking, .open:
      if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { readAvailable() }
    }
  }

  private func readAvailable() {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    // Bounded, so a fast sender cannot starve the queue and the other connections; poll
    // reports the rest next time round.
    var reads = 0
    while (phase == .open || phase == .handshaking) && reads < 16 {
      reads += 1
      let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if count > 0 {
        do {
          try buffer.withUnsafeBytes {
            try received(UnsafeRawBufferPointer(rebasing: $0[0..<count]))
          }
        } catch let error as RPCError {
          fail(error)
          return
        } catch {
          fail(RPCError(.unavailable, "\(error)"))
          return
        }
      } else if count == 0 {
        fail(RPCError(.unavailable, "connection closed by the server"))
        return
      } else {
        if errno == EAGAIN || errno == EWOULDBLOCK { return }
        if errno == EINTR { continue }
        fail(RPCError(.unavailable, "read failed: \(String(cString: strerror(errno)))"))
        return
      }
    }
  }

  private func received(_ bytes: UnsafeRawBufferPointer) throws {
    if let security {
      try security.feedCiphertext(bytes)
      if phase == .handshaking {
        guard try security.handshake() else { return }
        phase = .open
        setupDeadline = nil
      }
      while let plaintext = try security.readPlaintext(), !plaintext.isEmpty {
        try plaintext.withUnsafeBytes { try feedSession($0) }
      }
    } else {
      try feedSession(bytes)
    }
  }

  private func feedSession(_ bytes: UnsafeRawBufferPointer) throws {
    guard let session, phase != .closed else { return }
    let result = nghttp2_session_mem_recv(
      session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    if result < 0 {
      throw RPCError(
        .unavailable, "HTTP/2 error: \(nghttp2Error(Int32(truncatingIfNeeded: result)))")
    }
  }

  /// Moves everything nghttp2 (and TLS) wants to send to the socket, as far as it takes it.
  func flush() {
    guard phase == .open || phase == .handshaking, let session else { return }
    do {
      if phase == .handshaking, let security {
        if try security.handshake() {
          phase = .open
          setupDeadline = nil
        }
        output.append(contentsOf: security.takeCiphertext())
      }
      while true {
        if phase == .open && outputHead == output.count {
          output.removeAll(keepingCapacity: true)
          outputHead = 0
          var plaintext: [UInt8] = []
          while plaintext.count < 256 * 1024 {
            var data: UnsafePointer<UInt8>? = nil
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 {
              throw RPCError(
                .unavailable, "HTTP/2 error: \(nghttp2Error(Int32(truncatingIfNeeded: count)))")
            }
            guard count > 0, let data else { break }
            plaintext.append(contentsOf: UnsafeBufferPointer(start: data, count: count))
          }
          if let security {
            if !plaintext.isEmpty { try security.writePlaintext(plaintext) }
            output.append(contentsOf: security.takeCiphertext())
          } else {
            output = plaintext
          }
        }
        guard outputHead < output.count else { break }
        let written = output.withUnsafeBytes {
          // send + MSG_NOSIGNAL: a peer that closed gives EPIPE, not a process-killing SIGPIPE.
          send(fd, $0.baseAddress! + outputHead, $0.count - outputHead, Int32(MSG_NOSIGNAL))
        }
        if written > 0 {
          outputHead += written
          continue
        }
        if written < 0 && errno == EINTR { continue }
        if written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
        throw RPCError(.unavailable, "write failed: \(String(cString: strerror(errno)))")
      }
    } catch let error as RPCError {
      fail(error)
      return
    } catch {
      fail(RPCError(.unavailable, "\(error)"))
      return
    }
    // A drained connection that was told to go away, or that nghttp2 is done with.
    if phase == .open, outputHead == output.count, streams.isEmpty,
      goawayReceived
        || (nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0)
    {
      fail(RPCError(.unavailable, "connection closed"))
    }
  }

  /// Ends the connection: every call still on it fails with `error`.
  func fail(_ error: RPCError) {
    guard phase != .closed else { return }
    phase = .closed
    let open = streams
    streams = [:]
    for io in open.values {
      io.stream.finish(.failure(error))
      io.stream.io = nil
    }
    if fd >= 0 {
      close(fd)
      fd = -1
    }
    if let session {
      nghttp2_session_del(session)
      self.session = nil
    }
    core.connectionClosed(self)
  }

  // MARK: Setup

  private func connectNext() throws {
    while let address = addresses.next() {
      let socketFD = socket(
        address.family,
        Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
        0)
      guard socketFD >= 0 else { continue }
      var one: Int32 = 1
      setsockopt(
        socketFD, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
      let result = address.withSockaddr { connect(socketFD, $0, $1) }
      if result == 0 || errno == EINPROGRESS {
        fd = socketFD
        phase = .connecting
        return
      }
      lastConnectError = String(cString: strerror(errno))
      close(socketFD)
    }
    let reason = lastConnectError.map { ": \($0)" } ?? ""
    throw RPCError(.unavailable, "could not connect to \(addresses.description)\(reason)")
  }

  private func makeSession() throws {
    var callbacks: OpaquePointer?
    guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else {
      throw RPCError(.internal, "nghttp2: out of memory")
    }
    defer { nghttp2_session_callbacks_del(callbacks) }
    nghttp2_session_callbacks_set_on_header_callback(callbacks, clientOnHeader)
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, clientOnFrameRecv)
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, clientOnDataChunk)
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, clientOnStreamClose)
    var option: OpaquePointer?
    guard nghttp2_option_new(&option) == 0, let option else {
      throw RPCError(.internal, "nghttp2: out of memory")
    }
    defer { nghttp2_option_del(option) }
    nghttp2_option_set_no_auto_window_update(option, 1)
    nghttp2_option_set_max_continuations(option, 16)
    var created: OpaquePointer?
    let rc = nghttp2_session_client_new2(
      &created, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
    guard rc == 0, let created else { throw RPCError(.internal, "nghttp2: \(nghttp2Error(rc))") }
    session = created
    var settings = [
      nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
        value: UInt32(Self.initialStreamWindow)),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
        value: UInt32(Self.maxHeaderListSize)),
    ]
    nghttp2_submit_settings(
      created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    nghttp2_session_set_local_window_size(
      created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Self.connectionWindow)
  }
}

func nghttp2Error(_ code: Int32) -> String {
  String(cString: nghttp2_strerror(code))
}

/// Calls `body` with nghttp2 header fields for `fields`; nghttp2 copies them.
private func withHeaderFields<R>(
  _ fields: [(String, String)], _ body: (UnsafeMutablePointer<nghttp2_nv>, Int) -> R
) -> R {
  var storage: [UInt8] = []
  var offsets: [(Int, Int, Int, Int)] = []
  for (name, value) in fields {
    let nameStart = storage.count
    storage.append(contentsOf: name.utf8)
    let valueStart = storage.count
    storage.append(contentsOf: value.utf8)
    offsets.append((nameStart, name.utf8.count, valueStart, value.utf8.count))
  }
  storage.append(0)
  return storage.withUnsafeMutableBufferPointer { bytes in
    let base = bytes.baseAddress!
    var nva = offsets.map { nameStart, nameLength, valueStart, valueLength in
      nghttp2_nv(
        name: base + nameStart, value: base + valueStart, namelen: nameLength,
        valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
    }
    return nva.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
  }
}
