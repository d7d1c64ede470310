import CCurl
import Dispatch
import Foundation
import Storage

/// Settings of the configured SMTP channel (flags `--smtp-*` of `cassetto-server`).
public struct SMTPConfiguration: Sendable, Hashable {
  /// `smtp://host[:port]` or `smtps://host[:port]` (implicit TLS).
  public var url: String
  /// Envelope sender and `From:` address.
  public var from: String
  /// Authentication; the password is read from a file, never from the command line.
  public var username: String?
  public var password: String?
  /// Require STARTTLS on an `smtp://` URL (`CURLOPT_USE_SSL = CURLUSESSL_ALL`).
  public var startTLS: Bool
  /// PEM CA bundle to verify the relay's certificate with (default: the system's).
  public var caFile: String?
  /// Seconds allowed for the whole exchange with the relay.
  public var timeout: Int

  public init(
    url: String, from: String, username: String? = nil, password: String? = nil,
    startTLS: Bool = false, caFile: String? = nil, timeout: Int = 30
  ) {
    self.url = url
    self.from = from
    self.username = username
    self.password = password
    self.startTLS = startTLS
    self.caFile = caFile
    self.timeout = timeout
  }

  /// Refuses a URL that is not SMTP or a from address that is not one.
  public func validate() throws(ConfigurationError) {
    let lower = url.lowercased()
    guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://") else {
      throw .invalid("--smtp-url must start with smtp:// or smtps://, got '\(url)'")
    }
    guard from.contains("@"), !from.contains(where: { "<>\r\n ".contains($0) }) else {
      throw .invalid("--smtp-from must be a plain address like noreply@example.it")
    }
    if (username == nil) != (password == nil) {
      throw .invalid("--smtp-user and --smtp-password-file go together")
    }
  }
}

/// A failed SMTP exchange: libcurl's code and the relay's last reply (never the message).
public struct SMTPError: Error, Sendable, CustomStringConvertible {
  public var code: Int
  public var reason: String
  public var lastReply: String?
  public var description: String {
    "smtp: curl error \(code) (\(reason))" + (lastReply.map { "; last reply: \($0)" } ?? "")
  }
}

/// Sends outbox messages through an SMTP relay with libcurl. This file is the only place
/// that touches libcurl pointers. A transfer blocks its thread, so every transfer runs on a
/// private serial dispatch queue (never on the cooperative pool); the caller awaits it.
public final class SMTPSender: Sendable {
  public let configuration: SMTPConfiguration
  private let queue = DispatchQueue(label: "cassetto.smtp")

  public init(configuration: SMTPConfiguration) {
    self.configuration = configuration
    SMTPSender.globalInit
  }

  /// `curl_global_init`, once per process (lazy globals are initialized thread-safely).
  private static let globalInit: Void = { _ = cassetto_curl_global_init() }()

  /// Sends `message` to its recipient; returns the relay's final reply (its acceptance
  /// receipt, e.g. `250 2.0.0 Ok: queued as …`).
  public func send(_ message: OutboxMessage, id: Int64, at now: Date) async throws -> String {
    let text = SMTPSender.format(message, id: id, from: configuration.from, date: now)
    let configuration = configuration
    return try await withCheckedThrowingContinuation { continuation in
      queue.async {
        continuation.resume(
          with: Result {
            try SMTPSender.transfer(
              payload: Data(text.utf8), recipient: message.recipient, configuration: configuration)
          })
      }
    }
  }

  // MARK: - The RFC 5322 message

  /// The message as RFC 5322 text with CRLF line ends: From, To, Subject (RFC 2047 when not
  /// ASCII), Date, Message-ID, MIME headers and the UTF-8 body in quoted-printable.
  public static func format(_ message: OutboxMessage, id: Int64, from: String, date: Date)
    -> String
  {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
    let subject =
      message.subject.allSatisfy { $0.isASCII && $0 != "\r" && $0 != "\n" }
      ? message.subject
      : "=?UTF-8?B?\(Data(message.subject.utf8).base64EncodedString())?="
    let domain = from.split(separator: "@").last.map(String.init) ?? "cassetto.invalid"
    let headers = [
      "From: Cassetto <\(from)>",
      "To: <\(message.recipient)>",
      "Subject: \(subject)",
      "Date: \(formatter.string(from: date))",
      "Message-ID: <outbox-\(id)@\(domain)>",
      "X-Cassetto-Channel: \(message.channel.rawValue)",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=UTF-8",
      "Content-Transfer-Encoding: quoted-printable",
    ]
    return headers.joined(separator: "\r\n") + "\r\n\r\n" + quotedPrintable(message.body)
      + "\r\n"
  }

  /// RFC 2045 quoted-printable of UTF-8 `text`, lines at most 76 characters, CRLF line ends.
  public static func quotedPrintable(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF")
    var out: [String] = []
    let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
    for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
      let bytes = Array(line.utf8)
      var encoded = ""
      var width = 0
      for (index, byte) in bytes.enumerated() {
        let last = index == bytes.count - 1
        let token: String
        if (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "="))
          || ((byte == 32 || byte == 9) && !last)
        {
          token = String(UnicodeScalar(byte))
        } else {
          token = "=" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
        }
        if width + token.count > 75 {
          encoded += "=\r\n"
          width = 0
        }
        encoded += token
        width += token.count
      }
      out.append(encoded)
    }
    return out.joined(separator: "\r\n")
  }

  // MARK: - libcurl

  /// What the C callbacks see: the payload being uploaded and the relay's replies.
  /// Owned by one transfer on the sender's queue; never shared across threads.
  private final class TransferState {
    let payload: [UInt8]
    var offset = 0
    var lastReply: String?
    init(payload: Data) { self.payload = Array(payload) }
  }

  private static func transfer(
    payload: Data, recipient: String, configuration: SMTPConfiguration
  ) throws -> String {
    guard let handle = curl_easy_init() else {
      throw SMTPError(code: -1, reason: "curl_easy_init failed", lastReply: nil)
    }
    defer { curl_easy_cleanup(handle) }
    let state = TransferState(payload: payload)
    let context = Unmanaged.passUnretained(state).toOpaque()
    var recipients: UnsafeMutablePointer<curl_slist>? = nil
    recipients = curl_slist_append(recipients, "<\(recipient)>")
    defer { curl_slist_free_all(recipients) }

    var setup: [CURLcode] = []
    setup.append(cassetto_curl_setopt_string(handle, CURLOPT_URL, configuration.url))
    setup.append(
      cassetto_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(configuration.from)>"))
    setup.append(cassetto_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10))
    setup.append(
      cassetto_curl_setopt_long(handle, CURLOPT_TIMEOUT, Int(configuration.timeout)))
    setup.append(cassetto_curl_setopt_read_function(handle, readPayload))
    setup.append(cassetto_curl_setopt_pointer(handle, CURLOPT_READDATA, context))
    // The debug callback only keeps the relay's replies (CURLINFO_HEADER_IN): never the
    // commands we send (AUTH) nor the message (the OTP).
    setup.append(cassetto_curl_setopt_debug_function(handle, recordReply))
    setup.append(cassetto_curl_setopt_pointer(handle, CURLOPT_DEBUGDATA, context))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_VERBOSE, 1))
    if configuration.startTLS {
      setup.append(
        cassetto_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)))
    }
    if let caFile = configuration.caFile {
      setup.append(cassetto_curl_setopt_string(handle, CURLOPT_CAINFO, caFile))
    }
    if let username = configuration.username, let password = configuration.password {
      setup.append(cassetto_curl_setopt_string(handle, CURLOPT_USERNAME, username))
      setup.append(cassetto_curl_setopt_string(handle, CURLOPT_PASSWORD, password))
    }
    if let failed = setup.first(where: { $0 != CURLE_OK }) {
      throw SMTPError(
        code: Int(failed.rawValue), reason: String(cString: curl_easy_strerror(failed)),
        lastReply: nil)
    }
    let result = curl_easy_perform(handle)
    withExtendedLifetime(state) {}
    guard result == CURLE_OK else {
      throw SMTPError(
        code: Int(result.rawValue), reason: String(cString: curl_easy_strerror(result)),
        lastReply: state.lastReply)
    }
    var code = 0
    _ = cassetto_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
    return state.lastReply ?? "\(code)"
  }

  private static let readPayload: cassetto_curl_read_callback = { buffer, size, count, user in
    guard let buffer, let user else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
    let room = size * count
    let remaining = state.payload.count - state.offset
    let n = min(room, remaining)
    if n > 0 {
      state.payload.withUnsafeBufferPointer { source in
        guard let base = source.baseAddress else { return }
        UnsafeMutableRawPointer(buffer).copyMemory(
          from: base + state.offset, byteCount: n)
      }
      state.offset += n
    }
    return n
  }

  private static let recordReply: cassetto_curl_debug_callback = { _, type, data, size, user in
    guard type == CURLINFO_HEADER_IN, let data, let user else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(user).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let line = String(decoding: bytes, as: UTF8.self)
      .trimmingCharacters(in: .whitespacesAndNewlines)
    if !line.isEmpty { state.lastReply = line }
    return 0
  }
}

/// The configured channel of the outbox worker: every message through ``SMTPSender``; the
/// relay's final reply is recorded as the delivery receipt.
public struct SMTPChannel: OutboxDeliveryChannel {
  public let sender: SMTPSender

  public init(sender: SMTPSender) { self.sender = sender }

  public func send(_ entry: OutboxEntry, at now: Date) async throws -> String? {
    try await sender.send(entry.message, id: entry.id, at: now)
  }
}
