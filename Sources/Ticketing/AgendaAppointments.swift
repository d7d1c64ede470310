import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

private typealias M = Cassetto_Ticketing_V1_Ticketing.Method

// Appointments (Agenda appuntamenti) for a richiesta.
//
// - Book: whoever may see the request (the position's one rule, or an operator of the sede
//   it is routed to), only when ``AppointmentEligibility`` allows it (else FAILED_PRECONDITION
//   saying why); the slot must be of the request's sede and not started; one PRENOTATO
//   appointment per request. **No double booking**: the seat is taken with
//   `UPDATE ticketing_slots SET booked = booked + 1 WHERE id = ? AND booked < capacity` and the
//   changed-row count decides, in the same write transaction as the appointment, its history
//   event and its audit event — correct with SQLite's single writer and with PostgreSQL's row
//   locks alike. A full slot is RESOURCE_EXHAUSTED "slot full".
// - Cancel: the person who booked it or an operator of the sede, before it starts; frees the
//   seat (`booked - 1` in the same transaction).
// - List: one request's (whoever may see it) or, for operators, a sede's, by slot start.
extension AgendaService {
  static let cancelReasonLimit = 500

  /// The richiesta `id` if the caller may see it: an operator of the sede it is routed to, or
  /// whoever the one rule lets read its position. Otherwise NOT_FOUND.
  func visibleRichiesta(_ id: String) async throws -> AgendaRichiesta {
    let id = try AgendaText.id(id, field: "richiesta_id")
    guard let richiesta = try await database.read({ db in try richieste.richiesta(id: id, in: db) })
    else { throw AccessError.notFound("no such richiesta") }
    if try await isOperator(of: richiesta.sedeCode) { return richiesta }
    guard let position = try await authorizer.positions.position(matricola: richiesta.matricola),
      let subject = try await authorizer.positions.subject(fiscalCode: position.subjectFiscalCode)
    else { throw AccessError.notFound("no such richiesta") }
    let decision = try await authorizer.readDecision(
      Caller.current, position: position, subject: subject, at: clock.now())
    guard decision.allowed else { throw AccessError.notFound("no such richiesta") }
    return richiesta
  }

  func bookAppointment(
    request: Cassetto_Ticketing_V1_BookAppointmentRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Appointment {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    var check = ViolationCollector()
    let requestID = AgendaText.requestID(request.requestId, into: &check)
    if request.richiestaId.isEmpty { check.add(field: "richiesta_id", "required") }
    if request.slotId.isEmpty { check.add(field: "slot_id", "required") }
    try check.throwIfAny()
    let slotID = try AgendaText.id(request.slotId, field: "slot_id")
    let richiestaID = try await visibleRichiesta(request.richiestaId).id
    let id = newID()
    let richieste = self.richieste
    do {
      let booked: Cassetto_Ticketing_V1_Appointment = try await mutate(M.bookAppointment, caller: caller, requestID: requestID) {
        db, now in
        func refuse(_ error: TicketingError, _ details: [String: String]) -> Outcome<
          Cassetto_Ticketing_V1_Appointment
        > {
          .refuse(
            error,
            auditEvent(
              M.bookAppointment, by: caller, at: now, subject: "richiesta:\(richiestaID)",
              outcome: .rejected, details: details.merging(["slot": slotID]) { a, _ in a }))
        }
        guard let richiesta = try richieste.richiesta(id: richiestaID, in: db) else {
          throw AccessError.notFound("no such richiesta")
        }
        if let reason = AppointmentEligibility.refusal(
          state: richiesta.state, esito: richiesta.esito, openedAt: richiesta.openedAt,
          answerThresholdDays: richiesta.answerThresholdDays, now: now)
        {
          return refuse(.failedPrecondition(reason), ["reason": "not eligible"])
        }
        guard let slotRow = try Self.slotRow(id: slotID, in: db) else {
          throw AccessError.notFound("no such slot")
        }
        let slot = try Self.slot(slotRow)
        let sede = try slotRow.string("sede_code")
        let start = try slotRow.date("start_at")
        guard sede == richiesta.sedeCode else {
          return refuse(
            .failedPrecondition(
              "the slot is of sede \(sede) but the request is routed to sede \(richiesta.sedeCode)"
            ), ["reason": "other sede"])
        }
        guard start > now else {
          return refuse(
            .failedPrecondition("the slot has already started"), ["reason": "slot started"])
        }
        if let active = try db.queryFirst(
          "SELECT id FROM ticketing_appointments WHERE richiesta_id = ? AND state = ?",
          [richiestaID, Int64(Cassetto_Ticketing_V1_AppointmentState.prenotato.rawValue)])
        {
          return refuse(
            .failedPrecondition(
              "the request already has an active appointment (\(try active.string("id"))): "
                + "cancel it first"), ["reason": "already booked"])
        }
        // The seat: taken only while one is free, decided by the changed-row count.
        let taken = try db.execute(
          "UPDATE ticketing_slots SET booked = booked + 1 WHERE id = ? AND booked < capacity",
          [slotID])
        guard taken == 1 else {
          return refuse(
            .resourceExhausted("slot full: no free seats left, choose another slot"),
            ["reason": "slot full"])
        }
        try db.execute(
          """
          INSERT INTO ticketing_appointments (id, richiesta_id, slot_id, sede_code, slot_start,
            state, booked_by, booked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          """,
          [
            id, richiestaID, slotID, sede, start,
            Int64(Cassetto_Ticketing_V1_AppointmentState.prenotato.rawValue), cf, now,
          ])
        try richieste.appendHistory(
          richiesta: richiestaID, kind: .appointmentBooked, actor: cf,
          comment: "Appuntamento prenotato: \(Self.describe(slot)) (appuntamento \(id))",
          at: now, in: db)
        guard let row = try Self.appointmentRow(id: id, in: db) else {
          throw StorageError.corrupt("appointment vanished after it was written")
        }
        return .done(
          try Self.appointment(row, in: db),
          auditEvent(
            M.bookAppointment, by: caller, at: now, subject: "richiesta:\(richiestaID)",
            details: ["appointment": id, "slot": slotID]))
      }
      // Committed: WatchRichiesta streams of this request re-read now.
      RichiesteWatchers.shared.changed(richiestaID)
      return booked
    } catch StorageError.constraintViolation {
      // PostgreSQL: a concurrent booking for the same request won the unique active index.
      throw TicketingError.failedPrecondition("the request already has an active appointment")
    }
  }

  func cancelAppointment(
    request: Cassetto_Ticketing_V1_CancelAppointmentRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Appointment {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    var check = ViolationCollector()
    let requestID = AgendaText.requestID(request.requestId, into: &check)
    if request.appointmentId.isEmpty { check.add(field: "appointment_id", "required") }
    let reason = AgendaText.text(
      request.reason, field: "reason", max: Self.cancelReasonLimit, required: false, into: &check)
    try check.throwIfAny()
    let id = try AgendaText.id(request.appointmentId, field: "appointment_id")
    guard let row = try await database.read({ db in try Self.appointmentRow(id: id, in: db) })
    else { throw AccessError.notFound("no such appointment") }
    let sede = try row.string("sede_code")
    let richiestaID = try row.string("richiesta_id")
    let isBooker = try row.string("booked_by") == cf
    if !isBooker, try await !isOperator(of: sede) {
      // Someone who sees the request learns the appointment exists but may not cancel it.
      _ = try await visibleRichiesta(richiestaID)
      throw AccessError.permissionDenied(
        "only the person who booked it or an operator of sede \(sede) cancels an appointment")
    }
    let richieste = self.richieste
    let cancelled: Cassetto_Ticketing_V1_Appointment = try await mutate(M.cancelAppointment, caller: caller, requestID: requestID) {
      db, now in
      guard let current = try Self.appointmentRow(id: id, in: db) else {
        throw AccessError.notFound("no such appointment")
      }
      let state = Cassetto_Ticketing_V1_AppointmentState(
        rawValue: Int32(clamping: try current.int64("state")))
      let subject = "richiesta:\(richiestaID)"
      guard state == .prenotato else {
        return .refuse(
          .failedPrecondition("the appointment is already cancelled"),
          auditEvent(
            M.cancelAppointment, by: caller, at: now, subject: subject, outcome: .rejected,
            details: ["appointment": id, "reason": "already cancelled"]))
      }
      guard try current.date("slot_start") > now else {
        return .refuse(
          .failedPrecondition("the appointment has already started"),
          auditEvent(
            M.cancelAppointment, by: caller, at: now, subject: subject, outcome: .rejected,
            details: ["appointment": id, "reason": "started"]))
      }
      try db.execute(
        """
        UPDATE ticketing_appointments SET state = ?, cancelled_at = ?, cancelled_by = ?,
          cancel_reason = ? WHERE id = ? AND state = ?
        """,
        [
          Int64(Cassetto_Ticketing_V1_AppointmentState.annullato.rawValue), now, cf, reason, id,
          Int64(Cassetto_Ticketing_V1_AppointmentState.prenotato.rawValue),
        ])
      let slotID = try current.string("slot_id")
      try db.execute(
        "UPDATE ticketing_slots SET booked = booked - 1 WHERE id = ? AND booked > 0", [slotID])
      let slotText = try Self.slotRow(id: slotID, in: db).map { Self.describe(try Self.slot($0)) }
      try richieste.appendHistory(
        richiesta: richiestaID, kind: .appointmentCancelled, actor: cf,
        comment: "Appuntamento annullato: \(slotText ?? slotID) (appuntamento \(id))"
          + (reason.isEmpty ? "" : " — \(reason)"),
        at: now, in: db)
      guard let updated = try Self.appointmentRow(id: id, in: db) else {
        throw StorageError.corrupt("appointment vanished after it was written")
      }
      return .done(
        try Self.appointment(updated, in: db),
        auditEvent(
          M.cancelAppointment, by: caller, at: now, subject: subject,
          details: ["appointment": id, "slot": slotID, "by": isBooker ? "booker" : "operator"]))
    }
    // Committed: WatchRichiesta streams of this request re-read now.
    RichiesteWatchers.shared.changed(richiestaID)
    return cancelled
  }

  func listAppointments(
    request: Cassetto_Ticketing_V1_ListAppointmentsRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_ListAppointmentsResponse {
    let cf = try Caller.current.requirePerson().codiceFiscale.value
    var check = ViolationCollector()
    if !request.richiestaId.isEmpty && !request.sedeCode.isEmpty {
      check.add(field: "sede_code", "give richiesta_id or sede_code, not both")
    }
    var parsedFrom: Date?
    var parsedTo: Date?
    do { parsedFrom = try request.from.map { try $0.agendaDate(field: "from") } } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    do { parsedTo = try request.to.map { try $0.agendaDate(field: "to") } } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    if let parsedFrom, let parsedTo, parsedTo <= parsedFrom {
      check.add(field: "to", "must be after from")
    }
    var parsedSize = AgendaPageToken.defaultPageSize
    do { parsedSize = try AgendaPageToken.pageSize(request.pageSize) } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    try check.throwIfAny()
    let scope: (column: String, value: String)
    if !request.richiestaId.isEmpty {
      scope = ("richiesta_id", try await visibleRichiesta(request.richiestaId).id)
    } else {
      if request.sedeCode.isEmpty,
        try await authorizer.enablements.enablements(of: cf).operatorSedi.isEmpty
      {
        throw ValidationError.field("richiesta_id", "required (sede_code is for operators)")
      }
      scope = ("sede_code", try await operatorSede(request.sedeCode))
    }
    let (from, to, size) = (parsedFrom, parsedTo, parsedSize)
    let includeCancelled = request.includeCancelled
    let fingerprint =
      "appointments|\(scope.column)|\(scope.value)|\(from?.microsecondsSinceEpoch ?? 0)|"
      + "\(to?.microsecondsSinceEpoch ?? 0)|\(includeCancelled)"
    let after = try AgendaPageToken.decode(request.pageToken, filter: fingerprint)
    return try await database.read { db in
      var sql = "SELECT * FROM ticketing_appointments WHERE \(scope.column) = ?"
      var arguments: [any SQLConvertible] = [scope.value]
      if !includeCancelled {
        sql += " AND state = ?"
        arguments.append(Int64(Cassetto_Ticketing_V1_AppointmentState.prenotato.rawValue))
      }
      if let from {
        sql += " AND slot_start >= ?"
        arguments.append(from)
      }
      if let to {
        sql += " AND slot_start < ?"
        arguments.append(to)
      }
      if let after {
        sql += " AND (slot_start > ? OR (slot_start = ? AND seq > ?))"
        arguments += [after.key, after.key, after.seq]
      }
      sql += " ORDER BY slot_start, seq LIMIT ?"
      arguments.append(size + 1)
      let rows = try db.query(sql, arguments)
      var response = Cassetto_Ticketing_V1_ListAppointmentsResponse()
      response.appointments = try rows.prefix(size).map { try Self.appointment($0, in: db) }
      if rows.count > size, let last = rows.prefix(size).last {
        response.nextPageToken = AgendaPageToken.encode(
          key: try last.int64("slot_start"), seq: try last.int64("seq"), filter: fingerprint)
      }
      return response
    }
  }

  static func appointmentRow(id: String, in db: any ReadContext) throws -> Row? {
    try db.queryFirst("SELECT * FROM ticketing_appointments WHERE id = ?", [id])
  }

  static func appointment(_ row: Row, in db: any ReadContext) throws
    -> Cassetto_Ticketing_V1_Appointment
  {
    var message = Cassetto_Ticketing_V1_Appointment()
    message.id = try row.string("id")
    message.richiestaId = try row.string("richiesta_id")
    if let slot = try slotRow(id: try row.string("slot_id"), in: db) {
      message.slot = try Self.slot(slot)
    }
    message.state = .init(rawValue: Int32(clamping: try row.int64("state")))
    message.bookedBy = try row.string("booked_by")
    message.bookedAt = .agenda(try row.date("booked_at"))
    if let cancelled = try row.optionalDate("cancelled_at") {
      message.cancelledAt = .agenda(cancelled)
      message.cancelReason = try row.string("cancel_reason")
    }
    return message
  }

  /// "12/06/2026 10:00 (ora di Roma), 30 min, sportello, sede 7000".
  static func describe(_ slot: Cassetto_Ticketing_V1_Slot) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "it_IT")
    formatter.timeZone = institutionTimeZone
    formatter.dateFormat = "dd/MM/yyyy HH:mm"
    let start = slot.start.map {
      formatter.string(from: Date(timeIntervalSince1970: TimeInterval($0.seconds)))
    } ?? "?"
    let channel: String
    switch slot.channel {
    case .sportello: channel = "sportello"
    case .telefono: channel = "telefono"
    case .video: channel = "video"
    default: channel = "canale sconosciuto"
    }
    return "\(start) (ora di Roma), \(slot.lengthMinutes) min, \(channel), sede \(slot.sede?.code ?? "")"
  }
}
