import Access
import Contracts
import Foundation
import RPC
import Security
import Server
import Storage
import Testing

@testable import Ticketing

/// The Ticketing service on an in-process gRPC server (loopback h2c, the production error
/// mapping and JWT authentication), called by the generated Swift client over real sockets.
/// Richieste come from ``AgendaFakeRichieste``: these tests are about the agenda's rules and
/// its concurrency as a client sees them.
struct AgendaWire: Sendable {
  let server: Server
  let signer: JWTSigner
  let clock: AgendaClock
  let database: any Database
  let richieste: AgendaFakeRichieste
  static let issuer = "agenda-tests"
  static let audience = "cassetto"

  func channel() -> Channel { Channel(host: "127.0.0.1", port: server.localPort) }

  func client(_ channel: Channel) -> Cassetto_Ticketing_V1_TicketingClient {
    Cassetto_Ticketing_V1_TicketingClient(channel: channel)
  }

  func metadata(_ cf: String) throws -> Metadata {
    let token = try signer.sign(
      PersonToken(
        codiceFiscale: cf, issuer: Self.issuer, audience: Self.audience, issuedAt: clock.now()))
    return ["authorization": "Bearer \(token)"]
  }
}

func withAgendaWire(_ body: (AgendaWire) async throws -> Void) async throws {
  try await withAgendaAndRichieste { service, database, clock, richieste in
    let signer = try JWTSigner.generate(.es256)
    let verifier = JWTVerifier(
      trustedKeys: [signer.trustedKey], issuer: AgendaWire.issuer, audience: AgendaWire.audience)
    let ticketing = TicketingService(
      richieste: RichiesteService(database: database, clock: clock, authorizer: service.authorizer),
      agenda: service)
    let server = try Server(
      configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 2),
      services: [
        ticketing.serviceDefinition.intercepted(by: [
          ErrorMappingInterceptor(),
          AuthenticationInterceptor(verifiers: [verifier], serviceIdentities: [], clock: clock),
        ])
      ])
    try server.start()
    let wire = AgendaWire(
      server: server, signer: signer, clock: clock, database: database, richieste: richieste)
    do {
      try await body(wire)
      await server.shutdown(gracePeriod: .zero)
    } catch {
      await server.shutdown(gracePeriod: .zero)
      throw error
    }
  }
}

/// The status of a failed call (`OK` when it succeeded).
func agendaStatus(_ body: () async throws -> Void) async -> (StatusCode, String) {
  do {
    try await body()
    return (.ok, "")
  } catch let error as RPCError {
    return (error.code, error.message)
  } catch {
    return (.unknown, "\(error)")
  }
}

/// The fields a `google.rpc.BadRequest` in the error's details names.
func agendaBadRequestFields(_ body: () async throws -> Void) async -> [String] {
  do {
    try await body()
    return []
  } catch let error as RPCError {
    guard error.code == .invalidArgument, let details = error.details,
      let status = try? Google_Rpc_Status(serializedBytes: details)
    else { return ["no details"] }
    return status.details.flatMap { any -> [String] in
      guard let bad = try? Google_Rpc_BadRequest(serializedBytes: any.value) else { return [] }
      return bad.fieldViolations.map(\.field)
    }
  } catch {
    return ["\(error)"]
  }
}

@Suite(.serialized) struct AgendaWireTests {
  typealias F = AgendaFixture
  let hour: TimeInterval = 3600

  func publish(_ wire: AgendaWire, _ client: Cassetto_Ticketing_V1_TicketingClient, capacity: Int32 = 1)
    async throws -> Cassetto_Ticketing_V1_Slot
  {
    var request = Cassetto_Ticketing_V1_PublishSlotsRequest()
    request.slots = [agendaSlotSpec(F.start.addingTimeInterval(24 * hour), capacity: capacity)]
    return try await client.publishSlots(request, metadata: wire.metadata(F.operatorCF))
      .message.slots[0]
  }

  func book(_ richiesta: String, _ slot: String) -> Cassetto_Ticketing_V1_BookAppointmentRequest {
    var request = Cassetto_Ticketing_V1_BookAppointmentRequest()
    request.richiestaId = richiesta
    request.slotId = slot
    return request
  }

  /// 50 clients, each on its own connection, book the one seat of a slot at once: exactly one
  /// succeeds, the 49 others get RESOURCE_EXHAUSTED "slot full".
  @Test func fiftyClientsBookOneSeatExactlyOneSucceeds() async throws {
    try await withAgendaWire { wire in
      for i in 0..<50 { wire.richieste.add("w\(i)", openedDaysAgo: 31) }
      let setup = wire.channel()
      defer { setup.close() }
      let slot = try await publish(wire, wire.client(setup))
      let metadata = try wire.metadata(F.owner)
      let channels = (0..<50).map { _ in wire.channel() }
      defer { channels.forEach { $0.close() } }
      let results = await withTaskGroup(of: (StatusCode, String).self) { group in
        for (i, channel) in channels.enumerated() {
          let request = book("w\(i)", slot.id)
          group.addTask {
            await agendaStatus {
              _ = try await wire.client(channel).bookAppointment(request, metadata: metadata)
            }
          }
        }
        return await group.reduce(into: [(StatusCode, String)]()) { $0.append($1) }
      }
      #expect(results.filter { $0.0 == .ok }.count == 1)
      let refused = results.filter { $0.0 != .ok }
      #expect(refused.count == 49)
      #expect(refused.allSatisfy { $0.0 == .resourceExhausted && $0.1.hasPrefix("slot full") })
      let (booked, appointments) = try await wire.database.read { db in
        (
          try db.queryFirst("SELECT booked FROM ticketing_slots WHERE id = ?", [slot.id])?
            .int64("booked"),
          try db.queryFirst("SELECT COUNT(*) AS n FROM ticketing_appointments")?.int64("n")
        )
      }
      #expect(booked == 1 && appointments == 1)
      // Every attempt is audited (1 success, 49 rejected) and the chain is intact.
      let audit = try await agendaAudit(wire.database, "BookAppointment")
      #expect(audit.filter { $0 == "success" }.count == 1)
      #expect(audit.filter { $0 == "rejected" }.count == 49)
      #expect(try await AuditLog.verify(wire.database).isIntact)
      let free = try await wire.client(setup).listAvailableSlots(
        {
          var r = Cassetto_Ticketing_V1_ListAvailableSlotsRequest()
          r.richiestaId = "w0"
          return r
        }(), metadata: metadata)
      #expect(free.message.slots.isEmpty)
    }
  }

  @Test func ineligibleBookingsAreRefusedWithTheReason() async throws {
    try await withAgendaWire { wire in
      wire.richieste.add("fresh", openedDaysAgo: 3)
      wire.richieste.add("accolta", state: .chiusa, esito: .accolta, openedDaysAgo: 60)
      wire.richieste.add("nonaccolta", state: .chiusa, esito: .nonAccolta, openedDaysAgo: 2)
      let channel = wire.channel()
      defer { channel.close() }
      let client = wire.client(channel)
      let slot = try await publish(wire, client, capacity: 3)
      let owner = try wire.metadata(F.owner)

      let fresh = await agendaStatus {
        _ = try await client.bookAppointment(book("fresh", slot.id), metadata: owner)
      }
      #expect(fresh.0 == .failedPrecondition)
      #expect(fresh.1.contains("the answer threshold of 30 days has not passed"))
      let accolta = await agendaStatus {
        _ = try await client.bookAppointment(book("accolta", slot.id), metadata: owner)
      }
      #expect(accolta.0 == .failedPrecondition && accolta.1.contains("esito ACCOLTA"))
      let stranger = await agendaStatus {
        _ = try await client.bookAppointment(
          book("nonaccolta", slot.id), metadata: wire.metadata(F.stranger))
      }
      #expect(stranger.0 == .notFound)
      let anonymous = await agendaStatus {
        _ = try await client.bookAppointment(book("nonaccolta", slot.id))
      }
      #expect(anonymous.0 == .unauthenticated)
      #expect(
        await agendaBadRequestFields {
          _ = try await client.bookAppointment(book("", ""), metadata: owner)
        } == ["richiesta_id", "slot_id"])
      // Closed NON_ACCOLTA: booked at once; the booking is in the request's history.
      let appointment = try await client.bookAppointment(
        book("nonaccolta", slot.id), metadata: owner
      ).message
      #expect(appointment.state == .prenotato && appointment.slot?.booked == 1)
      #expect(wire.richieste.events == ["nonaccolta:appointmentBooked:\(F.owner)"])
    }
  }

  @Test func comunicazioniReadUnreadAndFeedbackDuplicateOverTheWire() async throws {
    try await withAgendaWire { wire in
      let channel = wire.channel()
      defer { channel.close() }
      let client = wire.client(channel)
      var send = Cassetto_Ticketing_V1_SendComunicazioneRequest()
      send.matricola = F.matricola
      send.kind = .irregolarita
      send.title = "Differenze contributive"
      send.body = "Verificare il mese di maggio."
      let sent = try await client.sendComunicazione(send, metadata: wire.metadata(F.operatorCF))
        .message
      let ownerDenied = await agendaStatus {
        _ = try await client.sendComunicazione(send, metadata: wire.metadata(F.owner))
      }
      #expect(ownerDenied.0 == .permissionDenied)

      var list = Cassetto_Ticketing_V1_ListComunicazioniRequest()
      list.matricola = F.matricola
      list.filter = .unread
      let owner = try wire.metadata(F.owner)
      var unread = try await client.listComunicazioni(list, metadata: owner).message
      #expect(unread.comunicazioni.map(\.id) == [sent.id] && unread.unreadCount == 1)
      var mark = Cassetto_Ticketing_V1_MarkComunicazioneReadRequest()
      mark.id = sent.id
      let read = try await client.markComunicazioneRead(mark, metadata: owner).message
      #expect(read.read && read.readBy == F.owner)
      unread = try await client.listComunicazioni(list, metadata: owner).message
      #expect(unread.comunicazioni.isEmpty && unread.unreadCount == 0)
      list.filter = .read
      #expect(
        try await client.listComunicazioni(list, metadata: owner).message.comunicazioni.map(\.id)
          == [sent.id])
      let hidden = await agendaStatus {
        _ = try await client.listComunicazioni(list, metadata: wire.metadata(F.stranger))
      }
      #expect(hidden.0 == .notFound)

      var feedback = Cassetto_Ticketing_V1_SubmitFeedbackRequest()
      feedback.service = "ticketing.ListComunicazioni"
      feedback.interactionId = "wire-1"
      feedback.rating = 5
      _ = try await client.submitFeedback(feedback, metadata: owner)
      let duplicate = await agendaStatus {
        _ = try await client.submitFeedback(feedback, metadata: owner)
      }
      #expect(duplicate.0 == .alreadyExists)
      feedback.rating = 9
      feedback.interactionId = "wire-2"
      #expect(
        await agendaBadRequestFields {
          _ = try await client.submitFeedback(feedback, metadata: owner)
        } == ["rating"])
      let stats = try await client.getFeedbackStats(
        Cassetto_Ticketing_V1_GetFeedbackStatsRequest(), metadata: wire.metadata(F.operatorCF)
      ).message
      #expect(stats.services.map(\.count) == [1])
      #expect(stats.services.first?.averageRatingCenti == 500)
    }
  }
}
