import Access
import Contracts
import Foundation
import RPC
import Storage
import Testing
import Validation

@testable import Posizioni

/// Profile scopes and operator sedi given by a table.
struct FixedEnablements: EnablementDirectory {
  var scopes: [String: Set<ProfileScope>] = [:]
  var sedi: [String: Set<String>] = [:]
  func enablements(of fiscalCode: String) async throws -> PersonEnablements {
    PersonEnablements(
      profileScopes: scopes[fiscalCode] ?? [], operatorSedi: sedi[fiscalCode] ?? [])
  }
}

func calling<T: Sendable>(_ caller: Caller, _ body: () async throws -> T) async throws -> T {
  try await Caller.$current.withValue(caller) { try await body() }
}

@Suite struct GDPReadTests {
  let gdp = "G750000101"

  @Test func ownerOperatorAndBackEndReadEveryList() async throws {
    try await withPosizioni { service, _ in
      for caller in [person(francescaRomano), person(operatorSiena), reader] {
        var evidenze = Cassetto_Posizioni_V1_ListEvidenzeRequest()
        evidenze.matricola = gdp
        let alerts = try await calling(caller) {
          try await service.listEvidenze(request: evidenze, context: context(Method.listEvidenze))
        }
        #expect(alerts.evidenze.map(\.id) == ["EV-DEMO-1", "EV-DEMO-2"])
        evidenze.openOnly = true
        let open = try await calling(caller) {
          try await service.listEvidenze(request: evidenze, context: context(Method.listEvidenze))
        }
        #expect(open.evidenze.map(\.id) == ["EV-DEMO-1"])

        var rettifica = Cassetto_Posizioni_V1_ListNoteRettificaRequest()
        rettifica.matricola = gdp
        let note = try await calling(caller) {
          try await service.listNoteRettifica(
            request: rettifica, context: context(Method.listNoteRettifica))
        }
        #expect(note.note.map(\.amountCents) == [125_000])

        var piani = Cassetto_Posizioni_V1_ListPianiAmmortamentoRequest()
        piani.matricola = gdp
        let plans = try await calling(caller) {
          try await service.listPianiAmmortamento(
            request: piani, context: context(Method.listPianiAmmortamento))
        }
        #expect(plans.piani.count == 1)
        #expect(plans.piani.first?.benefit == .tfs)
        #expect(plans.piani.first?.rate.map(\.paid) == [true, false, false])

        var debito = Cassetto_Posizioni_V1_ListNoteDebitoRequest()
        debito.matricola = gdp
        let all = try await calling(caller) {
          try await service.listNoteDebito(request: debito, context: context(Method.listNoteDebito))
        }
        #expect(all.note.map(\.id) == ["ECA-DEMO-2024", "ND-DEMO-2025-01"])  // by period
        debito.kind = .eca
        let eca = try await calling(caller) {
          try await service.listNoteDebito(request: debito, context: context(Method.listNoteDebito))
        }
        #expect(eca.note.map(\.id) == ["ECA-DEMO-2024"])
        #expect(eca.note.first?.periods.map(\.period) == ["2024-10", "2024-11"])
        #expect(eca.note.first?.state == .aperta)
        #expect(eca.note.first?.contested == false)
      }
    }
  }

  @Test func denunceFilterByPeriodAndErrorsWithPages() async throws {
    try await withPosizioni { service, _ in
      func list(_ fill: (inout Cassetto_Posizioni_V1_ListDenunceRequest) -> Void) async throws
        -> Cassetto_Posizioni_V1_ListDenunceResponse
      {
        var request = Cassetto_Posizioni_V1_ListDenunceRequest()
        request.matricola = gdp
        fill(&request)
        let built = request
        return try await calling(person(francescaRomano)) {
          try await service.listDenunce(request: built, context: context(Method.listDenunce))
        }
      }
      let first = try await list { $0.pageSize = 2 }
      #expect(first.denunce.map(\.period) == ["2025-01", "2025-02"])
      #expect(first.denunce.allSatisfy { $0.lines.isEmpty && $0.linesCount == 2 })
      let second = try await list {
        $0.pageSize = 2
        $0.pageToken = first.nextPageToken
      }
      #expect(second.denunce.map(\.period) == ["2025-03"])
      #expect(second.nextPageToken.isEmpty)
      let withErrors = try await list { $0.withErrorsOnly = true }
      #expect(withErrors.denunce.map(\.id) == ["DMA-DEMO-2025-02"])
      #expect(withErrors.denunce.first?.errors.map(\.code) == ["E042"])
      let range = try await list {
        $0.periodFrom = "2025-02"
        $0.periodTo = "2025-03"
      }
      #expect(range.denunce.map(\.period) == ["2025-02", "2025-03"])
      // A token from other filters, a reversed range, a bad matricola: every field named.
      await #expect(throws: ValidationError.self) {
        _ = try await list {
          $0.withErrorsOnly = true
          $0.pageToken = first.nextPageToken
        }
      }
      do {
        _ = try await list {
          $0.matricola = "G7-1"
          $0.periodFrom = "2025-05"
          $0.periodTo = "2025-01"
          $0.pageSize = -1
        }
        Issue.record("accepted")
      } catch let error as ValidationError {
        #expect(Set(error.violations.map(\.field)) == ["matricola", "period_to", "page_size"])
      }

      var get = Cassetto_Posizioni_V1_GetDenunciaRequest()
      get.id = "DMA-DEMO-2025-02"
      let denuncia = try await calling(person(operatorSiena)) {
        try await service.getDenuncia(request: get, context: context(Method.getDenuncia))
      }
      #expect(denuncia.lines.map(\.fundCode) == ["CPDEL", "CPDEL"])
      #expect(denuncia.totalContributionCents == 142_800)
      #expect(denuncia.errors.first?.line == 1)
      #expect(denuncia.kind == .dma && denuncia.source == .ingest)
    }
  }

  @Test func strangersGetNotFoundAndEveryReadIsAudited() async throws {
    try await withPosizioni { service, database in
      let outsider = person(stranger)
      let attempts: [@Sendable () async throws -> Void] = [
        {
          var r = Cassetto_Posizioni_V1_ListEvidenzeRequest()
          r.matricola = "G750000101"
          _ = try await service.listEvidenze(request: r, context: context(Method.listEvidenze))
        },
        {
          var r = Cassetto_Posizioni_V1_ListNoteRettificaRequest()
          r.matricola = "G750000101"
          _ = try await service.listNoteRettifica(
            request: r, context: context(Method.listNoteRettifica))
        },
        {
          var r = Cassetto_Posizioni_V1_ListPianiAmmortamentoRequest()
          r.matricola = "G750000101"
          _ = try await service.listPianiAmmortamento(
            request: r, context: context(Method.listPianiAmmortamento))
        },
        {
          var r = Cassetto_Posizioni_V1_ListNoteDebitoRequest()
          r.matricola = "G750000101"
          _ = try await service.listNoteDebito(request: r, context: context(Method.listNoteDebito))
        },
        {
          var r = Cassetto_Posizioni_V1_ListDenunceRequest()
          r.matricola = "G750000101"
          _ = try await service.listDenunce(request: r, context: context(Method.listDenunce))
        },
        {
          var r = Cassetto_Posizioni_V1_GetMenuRequest()
          r.matricola = "G750000101"
          _ = try await service.getMenu(request: r, context: context(Method.getMenu))
        },
      ]
      for attempt in attempts {
        await #expect(throws: AccessError.notFound("no position G750000101 visible to the caller")) {
          try await calling(outsider) { try await attempt() }
        }
      }
      var get = Cassetto_Posizioni_V1_GetDenunciaRequest()
      get.id = "DMA-DEMO-2025-01"
      await #expect(throws: AccessError.notFound("no denuncia DMA-DEMO-2025-01 visible to the caller")) {
        _ = try await calling(outsider) {
          try await service.getDenuncia(request: get, context: context(Method.getDenuncia))
        }
      }
      get.id = "NO-SUCH-DMA"
      await #expect(throws: AccessError.notFound("no denuncia NO-SUCH-DMA visible to the caller")) {
        _ = try await calling(person(francescaRomano)) {
          try await service.getDenuncia(request: get, context: context(Method.getDenuncia))
        }
      }
      let records = try await database.read { db in
        try AuditLog.records(subject: "posizione:G750000101", in: db)
      }
      #expect(records.count == 7)
      #expect(records.allSatisfy { $0.event.outcome == .denied && $0.event.actor == "TINIT-\(stranger)" })
      #expect(
        records.map { $0.event.action.split(separator: "/").last.map(String.init) ?? "" } == [
          "ListEvidenze", "ListNoteRettifica", "ListPianiAmmortamento", "ListNoteDebito",
          "ListDenunce", "GetMenu", "GetDenuncia",
        ])
      #expect(records.last?.event.details.contains("denuncia:DMA-DEMO-2025-01") == true)
      let unknown = try await database.read { db in
        try AuditLog.records(subject: "denuncia:NO-SUCH-DMA", in: db)
      }
      #expect(unknown.map(\.event.outcome) == [.denied])
    }
  }

  @Test func datiSinteticiCountsDebtErrorsAndAlerts() async throws {
    try await withPosizioni { service, _ in
      var request = Cassetto_Posizioni_V1_GetDatiSinteticiRequest()
      request.matricola = gdp
      let summary = try await calling(person(francescaRomano)) {
        try await service.getDatiSintetici(request: request, context: context(Method.getDatiSintetici))
      }
      #expect(summary.debtBalanceCents == 150_000 + 6_100_000)
      #expect(summary.declarationsWithErrors == 1)
      #expect(summary.openAlerts == 1)
      // A paid note leaves the balance; a closed alert leaves the count.
      let records = [
        GDPRecords.notaDebito("ND-DEMO-2025-01", gdp, kind: .adjustment, state: .pagata, period: "2025-02", cents: 150_000),
        GDPRecords.evidenza("EV-DEMO-1", gdp, open: false),
      ]
      _ = try await calling(ingestor) {
        try await service.ingest(requests: stream(records), context: context(Method.ingest))
      }
      let after = try await calling(person(francescaRomano)) {
        try await service.getDatiSintetici(request: request, context: context(Method.getDatiSintetici))
      }
      #expect(after.debtBalanceCents == 6_100_000)
      #expect(after.openAlerts == 0)
    }
  }
}

actor AnswerCounter {
  var value = 0
  func increment() -> Int {
    value += 1
    return value
  }
}

@Suite struct AuditGroupCommitTests {
  @Test func concurrentReadsAreAllAuditedInChainOrder() async throws {
    let answered = AnswerCounter()
    try await withPosizioni { service, database in
      try await withThrowingTaskGroup(of: Void.self) { group in
        for n in 0..<50 {
          group.addTask {
            var request = Cassetto_Posizioni_V1_GetPosizioneRequest()
            request.matricola = n % 2 == 0 ? "G750000101" : "G750000102"
            let caller = n % 5 == 0 ? person(stranger) : person(operatorSiena)
            _ = try? await calling(caller) {
              try await service.getPosizione(request: request, context: context(Method.getPosizione))
            }
            // Answered: its event is committed, so the log holds at least one event per
            // answered read.
            let answeredSoFar = await answered.increment()
            let logged = try await database.read { db in
              try AuditLog.records(
                subjects: ["posizione:G750000101", "posizione:G750000102"], limit: 1000, in: db
              ).count
            }
            #expect(logged >= answeredSoFar)
          }
        }
        try await group.waitForAll()
      }
      let records = try await database.read { db in
        try AuditLog.records(subjects: ["posizione:G750000101", "posizione:G750000102"], limit: 1000, in: db)
      }
      #expect(records.count == 50)
      #expect(records.filter { $0.event.outcome == .denied }.count == 10)
      #expect(try await AuditLog.verify(database).isIntact)
    }
  }
}
