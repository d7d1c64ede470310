import COpenSSL

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One TLS connection's state machine, independent of any socket: ciphertext goes in and out
/// through memory BIOs, plaintext through `readPlaintext(into:)` and `writePlaintext(_:)`.
///
/// The owner (an event loop) drives it like this:
/// 1. bytes read from the socket → `feedCiphertext(_:)` (end of file → ``feedEndOfInput()``);
/// 2. `readPlaintext(into:)` until it answers ``ReadResult/wantsMoreInput``. It drives the
///    handshake itself while that is incomplete, so it is the only call an event loop needs;
///    ``handshake()`` exists for owners that want to see the handshake finish (a client
///    waiting to send its preface). After ``HandshakeStatus/done``, call `readPlaintext`
///    at once: application data may already be buffered (a TLS 1.3 client sends its
///    HTTP/2 preface right behind its Finished message);
/// 3. after **every** call (including a failed handshake, which leaves an alert to send, and
///    reads, which may answer key updates): ``takeCiphertext(into:)-(inout [UInt8])`` and
///    write what it returns to the socket. To close: ``shutdown()``, take and send, close.
///
/// In TLS 1.3 the client finishes its handshake before the server has checked the client
/// certificate: a server that rejects it sends an alert the client sees on its first read.
///
/// Thread safety: not `Sendable`. A session belongs to the thread that drives it (the
/// connection's event loop); OpenSSL's error queue, which it reads, is per thread too.
public final class TLSSession {
  /// What ``handshake()`` achieved.
  public enum HandshakeStatus: Sendable, Hashable {
    /// Waiting for the peer: send pending ciphertext, then feed more.
    case needsMoreInput
    /// Done: ``negotiatedALPN`` and ``peerCertificate`` are set.
    case done
    /// The handshake failed for good; send pending ciphertext (the alert), then close.
    case failed(TLSError)
  }

  /// What a read of plaintext found.
  public enum ReadResult: Sendable, Hashable {
    /// This many plaintext bytes were read (never 0).
    case bytes(Int)
    /// No complete record is buffered; feed more ciphertext.
    case wantsMoreInput
    /// The peer sent `close_notify`: no more data will come.
    case closed
    /// The connection is broken (bad record, alert, end of file without `close_notify`).
    case failed(TLSError)
  }

  public let role: TLSContext.Role
  private let context: TLSContext  // keeps the SSL_CTX alive
  private let ssl: OpaquePointer
  /// Ciphertext from the network; owned by `ssl`.
  private let networkIn: OpaquePointer
  /// Ciphertext for the network; owned by `ssl`.
  private let networkOut: OpaquePointer
  /// Plaintext written before the handshake completed.
  private var pendingPlaintext: [UInt8] = []
  private var failure: TLSError?
  /// ``shutdown()`` was called: our `close_notify` is queued, no more writes.
  private var isShutDown = false

  public private(set) var isHandshakeComplete = false
  /// The ALPN protocol agreed on (always `"h2"` after a successful handshake with the
  /// default configuration).
  public private(set) var negotiatedALPN: String?
  /// The peer's verified certificate: on a server, the client certificate (mutual TLS);
  /// on a client, the server certificate. `nil` when the peer sent none or it was not
  /// verified.
  public private(set) var peerCertificate: PeerCertificate?
  /// `"TLSv1.3"` or `"TLSv1.2"` once the handshake is done.
  public private(set) var negotiatedVersion: String?

  /// Creates a session for one connection.
  ///
  /// - Parameter serverHostname: client role only: the host being dialled. It is used for
  ///   SNI and certificate name verification unless ``TLSClientConfiguration/serverName``
  ///   overrides it. An IP address (`127.0.0.1`, `::1`, `[::1]`) is checked against the
  ///   certificate's IP SANs and not sent as SNI (RFC 6066 §3). When both are `nil` the
  ///   chain is still verified but no name is checked.
  public init(context: TLSContext, serverHostname: String? = nil) throws {
    self.context = context
    self.role = context.role
    ERR_clear_error()
    guard let ssl = SSL_new(context.context) else {
      throw TLSError.fromQueue(.configuration, "cannot create an OpenSSL session")
    }
    guard let input = BIO_new(BIO_s_mem()), let output = BIO_new(BIO_s_mem()) else {
      SSL_free(ssl)
      throw TLSError.fromQueue(.configuration, "cannot create memory BIOs")
    }
    SSL_set_bio(ssl, input, output)  // ssl owns both now
    self.ssl = ssl
    self.networkIn = input
    self.networkOut = output

    switch context.role {
    case .server:
      SSL_set_accept_state(ssl)
    case .client:
      SSL_set_connect_state(ssl)
      if let name = Self.normalizedHost(context.serverName ?? serverHostname) {
        try configureServerName(name, verify: context.verifyPeer)
      }
    }
  }

  deinit {
    SSL_free(ssl)  // frees both BIOs
  }

  private func configureServerName(_ name: String, verify: Bool) throws {
    let isIPAddress = Self.isIPAddress(name)
    if !isIPAddress {
      guard cassetto_SSL_set_tlsext_host_name(ssl, name) == 1 else {
        throw TLSError.fromQueue(.configuration, "invalid serverName '\(name)'")
      }
    }
    guard verify else { return }
    let ok =
      isIPAddress
      ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
      : SSL_set1_host(ssl, name) == 1
    // `*.example.com` matches, `w*.example.com` does not (as browsers do).
    SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
    guard ok else {
      throw TLSError.fromQueue(.configuration, "invalid serverName '\(name)'")
    }
  }

  // MARK: - Ciphertext in and out

  /// Hands the session bytes read from the socket.
  public func feedCiphertext(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    var offset = 0
    while offset < bytes.count {
      let chunk = min(bytes.count - offset, Int(Int32.max))
      let written = BIO_write(networkIn, base + offset, Int32(chunk))
      if written <= 0 {
        // Only an allocation failure makes a memory BIO refuse data.
        failure = failure ?? TLSError(kind: .connection, message: "out of memory buffering input")
        return
      }
      offset += Int(written)
    }
  }

  /// Hands the session bytes read from the socket.
  public func feedCiphertext(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { feedCiphertext($0) }
  }

  /// Tells the session the socket reached end of file: once the buffered ciphertext is
  /// consumed, reads report ``ReadResult/closed`` (after `close_notify`) or a
  /// ``TLSError/Kind/connection`` failure (truncation).
  public func feedEndOfInput() {
    _ = cassetto_BIO_set_mem_eof_return(networkIn, 0)
  }

  /// Bytes waiting to be written to the socket.
  public var pendingCiphertextCount: Int {
    Int(BIO_ctrl_pending(networkOut))
  }

  /// Appends everything that must be written to the socket to `buffer`; returns how many
  /// bytes were appended.
  @discardableResult
  public func takeCiphertext(into buffer: inout [UInt8]) -> Int {
    let pending = pendingCiphertextCount
    guard pending > 0 else { return 0 }
    let start = buffer.count
    buffer.append(contentsOf: repeatElement(0, count: pending))
    let read = buffer.withUnsafeMutableBytes { raw in
      takeCiphertext(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
    }
    buffer.removeLast(pending - read)
    return read
  }

  /// Moves up to `buffer.count` bytes of pending ciphertext into `buffer`; returns how many.
  public func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
    guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
    let n = BIO_read(networkOut, base, Int32(clamping: buffer.count))
    return max(0, Int(n))
  }

  // MARK: - Handshake

  /// Advances the handshake with the ciphertext fed so far. Call again after feeding more
  /// input while it answers ``HandshakeStatus/needsMoreInput``; afterwards it keeps
  /// answering `.done` (or the same `.failed`).
  ///
  /// Plaintext written before completion is encrypted as soon as it completes.
  public func handshake() -> HandshakeStatus {
    if let failure { return .failed(failure) }
    if isHandshakeComplete { return .done }
    ERR_clear_error()
    let rc = SSL_do_handshake(ssl)
    if rc == 1 {
      return completeHandshake()
    }
    switch SSL_get_error(ssl, rc) {
    case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
      return .needsMoreInput
    default:
      let error = handshakeError()
      failure = error
      return .failed(error)
    }
  }

  private func completeHandshake() -> HandshakeStatus {
    var data: UnsafePointer<UInt8>? = nil
    var length: UInt32 = 0
    SSL_get0_alpn_selected(ssl, &data, &length)
    if let data, length > 0 {
      negotiatedALPN = String(
        decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
    if role == .client && context.requiresH2 && negotiatedALPN != "h2" {
      // The server ignored our ALPN offer: it does not speak HTTP/2 over TLS.
      let error = TLSError(
        kind: .applicationProtocol,
        message: "the server did not select ALPN h2 (selected: \(negotiatedALPN ?? "none"))")
      failure = error
      _ = SSL_shutdown(ssl)  // be polite: close_notify, then the owner closes
      return .failed(error)
    }
    if let version = SSL_get_version(ssl) { negotiatedVersion = String(cString: version) }
    if SSL_get_verify_result(ssl) == X509_V_OK, let certificate = SSL_get1_peer_certificate(ssl) {
      peerCertificate = PeerCertificate(certificate)
      X509_free(certificate)
    }
    isHandshakeComplete = true
    if !pendingPlaintext.isEmpty {
      let buffered = pendingPlaintext
      pendingPlaintext = []
      do {
        try buffered.withUnsafeBytes { try encrypt($0) }
      } catch let error as TLSError {
        return .failed(error)
      } catch {
        return .failed(TLSError(kind: .connection, message: "\(error)"))
      }
    }
    return .done
  }

  private func handshakeError() -> TLSError {
    let errors = OpenSSLErrorQueue.drain()
    var queue = errors.text
    // Classify by the verification result first: it is the most specific.
    let verify = SSL_get_verify_result(ssl)
    let verifying = SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER != 0
    if verifying, verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
      let detail = String(cString: text)
      return TLSError(
        kind: .certificateVerification,
        message: queue.isEmpty ? "certificate verify failed: \(detail)" : "\(queue) (\(detail))")
    }
    let reasons = errors.reasons
    if queue.isEmpty { queue = "handshake failed (no details from OpenSSL)" }
    if reasons.contains(SSL_R_NO_APPLICATION_PROTOCOL)
      || reasons.contains(SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
    {
      return TLSError(kind: .applicationProtocol, message: queue)
    }
    let certificateProblems: [Int32] = [
      SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, SSL_R_CERTIFICATE_VERIFY_FAILED,
      SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE,
      SSL_R_TLSV1_ALERT_UNKNOWN_CA, SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN,
    ]
    if reasons.contains(where: certificateProblems.contains) {
      return TLSError(kind: .certificateVerification, message: queue)
    }
    return TLSError(kind: .handshake, message: queue)
  }

  // MARK: - Plaintext

  /// Reads decrypted application data into `buffer`. Drives the handshake first if it is
  /// not complete. Post-handshake messages (TLS 1.3 tickets, key updates) are handled
  /// here and may leave ciphertext to send.
  public func readPlaintext(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
    if let failure { return .failed(failure) }
    if !isHandshakeComplete {
      switch handshake() {
      case .needsMoreInput: return .wantsMoreInput
      case .failed(let error): return .failed(error)
      case .done: break
      }
    }
    guard let base = buffer.baseAddress, buffer.count > 0 else { return .wantsMoreInput }
    ERR_clear_error()
    var read = 0
    let rc = SSL_read_ex(ssl, base, buffer.count, &read)
    if rc == 1 && read > 0 { return .bytes(read) }
    switch SSL_get_error(ssl, rc) {
    case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
      return .wantsMoreInput
    case SSL_ERROR_ZERO_RETURN:
      return .closed
    default:
      let errors = OpenSSLErrorQueue.drain()
      let queue = errors.text
      let error: TLSError
      if errors.reasons.contains(SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        error = TLSError(
          kind: .connection, message: "the peer closed the connection without close_notify")
      } else {
        error = TLSError(kind: .connection, message: queue.isEmpty ? "read failed" : queue)
      }
      failure = error
      return .failed(error)
    }
  }

  /// Reads all decrypted application data available and appends it to `buffer`.
  ///
  /// Answers `.bytes(n)` with the total appended when anything was read (a following
  /// `.closed` or failure is reported by the next call), otherwise the status.
  public func readPlaintext(into buffer: inout [UInt8]) -> ReadResult {
    var total = 0
    let chunk = 16 * 1024
    while true {
      let start = buffer.count
      buffer.append(contentsOf: repeatElement(0, count: chunk))
      let result = buffer.withUnsafeMutableBytes { raw in
        readPlaintext(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
      }
      switch result {
      case .bytes(let n):
        buffer.removeLast(chunk - n)
        total += n
      default:
        buffer.removeLast(chunk)
        return total > 0 ? .bytes(total) : result
      }
    }
  }

  /// Encrypts application data. Before the handshake completes the data is buffered and
  /// sent right after it; then take the ciphertext with ``takeCiphertext(into:)``.
  ///
  /// - Throws: ``TLSError`` if the connection already failed or was shut down.
  public func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws {
    if let failure { throw failure }
    if isShutDown {
      throw TLSError(kind: .connection, message: "write after shutdown()")
    }
    guard bytes.count > 0 else { return }
    if !isHandshakeComplete {
      pendingPlaintext.append(contentsOf: bytes)
      return
    }
    try encrypt(bytes)
  }

  /// Encrypts application data; see ``writePlaintext(_:)-(UnsafeRawBufferPointer)``.
  public func writePlaintext(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { try writePlaintext($0) }
  }

  private func encrypt(_ bytes: UnsafeRawBufferPointer) throws {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      ERR_clear_error()
      var written = 0
      let rc = SSL_write_ex(ssl, base + offset, bytes.count - offset, &written)
      guard rc == 1 else {
        let error = TLSError.fromQueue(.connection, "write failed")
        failure = error
        throw error
      }
      offset += written
    }
  }

  // MARK: - Closing

  /// Starts a clean close: queues `close_notify` (take it with ``takeCiphertext(into:)``,
  /// send it, then close the socket, or keep reading until the peer's own `close_notify`
  /// shows up as ``ReadResult/closed``). Writes fail afterwards; reads go on. Does nothing
  /// after a failure, a second time, or before the handshake completed.
  public func shutdown() {
    guard failure == nil, isHandshakeComplete, !isShutDown else { return }
    isShutDown = true
    ERR_clear_error()
    _ = SSL_shutdown(ssl)
    ERR_clear_error()
  }

  // MARK: - Helpers

  private static func normalizedHost(_ host: String?) -> String? {
    guard var host, !host.isEmpty else { return nil }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return host
  }

  private static func isIPAddress(_ host: String) -> Bool {
    var v4 = in_addr()
    var v6 = in6_addr()
    return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
  }
}
