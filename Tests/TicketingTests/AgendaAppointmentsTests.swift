import Access
import Contracts
import Foundation
import RPC
import Storage
import Synchronization
import Testing

@testable import Ticketing

/// Richieste held in memory, with the history events the agenda appends.
final class AgendaFakeRichieste: AgendaRichieste {
  let all = Mutex<[String: AgendaRichiesta]>([:])
  let history = Mutex<[(id: String, kind: Cassetto_Ticketing_V1_RichiestaEventKind, actor: String)]>([])

  func add(
    _ id: String, matricola: String = AgendaFixture.matricola, sede: String = "7000",
    state: Cassetto_Ticketing_V1_RichiestaState = .aperta,
    esito: Cassetto_Ticketing_V1_Esito = .unspecified, openedDaysAgo: Double, threshold: Int = 30,
    now: Date = AgendaFixture.start
  ) {
    let richiesta = AgendaRichiesta(
      id: id, matricola: matricola, sedeCode: sede, state: state, esito: esito,
      openedAt: now.addingTimeInterval(-openedDaysAgo * 86_400), answerThresholdDays: threshold)
    all.withLock { $0[id] = richiesta }
  }

  func richiesta(id: String, in db: any ReadContext) throws -> AgendaRichiesta? {
    all.withLock { $0[id] }
  }

  func appendHistory(
    richiesta id: String, kind: Cassetto_Ticketing_V1_RichiestaEventKind, actor: String,
    comment: String, at now: Date, in db: any WriteContext
  ) throws {
    history.withLock { $0.append((id, kind, actor)) }
  }

  var events: [String] {
    history.withLock { $0.map { "\($0.id):\($0.kind):\($0.actor)" } }
  }
}

func withAgendaAndRichieste(
  _ body: (AgendaService, any Database, AgendaClock, AgendaFakeRichieste) async throws -> Void
) async throws {
  let fake = AgendaFakeRichieste()
  try await withAgenda { plain, database, clock in
    let service = AgendaService(
      database: database, clock: clock, authorizer: plain.authorizer, richieste: fake)
    try await body(service, database, clock, fake)
  }
}

func agendaBook(
  _ service: AgendaService, as cf: String, richiesta: String, slot: String,
  requestID: String = ""
) async throws -> Cassetto_Ticketing_V1_Appointment {
  var request = Cassetto_Ticketing_V1_BookAppointmentRequest()
  request.richiestaId = richiesta
  request.slotId = slot
  request.requestId = requestID
  return try await agendaAs(agendaPerson(cf)) {
    try await service.bookAppointment(request: request, context: agendaContext())
  }
}

func agendaCancel(
  _ service: AgendaService, as cf: String, appointment: String, reason: String = ""
) async throws -> Cassetto_Ticketing_V1_Appointment {
  var request = Cassetto_Ticketing_V1_CancelAppointmentRequest()
  request.appointmentId = appointment
  request.reason = reason
  return try await agendaAs(agendaPerson(cf)) {
    try await service.cancelAppointment(request: request, context: agendaContext())
  }
}

@Suite struct AppointmentEligibilityTests {
  let opened = AgendaFixture.start

  func refusal(
    _ state: Cassetto_Ticketing_V1_RichiestaState, _ esito: Cassetto_Ticketing_V1_Esito = .unspecified,
    days: Int = 30, at now: Date
  ) -> String? {
    AppointmentEligibility.refusal(
      state: state, esito: esito, openedAt: opened, answerThresholdDays: days, now: now)
  }

  @Test func thresholdPassedWithNoAnswerOrClosedNonAccolta() {
    let threshold = AppointmentEligibility.eligibleFrom(openedAt: opened, answerThresholdDays: 30)
    #expect(threshold == opened.addingTimeInterval(30 * 86_400))
    let before = threshold.addingTimeInterval(-1)
    #expect(refusal(.aperta, at: before)?.contains("threshold of 30 days has not passed") == true)
    #expect(refusal(.inCarico, at: before) != nil)
    #expect(refusal(.aperta, at: threshold) == nil)
    #expect(refusal(.inCarico, at: threshold) == nil)
    // Closed NON_ACCOLTA: at once; closed with any other esito: never.
    #expect(refusal(.chiusa, .nonAccolta, at: opened.addingTimeInterval(60)) == nil)
    for esito in [Cassetto_Ticketing_V1_Esito.accolta, .parzialmenteAccolta, .archiviata] {
      #expect(refusal(.chiusa, esito, at: threshold.addingTimeInterval(86_400))?.contains("closed") == true)
    }
    #expect(refusal(.unspecified, at: threshold) != nil)
    // A per-subject threshold of 10 days.
    #expect(refusal(.aperta, days: 10, at: opened.addingTimeInterval(10 * 86_400)) == nil)
  }

  @Test func thresholdCountsCalendarDaysInRomeAcrossDST() {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = institutionTimeZone
    let march = calendar.date(from: DateComponents(year: 2026, month: 3, day: 10, hour: 10))!
    let from = AppointmentEligibility.eligibleFrom(openedAt: march, answerThresholdDays: 30)
    // 29 March 2026 has 23 hours in Rome: 30 calendar days are 30×24−1 hours.
    #expect(from == calendar.date(from: DateComponents(year: 2026, month: 4, day: 9, hour: 10)))
    #expect(from.timeIntervalSince(march) == 30 * 86_400 - 3600)
  }
}

@Suite struct AgendaAppointmentsTests {
  typealias F = AgendaFixture
  let hour: TimeInterval = 3600

  @Test func bookOnlyWhenEligibleOneSeatOneActivePerRequest() async throws {
    try await withAgendaAndRichieste { service, database, _, richieste in
      richieste.add("r-late", openedDaysAgo: 31)
      richieste.add("r-late2", openedDaysAgo: 45)
      richieste.add("r-fresh", openedDaysAgo: 5)
      richieste.add("r-accolta", state: .chiusa, esito: .accolta, openedDaysAgo: 40)
      richieste.add("r-nonaccolta", state: .chiusa, esito: .nonAccolta, openedDaysAgo: 1)
      richieste.add("r-8000", matricola: F.otherMatricola, sede: "8000", openedDaysAgo: 60)
      let slots = try await agendaPublish(
        service,
        [
          agendaSlotSpec(F.start.addingTimeInterval(24 * hour)),
          agendaSlotSpec(F.start.addingTimeInterval(48 * hour), capacity: 2),
        ])
      let other = try await agendaPublish(
        service, as: F.otherOperator, [agendaSlotSpec(F.start.addingTimeInterval(24 * hour))])

      let booked = try await agendaBook(
        service, as: F.owner, richiesta: "r-late", slot: slots[0].id, requestID: "b1")
      #expect(booked.state == .prenotato && booked.bookedBy == F.owner)
      #expect(booked.slot?.booked == 1 && booked.richiestaId == "r-late")
      // The retry returns the same appointment and takes no second seat.
      let retry = try await agendaBook(
        service, as: F.owner, richiesta: "r-late", slot: slots[0].id, requestID: "b1")
      #expect(retry == booked)
      #expect(richieste.events == ["r-late:appointmentBooked:\(F.owner)"])

      func outcome(_ cf: String, _ richiesta: String, _ slot: String) async -> String {
        await agendaOutcome(agendaPerson(cf)) {
          _ = try await agendaBook(service, as: cf, richiesta: richiesta, slot: slot)
        }
      }
      #expect(await outcome(F.owner, "r-late2", slots[0].id).hasPrefix("resourceExhausted: slot full"))
      #expect(
        await outcome(F.owner, "r-late", slots[1].id)
          .hasPrefix("failedPrecondition: the request already has an active appointment"))
      #expect(
        await outcome(F.owner, "r-fresh", slots[1].id)
          .contains("the answer threshold of 30 days has not passed"))
      #expect(await outcome(F.owner, "r-accolta", slots[1].id).contains("esito ACCOLTA"))
      #expect(
        await outcome(F.owner, "r-late2", other[0].id)
          == "failedPrecondition: the slot is of sede 8000 but the request is routed to sede 7000")
      #expect(await outcome(F.stranger, "r-late2", slots[1].id) == "notFound")
      #expect(await outcome(F.otherOperator, "r-late2", slots[1].id) == "notFound")
      #expect(await outcome(F.owner, "r-late2", "no-such-slot") == "notFound")
      #expect(await outcome(F.owner, "no-such-richiesta", slots[1].id) == "notFound")
      // The delegate and the sede's operator may book; NON_ACCOLTA is eligible at once.
      _ = try await agendaBook(service, as: F.employee, richiesta: "r-nonaccolta", slot: slots[1].id)
      _ = try await agendaBook(service, as: F.operatorCF, richiesta: "r-late2", slot: slots[1].id)
      // The other sede's request books the other sede's slot (its operator sees the request).
      _ = try await agendaBook(service, as: F.otherOperator, richiesta: "r-8000", slot: other[0].id)
      let seats = try await database.read { db in
        try db.query("SELECT booked FROM ticketing_slots ORDER BY seq").map { try $0.int64("booked") }
      }
      #expect(seats == [1, 2, 1])
      let audit = try await agendaAudit(database, "BookAppointment")
      #expect(audit.filter { $0 == "success" }.count == 4)
      #expect(audit.filter { $0 == "rejected" }.count == 5)
    }
  }

  @Test func cancelByBookerOrOperatorFreesTheSeat() async throws {
    try await withAgendaAndRichieste { service, database, clock, richieste in
      richieste.add("r1", openedDaysAgo: 31)
      richieste.add("r2", openedDaysAgo: 31)
      let slots = try await agendaPublish(
        service, [agendaSlotSpec(F.start.addingTimeInterval(24 * hour))])
      let first = try await agendaBook(service, as: F.employee, richiesta: "r1", slot: slots[0].id)
      // The owner sees the request but did not book: PERMISSION_DENIED; a stranger: NOT_FOUND.
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) {
          _ = try await agendaCancel(service, as: F.owner, appointment: first.id)
        } == "permissionDenied")
      #expect(
        await agendaOutcome(agendaPerson(F.stranger)) {
          _ = try await agendaCancel(service, as: F.stranger, appointment: first.id)
        } == "notFound")
      #expect(
        await agendaOutcome(agendaPerson(F.otherOperator)) {
          _ = try await agendaCancel(service, as: F.otherOperator, appointment: first.id)
        } == "notFound")
      let cancelled = try await agendaCancel(
        service, as: F.employee, appointment: first.id, reason: "Impegno sopravvenuto")
      #expect(cancelled.state == .annullato && cancelled.cancelReason == "Impegno sopravvenuto")
      #expect(cancelled.slot?.booked == 0)
      #expect(
        await agendaOutcome(agendaPerson(F.employee)) {
          _ = try await agendaCancel(service, as: F.employee, appointment: first.id)
        } == "failedPrecondition: the appointment is already cancelled")
      // The freed seat is offered again and taken by another request; its sede's operator
      // cancels it; a new booking of r1 is possible after its cancellation.
      var list = Cassetto_Ticketing_V1_ListAvailableSlotsRequest()
      list.richiestaId = "r2"
      let free = try await agendaAs(agendaPerson(F.owner)) {
        try await service.listAvailableSlots(request: list, context: agendaContext())
      }
      #expect(free.slots.map(\.id) == [slots[0].id])
      let second = try await agendaBook(service, as: F.owner, richiesta: "r2", slot: slots[0].id)
      _ = try await agendaCancel(service, as: F.operatorCF, appointment: second.id)
      let third = try await agendaBook(service, as: F.owner, richiesta: "r1", slot: slots[0].id)
      // Once the slot has started it can no longer be cancelled.
      clock.advance(25 * hour)
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) {
          _ = try await agendaCancel(service, as: F.owner, appointment: third.id)
        } == "failedPrecondition: the appointment has already started")
      #expect(
        richieste.events == [
          "r1:appointmentBooked:\(F.employee)", "r1:appointmentCancelled:\(F.employee)",
          "r2:appointmentBooked:\(F.owner)", "r2:appointmentCancelled:\(F.operatorCF)",
          "r1:appointmentBooked:\(F.owner)",
        ])
      #expect(
        try await agendaAudit(database, "CancelAppointment")
          == ["success", "rejected", "success", "rejected"])
    }
  }

  @Test func listByRequestAndBySede() async throws {
    try await withAgendaAndRichieste { service, _, _, richieste in
      richieste.add("r1", openedDaysAgo: 31)
      richieste.add("r2", openedDaysAgo: 31)
      let slots = try await agendaPublish(
        service,
        [
          agendaSlotSpec(F.start.addingTimeInterval(48 * hour)),
          agendaSlotSpec(F.start.addingTimeInterval(24 * hour)),
        ])
      let a = try await agendaBook(service, as: F.owner, richiesta: "r1", slot: slots[0].id)
      _ = try await agendaCancel(service, as: F.owner, appointment: a.id)
      let b = try await agendaBook(service, as: F.owner, richiesta: "r1", slot: slots[1].id)
      let c = try await agendaBook(service, as: F.owner, richiesta: "r2", slot: slots[0].id)
      func list(_ cf: String, richiesta: String = "", sede: String = "", cancelled: Bool = false)
        async throws -> [String]
      {
        var request = Cassetto_Ticketing_V1_ListAppointmentsRequest()
        request.richiestaId = richiesta
        request.sedeCode = sede
        request.includeCancelled = cancelled
        return try await agendaAs(agendaPerson(cf)) {
          try await service.listAppointments(request: request, context: agendaContext())
        }.appointments.map(\.id)
      }
      #expect(try await list(F.employee, richiesta: "r1") == [b.id])
      #expect(try await list(F.owner, richiesta: "r1", cancelled: true) == [b.id, a.id])
      #expect(try await list(F.operatorCF) == [b.id, c.id])
      #expect(try await list(F.operatorCF, sede: "7000", cancelled: true) == [b.id, a.id, c.id])
      #expect(
        await agendaOutcome(agendaPerson(F.stranger)) { _ = try await list(F.stranger, richiesta: "r1") }
          == "notFound")
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) { _ = try await list(F.owner) }
          == "invalid:richiesta_id")
      #expect(
        await agendaOutcome(agendaPerson(F.otherOperator)) {
          _ = try await list(F.otherOperator, sede: "7000")
        } == "permissionDenied")
    }
  }

  @Test func appointmentsOfASedeComeInPagesBySlotStart() async throws {
    try await withAgendaAndRichieste { service, _, _, richieste in
      for i in 0..<5 { richieste.add("p\(i)", openedDaysAgo: 31) }
      // Five slots published latest first; each request books one.
      let slots = try await agendaPublish(
        service, (0..<5).map { agendaSlotSpec(F.start.addingTimeInterval(Double(10 - $0) * hour)) })
      var booked: [String: Date] = [:]
      for i in 0..<5 {
        let a = try await agendaBook(service, as: F.owner, richiesta: "p\(i)", slot: slots[i].id)
        booked[a.id] = F.start.addingTimeInterval(Double(10 - i) * hour)
      }
      let expected = booked.sorted { $0.value < $1.value }.map(\.key)
      var seen: [String] = []
      var token = ""
      repeat {
        var request = Cassetto_Ticketing_V1_ListAppointmentsRequest()
        request.sedeCode = "7000"
        request.pageSize = 2
        request.pageToken = token
        let page = try await agendaAs(agendaPerson(F.operatorCF)) {
          try await service.listAppointments(request: request, context: agendaContext())
        }
        #expect(page.appointments.count <= 2)
        seen += page.appointments.map(\.id)
        token = page.nextPageToken
      } while !token.isEmpty
      #expect(seen == expected)
    }
  }

  /// 50 bookings of the last seat at once, in process: exactly one wins.
  @Test func fiftyConcurrentBookingsOfOneSeatExactlyOneWins() async throws {
    try await withAgendaAndRichieste { service, database, _, richieste in
      for i in 0..<50 { richieste.add("r\(i)", openedDaysAgo: 31) }
      let slot = try await agendaPublish(
        service, [agendaSlotSpec(F.start.addingTimeInterval(24 * hour))])[0]
      let outcomes = await withTaskGroup(of: String.self) { group in
        for i in 0..<50 {
          group.addTask {
            await agendaOutcome(agendaPerson(F.owner)) {
              _ = try await agendaBook(service, as: F.owner, richiesta: "r\(i)", slot: slot.id)
            }
          }
        }
        return await group.reduce(into: [String]()) { $0.append($1) }
      }
      #expect(outcomes.filter { $0 == "ok" }.count == 1)
      #expect(outcomes.filter { $0.hasPrefix("resourceExhausted: slot full") }.count == 49)
      let (booked, appointments) = try await database.read { db in
        (
          try db.queryFirst("SELECT booked FROM ticketing_slots")?.int64("booked"),
          try db.queryFirst("SELECT COUNT(*) AS n FROM ticketing_appointments")?.int64("n")
        )
      }
      #expect(booked == 1 && appointments == 1)
    }
  }
}
