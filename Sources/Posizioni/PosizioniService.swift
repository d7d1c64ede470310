import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

typealias Method = Cassetto_Posizioni_V1_Posizioni.Method

/// `cassetto.posizioni.v1.Posizioni`: contribution positions and the company drawer
/// (API.md, Posizioni; DOMAIN.md, Contribution positions and the drawer).
///
/// Who sees what is decided by the injected ``PositionAccess`` (one call per RPC, never here):
/// a position the caller may not see answers `NOT_FOUND`, exactly like one that does not
/// exist. The caller comes from ``Caller/current``, the time from the injected ``CallClock``.
/// Handlers throw `AccessError`, `ValidationError` or storage errors; the composition root maps
/// them to gRPC status.
public struct PosizioniService: Cassetto_Posizioni_V1_PosizioniHandler {
  let database: any Database
  let clock: any CallClock
  let access: any PositionAccess
  let newID: @Sendable () -> String
  /// `Ingest` writes its records in transactions of this many (one audit event each): few
  /// commits, each rewriting the index pages it touched, and memory still flat.
  let ingestBatchSize: Int
  /// The menu registry `GetMenu` filters (validated at start-up by the composition root).
  let applications: ApplicationRegistry
  /// Profile scopes of persons, for the registry's scope filter (`nil`: nobody holds any).
  let enablements: (any EnablementDirectory)?
  /// Group commit of the read-audit events (one transaction for concurrent reads).
  let auditWriter: AuditGroupWriter
  /// The dated reference-rate table of `ComputeSanzioniECA`.
  let sanzioni: SanzioniCivili

  public init(
    database: any Database, clock: any CallClock, access: any PositionAccess,
    newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
    ingestBatchSize: Int = 20_000, applications: ApplicationRegistry = .builtIn,
    enablements: (any EnablementDirectory)? = nil, sanzioni: SanzioniCivili? = nil
  ) {
    self.database = database
    self.clock = clock
    self.access = access
    self.newID = newID
    self.ingestBatchSize = max(1, ingestBatchSize)
    self.applications = applications
    self.enablements = enablements
    self.auditWriter = AuditGroupWriter(database: database)
    // The built-in table is valid by construction (a test checks it).
    self.sanzioni = sanzioni ?? (try! SanzioniCivili())
  }

  // MARK: Search and detail

  public func searchPosizioni(
    request: Cassetto_Posizioni_V1_SearchPosizioniRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_SearchPosizioniResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    if case .service(let service) = caller, !service.has(.posizioniRead) {
      throw AccessError.permissionDenied("the caller is not granted \(Permission.posizioniRead)")
    }
    var check = ViolationCollector()
    var filter: SearchFilter? = nil
    do {
      filter = try PosizioniRules.filter(request)
    } catch let error as ValidationError {
      for violation in error.violations { check.add(violation) }
    }
    let pageSize = try check { () throws(FieldViolation) in
      try PageToken.pageSize(request.pageSize)
    }
    var after: Int64 = 0
    if let filter {
      after =
        try check { () throws in
          try PageToken.decode(request.pageToken, filter: filter.fingerprintText)
        } ?? 0
    }
    try check.throwIfAny()
    guard let filter, let pageSize else { return .init() }
    let scope = try await access.scope(for: caller, at: clock.now())
    let start = after
    return try await database.read { db in
      try Self.search(filter, scope: scope, after: start, limit: pageSize, in: db)
    }
  }

  /// The visible positions matching `filter` after `seq`, one page (one extra row tells
  /// whether there is a next page).
  static func search(
    _ filter: SearchFilter, scope: PositionScope, after: Int64, limit: Int, in db: any ReadContext
  ) throws -> Cassetto_Posizioni_V1_SearchPosizioniResponse {
    var conditions = ["p.seq > ?"]
    var arguments: [any SQLConvertible] = [after]
    if !filter.fiscalCode.isEmpty {
      conditions.append("p.subject_fiscal_code = ?")
      arguments.append(filter.fiscalCode)
    }
    if !filter.matricola.isEmpty {
      conditions.append("p.matricola = ?")
      arguments.append(filter.matricola)
    }
    if !filter.namePrefix.isEmpty {
      // A range on the folded name: the index serves it, no LIKE escaping needed.
      conditions.append("s.name_folded >= ? AND s.name_folded < ?")
      arguments.append(filter.namePrefix)
      arguments.append(filter.namePrefix + "\u{10FFFF}")
    }
    if filter.fund != .unspecified {
      conditions.append("p.fund = ?")
      arguments.append(filter.fund.rawValue)
    }
    if filter.state != .unspecified {
      conditions.append("p.state = ?")
      arguments.append(filter.state.rawValue)
    }
    if !scope.all {
      // Two shapes of the same rule, chosen by who drives the query. With a selective filter
      // (fiscal code, matricola, name prefix) the filter's index finds few rows and each is
      // checked against the scope. Without, the scope drives: the visible positions as one
      // compound of index lookups (owner through the subjects' legal representative and the
      // responsabili, sedi, subjects, matricole), read as a sorted list of seqs, so an owner's
      // search costs what the owner may see, not a scan of every position in seq order
      // (measured with tools/bench-posizioni, docs/performance.md).
      let selective =
        !filter.fiscalCode.isEmpty || !filter.matricola.isEmpty || !filter.namePrefix.isEmpty
      var visible: [String] = []
      if let owner = scope.owner {
        if selective {
          visible.append("s.legal_representative = ?")
          visible.append(
            """
            EXISTS (SELECT 1 FROM posizioni_subject_responsabili r
              WHERE r.subject_fiscal_code = p.subject_fiscal_code AND r.fiscal_code = ?)
            """)
        } else {
          visible.append(
            """
            SELECT o.seq FROM posizioni_subjects os
            JOIN posizioni_positions o ON o.subject_fiscal_code = os.fiscal_code
            WHERE os.legal_representative = ?
            """)
          visible.append(
            """
            SELECT o.seq FROM posizioni_subject_responsabili r
            JOIN posizioni_positions o ON o.subject_fiscal_code = r.subject_fiscal_code
            WHERE r.fiscal_code = ?
            """)
        }
        arguments.append(owner)
        arguments.append(owner)
      }
      for (column, values) in [
        ("sede_code", scope.sedi), ("subject_fiscal_code", scope.subjects),
        ("matricola", scope.matricole),
      ] where !values.isEmpty {
        let sorted = values.sorted()
        let list = "(" + Array(repeating: "?", count: sorted.count).joined(separator: ", ") + ")"
        visible.append(
          selective
            ? "p.\(column) IN \(list)" : "SELECT seq FROM posizioni_positions WHERE \(column) IN \(list)")
        arguments.append(contentsOf: sorted as [any SQLConvertible])
      }
      if visible.isEmpty { return .init() }
      conditions.append(
        selective
          ? "(" + visible.joined(separator: " OR ") + ")"
          : "p.seq IN (" + visible.joined(separator: " UNION ALL ") + ")")
    }
    arguments.append(limit + 1)
    let rows = try db.query(
      """
      SELECT \(PosizioniStore.positionColumns) FROM posizioni_positions p
      JOIN posizioni_subjects s ON s.fiscal_code = p.subject_fiscal_code
      WHERE \(conditions.joined(separator: " AND "))
      ORDER BY p.seq LIMIT ?
      """, arguments)
    var response = Cassetto_Posizioni_V1_SearchPosizioniResponse()
    var altri: [String: [String]] = [:]
    for row in rows.prefix(limit) {
      var position = try PosizioniStore.position(row)
      let subject = position.subjectFiscalCode
      if altri[subject] == nil {
        altri[subject] = try PosizioniStore.altriResponsabili(of: subject, in: db)
      }
      position.subject?.altriResponsabili = altri[subject] ?? []
      response.posizioni.append(position)
    }
    if rows.count > limit, let last = rows.prefix(limit).last {
      response.nextPageToken = PageToken.encode(
        after: try last.int64("seq"), filter: filter.fingerprintText)
    }
    return response
  }

  public func getPosizione(
    request: Cassetto_Posizioni_V1_GetPosizioneRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_Posizione {
    let caller = Caller.current
    try caller.requireAuthenticated()
    return try await visiblePosition(request.matricola, caller: caller, action: Method.getPosizione)
  }

  /// The position `matricola` if it exists and `caller` may see it; `NOT_FOUND` otherwise
  /// (the same answer for both: no existence leak). Every answer, granted or refused, writes
  /// one access audit event naming the caller, the grant chain and `action` (issue 5 item 7).
  /// `object` names what within the position was read (`denuncia:<id>`…), for the audit.
  func visiblePosition(
    _ text: String, caller: Caller, action: MethodDescriptor, object: String? = nil
  ) async throws -> Cassetto_Posizioni_V1_Posizione {
    let matricola = try PosizioniRules.matricola(text, field: "matricola")
    let notFound = AccessError.notFound("no position \(matricola) visible to the caller")
    let now = clock.now()
    var decision = PositionReadDecision(allowed: false)
    let position = try await database.read({ db in
      try PosizioniStore.position(matricola: matricola, in: db)
    })
    if let position, let subject = position.subject {
      decision = try await access.readDecision(
        caller, position: position.info, subject: subject.info, at: now)
    }
    try await auditRead(
      caller: caller, action: action, matricola: matricola, decision: decision, at: now,
      object: object)
    guard decision.allowed, let position else { throw notFound }
    return position
  }

  /// One access audit event for a read of `matricola` (subject `posizione:<M>`, what
  /// `Audit.ListAccessEvents` selects on): outcome success or denied; `object` in the
  /// details when the read names one.
  func auditRead(
    caller: Caller, action: MethodDescriptor, matricola: String, decision: PositionReadDecision,
    at now: Date, object: String? = nil, subject: String? = nil
  ) async throws {
    var details = ["matricola": matricola]
    if let object { details["object"] = object }
    let event = AuditEvent(
      id: newID(), time: now, actor: caller.actorID, action: action.path,
      subject: subject ?? "posizione:\(matricola)",
      delegaChain: decision.allowed ? decision.chain : nil,
      outcome: decision.allowed ? .success : .denied,
      details: AuditEvent.json(details))
    try await auditWriter.append(event)
  }

}
