import CNGHTTP2
import Glibc

/// Moves one accepted socket's bytes between the kernel, TLS (when configured) and its
/// ``ServerConnection``. Nothing here knows gRPC.
///
/// Thread ownership: lives on one event loop and is only touched there.
final class ServerSocketConnection: EventLoopHandler, EventLoopClosable {
  let fd: Int32
  let loop: EventLoop
  unowned let owner: ServerLoop
  private let peerAddress: String
  private var tls: TLSSession?
  private(set) var connection: ServerConnection?
  private var output: [UInt8] = []
  private var outputOffset = 0
  private var plaintext: [UInt8] = []
  private var watchingWritable = false
  private(set) var closed = false
  let createdAt = ContinuousClock.now
  private(set) var lastRead = ContinuousClock.now
  /// When the connection was asked to drain (shutdown or max age).
  var drainingSince: ContinuousClock.Instant?

  init(fd: Int32, peer: String, loop: EventLoop, owner: ServerLoop, tls: TLSContext?) throws {
    self.fd = fd
    self.loop = loop
    self.owner = owner
    self.peerAddress = peer
    if let tls {
      self.tls = try TLSSession(context: tls)
    } else {
      connection = try ServerConnection(
        loop: loop, router: owner.router, configuration: owner.configuration,
        peer: PeerInfo(address: peer, isSecure: false))
      connection?.onOutputPending = { [weak self] in self?.flush() }
    }
  }

  func start() throws {
    try loop.register(fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, handler: self)
    // The server preface (SETTINGS) goes out right away on h2c.
    flush()
  }

  func handleEvents(_ events: UInt32) {
    if events & EPOLLIN.rawValue != 0 || events & (EPOLLHUP.rawValue | EPOLLRDHUP.rawValue) != 0 {
      readAvailable()
    } else if events & EPOLLERR.rawValue != 0 {
      closeNow()
      return
    }
    if !closed && events & EPOLLOUT.rawValue != 0 { flush() }
  }

  private func readAvailable() {
    let buffer = loop.readBuffer
    // A bounded number of reads per wake-up keeps one busy client from starving the others.
    for _ in 0..<8 {
      let n = read(fd, buffer.baseAddress, buffer.count)
      if n > 0 {
        lastRead = .now
        if !process(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) {
          flush()
          closeNow()
          return
        }
        if n < buffer.count { break }
      } else if n == 0 {
        // The client closed its side: nothing more will arrive.
        flush()
        closeNow()
        return
      } else {
        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { break }
        closeNow()
        return
      }
    }
    flush()
  }

  /// Returns `false` when the connection must close.
  private func process(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let tls else { return connection?.receive(bytes) ?? false }
    tls.feedCiphertext(bytes)
    if !tls.isHandshakeComplete {
      switch tls.handshake() {
      case .needsMoreInput:
        return true
      case .failed:
        return false
      case .done:
        do {
          let peer = PeerInfo(
            address: peerAddress, isSecure: true, clientCertificate: tls.peerCertificate)
          connection = try ServerConnection(
            loop: loop, router: owner.router, configuration: owner.configuration, peer: peer)
          connection?.onOutputPending = { [weak self] in self?.flush() }
        } catch {
          return false
        }
      }
    }
    guard let connection else { return false }
    var scratch = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
      let result = scratch.withUnsafeMutableBytes { tls.readPlaintext(into: $0) }
      switch result {
      case .bytes(let n):
        let ok = scratch.withUnsafeBytes {
          connection.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n]))
        }
        if !ok { return false }
      case .wantsMoreInput:
        return true
      case .closed, .failed:
        return false
      }
    }
  }

  /// Writes everything pending: HTTP/2 output (through TLS when on) until the socket is full.
  func flush() {
    guard !closed else { return }
    while true {
      if outputOffset < output.count {
        // send(MSG_NOSIGNAL), not write(): a peer that has closed must give EPIPE here, not
        // a SIGPIPE that kills the whole process (seen under h2load: tools/bench-rpc).
        let n = output.withUnsafeBytes {
          send(fd, $0.baseAddress! + outputOffset, output.count - outputOffset, Int32(MSG_NOSIGNAL))
        }
        if n < 0 {
          if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
            watchWritable(true)
            return
          }
          closeNow()
          return
        }
        outputOffset += n
        if outputOffset < output.count {
          watchWritable(true)
          return
        }
      }
      output.removeAll(keepingCapacity: output.capacity <= 256 * 1024)
      outputOffset = 0
      fill()
      if output.isEmpty { break }
    }
    watchWritable(false)
    if let connection, !connection.isAlive { closeNow() }
  }

  /// Produces the next batch of bytes to write into `output`.
  private func fill() {
    let batch = 64 * 1024
    if let tls {
      if let connection {
        plaintext.removeAll(keepingCapacity: true)
        connection.produceOutput(into: &plaintext, limit: batch)
        if !plaintext.isEmpty { try? tls.writePlaintext(plaintext) }
      }
      if tls.pendingCiphertextCount > 0 { _ = tls.takeCiphertext(into: &output) }
    } else if let connection {
      connection.produceOutput(into: &output, limit: batch)
    }
  }

  private func watchWritable(_ on: Bool) {
    guard on != watchingWritable, !closed else { return }
    watchingWritable = on
    var events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
    if on { events |= EPOLLOUT.rawValue }
    loop.modify(fd, events: events)
  }

  /// Closes the socket and cancels every call still running on it.
  func closeNow() {
    guard !closed else { return }
    closed = true
    connection?.cancelAll(RPCError(.unavailable, "connection closed"))
    connection?.onOutputPending = nil
    loop.unregister(fd)
    close(fd)
    owner.connectionClosed(self)
  }
}
