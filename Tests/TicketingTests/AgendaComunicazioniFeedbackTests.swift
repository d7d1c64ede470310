import Access
import Contracts
import Foundation
import RPC
import Storage
import Testing

@testable import Ticketing

/// Communications from the institute and instant feedback, in process with a movable clock.
@Suite struct AgendaComunicazioniTests {
  typealias F = AgendaFixture

  func send(
    _ service: AgendaService, as caller: Caller, matricola: String = F.matricola,
    title: String = "Irregolarità UniEmens", requestID: String = ""
  ) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    var request = Cassetto_Ticketing_V1_SendComunicazioneRequest()
    request.matricola = matricola
    request.kind = .irregolarita
    request.title = title
    request.body = "Risultano differenze tra denunce e versamenti."
    request.requestId = requestID
    return try await agendaAs(caller) {
      try await service.sendComunicazione(request: request, context: agendaContext())
    }
  }

  func list(
    _ service: AgendaService, as caller: Caller, filter: Cassetto_Ticketing_V1_ReadFilter = .unspecified,
    pageSize: Int32 = 0, token: String = ""
  ) async throws -> Cassetto_Ticketing_V1_ListComunicazioniResponse {
    var request = Cassetto_Ticketing_V1_ListComunicazioniRequest()
    request.matricola = F.matricola
    request.filter = filter
    request.pageSize = pageSize
    request.pageToken = token
    return try await agendaAs(caller) {
      try await service.listComunicazioni(request: request, context: agendaContext())
    }
  }

  func markRead(_ service: AgendaService, as caller: Caller, id: String) async throws
    -> Cassetto_Ticketing_V1_Comunicazione
  {
    var request = Cassetto_Ticketing_V1_MarkComunicazioneReadRequest()
    request.id = id
    return try await agendaAs(caller) {
      try await service.markComunicazioneRead(request: request, context: agendaContext())
    }
  }

  @Test func operatorSendsOwnerReadsUnreadThenReadNewestFirst() async throws {
    try await withAgenda { service, database, clock in
      let op = agendaPerson(F.operatorCF)
      let first = try await send(service, as: op, title: "Prima")
      clock.advance(60)
      let second = try await send(service, as: op, title: "Seconda")
      clock.advance(60)
      let third = try await send(
        service, as: agendaService("ledger", [.ticketingSendComunicazione]), title: "Terza")
      #expect(first.sender == F.operatorCF)
      #expect(third.sender == "ledger")
      #expect(!first.read && first.readAt == nil)

      let owner = agendaPerson(F.owner)
      var all = try await list(service, as: owner)
      #expect(all.comunicazioni.map(\.id) == [third.id, second.id, first.id])
      #expect(all.unreadCount == 3)

      clock.advance(60)
      let read = try await markRead(service, as: owner, id: second.id)
      #expect(read.read && read.readBy == F.owner)
      #expect(read.readAt == .agenda(clock.now()))
      // Marking again (even by another person who may see it) changes nothing.
      clock.advance(60)
      let again = try await markRead(service, as: agendaPerson(F.employee), id: second.id)
      #expect(again == read)
      #expect(try await agendaAudit(database, "MarkComunicazioneRead") == ["success"])

      all = try await list(service, as: agendaPerson(F.employee))
      #expect(all.unreadCount == 2)
      let unread = try await list(service, as: owner, filter: .unread)
      #expect(unread.comunicazioni.map(\.id) == [third.id, first.id])
      #expect(unread.unreadCount == 2)
      let readOnes = try await list(service, as: owner, filter: .read)
      #expect(readOnes.comunicazioni.map(\.id) == [second.id])
      // Pages of two, newest first; a token reused with another filter is refused.
      let page1 = try await list(service, as: owner, pageSize: 2)
      #expect(page1.comunicazioni.map(\.id) == [third.id, second.id])
      let page2 = try await list(service, as: owner, pageSize: 2, token: page1.nextPageToken)
      #expect(page2.comunicazioni.map(\.id) == [first.id])
      #expect(page2.nextPageToken.isEmpty)
      #expect(
        await agendaOutcome(owner) {
          _ = try await list(service, as: owner, filter: .unread, token: page1.nextPageToken)
        } == "invalid:page_token")
      #expect(
        try await agendaAudit(database, "SendComunicazione") == ["success", "success", "success"])
    }
  }

  @Test func whoMaySendListAndMarkRead() async throws {
    try await withAgenda { service, database, _ in
      let sent = try await send(service, as: agendaPerson(F.operatorCF))
      // The owner sees the position but is not the institute.
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) {
          _ = try await send(service, as: agendaPerson(F.owner))
        } == "permissionDenied")
      // An operator of another sede does not see the position at all.
      #expect(
        await agendaOutcome(agendaPerson(F.otherOperator)) {
          _ = try await send(service, as: agendaPerson(F.otherOperator))
        } == "notFound")
      #expect(
        await agendaOutcome(.anonymous) { _ = try await send(service, as: .anonymous) }
          == "unauthenticated")
      #expect(
        await agendaOutcome(agendaService("other")) {
          _ = try await send(service, as: agendaService("other"))
        } == "permissionDenied")
      // A back-end granted the permission still gets NOT_FOUND for an unknown position.
      #expect(
        await agendaOutcome(agendaService("ledger", [.ticketingSendComunicazione])) {
          _ = try await send(
            service, as: agendaService("ledger", [.ticketingSendComunicazione]),
            matricola: "9999999999")
        } == "notFound")
      #expect(
        await agendaOutcome(agendaPerson(F.stranger)) {
          _ = try await list(service, as: agendaPerson(F.stranger))
        } == "notFound")
      #expect(
        await agendaOutcome(agendaPerson(F.stranger)) {
          _ = try await markRead(service, as: agendaPerson(F.stranger), id: sent.id)
        } == "notFound")
      // The office does not mark the company's message read.
      #expect(
        await agendaOutcome(agendaPerson(F.operatorCF)) {
          _ = try await markRead(service, as: agendaPerson(F.operatorCF), id: sent.id)
        } == "permissionDenied")
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) {
          _ = try await markRead(service, as: agendaPerson(F.owner), id: "no-such-id")
        } == "notFound")
      // The operator lists its sede's position (read access through the sede).
      #expect(try await list(service, as: agendaPerson(F.operatorCF)).unreadCount == 1)
      let rows = try await database.read { db in
        try db.query("SELECT read_at FROM ticketing_comunicazioni")
      }
      #expect(rows.count == 1)
      #expect(try rows[0].optionalDate("read_at") == nil)
    }
  }

  @Test func badFieldsAreNamedAndStoreNothing() async throws {
    try await withAgenda { service, database, _ in
      var request = Cassetto_Ticketing_V1_SendComunicazioneRequest()
      request.matricola = "70-12"
      request.title = "   "
      request.body = String(repeating: "x", count: 20_001)
      let outcome = await agendaOutcome(agendaPerson(F.operatorCF)) {
        _ = try await service.sendComunicazione(request: request, context: agendaContext())
      }
      #expect(outcome == "invalid:matricola,kind,title,body")
      let count = try await database.read { db in
        try db.queryFirst("SELECT COUNT(*) AS n FROM ticketing_comunicazioni")?.int64("n")
      }
      #expect(count == 0)
    }
  }

  @Test func aRetryWithTheSameRequestIDSendsOnce() async throws {
    try await withAgenda { service, database, _ in
      let op = agendaPerson(F.operatorCF)
      let first = try await send(service, as: op, requestID: "k1")
      let retry = try await send(service, as: op, requestID: "k1")
      #expect(first == retry)
      let count = try await database.read { db in
        try db.queryFirst("SELECT COUNT(*) AS n FROM ticketing_comunicazioni")?.int64("n")
      }
      #expect(count == 1)
      #expect(try await agendaAudit(database, "SendComunicazione") == ["success"])
    }
  }
}

@Suite struct AgendaFeedbackTests {
  typealias F = AgendaFixture

  func submit(
    _ service: AgendaService, as cf: String, name: String = "posizioni.ListVersamenti",
    interaction: String, rating: Int32, comment: String = ""
  ) async throws -> Cassetto_Ticketing_V1_Feedback {
    var request = Cassetto_Ticketing_V1_SubmitFeedbackRequest()
    request.service = name
    request.interactionId = interaction
    request.rating = rating
    request.comment = comment
    return try await agendaAs(agendaPerson(cf)) {
      try await service.submitFeedback(request: request, context: agendaContext())
    }
  }

  func stats(_ service: AgendaService, as cf: String, name: String = "") async throws
    -> Cassetto_Ticketing_V1_FeedbackStats
  {
    var request = Cassetto_Ticketing_V1_GetFeedbackStatsRequest()
    request.service = name
    return try await agendaAs(agendaPerson(cf)) {
      try await service.getFeedbackStats(request: request, context: agendaContext())
    }
  }

  @Test func oneFeedbackPerCallerPerInteraction() async throws {
    try await withAgenda { service, database, _ in
      let first = try await submit(
        service, as: F.owner, interaction: "call-1", rating: 4, comment: " Chiaro ")
      #expect(first.rating == 4 && first.comment == "Chiaro")
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) {
          _ = try await submit(service, as: F.owner, interaction: "call-1", rating: 1)
        } == "alreadyExists")
      // Another person may rate the same interaction id.
      _ = try await submit(service, as: F.stranger, interaction: "call-1", rating: 2)
      #expect(
        try await agendaAudit(database, "SubmitFeedback") == ["success", "rejected", "success"])
    }
  }

  @Test func badFeedbackIsRefusedFieldByField() async throws {
    try await withAgenda { service, _, _ in
      let p = agendaPerson(F.owner)
      #expect(
        await agendaOutcome(p) {
          _ = try await submit(
            service, as: F.owner, name: "posizioni.NoSuchRPC", interaction: "", rating: 6,
            comment: String(repeating: "a", count: 1_001))
        } == "invalid:service,interaction_id,rating,comment")
      #expect(
        await agendaOutcome(p) {
          _ = try await submit(service, as: F.owner, name: "", interaction: "x y", rating: 0)
        } == "invalid:service,interaction_id,rating")
      // A whole service and a Ticketing RPC are known names.
      _ = try await submit(service, as: F.owner, name: "deleghe", interaction: "a", rating: 5)
      _ = try await submit(
        service, as: F.owner, name: "ticketing.CreateRichiesta", interaction: "b", rating: 5)
      #expect(
        await agendaOutcome(agendaService("ledger")) {
          var request = Cassetto_Ticketing_V1_SubmitFeedbackRequest()
          request.service = "deleghe"
          request.interactionId = "c"
          request.rating = 3
          _ = try await service.submitFeedback(request: request, context: agendaContext())
        } == "permissionDenied")
    }
  }

  @Test func statsForOperatorsCountMeanDistribution() async throws {
    try await withAgenda { service, _, _ in
      _ = try await submit(service, as: F.owner, interaction: "1", rating: 5, comment: "ottimo")
      _ = try await submit(service, as: F.owner, interaction: "2", rating: 4)
      _ = try await submit(service, as: F.stranger, interaction: "1", rating: 4)
      _ = try await submit(
        service, as: F.stranger, name: "deleghe.CreateDelegaDipendente", interaction: "2",
        rating: 1)
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) { _ = try await stats(service, as: F.owner) }
          == "permissionDenied")
      let all = try await stats(service, as: F.otherOperator)
      #expect(all.services.map(\.service) == ["deleghe.CreateDelegaDipendente", "posizioni.ListVersamenti"])
      let versamenti = all.services[1]
      #expect(versamenti.count == 3)
      #expect(versamenti.averageRatingCenti == 433)
      #expect(versamenti.distribution == [0, 0, 0, 2, 1])
      #expect(versamenti.withComment == 1)
      let one = try await stats(service, as: F.operatorCF, name: "deleghe.CreateDelegaDipendente")
      #expect(one.services.count == 1 && one.services[0].averageRatingCenti == 100)
      #expect(
        await agendaOutcome(agendaPerson(F.operatorCF)) {
          _ = try await stats(service, as: F.operatorCF, name: "nope")
        } == "invalid:service")
    }
  }
}
