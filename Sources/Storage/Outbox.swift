import Foundation

/// How an outbox message is delivered.
public enum OutboxChannel: String, Sendable, Hashable, CaseIterable, Codable {
  case pec
  case email
  case sms
}

/// A message to send once the transaction that enqueues it commits.
public struct OutboxMessage: Sendable, Hashable {
  public var channel: OutboxChannel
  /// PEC / e-mail address or phone number.
  public var recipient: String
  /// Subject line (empty for SMS).
  public var subject: String
  public var body: String

  public init(channel: OutboxChannel, recipient: String, subject: String = "", body: String) {
    self.channel = channel
    self.recipient = recipient
    self.subject = subject
    self.body = body
  }
}

/// A stored outbox message with its delivery state.
public struct OutboxEntry: Sendable, Hashable {
  public let id: Int64
  public let message: OutboxMessage
  public let createdAt: Date
  /// Delivery attempts started so far (claims).
  public let attempts: Int64
  /// Not claimed again before this instant.
  public let nextAttemptAt: Date
  public let deliveredAt: Date?
  public let lastError: String?
}

/// The transactional outbox (table `outbox_messages`).
///
/// The domain enqueues in the same write transaction as the change the message announces, so
/// a message exists exactly when its change committed. Delivery workers then loop:
/// ``claimDue(now:limit:lease:in:)`` → send → ``markDelivered(id:at:in:)`` or
/// ``markFailed(id:error:retryAt:in:)``. A claim pushes `next_attempt_at` forward by the lease,
/// so a worker that dies mid-send leaves the message to be claimed again after the lease
/// (delivery is at-least-once). On PostgreSQL claims use `FOR UPDATE SKIP LOCKED`.
public enum Outbox {
  /// Enqueues `message`, due at once (or at `notBefore`), and returns its id.
  @discardableResult
  public static func enqueue(
    _ message: OutboxMessage, at now: Date, notBefore: Date? = nil, in db: any WriteContext
  ) throws -> Int64 {
    let row = try db.queryFirst(
      """
      INSERT INTO outbox_messages (channel, recipient, subject, body, created_at, attempts,
        next_attempt_at) VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING id
      """,
      [
        message.channel.rawValue, message.recipient, message.subject, message.body, now,
        notBefore ?? now,
      ])
    guard let row else { throw StorageError.corrupt("INSERT … RETURNING returned no row") }
    return try row.int64("id")
  }

  /// Claims up to `limit` undelivered messages due at `now` (oldest due first): each gets one
  /// more attempt and is hidden from other claims until `now + lease`.
  public static func claimDue(
    now: Date, limit: Int, lease: TimeInterval = 300, in db: any WriteContext
  ) throws -> [OutboxEntry] {
    let due = try db.query(
      """
      SELECT id FROM outbox_messages
      WHERE delivered_at IS NULL AND next_attempt_at <= ?
      ORDER BY next_attempt_at, id LIMIT ?
      """ + db.dialect.claimRowsSuffix,
      [now, limit])
    var claimed: [OutboxEntry] = []
    for row in due {
      let id = try row.int64("id")
      let updated = try db.queryFirst(
        """
        UPDATE outbox_messages SET attempts = attempts + 1, next_attempt_at = ?
        WHERE id = ? RETURNING *
        """,
        [now.addingTimeInterval(lease), id])
      if let updated { claimed.append(try entry(from: updated)) }
    }
    return claimed
  }

  /// Records a successful delivery; the message is never claimed again. `receipt` is the
  /// relay's final reply (SMTP acceptance), kept in `last_error` of the delivered row (on a
  /// delivered row that column holds the receipt, or NULL for the spool).
  public static func markDelivered(
    id: Int64, at now: Date, receipt: String? = nil, in db: any WriteContext
  ) throws {
    try db.execute(
      "UPDATE outbox_messages SET delivered_at = ?, last_error = ? WHERE id = ?",
      [now, receipt, id])
  }

  /// Records a failed attempt; the message is due again at `retryAt`.
  public static func markFailed(
    id: Int64, error: String, retryAt: Date, in db: any WriteContext
  ) throws {
    try db.execute(
      "UPDATE outbox_messages SET last_error = ?, next_attempt_at = ? WHERE id = ?",
      [error, retryAt, id])
  }

  /// One message by id.
  public static func entry(id: Int64, in db: any ReadContext) throws -> OutboxEntry? {
    try db.queryFirst("SELECT * FROM outbox_messages WHERE id = ?", [id]).map(entry(from:))
  }

  private static func entry(from row: Row) throws -> OutboxEntry {
    let channelName = try row.string("channel")
    guard let channel = OutboxChannel(rawValue: channelName) else {
      throw StorageError.corrupt("unknown outbox channel \(channelName)")
    }
    return OutboxEntry(
      id: try row.int64("id"),
      message: OutboxMessage(
        channel: channel, recipient: try row.string("recipient"),
        subject: try row.string("subject"),
        body: try row.string("body")),
      createdAt: try row.date("created_at"), attempts: try row.int64("attempts"),
      nextAttemptAt: try row.date("next_attempt_at"),
      deliveredAt: try row.optionalDate("delivered_at"),
      lastError: try row.optionalString("last_error"))
  }
}
