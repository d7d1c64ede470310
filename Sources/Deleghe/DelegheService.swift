import Access
import Contracts
import Foundation
import RPC
import Security
import Storage
import Validation

typealias Method = Cassetto_Deleghe_V1_Deleghe.Method

/// `cassetto.deleghe.v1.Deleghe`: deleghe a dipendente, a intermediario (OTP by PEC),
/// sub-deleghe, revocation, and `CheckAccess` over the one ``Authorizer``.
///
/// State machine (DOMAIN.md, "Delega states"); every refused transition is
/// `DelegheError.failedPrecondition`:
///
/// | from | RPC | to |
/// |---|---|---|
/// | — | CreateDelegaDipendente, CreateSubdelega | DA_ATTIVARE |
/// | — | RequestDelegaIntermediario | IN_ATTESA_OTP (PEC with the OTP in the outbox) |
/// | DA_ATTIVARE | ActivateDelega | ATTIVA from max(next day in Europe/Rome, decorrenza) |
/// | IN_ATTESA_OTP | ConfirmDelegaOtp (right OTP + declaration) | ATTIVA from max(today, decorrenza) |
/// | IN_ATTESA_OTP | ConfirmDelegaOtp (5th wrong OTP) | BLOCCATA |
/// | IN_ATTESA_OTP | the clock (OTP expired) | SCADUTA |
/// | ATTIVA | the clock (past end_date) | SCADUTA |
/// | DA_ATTIVARE, IN_ATTESA_OTP, ATTIVA | RevokeDelega by delegant / delegate | REVOCATA / RINUNCIATA (+ sub-deleghe REVOCATA) |
///
/// Every mutation runs in one write transaction with its audit event and, with a
/// `request_id`, its idempotency record. A wrong OTP is refused *after* its attempt counter
/// and audit event commit (the check and the count are one transaction).
public struct DelegheService: Cassetto_Deleghe_V1_DelegheHandler {
  let database: any Database
  let clock: any CallClock
  let authorizer: Authorizer
  let otpKey: [UInt8]
  let otpPolicy: OTPPolicy
  let newID: @Sendable () -> String
  let newOTP: @Sendable (Int) -> String

  public init(
    database: any Database, clock: any CallClock, authorizer: Authorizer, otpKey: [UInt8],
    otpPolicy: OTPPolicy = OTPPolicy(),
    newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() },
    newOTP: @escaping @Sendable (Int) -> String = { SecureRandom.digits($0) }
  ) {
    self.database = database
    self.clock = clock
    self.authorizer = authorizer
    self.otpKey = otpKey
    self.otpPolicy = otpPolicy
    self.newID = newID
    self.newOTP = newOTP
  }

  var positions: any PositionDirectory { authorizer.positions }

  /// The outcome of a write body: a response to commit, or a refusal to throw after the
  /// commit (so counters and audit of the refusal persist).
  enum Outcome: Sendable {
    case done(DelegaMessage, AuditEvent)
    case refuse(DelegheError, AuditEvent)
  }

  /// Runs `body` in one write transaction with its audit event and idempotency record.
  func mutate(
    _ method: MethodDescriptor, caller: Caller, requestID: String,
    _ body: @escaping @Sendable (any WriteContext, Date) throws -> Outcome
  ) async throws -> DelegaMessage {
    let now = clock.now()
    let actor = caller.actorID
    let result: Result<DelegaMessage, DelegheError> = try await database.write { db in
      if !requestID.isEmpty,
        let first = try Idempotency.lookup(
          caller: actor, method: method.path, requestID: requestID, in: db)
      {
        return .success(try DelegaMessage(serializedBytes: first))
      }
      switch try body(db, now) {
      case .done(let response, let event):
        try AuditLog.append(event, in: db)
        if !requestID.isEmpty {
          try Idempotency.store(
            caller: actor, method: method.path, requestID: requestID,
            response: response.serializedBytes(), at: now, in: db)
        }
        return .success(response)
      case .refuse(let error, let event):
        try AuditLog.append(event, in: db)
        return .failure(error)
      }
    }
    return try result.get()
  }

  func event(
    _ method: MethodDescriptor, by caller: Caller, at now: Date, delega id: String,
    outcome: AuditOutcome = .success, details: [String: String] = [:]
  ) -> AuditEvent {
    AuditEvent(
      id: newID(), time: now, actor: caller.actorID, action: method.path,
      subject: "delega:" + id, outcome: outcome, details: AuditEvent.json(details))
  }

  // MARK: Validation helpers

  static func requestID(_ text: String) throws -> String {
    guard text.utf8.count <= 128 else {
      throw ValidationError.field("request_id", "at most 128 bytes")
    }
    return text
  }

  static func date(_ value: Google_Type_Date?, field: String, required: Bool) throws
    -> CalendarDate?
  {
    guard let value, value.year != 0 || value.month != 0 || value.day != 0 else {
      if required { throw ValidationError.field(field, "a date is required") }
      return nil
    }
    do {
      return try CalendarDate(
        year: Int(value.year), month: Int(value.month), day: Int(value.day), field: field)
    } catch {
      throw ValidationError([error])
    }
  }

  static func fiscalCode(_ text: String, field: String) throws -> String {
    do { return try CodiceFiscale(text, field: field).value } catch {
      throw ValidationError([error])
    }
  }

  /// The position named by `scope` (nil for all positions), checked against the subject.
  func target(_ scope: Cassetto_Deleghe_V1_DelegaScope?, subject: String) async throws
    -> String?
  {
    switch scope?.target {
    case .matricola(let matricola)?:
      guard let position = try await positions.position(matricola: matricola),
        position.subjectFiscalCode == subject
      else {
        throw ValidationError.field(
          "scope.matricola", "not a position of subject \(subject)")
      }
      return matricola
    case .allPositions(true)?:
      return nil
    default:
      throw ValidationError.field("scope", "name one position or all_positions")
    }
  }

  // MARK: Delega a dipendente

  public func createDelegaDipendente(
    request: Cassetto_Deleghe_V1_CreateDelegaDipendenteRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    let subjectCode = try Self.fiscalCode(request.subjectFiscalCode, field: "subject_fiscal_code")
    let delegate = try Self.fiscalCode(
      request.delegate?.fiscalCode ?? "", field: "delegate.fiscal_code")
    guard let decorrenza = try Self.date(request.decorrenza, field: "decorrenza", required: true)
    else { throw ValidationError.field("decorrenza", "a date is required") }
    let endDate = try Self.date(request.endDate, field: "end_date", required: false)
    if let endDate, endDate < decorrenza {
      throw ValidationError.field("end_date", "must not be before decorrenza")
    }
    guard let subject = try await positions.subject(fiscalCode: subjectCode),
      subject.isOwner(cf)
    else { throw AccessError.notFound("no such subject") }
    if delegate == cf {
      throw ValidationError.field("delegate.fiscal_code", "a person cannot delegate itself")
    }
    let matricola = try await target(request.scope, subject: subjectCode)
    let id = newID()
    let party = request.delegate ?? Cassetto_Deleghe_V1_Party()
    let person = caller.person
    return try await mutate(Method.createDelegaDipendente, caller: caller, requestID: requestID) {
      db, now in
      try db.execute(
        """
        INSERT INTO deleghe_deleghe (id, kind, state, subject_fiscal_code, matricola,
          delegant_fiscal_code, delegant_given_name, delegant_family_name, delegate_fiscal_code,
          delegate_given_name, delegate_family_name, decorrenza, end_date, created_by, created_at,
          retention_end)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          id, Kind.dipendente.rawValue, State.daAttivare.rawValue, subjectCode, matricola ?? "",
          cf, person?.givenName ?? "", person?.familyName ?? "", delegate, party.givenName,
          party.familyName, decorrenza.description, endDate?.description, caller.actorID, now,
          endDate?.adding(years: 5).description,
        ])
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(row),
        event(
          Method.createDelegaDipendente, by: caller, at: now, delega: id,
          details: [
            "subject": subjectCode, "matricola": matricola ?? "*", "delegate": delegate,
          ]))
    }
  }

  public func activateDelega(
    request: Cassetto_Deleghe_V1_ActivateDelegaRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    guard
      let current = try await database.read({ db in try DelegheStore.row(id: request.id, in: db) })
    else { throw AccessError.notFound("no such delega") }
    let subjectCode = try current.string("subject_fiscal_code")
    let owner = try await positions.subject(fiscalCode: subjectCode)?.isOwner(cf) ?? false
    let isDelegant = try current.string("delegant_fiscal_code") == cf
    let kind = try DelegheStore.kind(current)
    let mayActivate = kind == .subdelega ? isDelegant : (isDelegant || owner)
    guard mayActivate else {
      if try current.string("delegate_fiscal_code") == cf {
        throw AccessError.permissionDenied("only the delegant activates a delega")
      }
      throw AccessError.notFound("no such delega")
    }
    let id = request.id
    return try await mutate(Method.activateDelega, caller: caller, requestID: requestID) {
      db, now in
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw AccessError.notFound("no such delega")
      }
      let state = try DelegheStore.state(row)
      guard state == .daAttivare else {
        return .refuse(
          .failedPrecondition("a delega in state \(state) cannot be activated"),
          event(
            Method.activateDelega, by: caller, at: now, delega: id, outcome: .rejected,
            details: ["state": "\(state)"]))
      }
      let decorrenza = CalendarDate(stored: try row.string("decorrenza")) ?? CalendarDate.of(now)
      let from = max(CalendarDate.of(now).nextDay, decorrenza)
      if let end = CalendarDate(stored: try row.optionalString("end_date")), end < from {
        return .refuse(
          .failedPrecondition("the delega would end (\(end)) before it starts (\(from))"),
          event(Method.activateDelega, by: caller, at: now, delega: id, outcome: .rejected))
      }
      if try DelegheStore.kind(row) == .subdelega {
        let parentID = try row.string("parent_id")
        guard let parent = try DelegheStore.row(id: parentID, in: db),
          try DelegheStore.state(parent) == .attiva
        else {
          return .refuse(
            .failedPrecondition("the parent delega is not active"),
            event(Method.activateDelega, by: caller, at: now, delega: id, outcome: .rejected))
        }
      }
      try db.execute(
        "UPDATE deleghe_deleghe SET state = ?, effective_from = ?, activated_at = ? WHERE id = ?",
        [State.attiva.rawValue, from.description, now, id])
      guard let updated = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(updated),
        event(
          Method.activateDelega, by: caller, at: now, delega: id,
          details: ["effective_from": from.description]))
    }
  }

  // MARK: Delega a intermediario

  static let pecSubjectPrefix = "Comunicazione inserimento richiesta nuova delega per la posizione "

  func otpMessage(
    delega id: String, to pec: String, matricola: String, subject: SubjectInfo,
    intermediaryName name: String, intermediaryCode cf: String, otp: String,
    expires: Date
  ) -> OutboxMessage {
    let intermediary = name.isEmpty ? cf : "\(name) (\(cf))"
    let body = """
      Gentile \(subject.name),

      l'intermediario \(intermediary) ha inserito una richiesta di delega per la posizione \
      \(matricola) del soggetto \(subject.fiscalCode).

      Riferimento richiesta: \(id)
      Codice OTP: \(otp)

      Comunicare il codice all'intermediario solo dopo aver firmato il modulo di delega.
      Il codice scade il \(ISO8601DateFormatter().string(from: expires)).
      """
    return OutboxMessage(
      channel: .pec, recipient: pec, subject: Self.pecSubjectPrefix + matricola, body: body)
  }

  public func requestDelegaIntermediario(
    request: Cassetto_Deleghe_V1_RequestDelegaIntermediarioRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let cf = person.codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    let subjectCode = try Self.fiscalCode(request.subjectFiscalCode, field: "subject_fiscal_code")
    let delegant = try Self.fiscalCode(
      request.delegant?.fiscalCode ?? "", field: "delegant.fiscal_code")
    guard let decorrenza = try Self.date(request.decorrenza, field: "decorrenza", required: true)
    else { throw ValidationError.field("decorrenza", "a date is required") }
    let endDate = try Self.date(request.endDate, field: "end_date", required: false)
    if let endDate, endDate < decorrenza {
      throw ValidationError.field("end_date", "must not be before decorrenza")
    }
    guard try await authorizer.enablements.enablements(of: cf).activeAlbo else {
      throw AccessError.permissionDenied(
        "only an intermediary with an active albo registration may request a delega")
    }
    guard let subject = try await positions.subject(fiscalCode: subjectCode) else {
      throw AccessError.notFound("no such subject")
    }
    guard subject.isOwner(delegant) else {
      throw ValidationError.field(
        "delegant.fiscal_code",
        "not the legal representative or altro responsabile of the subject")
    }
    guard let pec = subject.pec, !pec.isEmpty else {
      throw DelegheError.failedPrecondition("the subject has no PEC address to send the OTP to")
    }
    let matricola = try await target(request.scope, subject: subjectCode)
    let notified: String
    if let matricola {
      notified = matricola
    } else {
      notified =
        try await positions.positions(ofSubject: subjectCode).map(\.matricola).sorted().first
        ?? subjectCode
    }
    let id = newID()
    let otp = newOTP(otpPolicy.digits)
    let hash = OTPKey.hash(otp, key: otpKey)
    let party = request.delegant ?? Cassetto_Deleghe_V1_Party()
    let policy = otpPolicy
    let name = [person.givenName, person.familyName].compactMap { $0 }.joined(separator: " ")
    return try await mutate(
      Method.requestDelegaIntermediario, caller: caller, requestID: requestID
    ) { db, now in
      let expires = now.addingTimeInterval(policy.validity)
      try db.execute(
        """
        INSERT INTO deleghe_deleghe (id, kind, state, subject_fiscal_code, matricola,
          delegant_fiscal_code, delegant_given_name, delegant_family_name, delegate_fiscal_code,
          delegate_given_name, delegate_family_name, decorrenza, end_date, created_by, created_at,
          otp_hash, otp_expires_at, otp_sent_at, otp_sends_day, otp_sends_count, retention_end,
          notified_matricola)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
        """,
        [
          id, Kind.intermediario.rawValue, State.inAttesaOtp.rawValue, subjectCode,
          matricola ?? "", delegant, party.givenName, party.familyName, cf,
          person.givenName ?? "", person.familyName ?? "", decorrenza.description,
          endDate?.description, caller.actorID, now, hash, expires, now,
          CalendarDate.of(now).description, endDate?.adding(years: 5).description, notified,
        ])
      try Outbox.enqueue(
        otpMessage(
          delega: id, to: pec, matricola: notified, subject: subject,
          intermediaryName: name, intermediaryCode: cf, otp: otp, expires: expires),
        at: now, in: db)
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(row),
        event(
          Method.requestDelegaIntermediario, by: caller, at: now, delega: id,
          details: ["subject": subjectCode, "matricola": matricola ?? "*", "pec": pec]))
    }
  }

  public func getDelegaForm(
    request: Cassetto_Deleghe_V1_GetDelegaFormRequest,
    responses: ResponseWriter<Cassetto_Deleghe_V1_DelegaFormChunk>, context: ServerContext
  ) async throws {
    let cf = try Caller.current.requirePerson().codiceFiscale.value
    let now = clock.now()
    guard let row = try await database.read({ db in try DelegheStore.row(id: request.id, in: db) })
    else { throw AccessError.notFound("no such delega") }
    let message = try DelegheStore.message(row)
    let subject = try await positions.subject(fiscalCode: message.subjectFiscalCode)
    // The intermediary of the delega and the subject's owner (legal representative or altro
    // responsabile, who is the delegant) may print it; anyone else: NOT_FOUND.
    let isDelegate = message.delegate?.fiscalCode == cf
    let isOwner = message.delegant?.fiscalCode == cf || (subject?.isOwner(cf) ?? false)
    guard isDelegate || isOwner else { throw AccessError.notFound("no such delega") }
    guard message.kind == .intermediario else {
      throw DelegheError.failedPrecondition(
        "only a delega a intermediario has a printable form (this one is \(message.kind))")
    }
    let delegate = message.delegate ?? Cassetto_Deleghe_V1_Party()
    let delegant = message.delegant ?? Cassetto_Deleghe_V1_Party()
    let entries = try await authorizer.enablements.enablements(of: delegate.fiscalCode)
      .alboEntries
    let albo =
      entries.isEmpty
      ? "nessuna iscrizione attiva alla data di produzione"
      : entries.map { "\($0.albo), ordine di \($0.ordine), iscrizione n. \($0.registrationNumber)" }
        .joined(separator: "; ")
    func name(_ p: Cassetto_Deleghe_V1_Party) -> String {
      let n = [p.givenName, p.familyName].filter { !$0.isEmpty }.joined(separator: " ")
      return n.isEmpty ? p.fiscalCode : n
    }
    var intermediaryName = name(delegate)
    if intermediaryName == delegate.fiscalCode, let entry = entries.first {
      let n = [entry.givenName, entry.familyName].filter { !$0.isEmpty }.joined(separator: " ")
      if !n.isEmpty { intermediaryName = n }
    }
    func day(_ d: Google_Type_Date?) -> String {
      guard let d, d.year > 0 else { return "" }
      return String(format: "%02d/%02d/%04d", d.day, d.month, d.year)
    }
    let positionsText: String
    if case .matricola(let m)? = message.scope?.target {
      positionsText = "posizione con matricola \(m)"
    } else {
      let all = try await positions.positions(ofSubject: message.subjectFiscalCode)
        .map(\.matricola).sorted()
      positionsText =
        "tutte le posizioni del soggetto"
        + (all.isEmpty ? "" : " (ad oggi: \(all.joined(separator: ", ")))")
    }
    let rome = TimeZone(identifier: "Europe/Rome") ?? .gmt
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "it_IT")
    formatter.timeZone = rome
    formatter.dateFormat = "dd/MM/yyyy HH:mm"
    let form = DelegaFormPDF(
      delegaID: message.id,
      intermediary: .init(name: intermediaryName, fiscalCode: delegate.fiscalCode), albo: albo,
      subject: .init(
        name: subject?.name ?? message.subjectFiscalCode,
        fiscalCode: message.subjectFiscalCode),
      legalRepresentative: .init(name: name(delegant), fiscalCode: delegant.fiscalCode),
      positions: positionsText, decorrenza: day(message.decorrenza),
      endDate: message.endDate.map { day($0) } ?? "a tempo indeterminato (fino a revoca)",
      producedAt: formatter.string(from: now) + " (ora di Roma)")
    // A one-page form renders in a few milliseconds; it runs inline.
    let pdf = try form.render()
    var offset = 0
    while offset < pdf.count {
      let end = min(offset + Self.formChunkSize, pdf.count)
      var chunk = Cassetto_Deleghe_V1_DelegaFormChunk()
      chunk.data = Array(pdf[offset..<end])
      if offset == 0 { chunk.contentType = "application/pdf" }
      try await responses.write(chunk)
      offset = end
    }
  }

  /// Largest `DelegaFormChunk.data`.
  static let formChunkSize = 64 * 1024

  /// The intermediary's pending delega `id`, or NOT_FOUND / PERMISSION_DENIED.
  func pendingAsDelegate(_ id: String, cf: String) async throws {
    guard let row = try await database.read({ db in try DelegheStore.row(id: id, in: db) })
    else { throw AccessError.notFound("no such delega") }
    guard try row.string("delegate_fiscal_code") == cf,
      try DelegheStore.kind(row) == .intermediario
    else {
      if try row.string("delegant_fiscal_code") == cf {
        throw AccessError.permissionDenied("only the intermediary confirms the OTP")
      }
      throw AccessError.notFound("no such delega")
    }
  }

  public func confirmDelegaOtp(
    request: Cassetto_Deleghe_V1_ConfirmDelegaOtpRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    var violations: [FieldViolation] = []
    if request.otp.isEmpty || request.otp.utf8.count > 32 {
      violations.append(FieldViolation(field: "otp", description: "the OTP from the PEC"))
    }
    if !request.signatureDeclared {
      violations.append(
        FieldViolation(
          field: "signature_declared",
          description: "declare that the delegant signed the delega form"))
    }
    if !violations.isEmpty { throw ValidationError(violations) }
    try await pendingAsDelegate(request.id, cf: cf)
    let id = request.id
    let given = OTPKey.hash(request.otp, key: otpKey)
    let policy = otpPolicy
    return try await mutate(Method.confirmDelegaOtp, caller: caller, requestID: requestID) {
      db, now in
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw AccessError.notFound("no such delega")
      }
      func refuse(_ error: DelegheError, _ outcome: AuditOutcome, _ why: String) -> Outcome {
        .refuse(
          error,
          event(
            Method.confirmDelegaOtp, by: caller, at: now, delega: id, outcome: outcome,
            details: ["why": why]))
      }
      let state = try DelegheStore.state(row)
      guard state == .inAttesaOtp else {
        return refuse(
          .failedPrecondition("a delega in state \(state) cannot be confirmed"), .rejected,
          "state")
      }
      if let expires = try row.optionalDate("otp_expires_at"), expires <= now {
        _ = try DelegheStore.end(
          id: id, state: .scaduta, by: "system", reason: "OTP expired", now: now, in: db)
        return refuse(
          .failedPrecondition("the OTP expired: the request is SCADUTA"), .rejected, "expired")
      }
      let stored = try row.optionalBytes("otp_hash") ?? []
      guard constantTimeEqual(stored, given) else {
        let failed = try row.int("otp_failed_attempts") + 1
        if failed >= policy.maxAttempts {
          try db.execute(
            "UPDATE deleghe_deleghe SET otp_failed_attempts = ? WHERE id = ?", [failed, id])
          _ = try DelegheStore.end(
            id: id, state: .bloccata, by: "system", reason: "OTP attempts exhausted", now: now,
            in: db)
          return refuse(
            .resourceExhausted("too many wrong OTPs: the request is BLOCCATA"), .denied,
            "blocked")
        }
        try db.execute(
          "UPDATE deleghe_deleghe SET otp_failed_attempts = ? WHERE id = ?", [failed, id])
        return refuse(
          .failedPrecondition(
            "wrong OTP; \(policy.maxAttempts - failed) attempts left"), .denied, "wrong OTP")
      }
      let decorrenza = CalendarDate(stored: try row.string("decorrenza")) ?? CalendarDate.of(now)
      let from = max(CalendarDate.of(now), decorrenza)
      if let end = CalendarDate(stored: try row.optionalString("end_date")), end < from {
        return refuse(
          .failedPrecondition("the delega would end (\(end)) before it starts (\(from))"),
          .rejected, "ended")
      }
      try db.execute(
        """
        UPDATE deleghe_deleghe SET state = ?, effective_from = ?, activated_at = ?,
          otp_hash = NULL, signature_declared = 1, signature_declared_at = ?
        WHERE id = ?
        """, [State.attiva.rawValue, from.description, now, now, id])
      guard let updated = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(updated),
        event(
          Method.confirmDelegaOtp, by: caller, at: now, delega: id,
          details: ["effective_from": from.description, "signature_declared": "true"]))
    }
  }

  public func resendDelegaOtp(
    request: Cassetto_Deleghe_V1_ResendDelegaOtpRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let cf = person.codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    try await pendingAsDelegate(request.id, cf: cf)
    guard
      let current = try await database.read({ db in try DelegheStore.row(id: request.id, in: db) }),
      let subject = try await positions.subject(
        fiscalCode: try current.string("subject_fiscal_code")),
      let pec = subject.pec, !pec.isEmpty
    else { throw DelegheError.failedPrecondition("the subject has no PEC address") }
    let id = request.id
    let otp = newOTP(otpPolicy.digits)
    let hash = OTPKey.hash(otp, key: otpKey)
    let policy = otpPolicy
    let name = [person.givenName, person.familyName].compactMap { $0 }.joined(separator: " ")
    return try await mutate(Method.resendDelegaOtp, caller: caller, requestID: requestID) {
      db, now in
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw AccessError.notFound("no such delega")
      }
      let state = try DelegheStore.state(row)
      guard state == .inAttesaOtp else {
        return .refuse(
          .failedPrecondition("a delega in state \(state) has no OTP to resend"),
          event(Method.resendDelegaOtp, by: caller, at: now, delega: id, outcome: .rejected))
      }
      if let expires = try row.optionalDate("otp_expires_at"), expires <= now {
        _ = try DelegheStore.end(
          id: id, state: .scaduta, by: "system", reason: "OTP expired", now: now, in: db)
        return .refuse(
          .failedPrecondition("the OTP expired: the request is SCADUTA"),
          event(Method.resendDelegaOtp, by: caller, at: now, delega: id, outcome: .rejected))
      }
      if let sent = try row.optionalDate("otp_sent_at"),
        now.timeIntervalSince(sent) < policy.resendInterval
      {
        return .refuse(
          .resourceExhausted(
            "an OTP was sent less than \(Int(policy.resendInterval)) s ago; retry later"),
          event(Method.resendDelegaOtp, by: caller, at: now, delega: id, outcome: .denied))
      }
      let today = CalendarDate.of(now).description
      let sendsToday =
        try row.string("otp_sends_day") == today ? try row.int("otp_sends_count") : 0
      if sendsToday >= policy.maxSendsPerDay {
        return .refuse(
          .resourceExhausted("at most \(policy.maxSendsPerDay) OTPs a day; retry tomorrow"),
          event(Method.resendDelegaOtp, by: caller, at: now, delega: id, outcome: .denied))
      }
      let expires = now.addingTimeInterval(policy.validity)
      try db.execute(
        """
        UPDATE deleghe_deleghe SET otp_hash = ?, otp_expires_at = ?, otp_sent_at = ?,
          otp_sends_day = ?, otp_sends_count = ?, otp_failed_attempts = 0 WHERE id = ?
        """, [hash, expires, now, today, sendsToday + 1, id])
      let matricola = try row.string("notified_matricola")
      try Outbox.enqueue(
        otpMessage(
          delega: id, to: pec, matricola: matricola, subject: subject,
          intermediaryName: name, intermediaryCode: cf, otp: otp, expires: expires),
        at: now, in: db)
      guard let updated = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(updated),
        event(Method.resendDelegaOtp, by: caller, at: now, delega: id))
    }
  }

  // MARK: Sub-delega

  public func createSubdelega(
    request: Cassetto_Deleghe_V1_CreateSubdelegaRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let cf = person.codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    let delegate = try Self.fiscalCode(
      request.delegate?.fiscalCode ?? "", field: "delegate.fiscal_code")
    guard let decorrenza = try Self.date(request.decorrenza, field: "decorrenza", required: true)
    else { throw ValidationError.field("decorrenza", "a date is required") }
    var endDate = try Self.date(request.endDate, field: "end_date", required: false)
    guard
      let parent = try await database.read({ db in
        try DelegheStore.row(id: request.parentId, in: db)
      }),
      try parent.string("delegate_fiscal_code") == cf
    else { throw AccessError.notFound("no such delega") }
    if delegate == cf {
      throw ValidationError.field("delegate.fiscal_code", "a person cannot delegate itself")
    }
    let subjectCode = try parent.string("subject_fiscal_code")
    let parentMatricola = try parent.string("matricola")
    var matricola: String? = nil
    if request.scope?.target != nil {
      matricola = try await target(request.scope, subject: subjectCode)
    } else if !parentMatricola.isEmpty {
      matricola = parentMatricola
    }
    if !parentMatricola.isEmpty && matricola != parentMatricola {
      throw ValidationError.field("scope", "exceeds the positions of the parent delega")
    }
    let parentEffective = CalendarDate(stored: try parent.optionalString("effective_from"))
    let parentDecorrenza = CalendarDate(stored: try parent.string("decorrenza"))
    let parentFrom = parentEffective ?? parentDecorrenza
    if let parentFrom, decorrenza < parentFrom {
      throw ValidationError.field(
        "decorrenza", "must not be before the parent delega starts (\(parentFrom))")
    }
    if let parentEnd = CalendarDate(stored: try parent.optionalString("end_date")) {
      if let end = endDate, end > parentEnd {
        throw ValidationError.field(
          "end_date", "must not be after the parent delega ends (\(parentEnd))")
      }
      endDate = endDate ?? parentEnd
    }
    if let endDate, endDate < decorrenza {
      throw ValidationError.field("end_date", "must not be before decorrenza")
    }
    let id = newID()
    let parentID = request.parentId
    let party = request.delegate ?? Cassetto_Deleghe_V1_Party()
    let end = endDate
    let target = matricola
    return try await mutate(Method.createSubdelega, caller: caller, requestID: requestID) {
      db, now in
      guard let parent = try DelegheStore.row(id: parentID, in: db) else {
        throw AccessError.notFound("no such delega")
      }
      let state = try DelegheStore.state(parent)
      guard try DelegheStore.kind(parent) == .intermediario, state == .attiva else {
        return .refuse(
          .failedPrecondition(
            "sub-deleghe live only under an ATTIVA delega a intermediario (this one is \(state))"
          ),
          event(
            Method.createSubdelega, by: caller, at: now, delega: parentID, outcome: .rejected))
      }
      try db.execute(
        """
        INSERT INTO deleghe_deleghe (id, kind, state, subject_fiscal_code, matricola,
          delegant_fiscal_code, delegant_given_name, delegant_family_name, delegate_fiscal_code,
          delegate_given_name, delegate_family_name, parent_id, decorrenza, end_date, created_by,
          created_at, retention_end)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
          id, Kind.subdelega.rawValue, State.daAttivare.rawValue, subjectCode, target ?? "", cf,
          person.givenName ?? "", person.familyName ?? "", delegate, party.givenName,
          party.familyName, parentID, decorrenza.description, end?.description, caller.actorID,
          now, end?.adding(years: 5).description,
        ])
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(row),
        event(
          Method.createSubdelega, by: caller, at: now, delega: id,
          details: ["parent": parentID, "delegate": delegate, "matricola": target ?? "*"]))
    }
  }

  // MARK: Revocation

  public func revokeDelega(
    request: Cassetto_Deleghe_V1_RevokeDelegaRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    let requestID = try Self.requestID(request.requestId)
    guard request.reason.utf8.count <= 500 else {
      throw ValidationError.field("reason", "at most 500 bytes")
    }
    guard
      let current = try await database.read({ db in try DelegheStore.row(id: request.id, in: db) })
    else { throw AccessError.notFound("no such delega") }
    let kind = try DelegheStore.kind(current)
    let isDelegant = try current.string("delegant_fiscal_code") == cf
    let isDelegate = try current.string("delegate_fiscal_code") == cf
    var owner = false
    if kind != .subdelega {
      let subjectCode = try current.string("subject_fiscal_code")
      owner = try await positions.subject(fiscalCode: subjectCode)?.isOwner(cf) ?? false
    }
    let newState: State
    if isDelegant || owner {
      newState = .revocata
    } else if isDelegate {
      newState = .rinunciata
    } else {
      throw AccessError.notFound("no such delega")
    }
    let id = request.id
    let reason = request.reason
    return try await mutate(Method.revokeDelega, caller: caller, requestID: requestID) {
      db, now in
      guard let row = try DelegheStore.row(id: id, in: db) else {
        throw AccessError.notFound("no such delega")
      }
      let state = try DelegheStore.state(row)
      guard [.daAttivare, .inAttesaOtp, .attiva].contains(state) else {
        return .refuse(
          .failedPrecondition("a delega in state \(state) cannot be revoked"),
          event(Method.revokeDelega, by: caller, at: now, delega: id, outcome: .rejected))
      }
      let cascaded = try DelegheStore.end(
        id: id, state: newState, by: caller.actorID, reason: reason, now: now, in: db)
      guard let updated = try DelegheStore.row(id: id, in: db) else {
        throw StorageError.corrupt("delega vanished after it was written")
      }
      return .done(
        try DelegheStore.message(updated),
        event(
          Method.revokeDelega, by: caller, at: now, delega: id,
          details: [
            "state": "\(newState)", "reason": reason,
            "cascaded": cascaded.joined(separator: ","),
          ]))
    }
  }

  // MARK: Reads

  public func getDelega(request: Cassetto_Deleghe_V1_GetDelegaRequest, context: ServerContext)
    async throws -> Cassetto_Deleghe_V1_Delega
  {
    let cf = try Caller.current.requirePerson().codiceFiscale.value
    guard let row = try await database.read({ db in try DelegheStore.row(id: request.id, in: db) })
    else { throw AccessError.notFound("no such delega") }
    let message = try DelegheStore.message(row)
    if message.delegant?.fiscalCode == cf || message.delegate?.fiscalCode == cf {
      return message
    }
    if let subject = try await positions.subject(fiscalCode: message.subjectFiscalCode),
      subject.isOwner(cf)
    {
      return message
    }
    let sedi = try await authorizer.enablements.enablements(of: cf).operatorSedi
    if !sedi.isEmpty {
      let covered: [PositionInfo]
      if case .matricola(let m)? = message.scope?.target {
        covered = try await positions.position(matricola: m).map { [$0] } ?? []
      } else {
        covered = try await positions.positions(ofSubject: message.subjectFiscalCode)
      }
      if covered.contains(where: { sedi.contains($0.sedeCode) }) { return message }
    }
    throw AccessError.notFound("no such delega")
  }

  public func listDeleghe(
    request: Cassetto_Deleghe_V1_ListDelegheRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_ListDelegheResponse {
    let cf = try Caller.current.requirePerson().codiceFiscale.value
    var violations: [FieldViolation] = []
    var role = ""
    switch request.role {
    case .delegant: role = "delegant_fiscal_code"
    case .delegate: role = "delegate_fiscal_code"
    case .sedeOperator:
      role = "subject_fiscal_code"
      if request.subjectFiscalCode.isEmpty && request.matricola.isEmpty {
        violations.append(
          FieldViolation(
            field: "subject_fiscal_code",
            description: "as an operator, name a subject or a position (matricola)"))
      }
    default:
      violations.append(
        FieldViolation(
          field: "role",
          description: "LIST_ROLE_DELEGANT, LIST_ROLE_DELEGATE or LIST_ROLE_SEDE_OPERATOR"))
    }
    do { _ = try validateEnum(request.state, field: "state", allowUnspecified: true) } catch {
      violations.append(error)
    }
    do { _ = try validateEnum(request.kind, field: "kind", allowUnspecified: true) } catch {
      violations.append(error)
    }
    var pageSize = PageToken.defaultPageSize
    do { pageSize = try PageToken.pageSize(request.pageSize) } catch { violations.append(error) }
    if !violations.isEmpty { throw ValidationError(violations) }
    let filter =
      "deleghe|\(cf)|\(request.role.rawValue)|\(request.state.rawValue)|\(request.kind.rawValue)|\(request.subjectFiscalCode)|\(request.matricola)"
    let after = try PageToken.decode(request.pageToken, filter: filter)
    var subjectOfMatricola = ""
    if !request.matricola.isEmpty {
      subjectOfMatricola =
        try await positions.position(matricola: request.matricola)?.subjectFiscalCode ?? ""
    }
    var key = cf
    if request.role == .sedeOperator {
      // The operator must operate the sede of one of the positions concerned.
      let subject =
        request.subjectFiscalCode.isEmpty ? subjectOfMatricola : request.subjectFiscalCode
      let concerned: [PositionInfo]
      if !request.matricola.isEmpty {
        concerned = try await positions.position(matricola: request.matricola).map { [$0] } ?? []
      } else {
        concerned = try await positions.positions(ofSubject: subject)
      }
      let sedi = try await authorizer.enablements.enablements(of: cf).operatorSedi
      guard !subject.isEmpty, concerned.contains(where: { sedi.contains($0.sedeCode) }) else {
        throw AccessError.permissionDenied("not an operator of the sede of these positions")
      }
      key = subject
    }
    let (column, matricolaSubject, keyValue) = (role, subjectOfMatricola, key)
    let (state, kind, subjectFilter, matricola) = (
      request.state, request.kind, request.subjectFiscalCode, request.matricola
    )
    let limit = pageSize
    let rows = try await database.read { db -> [Row] in
      var sql = "SELECT * FROM deleghe_deleghe WHERE \(column) = ? AND seq > ?"
      var arguments: [any SQLConvertible] = [keyValue, after]
      if state != .unspecified {
        sql += " AND state = ?"
        arguments.append(state.rawValue)
      }
      if kind != .unspecified {
        sql += " AND kind = ?"
        arguments.append(kind.rawValue)
      }
      if !subjectFilter.isEmpty {
        sql += " AND subject_fiscal_code = ?"
        arguments.append(subjectFilter)
      }
      if !matricola.isEmpty {
        sql += " AND (matricola = ? OR (matricola = '' AND subject_fiscal_code = ?))"
        arguments += [matricola, matricolaSubject]
      }
      sql += " ORDER BY seq LIMIT ?"
      arguments.append(limit + 1)
      return try db.query(sql, arguments)
    }
    var response = Cassetto_Deleghe_V1_ListDelegheResponse()
    response.deleghe = try rows.prefix(pageSize).map(DelegheStore.message)
    if rows.count > pageSize, let last = rows.prefix(pageSize).last {
      response.nextPageToken = PageToken.encode(after: try last.int64("seq"), filter: filter)
    }
    return response
  }

  // MARK: CheckAccess

  public func checkAccess(
    request: Cassetto_Deleghe_V1_CheckAccessRequest, context: ServerContext
  ) async throws -> Cassetto_Deleghe_V1_CheckAccessResponse {
    let caller = Caller.current
    var person: String
    switch caller {
    case .anonymous: throw AccessError.unauthenticated("sign in: this method requires a caller")
    case .service(let service):
      guard service.has(.delegheCheckAccess) else {
        throw AccessError.permissionDenied(
          "the caller is not granted \(Permission.delegheCheckAccess)")
      }
      person = try Self.fiscalCode(request.fiscalCode, field: "fiscal_code")
    case .person(let self_):
      person = self_.codiceFiscale.value
      if !request.fiscalCode.isEmpty {
        let asked = try Self.fiscalCode(request.fiscalCode, field: "fiscal_code")
        guard asked == person else {
          throw AccessError.permissionDenied("a person may only check its own access")
        }
      }
    }
    var violations: [FieldViolation] = []
    let function: AccessFunction?
    switch request.function {
    case .readPosition: function = .readPosition
    case .actOnPosition: function = .actOnPosition
    case .manageDeleghe: function = .manageDeleghe
    case .gdpDenunce: function = .gdpDenunce
    default:
      function = nil
      violations.append(FieldViolation(field: "function", description: "a function is required"))
    }
    if request.matricola.isEmpty || request.matricola.utf8.count > 32 {
      violations.append(FieldViolation(field: "matricola", description: "a position number"))
    }
    guard violations.isEmpty, let function else { throw ValidationError(violations) }
    let instant = request.time.map(\.date) ?? clock.now()
    let decision = try await authorizer.decide(
      person: person, function: function, matricola: request.matricola, at: instant)
    var response = Cassetto_Deleghe_V1_CheckAccessResponse()
    response.allowed = decision.allowed
    response.reason = decision.reason
    response.chain = decision.chain.map { link in
      var grant = Cassetto_Deleghe_V1_Grant()
      switch link {
      case .owner(let s): (grant.kind, grant.reference) = (.owner, s)
      case .sedeOperator(let s): (grant.kind, grant.reference) = (.sedeOperator, s)
      case .delega(let s): (grant.kind, grant.reference) = (.delega, s)
      case .subdelega(let s): (grant.kind, grant.reference) = (.subdelega, s)
      case .legacyGDP(let s): (grant.kind, grant.reference) = (.legacyGdp, s)
      }
      return grant
    }
    return response
  }
}
