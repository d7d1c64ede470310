import Foundation
import Security

/// The result of an audit action, as recorded.
public struct AuditOutcome: RawRepresentable, Sendable, Hashable, Codable {
  public let rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }

  public static let success = AuditOutcome(rawValue: "success")
  /// Refused by authorization (`PERMISSION_DENIED`, or `NOT_FOUND` hiding the resource).
  public static let denied = AuditOutcome(rawValue: "denied")
  /// Refused by validation (`INVALID_ARGUMENT`, `FAILED_PRECONDITION`).
  public static let rejected = AuditOutcome(rawValue: "rejected")
  /// Failed for another reason.
  public static let failed = AuditOutcome(rawValue: "failed")
}

/// One audit event as the domain describes it; ``AuditLog/append(_:in:)`` chains it.
public struct AuditEvent: Sendable, Hashable {
  /// Unique id of the event (a UUID unless the caller has a better one).
  public var id: String
  /// When it happened (the call's time, from the injected clock). Stored to the microsecond.
  public var time: Date
  /// Who acted: `TINIT-<codice fiscale>` for a person, the service name for a service.
  public var actor: String
  /// What was done, e.g. the RPC's full method name.
  public var action: String
  /// The subject: position, request or person reference, if any.
  public var subject: String?
  /// The delega chain the actor used, as text, if any.
  public var delegaChain: String?
  public var outcome: AuditOutcome
  /// Further details as a JSON object text (see ``AuditEvent/json(_:)``).
  public var details: String

  public init(
    id: String = UUID().uuidString.lowercased(), time: Date, actor: String, action: String,
    subject: String? = nil, delegaChain: String? = nil, outcome: AuditOutcome,
    details: String = "{}"
  ) {
    self.id = id
    self.time = time
    self.actor = actor
    self.action = action
    self.subject = subject
    self.delegaChain = delegaChain
    self.outcome = outcome
    self.details = details
  }

  /// A JSON object text with sorted keys, for ``details``.
  public static func json(_ fields: [String: String]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(fields) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
  }
}

/// A stored audit event: its position in the chain and its hashes.
public struct AuditRecord: Sendable, Hashable {
  /// Position in the chain, 1, 2, 3, … without gaps.
  public let sequence: Int64
  public let event: AuditEvent
  /// ``hash`` of the previous record (32 zero bytes for the first).
  public let previousHash: [UInt8]
  /// SHA-256 over ``previousHash`` and the canonical encoding of this record.
  public let hash: [UInt8]
}

/// The outcome of ``AuditLog/verify(_:)``.
public enum AuditVerification: Sendable, Hashable {
  /// Every event checks out; `count` events, the last with hash `lastHash`.
  case intact(count: Int64, lastHash: [UInt8])
  /// The first event that does not check out.
  case broken(sequence: Int64, id: String, reason: AuditBreak)

  public var isIntact: Bool {
    if case .intact = self { return true }
    return false
  }
}

/// Why a chain is broken at an event.
public enum AuditBreak: Sendable, Hashable {
  /// The event's fields no longer hash to its stored hash (it was altered).
  case hashMismatch
  /// The event does not point at the previous event's hash (one was altered or replaced).
  case previousHashMismatch
  /// The sequence skips a number (events were removed).
  case sequenceGap(expected: Int64)
  /// A column no longer holds the type the log wrote (e.g. a hash replaced by text).
  case unreadable
}

/// The append-only, hash-chained audit log (table `audit_events`).
///
/// Each record stores the hash of the previous one and its own hash,
/// `SHA-256(previous hash ‖ canonical encoding of (sequence, id, time, actor, action,
/// subject, delega chain, outcome, details))`; see ``canonicalEncoding(sequence:event:)``.
/// Altering, removing or reordering a record breaks the chain at that record, which
/// ``verify(_:)`` reports. Database triggers also refuse `UPDATE` and `DELETE`.
/// (Truncating the tail is detectable only against a hash kept elsewhere: keep
/// `lastHash` from ``AuditVerification/intact(count:lastHash:)`` if that matters.)
public enum AuditLog {
  /// The hash the first record points at.
  public static let genesisHash = [UInt8](repeating: 0, count: 32)

  /// Appends `event` in the caller's write transaction, so it commits with the mutation it
  /// records, and returns the stored record.
  @discardableResult
  public static func append(_ event: AuditEvent, in db: any WriteContext) throws -> AuditRecord {
    if db.dialect == .postgres {
      // Several replicas append concurrently: serialise on the chain head.
      try db.execute("SELECT pg_advisory_xact_lock(4242001)")
    }
    let last = try db.queryFirst("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
    let sequence = try (last?.int64("seq") ?? 0) + 1
    let previousHash = try last?.bytes("hash") ?? genesisHash
    var stored = event
    stored.time = Date(microsecondsSinceEpoch: event.time.microsecondsSinceEpoch)
    let hash = Digest.sha256(previousHash + canonicalEncoding(sequence: sequence, event: stored))
    try db.execute(
      """
      INSERT INTO audit_events (seq, id, occurred_at, actor, action, subject, delega_chain,
        outcome, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """,
      [
        sequence, stored.id, stored.time, stored.actor, stored.action, stored.subject,
        stored.delegaChain, stored.outcome.rawValue, stored.details, previousHash, hash,
      ])
    return AuditRecord(sequence: sequence, event: stored, previousHash: previousHash, hash: hash)
  }

  /// Records in sequence order after `sequence`, optionally only those of one subject or actor.
  public static func records(
    after sequence: Int64 = 0, subject: String? = nil, actor: String? = nil, limit: Int = 100,
    in db: any ReadContext
  ) throws -> [AuditRecord] {
    var sql = "SELECT * FROM audit_events WHERE seq > ?"
    var arguments: [any SQLConvertible] = [sequence]
    if let subject {
      sql += " AND subject = ?"
      arguments.append(subject)
    }
    if let actor {
      sql += " AND actor = ?"
      arguments.append(actor)
    }
    sql += " ORDER BY seq LIMIT ?"
    arguments.append(limit)
    return try db.query(sql, arguments).map(record(from:))
  }

  /// Records in sequence order after `sequence` whose subject is one of `subjects`
  /// (e.g. the `posizione:<M>` of a subject's positions), optionally within
  /// [`from`, `to`]. An empty `subjects` selects nothing.
  public static func records(
    after sequence: Int64 = 0, subjects: [String], from: Date? = nil, to: Date? = nil,
    limit: Int = 100, in db: any ReadContext
  ) throws -> [AuditRecord] {
    guard !subjects.isEmpty else { return [] }
    var sql = "SELECT * FROM audit_events WHERE seq > ? AND subject IN ("
      + Array(repeating: "?", count: subjects.count).joined(separator: ", ") + ")"
    var arguments: [any SQLConvertible] = [sequence]
    arguments.append(contentsOf: subjects as [any SQLConvertible])
    if let from {
      sql += " AND occurred_at >= ?"
      arguments.append(from)
    }
    if let to {
      sql += " AND occurred_at <= ?"
      arguments.append(to)
    }
    sql += " ORDER BY seq LIMIT ?"
    arguments.append(limit)
    return try db.query(sql, arguments).map(record(from:))
  }

  /// Walks the whole chain in one read snapshot and reports the first record that does not
  /// check out.
  public static func verify(_ database: any Database) async throws -> AuditVerification {
    try await database.read { db in try verify(in: db) }
  }

  /// ``verify(_:)`` inside an existing read (or write) context.
  public static func verify(in db: any ReadContext) throws -> AuditVerification {
    var expected: Int64 = 1
    var previousHash = genesisHash
    while true {
      let page = try db.query(
        "SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT 1000", [expected])
      if page.isEmpty { return .intact(count: expected - 1, lastHash: previousHash) }
      for row in page {
        guard let stored = try? record(from: row) else {
          let sequence = (try? row.int64("seq")) ?? expected
          return .broken(sequence: sequence, id: (try? row.string("id")) ?? "", reason: .unreadable)
        }
        let id = stored.event.id
        guard stored.sequence == expected else {
          return .broken(
            sequence: stored.sequence, id: id, reason: .sequenceGap(expected: expected))
        }
        guard stored.previousHash == previousHash else {
          return .broken(sequence: stored.sequence, id: id, reason: .previousHashMismatch)
        }
        let hash = Digest.sha256(
          previousHash + canonicalEncoding(sequence: stored.sequence, event: stored.event))
        guard hash == stored.hash else {
          return .broken(sequence: stored.sequence, id: id, reason: .hashMismatch)
        }
        previousHash = hash
        expected += 1
      }
    }
  }

  /// The bytes hashed for a record: a version tag, then each field in a fixed order, each
  /// self-delimiting — `0x00` for absent, `0x01` + 8-byte big-endian length + UTF-8 for text,
  /// `0x02` + 8-byte big-endian two's complement for integers. Unambiguous, so no two
  /// different records encode alike.
  public static func canonicalEncoding(sequence: Int64, event: AuditEvent) -> [UInt8] {
    var out: [UInt8] = Array("cassetto.audit.v1".utf8)
    func integer(_ value: Int64) {
      out.append(0x02)
      withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }
    func text(_ value: String?) {
      guard let value else { return out.append(0x00) }
      let bytes = Array(value.utf8)
      out.append(0x01)
      withUnsafeBytes(of: UInt64(bytes.count).bigEndian) { out.append(contentsOf: $0) }
      out.append(contentsOf: bytes)
    }
    integer(sequence)
    text(event.id)
    integer(event.time.microsecondsSinceEpoch)
    text(event.actor)
    text(event.action)
    text(event.subject)
    text(event.delegaChain)
    text(event.outcome.rawValue)
    text(event.details)
    return out
  }

  private static func record(from row: Row) throws -> AuditRecord {
    let event = AuditEvent(
      id: try row.string("id"), time: try row.date("occurred_at"), actor: try row.string("actor"),
      action: try row.string("action"), subject: try row.optionalString("subject"),
      delegaChain: try row.optionalString("delega_chain"),
      outcome: AuditOutcome(rawValue: try row.string("outcome")), details: try row.string("details")
    )
    return AuditRecord(
      sequence: try row.int64("seq"), event: event, previousHash: try row.bytes("prev_hash"),
      hash: try row.bytes("hash"))
  }
}
