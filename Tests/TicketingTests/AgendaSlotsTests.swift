import Access
import Contracts
import Foundation
import RPC
import Storage
import Testing

@testable import Ticketing

func agendaSlotSpec(
  _ start: Date, length: Int32 = 30, channel: Cassetto_Ticketing_V1_Channel = .sportello,
  capacity: Int32 = 1
) -> Cassetto_Ticketing_V1_SlotSpec {
  var spec = Cassetto_Ticketing_V1_SlotSpec()
  spec.start = agendaTimestamp(start)
  spec.lengthMinutes = length
  spec.channel = channel
  spec.capacity = capacity
  return spec
}

func agendaPublish(
  _ service: AgendaService, as cf: String = AgendaFixture.operatorCF, sede: String = "",
  _ specs: [Cassetto_Ticketing_V1_SlotSpec], requestID: String = ""
) async throws -> [Cassetto_Ticketing_V1_Slot] {
  var request = Cassetto_Ticketing_V1_PublishSlotsRequest()
  request.sedeCode = sede
  request.slots = specs
  request.requestId = requestID
  return try await agendaAs(agendaPerson(cf)) {
    try await service.publishSlots(request: request, context: agendaContext())
  }.slots
}

@Suite struct AgendaSlotsTests {
  typealias F = AgendaFixture
  let hour: TimeInterval = 3600

  func listBySede(
    _ service: AgendaService, as cf: String = F.operatorCF, sede: String = "7000",
    channel: Cassetto_Ticketing_V1_Channel = .unspecified, pageSize: Int32 = 0, token: String = ""
  ) async throws -> Cassetto_Ticketing_V1_ListAvailableSlotsResponse {
    var request = Cassetto_Ticketing_V1_ListAvailableSlotsRequest()
    request.sedeCode = sede
    request.channel = channel
    request.pageSize = pageSize
    request.pageToken = token
    return try await agendaAs(agendaPerson(cf)) {
      try await service.listAvailableSlots(request: request, context: agendaContext())
    }
  }

  @Test func publishValidatesEverySlotAndStoresNothingOnError() async throws {
    try await withAgenda { service, database, _ in
      let now = F.start
      let outcome = await agendaOutcome(agendaPerson(F.operatorCF)) {
        _ = try await agendaPublish(
          service,
          [
            agendaSlotSpec(now.addingTimeInterval(hour)),
            agendaSlotSpec(now.addingTimeInterval(-hour)),
            agendaSlotSpec(now.addingTimeInterval(hour), length: 2, channel: .unspecified, capacity: 0),
          ])
      }
      #expect(
        outcome
          == "invalid:slots[1].start,slots[2].length_minutes,slots[2].channel,slots[2].capacity")
      #expect(
        await agendaOutcome(agendaPerson(F.operatorCF)) { _ = try await agendaPublish(service, []) }
          == "invalid:slots")
      let count = try await database.read { db in
        try db.queryFirst("SELECT COUNT(*) AS n FROM ticketing_slots")?.int64("n")
      }
      #expect(count == 0)
    }
  }

  @Test func onlyOperatorsPublishForTheirOwnSede() async throws {
    try await withAgenda { service, _, _ in
      let spec = [agendaSlotSpec(F.start.addingTimeInterval(hour))]
      #expect(
        await agendaOutcome(agendaPerson(F.owner)) {
          _ = try await agendaPublish(service, as: F.owner, spec)
        } == "permissionDenied")
      #expect(
        await agendaOutcome(agendaPerson(F.operatorCF)) {
          _ = try await agendaPublish(service, sede: "8000", spec)
        } == "permissionDenied")
      #expect(
        await agendaOutcome(agendaPerson(F.twoSediOperator)) {
          _ = try await agendaPublish(service, as: F.twoSediOperator, spec)
        } == "invalid:sede_code")
      #expect(
        await agendaOutcome(agendaPerson(F.operatorCF)) {
          _ = try await agendaPublish(service, sede: "70a0", spec)
        } == "invalid:sede_code")
      let slots = try await agendaPublish(service, as: F.twoSediOperator, sede: "8000", spec)
      #expect(slots.count == 1 && slots[0].sede?.code == "8000" && slots[0].booked == 0)
    }
  }

  @Test func publishIsIdempotentAndListingShowsOnlyFutureSlotsInOrder() async throws {
    try await withAgenda { service, database, clock in
      let specs = [
        agendaSlotSpec(F.start.addingTimeInterval(3 * hour), channel: .video, capacity: 2),
        agendaSlotSpec(F.start.addingTimeInterval(1 * hour)),
        agendaSlotSpec(F.start.addingTimeInterval(2 * hour), channel: .telefono),
      ]
      let slots = try await agendaPublish(service, specs, requestID: "publish-1")
      let again = try await agendaPublish(service, specs, requestID: "publish-1")
      #expect(slots == again)
      #expect(try await agendaAudit(database, "PublishSlots") == ["success"])
      #expect(slots.map(\.capacity) == [2, 1, 1])

      let ordered = [slots[1].id, slots[2].id, slots[0].id]
      #expect(try await listBySede(service).slots.map(\.id) == ordered)
      let page1 = try await listBySede(service, pageSize: 2)
      #expect(page1.slots.map(\.id) == Array(ordered.prefix(2)))
      let page2 = try await listBySede(service, pageSize: 2, token: page1.nextPageToken)
      #expect(page2.slots.map(\.id) == [ordered[2]])
      #expect(page2.nextPageToken.isEmpty)
      #expect(try await listBySede(service, channel: .telefono).slots.map(\.id) == [slots[2].id])
      // Another sede's operator sees nothing of 7000; its own sede is empty.
      #expect(
        await agendaOutcome(agendaPerson(F.otherOperator)) {
          _ = try await listBySede(service, as: F.otherOperator)
        } == "permissionDenied")
      #expect(try await listBySede(service, as: F.otherOperator, sede: "8000").slots.isEmpty)
      // Time passes: started slots are no longer offered.
      clock.advance(1.5 * hour)
      #expect(try await listBySede(service).slots.map(\.id) == [slots[2].id, slots[0].id])
    }
  }
}
