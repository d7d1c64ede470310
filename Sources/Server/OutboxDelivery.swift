import Access
import Deleghe
import Foundation
import Storage

/// A way to deliver outbox messages: the spool (default) or SMTP (``SMTPChannel``).
public protocol OutboxDeliveryChannel: Sendable {
  /// Delivers `entry`; returns the relay's acceptance receipt when there is one.
  func send(_ entry: OutboxEntry, at now: Date) async throws -> String?
}

/// The outbox delivery worker's default channel: each due message becomes one `.eml` file
/// (RFC 5322, UTF-8 text body) in `<data-dir>/spool/`, named `<outbox id>.eml`, written to a
/// temporary name and renamed so a reader never sees half a file. A developer — and the
/// tests — read the OTP there. `--smtp-url` replaces it with ``SMTPChannel``.
public struct SpoolChannel: OutboxDeliveryChannel {
  public let directory: String

  public init(directory: String) { self.directory = directory }

  public func send(_ entry: OutboxEntry, at now: Date) async throws -> String? {
    try deliver(entry, at: now)
    return nil
  }

  public func deliver(_ entry: OutboxEntry, at now: Date) throws {
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true)
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
    let subject =
      entry.message.subject.allSatisfy(\.isASCII)
      ? entry.message.subject
      : "=?UTF-8?B?\(Data(entry.message.subject.utf8).base64EncodedString())?="
    let text = """
      From: Cassetto <noreply@cassetto.invalid>\r
      To: <\(entry.message.recipient)>\r
      Subject: \(subject)\r
      Date: \(formatter.string(from: entry.createdAt))\r
      Message-ID: <outbox-\(entry.id)@cassetto.invalid>\r
      X-Cassetto-Channel: \(entry.message.channel.rawValue)\r
      MIME-Version: 1.0\r
      Content-Type: text/plain; charset=UTF-8\r
      Content-Transfer-Encoding: 8bit\r
      \r
      \(entry.message.body.replacingOccurrences(of: "\n", with: "\r\n"))\r

      """
    let name = String(format: "%012lld.eml", entry.id)
    let final = (directory as NSString).appendingPathComponent(name)
    let temporary = (directory as NSString).appendingPathComponent("." + name + ".tmp")
    guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8)) else {
      throw CocoaError(.fileWriteUnknown)
    }
    if FileManager.default.fileExists(atPath: final) {
      try FileManager.default.removeItem(atPath: final)
    }
    try FileManager.default.moveItem(atPath: temporary, toPath: final)
  }
}

/// The background worker: every `interval`, claims due outbox messages, delivers them on the
/// channel (spool or SMTP) and marks them delivered, with the relay's receipt (or failed,
/// retried after `retryBase · 2^(attempts-1)` seconds, at most an hour); every
/// `expiryEvery` seconds it also runs the deleghe clock transitions (``DelegheExpiry``; the
/// OTP RPCs also expire a pending request themselves). Runs until its task is cancelled.
public enum OutboxWorker {
  public static func run(
    database: any Database, clock: any CallClock, channel: any OutboxDeliveryChannel,
    interval: Duration = .milliseconds(200), expiryEvery: TimeInterval = 10,
    deliveryFailures: Gauge? = nil, retryBase: TimeInterval = 30
  ) async {
    var lastExpiry = Date.distantPast
    while !Task.isCancelled {
      do {
        let now = clock.now()
        let expire = now.timeIntervalSince(lastExpiry) >= expiryEvery
        try await tick(
          database: database, clock: clock, channel: channel, expire: expire,
          deliveryFailures: deliveryFailures, retryBase: retryBase)
        if expire { lastExpiry = now }
      } catch is CancellationError {
        return
      } catch {
        StatusMapping.log("outbox worker: \(error)")
      }
      try? await Task.sleep(for: interval)
    }
  }

  /// One pass; returns how many messages were delivered.
  @discardableResult
  public static func tick(
    database: any Database, clock: any CallClock, channel: any OutboxDeliveryChannel,
    expire: Bool = true, deliveryFailures: Gauge? = nil, retryBase: TimeInterval = 30
  ) async throws -> Int {
    let now = clock.now()
    // A read first, so an idle worker does not take the single writer five times a second.
    let pending = try await database.read { db in
      try db.queryFirst(
        "SELECT 1 AS due FROM outbox_messages WHERE delivered_at IS NULL AND next_attempt_at <= ? LIMIT 1",
        [now]) != nil
    }
    if expire { try await DelegheExpiry.run(database: database, now: now) }
    guard pending else { return 0 }
    let due = try await database.write { db in
      try Outbox.claimDue(now: now, limit: 50, lease: 60, in: db)
    }
    var delivered = 0
    for entry in due {
      do {
        let receipt = try await channel.send(entry, at: now)
        try await database.write { db in
          try Outbox.markDelivered(id: entry.id, at: now, receipt: receipt, in: db)
        }
        delivered += 1
      } catch {
        deliveryFailures?.increment()  // cassetto_outbox_delivery_failures_total
        StatusMapping.log("outbox \(entry.id): delivery attempt \(entry.attempts) failed: \(error)")
        let backoff = min(3600, retryBase * pow(2, Double(max(0, entry.attempts - 1))))
        try await database.write { db in
          try Outbox.markFailed(
            id: entry.id, error: "\(error)", retryAt: now.addingTimeInterval(backoff), in: db)
        }
      }
    }
    return delivered
  }
}
