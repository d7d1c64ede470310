import Access
import Contracts
import Foundation
import RPC
import Storage
import Testing
import Validation

@testable import Posizioni

@Suite struct VersamentiTests {
  func list(
    _ service: PosizioniService, _ matricola: String, as caller: Caller, from: String = "",
    to: String = "", pageSize: Int32 = 0, token: String = ""
  ) async throws -> Cassetto_Posizioni_V1_ListVersamentiResponse {
    var request = Cassetto_Posizioni_V1_ListVersamentiRequest()
    request.matricola = matricola
    request.periodFrom = from
    request.periodTo = to
    request.pageSize = pageSize
    request.pageToken = token
    return try await Caller.$current.withValue(caller) {
      try await service.listVersamenti(request: request, context: context(Method.listVersamenti))
    }
  }

  @Test func pagesThroughAPeriodRangeInPeriodOrder() async throws {
    try await withPosizioni { service, _ in
      var periods: [String] = []
      var token = ""
      var pages = 0
      repeat {
        let page = try await list(
          service, "7012345601", as: person(marioRossi), from: "2025-03", to: "2025-10",
          pageSize: 3, token: token)
        periods += page.versamenti.map(\.period)
        #expect(page.versamenti.allSatisfy { $0.amountCents > 0 && $0.matricola == "7012345601" })
        token = page.nextPageToken
        pages += 1
      } while !token.isEmpty && pages < 10
      #expect(periods == (3...10).map { String(format: "2025-%02d", $0) })
      #expect(pages == 3)
      // A token is refused with other filters.
      let first = try await list(
        service, "7012345601", as: reader, from: "2025-03", to: "2025-10", pageSize: 3)
      await #expect(throws: ValidationError.self) {
        _ = try await list(
          service, "7012345601", as: reader, from: "2025-01", pageSize: 3,
          token: first.nextPageToken)
      }
      await #expect(throws: ValidationError.self) {
        _ = try await list(service, "7012345601", as: reader, from: "2025-10", to: "2025-03")
      }
    }
  }

  @Test func othersGetNotFoundAndEveryReadIsAudited() async throws {
    try await withPosizioni { service, database in
      #expect(try await list(service, "7012345601", as: reader).versamenti.count == 10)
      await #expect(throws: AccessError.notFound("no position 7012345601 visible to the caller")) {
        _ = try await list(service, "7012345601", as: person(operatorSiena))
      }
      await #expect(throws: AccessError.notFound("no position 7999999999 visible to the caller")) {
        _ = try await list(service, "7999999999", as: person(marioRossi))
      }
      let records = try await database.read { db in
        try AuditLog.records(subject: "posizione:7012345601", in: db)
      }
      let reads = records.filter { $0.event.action == Method.listVersamenti.path }
      #expect(reads.map(\.event.outcome) == [.success, .denied])
      #expect(reads.first?.event.actor == "service:reports")
      #expect(reads.first?.event.delegaChain == nil)  // the test rule gives no chain
      #expect(reads.last?.event.actor == "TINIT-\(operatorSiena)")
      let missing = try await database.read { db in
        try AuditLog.records(subject: "posizione:7999999999", in: db)
      }
      #expect(missing.map(\.event.outcome) == [.denied])
      #expect(try await AuditLog.verify(database).isIntact)
    }
  }

  @Test func datiSinteticiGivesTheLastPaymentAndZeroForMissingData() async throws {
    try await withPosizioni { service, database in
      var request = Cassetto_Posizioni_V1_GetDatiSinteticiRequest()
      request.matricola = "7012345601"
      let summary = try await Caller.$current.withValue(person(marioRossi)) {
        try await service.getDatiSintetici(
          request: request, context: context(Method.getDatiSintetici))
      }
      #expect(summary.matricola == "7012345601")
      #expect(summary.lastPayment?.period == "2025-12")
      #expect(summary.debtBalanceCents == 0 && summary.openAlerts == 0)
      // All 12 payments of 2025, then March to May only (1,234,567 + month × 1,000 cents).
      #expect(summary.paymentsCount == 12)
      #expect(summary.totalPaidCents == 12 * 1_234_567 + 78 * 1_000)
      request.periodFrom = "2025-03"
      request.periodTo = "2025-05"
      let spring = try await Caller.$current.withValue(reader) {
        try await service.getDatiSintetici(
          request: request, context: context(Method.getDatiSintetici))
      }
      #expect(spring.paymentsCount == 3)
      #expect(spring.totalPaidCents == 3 * 1_234_567 + 12 * 1_000)
      #expect(spring.lastPayment?.period == "2025-12")
      request.periodFrom = "2025-06"
      await #expect(throws: ValidationError.self) {
        try await Caller.$current.withValue(reader) {
          _ = try await service.getDatiSintetici(
            request: request, context: context(Method.getDatiSintetici))
        }
      }
      request.periodFrom = ""
      request.periodTo = ""
      await #expect(throws: AccessError.self) {
        try await Caller.$current.withValue(person(stranger)) {
          _ = try await service.getDatiSintetici(
            request: request, context: context(Method.getDatiSintetici))
        }
      }
      let records = try await database.read { db in
        try AuditLog.records(subject: "posizione:7012345601", in: db)
      }
      #expect(
        records.filter { $0.event.action == Method.getDatiSintetici.path }.map(\.event.outcome)
          == [.success, .success, .denied])
    }
  }
}
