import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

typealias Method = Cassetto_Identity_V1_Identity.Method

/// `cassetto.identity.v1.Identity`: who the caller is, enablement requests and decisions,
/// operator roles per sede, and the back-end feeds (API.md, Identity; DOMAIN.md, Enablement).
///
/// The caller comes from ``Caller/current`` (bound by the authentication interceptor); the
/// time of every rule from the injected ``CallClock``. Handlers throw `AccessError`,
/// `IdentityError`, `ValidationError` or storage errors; the composition root maps them to
/// gRPC status in one place. Every mutation runs in one write transaction with its audit event
/// and, when the request carries a `request_id`, its idempotency record: a retry with the same
/// key returns the first response and changes nothing.
public struct IdentityService: Cassetto_Identity_V1_IdentityHandler {
  let database: any Database
  let clock: any CallClock
  let cutover: CutoverDates
  let newID: @Sendable () -> String

  public init(
    database: any Database, clock: any CallClock, cutover: CutoverDates,
    newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }
  ) {
    self.database = database
    self.clock = clock
    self.cutover = cutover
    self.newID = newID
  }

  /// Runs `body` in one write transaction with its audit event and idempotency record.
  func mutate<Response: ProtoMessage>(
    _ method: MethodDescriptor, caller: Caller, requestID: String,
    _ body: @escaping @Sendable (any WriteContext, Date) throws -> (Response, AuditEvent)
  ) async throws -> Response {
    let now = clock.now()
    let actor = caller.actorID
    return try await database.write { db in
      if !requestID.isEmpty,
        let first = try Idempotency.lookup(
          caller: actor, method: method.path, requestID: requestID, in: db)
      {
        return try Response(serializedBytes: first)
      }
      let (response, event) = try body(db, now)
      try AuditLog.append(event, in: db)
      if !requestID.isEmpty {
        try Idempotency.store(
          caller: actor, method: method.path, requestID: requestID,
          response: response.serializedBytes(), at: now, in: db)
      }
      return response
    }
  }

  /// An audit event of this service at `now` by `caller`.
  func event(
    _ method: MethodDescriptor, by caller: Caller, at now: Date, subject: String,
    details: [String: String] = [:]
  ) -> AuditEvent {
    AuditEvent(
      id: newID(), time: now, actor: caller.actorID, action: method.path, subject: subject,
      outcome: .success, details: AuditEvent.json(details))
  }

  // MARK: WhoAmI, contacts

  public func whoAmI(request: Cassetto_Identity_V1_WhoAmIRequest, context: ServerContext)
    async throws -> Cassetto_Identity_V1_WhoAmIResponse
  {
    var response = Cassetto_Identity_V1_WhoAmIResponse()
    switch Caller.current {
    case .anonymous:
      throw AccessError.unauthenticated("sign in: this method requires a caller")
    case .service(let service):
      response.serviceName = service.name
      return response
    case .person(let person):
      let cf = person.codiceFiscale.value
      let (abilitazioni, roles, contacts, albo) = try await database.read { db in
        (
          try IdentityStore.activeAbilitazioni(of: cf, in: db),
          try IdentityStore.roles(of: cf, in: db),
          try IdentityStore.contacts(of: cf, in: db),
          try IdentityStore.activeAlboRegistrations(of: cf, in: db)
        )
      }
      response.fiscalCode = cf
      response.givenName = person.givenName ?? ""
      response.familyName = person.familyName ?? ""
      response.authMethod =
        switch person.method {
        case .spid: .spid
        case .cie: .cie
        case .cns: .cns
        }
      response.spidLevel = Int32(person.level)
      response.abilitazioni = abilitazioni
      response.operatorRoles = roles
      response.contacts = contacts
      response.alboRegistrations = albo
      return response
    }
  }

  public func updateContacts(
    request: Cassetto_Identity_V1_UpdateContactsRequest, context: ServerContext
  ) async throws -> Cassetto_Common_V1_Contacts {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let contacts = try AbilitazioneRules.validate(contacts: request.contacts)
    let requestID = try AbilitazioneRules.validate(requestID: request.requestId)
    let cf = person.codiceFiscale.value
    return try await mutate(Method.updateContacts, caller: caller, requestID: requestID) {
      db, now in
      try db.execute(
        """
        INSERT INTO identity_persons (fiscal_code, given_name, family_name, email, pec, mobile,
          updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (fiscal_code) DO UPDATE SET given_name = excluded.given_name,
          family_name = excluded.family_name, email = excluded.email, pec = excluded.pec,
          mobile = excluded.mobile, updated_at = excluded.updated_at
        """,
        [
          cf, person.givenName ?? "", person.familyName ?? "", contacts.email, contacts.pec,
          contacts.mobile, now,
        ])
      let set = [("email", contacts.email), ("pec", contacts.pec), ("mobile", contacts.mobile)]
        .filter { !$0.1.isEmpty }.map(\.0).joined(separator: ",")
      return (
        contacts,
        event(
          Method.updateContacts, by: caller, at: now, subject: "person:" + cf,
          details: ["set": set])
      )
    }
  }

  // MARK: Requests

  public func submitAbilitazioneRequest(
    request: Cassetto_Identity_V1_SubmitAbilitazioneRequestRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_AbilitazioneRequest {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let valid = try AbilitazioneRules.validate(request)
    let requestID = try AbilitazioneRules.validate(requestID: request.requestId)
    let cf = person.codiceFiscale.value
    let id = newID()
    return try await mutate(Method.submitAbilitazioneRequest, caller: caller, requestID: requestID)
    { db, now in
      let employer = valid.employer?.value ?? ""
      let pending = try db.queryFirst(
        """
        SELECT id FROM identity_abilitazione_requests WHERE requester_fiscal_code = ?
          AND form = ? AND sede_code = ? AND employer_fiscal_code = ? AND state = ?
        """,
        [
          cf, valid.form.rawValue, valid.sede.value, employer,
          Cassetto_Identity_V1_RequestState.pending.rawValue,
        ])
      if pending != nil {
        throw IdentityError.alreadyExists(
          "a request with the same form, sede and employer is already pending")
      }
      try db.execute(
        """
        INSERT INTO identity_abilitazione_requests (id, requester_fiscal_code, form, scopes,
          ra012_services, sede_code, employer_fiscal_code, state, submitted_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          id, cf, valid.form.rawValue, EnumList.encode(valid.scopes),
          EnumList.encode(valid.ra012Services), valid.sede.value, employer,
          Cassetto_Identity_V1_RequestState.pending.rawValue, now,
        ])
      guard let row = try IdentityStore.request(id: id, in: db) else {
        throw StorageError.corrupt("request vanished after it was written")
      }
      return (
        try Records.request(row),
        event(
          Method.submitAbilitazioneRequest, by: caller, at: now,
          subject: "abilitazione-request:" + id,
          details: ["form": String(valid.form.rawValue), "sede": valid.sede.value])
      )
    }
  }

  public func listAbilitazioneRequests(
    request: Cassetto_Identity_V1_ListAbilitazioneRequestsRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_ListAbilitazioneRequestsResponse {
    let person = try Caller.current.requirePerson()
    let cf = person.codiceFiscale.value
    var check = ViolationCollector()
    let state = try check { () throws(FieldViolation) in
      try validateEnum(request.state, field: "state", allowUnspecified: true)
    }
    let form = try check { () throws(FieldViolation) in
      try validateEnum(request.form, field: "form", allowUnspecified: true)
    }
    var sede: String? = nil
    if !request.sedeCode.isEmpty {
      sede = try check { () throws(FieldViolation) in
        try SedeCode(request.sedeCode, field: "sede_code").value
      }
    }
    let pageSize = try check { () throws(FieldViolation) in try PageToken.pageSize(request.pageSize)
    }
    try check.throwIfAny()
    let filter =
      "requests|\(request.asOperator)|\(cf)|\(sede ?? "")|\(state?.rawValue ?? 0)|\(form?.rawValue ?? 0)"
    let after = try PageToken.decode(request.pageToken, filter: filter)
    let limit = pageSize ?? PageToken.defaultPageSize
    let asOperator = request.asOperator
    let sedeFilter = sede
    let (rows, more) = try await database.read { db -> ([Row], Bool) in
      var sql = "SELECT * FROM identity_abilitazione_requests WHERE seq > ?"
      var arguments: [any SQLConvertible] = [after]
      if asOperator {
        let sedi = try IdentityStore.sedi(where: cf, holds: .operator, in: db)
        let scope: [String]
        if let sede = sedeFilter {
          guard sedi.contains(sede) else {
            throw AccessError.permissionDenied("not an operator of sede \(sede)")
          }
          scope = [sede]
        } else {
          guard !sedi.isEmpty else {
            throw AccessError.permissionDenied("not an operator of any sede")
          }
          scope = sedi.sorted()
        }
        sql +=
          " AND sede_code IN (\(Array(repeating: "?", count: scope.count).joined(separator: ", ")))"
        arguments += scope.map { $0 as any SQLConvertible }
      } else {
        sql += " AND requester_fiscal_code = ?"
        arguments.append(cf)
        if let sede = sedeFilter {
          sql += " AND sede_code = ?"
          arguments.append(sede)
        }
      }
      if let state, state != .unspecified {
        sql += " AND state = ?"
        arguments.append(state.rawValue)
      }
      if let form, form != .unspecified {
        sql += " AND form = ?"
        arguments.append(form.rawValue)
      }
      sql += " ORDER BY seq LIMIT ?"
      arguments.append(limit + 1)
      let rows = try db.query(sql, arguments)
      return (Array(rows.prefix(limit)), rows.count > limit)
    }
    var response = Cassetto_Identity_V1_ListAbilitazioneRequestsResponse()
    response.requests = try rows.map(Records.request)
    if more, let last = rows.last {
      response.nextPageToken = PageToken.encode(after: try last.int64("seq"), filter: filter)
    }
    return response
  }
}
