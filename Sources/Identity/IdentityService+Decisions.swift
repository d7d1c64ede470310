import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

extension IdentityService {
  /// Only an operator of the request's sede decides it (DOMAIN.md, Enablement), never their own
  /// request (design choice: segregation of duties). The requester sees the request and gets
  /// `PERMISSION_DENIED`; anyone else `NOT_FOUND`. Approval creates the enablement with the
  /// request's profile scopes (or RA012 services) in the same transaction as the decision and
  /// its audit event.
  public func decideAbilitazioneRequest(
    request: Cassetto_Identity_V1_DecideAbilitazioneRequestRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_AbilitazioneRequest {
    let caller = Caller.current
    let person = try caller.requirePerson()
    var check = ViolationCollector()
    if request.abilitazioneRequestId.isEmpty {
      check.add(field: "abilitazione_request_id", "the request to decide is required")
    }
    let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
    if !request.approve && reason.isEmpty {
      check.add(field: "reason", "a rejection needs a reason")
    }
    if reason.utf8.count > 1000 { check.add(field: "reason", "at most 1000 characters") }
    try check.throwIfAny()
    let requestID = try AbilitazioneRules.validate(requestID: request.requestId)
    let cf = person.codiceFiscale.value
    let id = request.abilitazioneRequestId
    let approve = request.approve
    let abilitazioneID = newID()
    return try await mutate(Method.decideAbilitazioneRequest, caller: caller, requestID: requestID)
    { db, now in
      guard let row = try IdentityStore.request(id: id, in: db) else {
        throw AccessError.notFound("abilitazione request \(id) not found")
      }
      let stored = try Records.request(row)
      let isOperator = try IdentityStore.holds(cf, .operator, at: stored.sedeCode, in: db)
      guard isOperator, stored.requesterFiscalCode != cf else {
        if stored.requesterFiscalCode == cf {
          throw AccessError.permissionDenied(
            "only another operator of sede \(stored.sedeCode) decides this request")
        }
        throw AccessError.notFound("abilitazione request \(id) not found")
      }
      guard stored.state == .pending else {
        throw IdentityError.failedPrecondition("the request was already decided")
      }
      var grantedID = ""
      if approve {
        let granted = try IdentityStore.insertAbilitazione(
          id: abilitazioneID, holder: stored.requesterFiscalCode, form: stored.form,
          scopes: stored.scopes, services: stored.ra012Services, sede: stored.sedeCode,
          employer: stored.employerFiscalCode, grantedAt: now, legacyID: nil,
          sourceRequestID: stored.id, in: db)
        grantedID = granted.id
      }
      let state: Cassetto_Identity_V1_RequestState = approve ? .approved : .rejected
      try db.execute(
        """
        UPDATE identity_abilitazione_requests SET state = ?, decided_at = ?, decided_by = ?,
          decision_reason = ?, abilitazione_id = ? WHERE id = ? AND state = ?
        """,
        [
          state.rawValue, now, cf, reason, grantedID, id,
          Cassetto_Identity_V1_RequestState.pending.rawValue,
        ])
      guard let updated = try IdentityStore.request(id: id, in: db) else {
        throw StorageError.corrupt("request vanished after it was decided")
      }
      var details = ["decision": approve ? "approved" : "rejected"]
      if approve { details["abilitazione"] = grantedID }
      return (
        try Records.request(updated),
        event(
          Method.decideAbilitazioneRequest, by: caller, at: now,
          subject: "abilitazione-request:" + id, details: details)
      )
    }
  }

  /// The caller's own enablements; an operator may name a person and sees that person's
  /// enablements at the sedi where the caller is an operator. Anyone else naming another
  /// person: `PERMISSION_DENIED`.
  public func listAbilitazioni(
    request: Cassetto_Identity_V1_ListAbilitazioniRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_ListAbilitazioniResponse {
    let person = try Caller.current.requirePerson()
    let cf = person.codiceFiscale.value
    var check = ViolationCollector()
    var holder = cf
    if !request.holderFiscalCode.isEmpty {
      holder =
        try check { () throws(FieldViolation) in
          try CodiceFiscale(person: request.holderFiscalCode, field: "holder_fiscal_code").value
        } ?? cf
    }
    let pageSize = try check { () throws(FieldViolation) in try PageToken.pageSize(request.pageSize)
    }
    try check.throwIfAny()
    let includeRevoked = request.includeRevoked
    let holderCode = holder
    let filter = "abilitazioni|\(cf)|\(holder)|\(includeRevoked)"
    let after = try PageToken.decode(request.pageToken, filter: filter)
    let limit = pageSize ?? PageToken.defaultPageSize
    let (rows, more) = try await database.read { db -> ([Row], Bool) in
      var sql = "SELECT * FROM identity_abilitazioni WHERE seq > ? AND holder_fiscal_code = ?"
      var arguments: [any SQLConvertible] = [after, holderCode]
      if holderCode != cf {
        let sedi = try IdentityStore.sedi(where: cf, holds: .operator, in: db).sorted()
        guard !sedi.isEmpty else {
          throw AccessError.permissionDenied("only operators list another person's enablements")
        }
        sql +=
          " AND sede_code IN (\(Array(repeating: "?", count: sedi.count).joined(separator: ", ")))"
        arguments += sedi.map { $0 as any SQLConvertible }
      }
      if !includeRevoked {
        sql += " AND state = ?"
        arguments.append(Cassetto_Identity_V1_AbilitazioneState.active.rawValue)
      }
      sql += " ORDER BY seq LIMIT ?"
      arguments.append(limit + 1)
      let rows = try db.query(sql, arguments)
      return (Array(rows.prefix(limit)), rows.count > limit)
    }
    var response = Cassetto_Identity_V1_ListAbilitazioniResponse()
    response.abilitazioni = try rows.map(Records.abilitazione)
    if more, let last = rows.last {
      response.nextPageToken = PageToken.encode(after: try last.int64("seq"), filter: filter)
    }
    return response
  }

  /// An operator of the enablement's sede revokes it. The holder sees it and gets
  /// `PERMISSION_DENIED`; anyone else `NOT_FOUND`; a revoked one `FAILED_PRECONDITION`.
  public func revokeAbilitazione(
    request: Cassetto_Identity_V1_RevokeAbilitazioneRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_Abilitazione {
    let caller = Caller.current
    let person = try caller.requirePerson()
    var check = ViolationCollector()
    if request.abilitazioneId.isEmpty {
      check.add(field: "abilitazione_id", "the enablement to revoke is required")
    }
    let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
    if reason.utf8.count > 1000 { check.add(field: "reason", "at most 1000 characters") }
    try check.throwIfAny()
    let requestID = try AbilitazioneRules.validate(requestID: request.requestId)
    let cf = person.codiceFiscale.value
    let id = request.abilitazioneId
    return try await mutate(Method.revokeAbilitazione, caller: caller, requestID: requestID) {
      db, now in
      guard let row = try IdentityStore.abilitazione(id: id, in: db) else {
        throw AccessError.notFound("abilitazione \(id) not found")
      }
      let stored = try Records.abilitazione(row)
      guard try IdentityStore.holds(cf, .operator, at: stored.sedeCode, in: db) else {
        if stored.holderFiscalCode == cf {
          throw AccessError.permissionDenied(
            "only an operator of sede \(stored.sedeCode) revokes an enablement")
        }
        throw AccessError.notFound("abilitazione \(id) not found")
      }
      guard stored.state == .active else {
        throw IdentityError.failedPrecondition("the enablement is already revoked")
      }
      try db.execute(
        """
        UPDATE identity_abilitazioni SET state = ?, revoked_at = ?, revoked_by = ?,
          revoke_reason = ? WHERE id = ?
        """,
        [Cassetto_Identity_V1_AbilitazioneState.revoked.rawValue, now, cf, reason, id])
      guard let updated = try IdentityStore.abilitazione(id: id, in: db) else {
        throw StorageError.corrupt("abilitazione vanished after it was revoked")
      }
      return (
        try Records.abilitazione(updated),
        event(
          Method.revokeAbilitazione, by: caller, at: now, subject: "abilitazione:" + id,
          details: ["holder": stored.holderFiscalCode, "reason": reason])
      )
    }
  }

  // MARK: Operator roles

  /// Validated `(person, sede, role)` of a grant or revocation.
  private func roleTarget(fiscalCode: String, sedeCode: String, role: Cassetto_Identity_V1_Role)
    throws -> (String, String, Cassetto_Identity_V1_Role)
  {
    var check = ViolationCollector()
    let target = try check { () throws(FieldViolation) in
      try CodiceFiscale(person: fiscalCode, field: "fiscal_code").value
    }
    let sede = try check { () throws(FieldViolation) in
      try SedeCode(sedeCode, field: "sede_code").value
    }
    let role = try check { () throws(FieldViolation) in try validateEnum(role, field: "role") }
    try check.throwIfAny()
    guard let target, let sede, let role else { throw ValidationError([]) }
    return (target, sede, role)
  }

  /// Only the IDM manager of the sede (gestore IDM di Sede) grants operator and IDM-manager
  /// roles there, and never to themselves (design choice); an active role:
  /// `ALREADY_EXISTS`.
  public func grantOperatorRole(
    request: Cassetto_Identity_V1_GrantOperatorRoleRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_OperatorRole {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let (target, sede, role) = try roleTarget(
      fiscalCode: request.fiscalCode, sedeCode: request.sedeCode, role: request.role)
    let requestID = try AbilitazioneRules.validate(requestID: request.requestId)
    let cf = person.codiceFiscale.value
    return try await mutate(Method.grantOperatorRole, caller: caller, requestID: requestID) {
      db, now in
      guard try IdentityStore.holds(cf, .idmManager, at: sede, in: db) else {
        throw AccessError.permissionDenied(
          "only the IDM manager of sede \(sede) grants roles there")
      }
      guard target != cf else {
        throw AccessError.permissionDenied("an IDM manager does not grant roles to themselves")
      }
      if try IdentityStore.holds(target, role, at: sede, in: db) {
        throw IdentityError.alreadyExists("the person already holds this role at sede \(sede)")
      }
      let granted = try IdentityStore.grant(target, role, at: sede, by: cf, now: now, in: db)
      return (
        granted,
        event(
          Method.grantOperatorRole, by: caller, at: now, subject: "person:" + target,
          details: ["sede": sede, "role": String(role.rawValue)])
      )
    }
  }

  /// Only the IDM manager of the sede revokes roles there; a role that is not active:
  /// `NOT_FOUND`; the last IDM manager of a sede stays (`FAILED_PRECONDITION`), so a sede is
  /// never left without one.
  public func revokeOperatorRole(
    request: Cassetto_Identity_V1_RevokeOperatorRoleRequest, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_OperatorRole {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let (target, sede, role) = try roleTarget(
      fiscalCode: request.fiscalCode, sedeCode: request.sedeCode, role: request.role)
    let requestID = try AbilitazioneRules.validate(requestID: request.requestId)
    let cf = person.codiceFiscale.value
    return try await mutate(Method.revokeOperatorRole, caller: caller, requestID: requestID) {
      db, now in
      guard try IdentityStore.holds(cf, .idmManager, at: sede, in: db) else {
        throw AccessError.permissionDenied(
          "only the IDM manager of sede \(sede) revokes roles there")
      }
      guard try IdentityStore.holds(target, role, at: sede, in: db) else {
        throw AccessError.notFound("no active role of that person at sede \(sede)")
      }
      if role == .idmManager {
        let managers = try db.query(
          """
          SELECT fiscal_code FROM identity_operator_roles WHERE sede_code = ? AND role = ?
            AND active = 1
          """, [sede, role.rawValue])
        guard managers.count > 1 else {
          throw IdentityError.failedPrecondition("the last IDM manager of a sede stays")
        }
      }
      try db.execute(
        """
        UPDATE identity_operator_roles SET active = 0, revoked_at = ?
        WHERE fiscal_code = ? AND sede_code = ? AND role = ?
        """, [now, target, sede, role.rawValue])
      guard let row = try IdentityStore.role(target, role, at: sede, in: db) else {
        throw StorageError.corrupt("operator role vanished after it was revoked")
      }
      return (
        try Records.role(row),
        event(
          Method.revokeOperatorRole, by: caller, at: now, subject: "person:" + target,
          details: ["sede": sede, "role": String(role.rawValue)])
      )
    }
  }
}
