import Access
import Contracts
import Foundation
import Storage
import Validation

typealias DelegaMessage = Cassetto_Deleghe_V1_Delega
typealias State = Cassetto_Deleghe_V1_DelegaState
typealias Kind = Cassetto_Deleghe_V1_DelegaKind

extension CalendarDate {
  /// Parses `YYYY-MM-DD` as stored.
  init?(stored text: String?) {
    guard let text else { return nil }
    let parts = text.split(separator: "-").compactMap { Int($0) }
    guard parts.count == 3,
      let date = try? CalendarDate(year: parts[0], month: parts[1], day: parts[2])
    else { return nil }
    self = date
  }

  /// The same day `years` later (29 February → 28 February when not a leap year).
  func adding(years: Int) -> CalendarDate {
    let y = year + years
    let d = min(day, CalendarDate.daysIn(month: month, year: y))
    return (try? CalendarDate(year: y, month: month, day: d)) ?? self
  }

  /// The next calendar day.
  var nextDay: CalendarDate {
    if day < CalendarDate.daysIn(month: month, year: year) {
      return (try? CalendarDate(year: year, month: month, day: day + 1)) ?? self
    }
    if month < 12 { return (try? CalendarDate(year: year, month: month + 1, day: 1)) ?? self }
    return (try? CalendarDate(year: year + 1, month: 1, day: 1)) ?? self
  }

  var proto: Google_Type_Date {
    var date = Google_Type_Date()
    date.year = Int32(year)
    date.month = Int32(month)
    date.day = Int32(day)
    return date
  }
}

extension Google_Protobuf_Timestamp {
  init(_ date: Date) {
    self.init()
    let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
    let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
    self.seconds = seconds
    self.nanos = Int32((micros - seconds * 1_000_000) * 1_000)
  }

  var date: Date {
    Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(nanos) / 1e9)
  }
}

/// The Deleghe module's statements, run inside a caller's read or write context.
enum DelegheStore {
  static func row(id: String, in db: any ReadContext) throws -> Row? {
    try db.queryFirst("SELECT * FROM deleghe_deleghe WHERE id = ?", [id])
  }

  static func state(_ row: Row) throws -> State {
    State(rawValue: try row.decode("state", as: Int32.self)) ?? .unspecified
  }

  static func kind(_ row: Row) throws -> Kind {
    Kind(rawValue: try row.decode("kind", as: Int32.self)) ?? .unspecified
  }

  static func message(_ row: Row) throws -> DelegaMessage {
    var m = DelegaMessage()
    m.id = try row.string("id")
    m.kind = try kind(row)
    m.state = try state(row)
    m.subjectFiscalCode = try row.string("subject_fiscal_code")
    let matricola = try row.string("matricola")
    var scope = Cassetto_Deleghe_V1_DelegaScope()
    if matricola.isEmpty { scope.allPositions = true } else { scope.matricola = matricola }
    m.scope = scope
    var delegant = Cassetto_Deleghe_V1_Party()
    delegant.fiscalCode = try row.string("delegant_fiscal_code")
    delegant.givenName = try row.string("delegant_given_name")
    delegant.familyName = try row.string("delegant_family_name")
    m.delegant = delegant
    var delegate = Cassetto_Deleghe_V1_Party()
    delegate.fiscalCode = try row.string("delegate_fiscal_code")
    delegate.givenName = try row.string("delegate_given_name")
    delegate.familyName = try row.string("delegate_family_name")
    m.delegate = delegate
    m.parentId = try row.string("parent_id")
    if let d = CalendarDate(stored: try row.string("decorrenza")) { m.decorrenza = d.proto }
    if let d = CalendarDate(stored: try row.optionalString("end_date")) { m.endDate = d.proto }
    if let d = CalendarDate(stored: try row.optionalString("effective_from")) {
      m.effectiveFrom = d.proto
    }
    m.createTime = Google_Protobuf_Timestamp(try row.date("created_at"))
    if let t = try row.optionalDate("activated_at") { m.activateTime = .init(t) }
    if let t = try row.optionalDate("ended_at") { m.endTime = .init(t) }
    if let t = try row.optionalDate("otp_expires_at") { m.otpExpireTime = .init(t) }
    m.otpFailedAttempts = Int32(try row.int("otp_failed_attempts"))
    if let t = try row.optionalDate("otp_sent_at") { m.otpSentTime = .init(t) }
    m.signatureDeclared = try row.bool("signature_declared")
    if let t = try row.optionalDate("signature_declared_at") { m.signatureDeclareTime = .init(t) }
    if let d = CalendarDate(stored: try row.optionalString("retention_end")) {
      m.retentionEndDate = d.proto
    }
    m.notifiedMatricola = try row.string("notified_matricola")
    return m
  }

  static func grant(_ row: Row) throws -> DelegaGrant {
    let kind: DelegaKind =
      switch try kind(row) {
      case .intermediario: .intermediario
      case .subdelega: .subdelega
      default: .dipendente
      }
    let matricola = try row.string("matricola")
    let parent = try row.string("parent_id")
    return DelegaGrant(
      id: try row.string("id"), kind: kind, isActive: try state(row) == .attiva,
      subjectFiscalCode: try row.string("subject_fiscal_code"),
      matricola: matricola.isEmpty ? nil : matricola,
      delegantFiscalCode: try row.string("delegant_fiscal_code"),
      delegateFiscalCode: try row.string("delegate_fiscal_code"),
      parentID: parent.isEmpty ? nil : parent,
      effectiveFrom: CalendarDate(stored: try row.optionalString("effective_from")),
      endDate: CalendarDate(stored: try row.optionalString("end_date")))
  }

  /// Ends `id` (and, in the same transaction, its sub-deleghe still open) in `state`.
  /// Records the end instant and the retention end (end of the delega + 5 years).
  static func end(
    id: String, state: State, by actor: String, reason: String, now: Date,
    in db: any WriteContext
  ) throws -> [String] {
    let today = CalendarDate.of(now)
    let open = [State.daAttivare, .inAttesaOtp, .attiva].map { $0.rawValue }
    try db.execute(
      """
      UPDATE deleghe_deleghe SET state = ?, ended_at = ?, ended_by = ?, end_reason = ?,
        otp_hash = NULL, retention_end = ?
      WHERE id = ? AND state IN (?, ?, ?)
      """,
      [state.rawValue, now, actor, reason, today.adding(years: 5).description, id] + open)
    var ended: [String] = []
    for child in try db.query(
      "SELECT id FROM deleghe_deleghe WHERE parent_id = ? AND state IN (?, ?, ?)", [id] + open)
    {
      let childID = try child.string("id")
      ended.append(childID)
      _ = try end(
        id: childID, state: .revocata, by: actor, reason: "parent delega \(id) ended", now: now,
        in: db)
    }
    return ended
  }

  /// Moves pending OTP requests whose OTP expired and active deleghe past their end date to
  /// SCADUTA (their sub-deleghe end with them). Returns the ids it expired.
  @discardableResult
  static func expire(now: Date, in db: any WriteContext) throws -> [String] {
    let today = CalendarDate.of(now).description
    let rows = try db.query(
      """
      SELECT id, end_date FROM deleghe_deleghe
      WHERE (state = ? AND otp_expires_at <= ?) OR (state = ? AND end_date IS NOT NULL AND end_date < ?)
      """, [State.inAttesaOtp.rawValue, now, State.attiva.rawValue, today])
    var expired: [String] = []
    for row in rows {
      let id = try row.string("id")
      expired.append(id)
      _ = try end(id: id, state: .scaduta, by: "system", reason: "expired", now: now, in: db)
      if let endDate = CalendarDate(stored: try row.optionalString("end_date")) {
        try db.execute(
          "UPDATE deleghe_deleghe SET retention_end = ? WHERE id = ?",
          [endDate.adding(years: 5).description, id])
      }
    }
    return expired
  }
}

/// Deleghe's side of the authorization rule, read from its table on every call.
public struct DelegheDirectory: DelegaDirectory {
  let database: any Database

  public init(database: any Database) { self.database = database }

  public func deleghe(delegate fiscalCode: String, subject subjectFiscalCode: String)
    async throws -> [DelegaGrant]
  {
    try await database.read { db in
      try db.query(
        """
        SELECT * FROM deleghe_deleghe WHERE delegate_fiscal_code = ? AND subject_fiscal_code = ?
        """, [fiscalCode, subjectFiscalCode]
      ).map(DelegheStore.grant)
    }
  }

  public func deleghe(delegate fiscalCode: String) async throws -> [DelegaGrant] {
    try await database.read { db in
      try db.query(
        "SELECT * FROM deleghe_deleghe WHERE delegate_fiscal_code = ? AND state = ?",
        [fiscalCode, State.attiva.rawValue]
      ).map(DelegheStore.grant)
    }
  }

  public func delega(id: String) async throws -> DelegaGrant? {
    try await database.read { db in try DelegheStore.row(id: id, in: db).map(DelegheStore.grant) }
  }
}

/// The clock's transitions, run by the server's background worker: pending OTP requests whose
/// OTP expired and active deleghe past their end date become SCADUTA (sub-deleghe end with
/// them), each with an audit event, in one transaction.
public enum DelegheExpiry {
  @discardableResult
  public static func run(database: any Database, now: Date) async throws -> [String] {
    try await database.write { db in
      let expired = try DelegheStore.expire(now: now, in: db)
      for id in expired {
        try AuditLog.append(
          AuditEvent(
            time: now, actor: "system", action: "deleghe.expire", subject: "delega:" + id,
            outcome: .success),
          in: db)
      }
      return expired
    }
  }
}
