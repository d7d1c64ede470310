import COpenSSL

/// A TLS failure: what went wrong, with OpenSSL's error-queue text. Never contains key
/// material or plaintext.
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The broad reason, for callers that react differently (e.g. to count verification
  /// failures separately).
  public enum Kind: Sendable, Hashable {
    /// A configuration file or setting could not be used (the message names it).
    case configuration
    /// The peer's certificate did not verify (chain, validity, name or purpose), or a
    /// required certificate was missing.
    case certificateVerification
    /// No common application protocol: the peer did not offer or did not select `h2`.
    case applicationProtocol
    /// Any other handshake failure (no common version or cipher, malformed records, the
    /// peer sent an alert, not TLS at all).
    case handshake
    /// A failure after the handshake: a bad record, the peer closing without
    /// `close_notify`, or use after a failure.
    case connection
  }

  public var kind: Kind
  public var message: String

  public init(kind: Kind, message: String) {
    self.kind = kind
    self.message = message
  }

  public var description: String { "TLS \(kind): \(message)" }

  /// Builds an error from `context` plus everything on OpenSSL's (thread-local) error queue,
  /// which it empties.
  static func fromQueue(_ kind: Kind, _ context: String) -> TLSError {
    let queue = OpenSSLErrorQueue.drain()
    return TLSError(kind: kind, message: queue.text.isEmpty ? context : "\(context): \(queue.text)")
  }
}

/// The entries of OpenSSL's per-thread error queue, taken off it.
struct OpenSSLErrorQueue {
  var codes: [UInt]

  /// Empties the calling thread's error queue.
  static func drain() -> OpenSSLErrorQueue {
    var codes: [UInt] = []
    while true {
      let code = ERR_get_error()
      if code == 0 { break }
      codes.append(code)
    }
    return OpenSSLErrorQueue(codes: codes)
  }

  /// The reason part of each code (e.g. `SSL_R_CERTIFICATE_VERIFY_FAILED`).
  var reasons: [Int32] { codes.map { ERR_GET_REASON($0) } }

  /// One line, e.g. `error:0A000086:SSL routines::certificate verify failed`.
  var text: String {
    var lines: [String] = []
    for code in codes {
      var buffer = [CChar](repeating: 0, count: 256)
      ERR_error_string_n(code, &buffer, buffer.count)
      let line = String(
        decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if !lines.contains(line) { lines.append(line) }
    }
    return lines.joined(separator: "; ")
  }
}
