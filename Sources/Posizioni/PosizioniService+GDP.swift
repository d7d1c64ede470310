import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

// The read-only GDP services and the alerts of one position (issue 5 items 3 and 5):
// ListEvidenze, ListNoteRettifica, ListPianiAmmortamento, ListNoteDebito, ListDenunce,
// GetDenuncia. Each validates its request (INVALID_ARGUMENT naming every bad field, nothing
// audited), then reads the position through ``PosizioniService/visiblePosition`` — the one
// visibility rule, NOT_FOUND for the unrelated, one access audit event granted or refused —
// then one page. Lists by period are ordered by (period, seq) with `(period, seq)` page
// tokens; the others by seq. Tokens are bound to the matricola and the filters.
extension PosizioniService {
  /// The validated common part of a list request.
  struct ListRequest {
    var matricola: String
    var pageSize: Int
  }

  /// Validates matricola, page size, an optional period range and the page token against
  /// `fingerprint(matricola, from, to)`; `check` collects every violation before throwing.
  static func validateList(
    matricola text: String, pageSize requested: Int32, periodFrom: String = "",
    periodTo: String = "", extra: (inout ViolationCollector) -> Void = { _ in },
    token: (String, String, String) throws -> Void
  ) throws -> (ListRequest, from: String, to: String) {
    var check = ViolationCollector()
    let matricola = try check { () throws(FieldViolation) in
      try PosizioniRules.matricola(text, field: "matricola")
    }
    let from = try check { () throws(FieldViolation) in
      periodFrom.isEmpty ? "" : try PosizioniRules.period(periodFrom, field: "period_from")
    }
    let to = try check { () throws(FieldViolation) in
      periodTo.isEmpty ? "" : try PosizioniRules.period(periodTo, field: "period_to")
    }
    if let from, let to, !from.isEmpty, !to.isEmpty, from > to {
      check.add(field: "period_to", "must not precede period_from")
    }
    let pageSize = try check { () throws(FieldViolation) in
      try PageToken.pageSize(requested)
    }
    extra(&check)
    if let matricola, let from, let to, check.isEmpty {
      do {
        try token(matricola, from, to)
      } catch let error as ValidationError {
        for violation in error.violations { check.add(violation) }
      }
    }
    try check.throwIfAny()
    return (ListRequest(matricola: matricola ?? "", pageSize: pageSize ?? 0), from ?? "", to ?? "")
  }

  /// One page of `table` rows of `matricola` ordered by (period, seq) after `after`.
  static func periodPage(
    table: String, columns: String, conditions: [String], arguments: [any SQLConvertible],
    after: (period: String, seq: Int64)?, limit: Int, in db: any ReadContext
  ) throws -> (rows: ArraySlice<Row>, next: (period: String, seq: Int64)?) {
    var conditions = conditions
    var arguments = arguments
    if let after {
      conditions.append("(period > ? OR (period = ? AND seq > ?))")
      arguments.append(contentsOf: [after.period, after.period, after.seq] as [any SQLConvertible])
    }
    arguments.append(limit + 1)
    let rows = try db.query(
      """
      SELECT \(columns) FROM \(table) WHERE \(conditions.joined(separator: " AND "))
      ORDER BY period, seq LIMIT ?
      """, arguments)
    let page = rows.prefix(limit)
    guard rows.count > limit, let last = page.last else { return (page, nil) }
    return (page, (try last.string("period"), try last.int64("seq")))
  }

  /// One page of `table` rows ordered by seq after `after`.
  static func seqPage(
    table: String, columns: String, conditions: [String], arguments: [any SQLConvertible],
    after: Int64, limit: Int, in db: any ReadContext
  ) throws -> (rows: ArraySlice<Row>, next: Int64?) {
    let rows = try db.query(
      """
      SELECT \(columns) FROM \(table) WHERE \((conditions + ["seq > ?"]).joined(separator: " AND "))
      ORDER BY seq LIMIT ?
      """, arguments + [after, limit + 1])
    let page = rows.prefix(limit)
    guard rows.count > limit, let last = page.last else { return (page, nil) }
    return (page, try last.int64("seq"))
  }

  // MARK: Alerts

  public func listEvidenze(
    request: Cassetto_Posizioni_V1_ListEvidenzeRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_ListEvidenzeResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var after: Int64 = 0
    let fingerprint: @Sendable (String) -> String = { m in "evidenze|\(m)|\(request.openOnly)" }
    let (list, _, _) = try Self.validateList(
      matricola: request.matricola, pageSize: request.pageSize
    ) { matricola, _, _ in
      after = try PageToken.decode(request.pageToken, filter: fingerprint(matricola))
    }
    _ = try await visiblePosition(list.matricola, caller: caller, action: Method.listEvidenze)
    let start = after
    return try await database.read { db in
      var conditions = ["matricola = ?"]
      if request.openOnly { conditions.append("is_open = 1") }
      let (rows, next) = try Self.seqPage(
        table: "posizioni_evidenze", columns: PosizioniGDPStore.evidenzaColumns,
        conditions: conditions, arguments: [list.matricola], after: start, limit: list.pageSize,
        in: db)
      var response = Cassetto_Posizioni_V1_ListEvidenzeResponse()
      response.evidenze = try rows.map(PosizioniGDPStore.evidenza)
      if let next {
        response.nextPageToken = PageToken.encode(after: next, filter: fingerprint(list.matricola))
      }
      return response
    }
  }

  // MARK: Correction notes

  public func listNoteRettifica(
    request: Cassetto_Posizioni_V1_ListNoteRettificaRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_ListNoteRettificaResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var after: (period: String, seq: Int64)? = nil
    let fingerprint: @Sendable (String, String, String) -> String = { m, from, to in "rettifica|\(m)|\(from)|\(to)" }
    let (list, from, to) = try Self.validateList(
      matricola: request.matricola, pageSize: request.pageSize, periodFrom: request.periodFrom,
      periodTo: request.periodTo
    ) { matricola, from, to in
      after = try PageToken.decodeKey(request.pageToken, filter: fingerprint(matricola, from, to))
    }
    _ = try await visiblePosition(list.matricola, caller: caller, action: Method.listNoteRettifica)
    let start = after
    return try await database.read { db in
      let (conditions, arguments) = Self.paymentConditions(list.matricola, from: from, to: to)
      let (rows, next) = try Self.periodPage(
        table: "posizioni_note_rettifica", columns: PosizioniGDPStore.notaRettificaColumns,
        conditions: conditions, arguments: arguments, after: start, limit: list.pageSize, in: db)
      var response = Cassetto_Posizioni_V1_ListNoteRettificaResponse()
      response.note = try rows.map(PosizioniGDPStore.notaRettifica)
      if let next {
        response.nextPageToken = PageToken.encodeKey(
          period: next.period, seq: next.seq, filter: fingerprint(list.matricola, from, to))
      }
      return response
    }
  }

  // MARK: Amortisation plans

  public func listPianiAmmortamento(
    request: Cassetto_Posizioni_V1_ListPianiAmmortamentoRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_ListPianiAmmortamentoResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var after: Int64 = 0
    let fingerprint: @Sendable (String) -> String = { m in "piani|\(m)" }
    let (list, _, _) = try Self.validateList(
      matricola: request.matricola, pageSize: request.pageSize
    ) { matricola, _, _ in
      after = try PageToken.decode(request.pageToken, filter: fingerprint(matricola))
    }
    _ = try await visiblePosition(
      list.matricola, caller: caller, action: Method.listPianiAmmortamento)
    let start = after
    return try await database.read { db in
      let (rows, next) = try Self.seqPage(
        table: "posizioni_piani", columns: PosizioniGDPStore.pianoColumns,
        conditions: ["matricola = ?"], arguments: [list.matricola], after: start,
        limit: list.pageSize, in: db)
      var response = Cassetto_Posizioni_V1_ListPianiAmmortamentoResponse()
      response.piani = try rows.map { try PosizioniGDPStore.piano($0, in: db) }
      if let next {
        response.nextPageToken = PageToken.encode(after: next, filter: fingerprint(list.matricola))
      }
      return response
    }
  }

  // MARK: Debit notes

  /// Debit notes of a position by period, optionally of one kind (ECA…) and one state.
  public func listNoteDebito(
    request: Cassetto_Posizioni_V1_ListNoteDebitoRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_ListNoteDebitoResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var after: (period: String, seq: Int64)? = nil
    let kind = request.kind.rawValue
    let state = request.state.rawValue
    let fingerprint: @Sendable (String) -> String = { m in "debito|\(m)|\(kind)|\(state)" }
    let (list, _, _) = try Self.validateList(
      matricola: request.matricola, pageSize: request.pageSize,
      extra: { check in
        if !(0...3).contains(kind) { check.add(field: "kind", "unknown kind") }
        if !(0...3).contains(state) { check.add(field: "state", "unknown state") }
      }
    ) { matricola, _, _ in
      after = try PageToken.decodeKey(request.pageToken, filter: fingerprint(matricola))
    }
    _ = try await visiblePosition(list.matricola, caller: caller, action: Method.listNoteDebito)
    let start = after
    return try await database.read { db in
      var conditions = ["matricola = ?"]
      var arguments: [any SQLConvertible] = [list.matricola]
      if kind != 0 {
        conditions.append("kind = ?")
        arguments.append(kind)
      }
      if state != 0 {
        conditions.append("state = ?")
        arguments.append(state)
      }
      let (rows, next) = try Self.periodPage(
        table: "posizioni_note_debito", columns: PosizioniGDPStore.notaDebitoColumns,
        conditions: conditions, arguments: arguments, after: start, limit: list.pageSize, in: db)
      var response = Cassetto_Posizioni_V1_ListNoteDebitoResponse()
      response.note = try rows.map { try PosizioniGDPStore.notaDebito($0, in: db) }
      if let next {
        response.nextPageToken = PageToken.encodeKey(
          period: next.period, seq: next.seq, filter: fingerprint(list.matricola))
      }
      return response
    }
  }

  // MARK: Declarations

  /// Declarations of a position by period (with their errors, without their lines),
  /// optionally in a period range and only those with errors.
  public func listDenunce(request: Cassetto_Posizioni_V1_ListDenunceRequest, context: ServerContext)
    async throws -> Cassetto_Posizioni_V1_ListDenunceResponse
  {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var after: (period: String, seq: Int64)? = nil
    let errorsOnly = request.withErrorsOnly
    let fingerprint: @Sendable (String, String, String) -> String = { m, from, to in
      "denunce|\(m)|\(from)|\(to)|\(errorsOnly)"
    }
    let (list, from, to) = try Self.validateList(
      matricola: request.matricola, pageSize: request.pageSize, periodFrom: request.periodFrom,
      periodTo: request.periodTo
    ) { matricola, from, to in
      after = try PageToken.decodeKey(request.pageToken, filter: fingerprint(matricola, from, to))
    }
    _ = try await visiblePosition(list.matricola, caller: caller, action: Method.listDenunce)
    let start = after
    return try await database.read { db in
      var (conditions, arguments) = Self.paymentConditions(list.matricola, from: from, to: to)
      if errorsOnly { conditions.append("errors_count > 0") }
      let (rows, next) = try Self.periodPage(
        table: "posizioni_denunce", columns: PosizioniGDPStore.denunciaColumns,
        conditions: conditions, arguments: arguments, after: start, limit: list.pageSize, in: db)
      var response = Cassetto_Posizioni_V1_ListDenunceResponse()
      response.denunce = try rows.map { try PosizioniGDPStore.denuncia($0, withLines: false, in: db) }
      if let next {
        response.nextPageToken = PageToken.encodeKey(
          period: next.period, seq: next.seq, filter: fingerprint(list.matricola, from, to))
      }
      return response
    }
  }

  /// One declaration with its lines and errors, if the caller may see its position. An
  /// unknown id answers NOT_FOUND like an invisible one; both are audited as refused (an
  /// unknown id under the subject `denuncia:<id>`, having no position).
  public func getDenuncia(request: Cassetto_Posizioni_V1_GetDenunciaRequest, context: ServerContext)
    async throws -> Cassetto_Posizioni_V1_Denuncia
  {
    let caller = Caller.current
    try caller.requireAuthenticated()
    let id = try PosizioniRules.recordID(request.id, field: "id")
    let notFound = AccessError.notFound("no denuncia \(id) visible to the caller")
    let found = try await database.read { db in try PosizioniGDPStore.denuncia(id: id, in: db) }
    guard let found else {
      try await auditRead(
        caller: caller, action: Method.getDenuncia, matricola: "", decision: .init(allowed: false),
        at: clock.now(), object: "denuncia:\(id)", subject: "denuncia:\(id)")
      throw notFound
    }
    do {
      _ = try await visiblePosition(
        found.matricola, caller: caller, action: Method.getDenuncia, object: "denuncia:\(id)")
    } catch is AccessError {
      throw notFound
    }
    return found
  }
}

// MARK: Menu

extension PosizioniService {
  /// The menu for caller × position from the application registry: the caller must see the
  /// position (NOT_FOUND otherwise, audited like every read); its role is the first link of
  /// the grant chain, its profile scopes come from the enablement directory.
  public func getMenu(request: Cassetto_Posizioni_V1_GetMenuRequest, context: ServerContext)
    async throws -> Cassetto_Posizioni_V1_Menu
  {
    let caller = Caller.current
    try caller.requireAuthenticated()
    let matricola = try PosizioniRules.matricola(request.matricola, field: "matricola")
    let now = clock.now()
    let found = try await database.read { db in
      try PosizioniStore.position(matricola: matricola, in: db)
    }
    var decision = PositionReadDecision(allowed: false)
    if let found, let subject = found.subject {
      decision = try await access.readDecision(
        caller, position: found.info, subject: subject.info, at: now)
    }
    try await auditRead(
      caller: caller, action: Method.getMenu, matricola: matricola, decision: decision, at: now)
    guard decision.allowed, let position = found else {
      throw AccessError.notFound("no position \(matricola) visible to the caller")
    }
    let role: ApplicationRegistry.Role
    if case .service = caller {
      role = .service
    } else if let fromChain = ApplicationRegistry.Role(chain: decision.chain) {
      role = fromChain
    } else {
      // A rule that grants without naming how: the least privileged person role.
      role = .delegate
    }
    var scopes = Set<ProfileScope>()
    if case .person(let person) = caller, let enablements {
      scopes = try await enablements.enablements(of: person.codiceFiscale.value).profileScopes
    }
    return applications.menu(fund: position.fund, role: role, scopes: scopes)
  }
}
