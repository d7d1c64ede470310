import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

// Payments of one position and the position's summary (issue 5 item 3). Both read one
// visible position through ``PosizioniService/visiblePosition(_:caller:action:)`` (which
// writes the access audit event) and then its payments.
extension PosizioniService {
  public func listVersamenti(
    request: Cassetto_Posizioni_V1_ListVersamentiRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_ListVersamentiResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var check = ViolationCollector()
    let matricola = try check { () throws(FieldViolation) in
      try PosizioniRules.matricola(request.matricola, field: "matricola")
    }
    let from = try check { () throws(FieldViolation) in
      request.periodFrom.isEmpty
        ? "" : try PosizioniRules.period(request.periodFrom, field: "period_from")
    }
    let to = try check { () throws(FieldViolation) in
      request.periodTo.isEmpty
        ? "" : try PosizioniRules.period(request.periodTo, field: "period_to")
    }
    if let from, let to, !from.isEmpty, !to.isEmpty, from > to {
      check.add(FieldViolation(field: "period_to", description: "must not precede period_from"))
    }
    let pageSize = try check { () throws(FieldViolation) in
      try PageToken.pageSize(request.pageSize)
    }
    var after: (period: String, seq: Int64)? = nil
    if let matricola, let from, let to {
      after = try check { () throws in
        try PageToken.decodeKey(
          request.pageToken, filter: Self.versamentiFingerprint(matricola, from, to))
      } ?? nil
    }
    try check.throwIfAny()
    guard let matricola, let from, let to, let pageSize else { return .init() }
    _ = try await visiblePosition(matricola, caller: caller, action: Method.listVersamenti)
    let start = after
    return try await database.read { db in
      var (conditions, arguments) = Self.paymentConditions(matricola, from: from, to: to)
      if let start {
        conditions.append("(period > ? OR (period = ? AND seq > ?))")
        arguments.append(contentsOf: [start.period, start.period, start.seq] as [any SQLConvertible])
      }
      arguments.append(pageSize + 1)
      let rows = try db.query(
        """
        SELECT seq, matricola, channel, reference, period, amount_cents, paid_on
        FROM posizioni_versamenti WHERE \(conditions.joined(separator: " AND "))
        ORDER BY period, seq LIMIT ?
        """, arguments)
      var response = Cassetto_Posizioni_V1_ListVersamentiResponse()
      for row in rows.prefix(pageSize) { response.versamenti.append(try Self.versamento(row)) }
      if rows.count > pageSize, let last = rows.prefix(pageSize).last {
        response.nextPageToken = PageToken.encodeKey(
          period: try last.string("period"), seq: try last.int64("seq"),
          filter: Self.versamentiFingerprint(matricola, from, to))
      }
      return response
    }
  }

  /// Summary of one position: the last payment (latest payment date, then latest ingested),
  /// the total and count of the payments in the requested period range (`INVALID_ARGUMENT`
  /// on a bad range, before visibility); over the whole position, the debt balance (sum of
  /// the APERTA debit notes, contested or not), the declarations with errors and the open
  /// alerts.
  public func getDatiSintetici(
    request: Cassetto_Posizioni_V1_GetDatiSinteticiRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_DatiSintetici {
    let caller = Caller.current
    try caller.requireAuthenticated()
    let (from, to) = try Self.periodRange(request.periodFrom, request.periodTo)
    let position = try await visiblePosition(
      request.matricola, caller: caller, action: Method.getDatiSintetici)
    let matricola = position.matricola
    return try await database.read { db in
      var summary = Cassetto_Posizioni_V1_DatiSintetici()
      summary.matricola = matricola
      let (conditions, arguments) = Self.paymentConditions(matricola, from: from, to: to)
      if let totals = try db.queryFirst(
        """
        SELECT COUNT(*) AS n, COALESCE(SUM(amount_cents), 0) AS total FROM posizioni_versamenti
        WHERE \(conditions.joined(separator: " AND "))
        """, arguments)
      {
        summary.paymentsCount = Int32(clamping: try totals.int64("n"))
        summary.totalPaidCents = try totals.int64("total")
      }
      if let row = try db.queryFirst(
        """
        SELECT seq, matricola, channel, reference, period, amount_cents, paid_on
        FROM posizioni_versamenti WHERE matricola = ? ORDER BY paid_on DESC, seq DESC LIMIT 1
        """, [matricola])
      {
        summary.lastPayment = try Self.versamento(row)
      }
      // The whole position, whatever the range: what is owed now, what needs fixing now.
      if let debt = try db.queryFirst(
        """
        SELECT COALESCE(SUM(amount_cents), 0) AS owed FROM posizioni_note_debito
        WHERE matricola = ? AND state = ?
        """, [matricola, Cassetto_Posizioni_V1_NotaDebitoState.aperta.rawValue])
      {
        summary.debtBalanceCents = try debt.int64("owed")
      }
      summary.declarationsWithErrors = Int32(
        clamping: try db.queryFirst(
          "SELECT COUNT(*) AS n FROM posizioni_denunce WHERE matricola = ? AND errors_count > 0",
          [matricola])?.int64("n") ?? 0)
      summary.openAlerts = Int32(
        clamping: try db.queryFirst(
          "SELECT COUNT(*) AS n FROM posizioni_evidenze WHERE matricola = ? AND is_open = 1",
          [matricola])?.int64("n") ?? 0)
      return summary
    }
  }

  /// A valid inclusive period range (each bound may be empty), or `INVALID_ARGUMENT`.
  /// The WHERE conditions (and their arguments) selecting the payments of `matricola` in the
  /// period range [`from`, `to`]; an empty bound is open.
  static func paymentConditions(_ matricola: String, from: String, to: String)
    -> (conditions: [String], arguments: [any SQLConvertible])
  {
    var conditions = ["matricola = ?"]
    var arguments: [any SQLConvertible] = [matricola]
    if !from.isEmpty {
      conditions.append("period >= ?")
      arguments.append(from)
    }
    if !to.isEmpty {
      conditions.append("period <= ?")
      arguments.append(to)
    }
    return (conditions, arguments)
  }

  static func periodRange(_ fromText: String, _ toText: String) throws -> (String, String) {
    var check = ViolationCollector()
    let from = try check { () throws(FieldViolation) in
      fromText.isEmpty ? "" : try PosizioniRules.period(fromText, field: "period_from")
    }
    let to = try check { () throws(FieldViolation) in
      toText.isEmpty ? "" : try PosizioniRules.period(toText, field: "period_to")
    }
    if let from, let to, !from.isEmpty, !to.isEmpty, from > to {
      check.add(FieldViolation(field: "period_to", description: "must not precede period_from"))
    }
    try check.throwIfAny()
    return (from ?? "", to ?? "")
  }

  static func versamentiFingerprint(_ matricola: String, _ from: String, _ to: String) -> String {
    "versamenti|\(matricola)|\(from)|\(to)"
  }

  static func versamento(_ row: Row) throws -> Cassetto_Posizioni_V1_Versamento {
    var payment = Cassetto_Posizioni_V1_Versamento()
    payment.matricola = try row.string("matricola")
    payment.channel = .init(rawValue: try row.decode("channel", as: Int32.self))
    payment.reference = try row.string("reference")
    payment.period = try row.string("period")
    payment.amountCents = try row.int64("amount_cents")
    payment.paidOn = Google_Type_Date(iso: try row.string("paid_on"))
    return payment
  }
}
