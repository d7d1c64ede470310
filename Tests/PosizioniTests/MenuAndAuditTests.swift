import Access
import Contracts
import Foundation
import RPC
import Storage
import Testing
import Validation

@testable import Posizioni

@Suite struct ApplicationRegistryTests {
  /// The package root (Tests/PosizioniTests/ is two levels down).
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  @Test func theShippedRegistryIsValidAndEqualsConfigFile() throws {
    let file = try String(
      contentsOf: Self.root.appendingPathComponent("config/applications.json"), encoding: .utf8)
    #expect(file == ApplicationRegistry.defaultJSON + "\n")
    let registry = try ApplicationRegistry.load(path: nil)
    #expect(registry == ApplicationRegistry.builtIn)
    #expect(
      registry.sections.map(\.title) == [
        "Contatti", "Dati sintetici", "Dati di dettaglio", "Dati complementari", "Evidenze",
        "Servizi GDP", "Prospetto anzianità contributiva",
      ])
    let gdp = registry.applications.filter { $0.section == "servizi-gdp" }.map(\.title)
    for title in [
      "Visualizza Versamenti", "Invio Circ.38", "Gest. Note Debito", "Gest. Note Debito ECA",
      "Visualizza Piani ammort.", "Visualizza DMA",
    ] {
      #expect(gdp.contains(title), "\(title)")
    }
  }

  func invalid(_ json: String) -> ApplicationRegistry.Invalid? {
    do {
      _ = try ApplicationRegistry.parse(Data(json.utf8))
      return nil
    } catch {
      return error
    }
  }

  @Test func aBadEntryIsNamedWithItsField() {
    let sections = #"{"sections": [{"id": "gdp", "title": "Servizi GDP"}], "applications": ["#
    func app(_ fields: String) -> String {
      sections + #"{"id": "ok", "section": "gdp", "title": "A", "target": "/a.b.S/M", "roles": ["owner"]}, "#
        + fields + "]}"
    }
    let cases: [(String, String, String)] = [
      (app(#"{"id": "x", "section": "nope", "title": "T", "target": "/a.S/M", "roles": ["owner"]}"#), #"applications[1] ("x")"#, "section"),
      (app(#"{"id": "x", "section": "gdp", "title": "T", "target": "/a.S/M", "funds": ["FUND_X"], "roles": ["owner"]}"#), #"applications[1] ("x")"#, "funds"),
      (app(#"{"id": "x", "section": "gdp", "title": "T", "target": "/a.S/M", "scopes": ["SCOPE_MALATTIA_ATTESTATI"], "roles": ["owner"]}"#), #"applications[1] ("x")"#, "scopes"),
      (app(#"{"id": "x", "section": "gdp", "title": "T", "target": "/a.S/M", "roles": ["admin"]}"#), #"applications[1] ("x")"#, "roles"),
      (app(#"{"id": "x", "section": "gdp", "title": "T", "target": "/a.S/M"}"#), #"applications[1] ("x")"#, "roles"),
      (app(#"{"id": "x", "section": "gdp", "title": "T", "target": "ftp://x", "roles": ["owner"]}"#), #"applications[1] ("x")"#, "target"),
      (app(#"{"id": "x", "section": "gdp", "title": "", "target": "/a.S/M", "roles": ["owner"]}"#), #"applications[1] ("x")"#, "title"),
      (app(#"{"id": "ok", "section": "gdp", "title": "T", "target": "/a.S/M", "roles": ["owner"]}"#), #"applications[1] ("ok")"#, "id"),
      (app(#"{"id": "x", "section": "gdp", "title": "T", "target": "/a.S/M", "roles": ["owner"], "colour": "red"}"#), #"applications[1] ("x")"#, "colour"),
      (app(#"{"id": "Bad Id", "section": "gdp", "title": "T", "target": "/a.S/M", "roles": ["owner"]}"#), "applications[1]", "id"),
      (#"{"sections": []}"#, "the registry", "sections"),
      ("not json", "the registry", "(document)"),
    ]
    for (json, entry, field) in cases {
      let error = invalid(json)
      #expect(error?.entry == entry, "\(json)")
      #expect(error?.field == field, "\(json)")
    }
    #expect(invalid(sections + #"{"id": "ok", "section": "gdp", "title": "A", "target": "https://x.example/a", "roles": ["owner"]}]}"#) == nil)
  }

  @Test func aFileIsNamedAndATypoedRPCIsRefused() throws {
    let path = NSTemporaryDirectory() + "apps-\(UUID().uuidString).json"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try Data(#"{"sections": [{"id": "s", "title": "S"}], "applications": [{"id": "a", "section": "s", "title": "T", "target": "/x.S/M", "roles": ["robot"]}]}"#.utf8).write(to: URL(fileURLWithPath: path))
    do {
      _ = try ApplicationRegistry.load(path: path)
      Issue.record("loaded")
    } catch {
      #expect("\(error)".contains(path))
      #expect("\(error)".contains(#"applications[0] ("a") field "roles""#))
    }
    let registry = try ApplicationRegistry.load(path: nil)
    #expect(throws: ConfigurationFileError.self) {
      try registry.checkTargets(served: ["/cassetto.posizioni.v1.Posizioni/GetPosizione"], path: nil)
    }
  }

  @Test func theMenuFollowsFundRoleAndScope() throws {
    let registry = ApplicationRegistry.builtIn
    func sections(_ fund: Cassetto_Common_V1_Fund, _ role: ApplicationRegistry.Role, _ scopes: Set<ProfileScope>) -> [String] {
      registry.menu(fund: fund, role: role, scopes: scopes).sections.map(\.id)
    }
    func items(_ fund: Cassetto_Common_V1_Fund, _ role: ApplicationRegistry.Role, _ scopes: Set<ProfileScope>) -> [String] {
      registry.menu(fund: fund, role: role, scopes: scopes).sections.flatMap { $0.items.map(\.id) }
    }
    #expect(sections(.pubbliciGdp, .delegate, [.contribuzionePubblici]).contains("servizi-gdp"))
    #expect(!sections(.pubbliciGdp, .delegate, [.contribuzionePrivati]).contains("servizi-gdp"))
    #expect(!sections(.pubbliciGdp, .owner, []).contains("servizi-gdp"))
    #expect(!sections(.privatiUniemens, .delegate, [.contribuzionePubblici, .contribuzionePrivati]).contains("servizi-gdp"))
    // Operators see the GDP views but neither send files nor compile declarations.
    let operatorItems = items(.pubbliciGdp, .operator, [])
    #expect(operatorItems.contains("visualizza-dma"))
    #expect(!operatorItems.contains("compila-dma") && !operatorItems.contains("invio-circ-38"))
    #expect(!operatorItems.contains("com-bidirezionale"))
    #expect(items(.privatiUniemens, .owner, [.contribuzionePrivati]).contains("versamenti-f24"))
  }
}

/// The test rule with the grant chains the Authorizer gives (`owner:`, `sede:`, `service:`).
struct ChainedAccess: PositionAccess {
  let basic = BasicPositionAccess(operators: FixedOperators(roles: [operatorSiena: ["7500"]]))

  func scope(for caller: Caller, at instant: Date) async throws -> PositionScope {
    try await basic.scope(for: caller, at: instant)
  }
  func mayRead(_ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date)
    async throws -> Bool
  {
    try await basic.mayRead(caller, position: position, subject: subject, at: instant)
  }
  func readDecision(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> PositionReadDecision {
    guard try await mayRead(caller, position: position, subject: subject, at: instant) else {
      return PositionReadDecision(allowed: false)
    }
    switch caller {
    case .person(let person) where subject.isOwner(person.codiceFiscale.value):
      return PositionReadDecision(allowed: true, chain: "owner:\(subject.fiscalCode)")
    case .person: return PositionReadDecision(allowed: true, chain: "sede:\(position.sedeCode)")
    default: return PositionReadDecision(allowed: true, chain: "service:posizioni.read")
    }
  }
}

@Suite struct GetMenuTests {
  @Test func theMenuIsForCallerAndPosition() async throws {
    try await withPosizioni { _, database in
      let service = PosizioniService(
        database: database, clock: FixedClock(testNow), access: ChainedAccess())
      let withScope = PosizioniService(
        database: database, clock: FixedClock(testNow), access: ChainedAccess(),
        enablements: FixedEnablements(scopes: [francescaRomano: [.contribuzionePubblici]]))
      var request = Cassetto_Posizioni_V1_GetMenuRequest()
      request.matricola = "g750000101"
      let scoped = try await calling(person(francescaRomano)) {
        try await withScope.getMenu(request: request, context: context(Method.getMenu))
      }
      let gdp = scoped.sections.first { $0.id == "servizi-gdp" }
      #expect(gdp?.title == "Servizi GDP")
      #expect(gdp?.items.first?.target == "/cassetto.posizioni.v1.Posizioni/ListVersamenti")
      // The same owner without the scope (no enablement directory: no scopes).
      let plain = try await calling(person(francescaRomano)) {
        try await service.getMenu(request: request, context: context(Method.getMenu))
      }
      #expect(!plain.sections.contains { $0.id == "servizi-gdp" })
      #expect(plain.sections.contains { $0.id == "dati-sintetici" })
      let operatorMenu = try await calling(person(operatorSiena)) {
        try await service.getMenu(request: request, context: context(Method.getMenu))
      }
      #expect(operatorMenu.sections.contains { $0.id == "servizi-gdp" })
      let records = try await database.read { db in
        try AuditLog.records(subject: "posizione:G750000101", in: db)
      }
      #expect(records.map(\.event.outcome) == [.success, .success, .success])
    }
  }
}

@Suite struct AccessAuditTests {
  @Test func ownerAndOperatorsSeeTheSubjectsAccessEvents() async throws {
    try await withPosizioni { service, database in
      let audit = AccessAuditService(
        database: database,
        enablements: FixedEnablements(sedi: [operatorSiena: ["7500"], marioRossi: ["7000"]]))
      // Reads: owner, stranger (denied), operator, on two positions of Comune di Siena.
      for (caller, matricola) in [
        (person(francescaRomano), "G750000101"), (person(stranger), "G750000101"),
        (person(operatorSiena), "G750000102"), (person(francescaRomano), "7012345601"),
      ] {
        var request = Cassetto_Posizioni_V1_GetPosizioneRequest()
        request.matricola = matricola
        _ = try? await calling(caller) {
          try await service.getPosizione(request: request, context: context(Method.getPosizione))
        }
      }
      func list(_ caller: Caller, _ fill: (inout Cassetto_Audit_V1_ListAccessEventsRequest) -> Void = { _ in })
        async throws -> Cassetto_Audit_V1_ListAccessEventsResponse
      {
        var request = Cassetto_Audit_V1_ListAccessEventsRequest()
        request.subjectFiscalCode = PosizioniDemoData.comuneSiena
        fill(&request)
        let built = request
        return try await calling(caller) {
          try await audit.listAccessEvents(
            request: built,
            context: context(Cassetto_Audit_V1_Audit.Method.listAccessEvents))
        }
      }
      let owner = try await list(person(francescaRomano))
      #expect(owner.events.map(\.matricola) == ["G750000101", "G750000101", "G750000102"])
      #expect(owner.events.map(\.outcome) == [.success, .denied, .success])
      #expect(owner.events[1].actor == "TINIT-\(stranger)")
      #expect(owner.events.allSatisfy { $0.rpc == Method.getPosizione.path })
      let page = try await list(person(operatorSiena)) { $0.pageSize = 2 }
      #expect(page.events.count == 2)
      let rest = try await list(person(operatorSiena)) {
        $0.pageSize = 2
        $0.pageToken = page.nextPageToken
      }
      #expect(rest.events.map(\.sequence) == [owner.events[2].sequence])
      let one = try await list(person(operatorSiena)) { $0.matricola = "G750000102" }
      #expect(one.events.count == 1)
      // Not the owner nor an operator of 7500: NOT_FOUND; a back-end: PERMISSION_DENIED.
      for outsider in [person(stranger), person(marioRossi)] {
        await #expect(throws: AccessError.self) { _ = try await list(outsider) }
      }
      await #expect(throws: AccessError.permissionDenied(
        "the access audit is for the subject's legal representative and operators of the sede")) {
        _ = try await list(reader)
      }
      await #expect(throws: ValidationError.self) {
        _ = try await list(person(francescaRomano)) { $0.subjectFiscalCode = "123" }
      }
    }
  }
}
