import Access
import Foundation
import Testing
import Validation

// The authorization matrix with in-memory directories and fixed instants: no relation,
// revoked, future, wrong fund scope, legitimate delegate, sub-delega chain, legacy GDP and
// the cut-over, operators, owners, and the Europe/Rome day boundary.

struct FakePositions: PositionDirectory {
  var subjects: [String: SubjectInfo]
  var positions: [String: PositionInfo]
  func subject(fiscalCode: String) async throws -> SubjectInfo? { subjects[fiscalCode] }
  func position(matricola: String) async throws -> PositionInfo? { positions[matricola] }
  func positions(ofSubject fiscalCode: String) async throws -> [PositionInfo] {
    positions.values.filter { $0.subjectFiscalCode == fiscalCode }.sorted {
      $0.matricola < $1.matricola
    }
  }
}

struct FakeEnablements: EnablementDirectory {
  var people: [String: PersonEnablements]
  func enablements(of fiscalCode: String) async throws -> PersonEnablements {
    people[fiscalCode] ?? PersonEnablements()
  }
}

struct FakeDeleghe: DelegaDirectory {
  var all: [DelegaGrant]
  func deleghe(delegate fiscalCode: String, subject: String) async throws -> [DelegaGrant] {
    all.filter { $0.delegateFiscalCode == fiscalCode && $0.subjectFiscalCode == subject }
  }
  func deleghe(delegate fiscalCode: String) async throws -> [DelegaGrant] {
    all.filter { $0.delegateFiscalCode == fiscalCode && $0.isActive }
  }
  func delega(id: String) async throws -> DelegaGrant? { all.first { $0.id == id } }
}

func day(_ y: Int, _ m: Int, _ d: Int) -> CalendarDate {
  (try? CalendarDate(year: y, month: m, day: d))!
}

/// An instant given in Europe/Rome wall-clock time.
func rome(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 12, _ min: Int = 0) -> Date {
  var calendar = Calendar(identifier: .gregorian)
  calendar.timeZone = institutionTimeZone
  return calendar.date(from: DateComponents(year: y, month: m, day: d, hour: h, minute: min))!
}

let owner = "RSSMRA80A01H501U"
let employee = "BNCLRA85C41F205P"
let intermediary = "VRDGPP70B12L219P"
let subEmployee = "NREFNC90D15H501F"
let stranger = "GLLSRA75E50F839L"
let operatorCF = "MRNLCU60A01D612B"
let legacyHolder = "CSTPLA66H10G273R"
let company = "01234560017"
let comune = "00050800523"

let privata = PositionInfo(
  matricola: "7012345601", subjectFiscalCode: company, fund: .privatiUniEmens, sedeCode: "7000",
  state: .attiva)
let privata2 = PositionInfo(
  matricola: "7012345602", subjectFiscalCode: company, fund: .privatiUniEmens, sedeCode: "7000",
  state: .attiva)
let gdp = PositionInfo(
  matricola: "G750000101", subjectFiscalCode: comune, fund: .pubbliciGDP, sedeCode: "7500",
  state: .attiva)

func authorizer(deleghe: [DelegaGrant], people: [String: PersonEnablements] = [:]) -> Authorizer {
  var enabled: [String: PersonEnablements] = [
    employee: PersonEnablements(profileScopes: [.contribuzionePrivati]),
    intermediary: PersonEnablements(
      profileScopes: [.contribuzionePrivati, .contribuzionePubblici], activeAlbo: true),
    subEmployee: PersonEnablements(
      profileScopes: [.contribuzionePrivati], sc62Scopes: [.contribuzionePrivati]),
    operatorCF: PersonEnablements(operatorSedi: ["7000"]),
    legacyHolder: PersonEnablements(legacyGDPAdministrations: [comune]),
  ]
  for (k, v) in people { enabled[k] = v }
  return Authorizer(
    positions: FakePositions(
      subjects: [
        company: SubjectInfo(
          fiscalCode: company, name: "ACME", nature: .privateEmployer,
          legalRepresentative: owner),
        comune: SubjectInfo(
          fiscalCode: comune, name: "Comune", nature: .publicBody, legalRepresentative: owner),
      ],
      positions: [privata.matricola: privata, privata2.matricola: privata2, gdp.matricola: gdp]),
    enablements: FakeEnablements(people: enabled), deleghe: FakeDeleghe(all: deleghe),
    cutover: .circolare34)
}

func delega(
  _ id: String, to delegate: String = employee, kind: DelegaKind = .dipendente,
  active: Bool = true, subject: String = company, matricola: String? = nil,
  from: CalendarDate? = day(2025, 1, 1), end: CalendarDate? = nil, parent: String? = nil,
  delegant: String = owner
) -> DelegaGrant {
  DelegaGrant(
    id: id, kind: kind, isActive: active, subjectFiscalCode: subject, matricola: matricola,
    delegantFiscalCode: delegant, delegateFiscalCode: delegate, parentID: parent,
    effectiveFrom: from, endDate: end)
}

@Suite struct AuthorizerMatrix {
  let now = rome(2025, 6, 10)

  @Test func noRelationIsDenied() async throws {
    let d = try await authorizer(deleghe: []).decide(
      person: stranger, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(!d.allowed)
    #expect(d.chain.isEmpty)
  }

  @Test func unknownPositionIsDenied() async throws {
    let d = try await authorizer(deleghe: []).decide(
      person: owner, function: .readPosition, matricola: "0000000000", at: now)
    #expect(!d.allowed)
  }

  @Test func ownerMayDoEverything() async throws {
    for function in AccessFunction.allCases where function != .gdpDenunce {
      let d = try await authorizer(deleghe: []).decide(
        person: owner, function: function, matricola: privata.matricola, at: now)
      #expect(d.allowed && d.chain == [.owner(company)])
    }
  }

  @Test func operatorOfTheSedeReadsButDoesNotManage() async throws {
    let a = authorizer(deleghe: [])
    let read = try await a.decide(
      person: operatorCF, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(read.allowed && read.chain == [.sedeOperator("7000")])
    let otherSede = try await a.decide(
      person: operatorCF, function: .readPosition, matricola: gdp.matricola, at: now)
    #expect(!otherSede.allowed)
    let manage = try await a.decide(
      person: operatorCF, function: .manageDeleghe, matricola: privata.matricola, at: now)
    #expect(!manage.allowed)
  }

  @Test func legitimateDelegate() async throws {
    let d = try await authorizer(deleghe: [delega("d1")]).decide(
      person: employee, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(d.allowed && d.chain == [.delega("d1")])
    let manage = try await authorizer(deleghe: [delega("d1")]).decide(
      person: employee, function: .manageDeleghe, matricola: privata.matricola, at: now)
    #expect(!manage.allowed)
  }

  @Test func onePositionDelegaCoversOnlyThatPosition() async throws {
    let a = authorizer(deleghe: [delega("d1", matricola: privata.matricola)])
    #expect(
      try await a.decide(
        person: employee, function: .readPosition, matricola: privata.matricola, at: now
      ).allowed)
    #expect(
      !(try await a.decide(
        person: employee, function: .readPosition, matricola: privata2.matricola, at: now
      ).allowed))
  }

  @Test func revokedDelegaDenies() async throws {
    let d = try await authorizer(deleghe: [delega("d1", active: false)]).decide(
      person: employee, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(!d.allowed)
  }

  @Test func futureAndEndedDelegaDeny() async throws {
    let future = try await authorizer(deleghe: [delega("d1", from: day(2025, 6, 11))]).decide(
      person: employee, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(!future.allowed)
    let ended = try await authorizer(deleghe: [delega("d1", end: day(2025, 6, 9))]).decide(
      person: employee, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(!ended.allowed)
    let lastDay = try await authorizer(deleghe: [delega("d1", end: day(2025, 6, 10))]).decide(
      person: employee, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(lastDay.allowed)
  }

  @Test func wrongFundScopeDenies() async throws {
    // The employee holds only the private scope; a delega on the GDP position does not help.
    let a = authorizer(deleghe: [delega("d1", subject: comune, delegant: owner)])
    let d = try await a.decide(
      person: employee, function: .readPosition, matricola: gdp.matricola, at: now)
    #expect(!d.allowed)
    #expect(d.reason.contains("contribuzione_pubblici"))
    let withScope = authorizer(
      deleghe: [delega("d1", subject: comune)],
      people: [employee: PersonEnablements(profileScopes: [.contribuzionePubblici])])
    #expect(
      try await withScope.decide(
        person: employee, function: .gdpDenunce, matricola: gdp.matricola, at: now
      ).allowed)
  }

  @Test func intermediaryNeedsAnActiveAlbo() async throws {
    let grant = delega("d1", to: intermediary, kind: .intermediario)
    let ok = try await authorizer(deleghe: [grant]).decide(
      person: intermediary, function: .actOnPosition, matricola: privata.matricola, at: now)
    #expect(ok.allowed && ok.chain == [.delega("d1")])
    let lapsed = try await authorizer(
      deleghe: [grant],
      people: [intermediary: PersonEnablements(profileScopes: [.contribuzionePrivati])]
    ).decide(person: intermediary, function: .actOnPosition, matricola: privata.matricola, at: now)
    #expect(!lapsed.allowed)
  }

  @Test func subdelegaChain() async throws {
    let parent = delega("p1", to: intermediary, kind: .intermediario)
    let sub = delega(
      "s1", to: subEmployee, kind: .subdelega, parent: "p1", delegant: intermediary)
    let d = try await authorizer(deleghe: [parent, sub]).decide(
      person: subEmployee, function: .readPosition, matricola: privata.matricola, at: now)
    #expect(d.allowed)
    #expect(d.chain == [.subdelega("s1"), .delega("p1")])
    // Parent revoked: the sub-delega grants nothing.
    var revoked = parent
    revoked.isActive = false
    #expect(
      !(try await authorizer(deleghe: [revoked, sub]).decide(
        person: subEmployee, function: .readPosition, matricola: privata.matricola, at: now
      ).allowed))
    // Parent ended before the call: nothing either.
    #expect(
      !(try await authorizer(
        deleghe: [delega("p1", to: intermediary, kind: .intermediario, end: day(2025, 5, 1)), sub]
      ).decide(
        person: subEmployee, function: .readPosition, matricola: privata.matricola, at: now
      ).allowed))
    // The sub-delegate without an SC62 scope: denied even with an SC65 one.
    #expect(
      !(try await authorizer(
        deleghe: [parent, sub],
        people: [subEmployee: PersonEnablements(profileScopes: [.contribuzionePrivati])]
      ).decide(
        person: subEmployee, function: .readPosition, matricola: privata.matricola, at: now
      ).allowed))
    // The intermediary struck off the albo: the chain breaks.
    #expect(
      !(try await authorizer(
        deleghe: [parent, sub],
        people: [intermediary: PersonEnablements(profileScopes: [.contribuzionePrivati])]
      ).decide(
        person: subEmployee, function: .readPosition, matricola: privata.matricola, at: now
      ).allowed))
  }

  @Test func legacyGDPOnlyUntilTheCutover() async throws {
    let a = authorizer(deleghe: [])
    let before = try await a.decide(
      person: legacyHolder, function: .gdpDenunce, matricola: gdp.matricola,
      at: rome(2023, 7, 15, 23, 30))
    #expect(before.allowed && before.chain == [.legacyGDP(comune)])
    let after = try await a.decide(
      person: legacyHolder, function: .gdpDenunce, matricola: gdp.matricola,
      at: rome(2023, 7, 16, 0, 30))
    #expect(!after.allowed)
    let read = try await a.decide(
      person: legacyHolder, function: .readPosition, matricola: gdp.matricola,
      at: rome(2023, 7, 1))
    #expect(!read.allowed)
  }

  @Test func effectiveFromIsReadInEuropeRome() async throws {
    // Activated on 2025-06-10 → in force from 2025-06-11 (Rome). At 23:30 UTC on 10 June it is
    // already 01:30 on 11 June in Rome: allowed. At 21:30 UTC (23:30 Rome on the 10th): not.
    let a = authorizer(deleghe: [delega("d1", from: day(2025, 6, 11))])
    let utc = { (h: Int, m: Int) -> Date in
      var c = Calendar(identifier: .gregorian)
      c.timeZone = TimeZone(identifier: "UTC")!
      return c.date(from: DateComponents(year: 2025, month: 6, day: 10, hour: h, minute: m))!
    }
    #expect(
      !(try await a.decide(
        person: employee, function: .readPosition, matricola: privata.matricola,
        at: utc(21, 30)
      ).allowed))
    #expect(
      try await a.decide(
        person: employee, function: .readPosition, matricola: privata.matricola,
        at: utc(22, 30)
      ).allowed)
  }

  @Test func delegatedPositionsForSearch() async throws {
    let a = authorizer(deleghe: [delega("d1")])
    let seen = try await a.delegatedPositions(of: employee, at: now).map(\.matricola).sorted()
    #expect(seen == [privata.matricola, privata2.matricola])
    let scope = try await a.scope(
      for: .person(Person(codiceFiscale: try CodiceFiscale(employee))), at: now)
    #expect(scope.matricole == [privata.matricola, privata2.matricola])
  }

  @Test func readDecisionNamesTheChainForTheAudit() async throws {
    let a = authorizer(deleghe: [
      delega("p1", to: intermediary, kind: .intermediario),
      delega("s1", to: subEmployee, kind: .subdelega, parent: "p1", delegant: intermediary),
    ])
    let subject = try #require(try await a.positions.subject(fiscalCode: company))
    func decision(_ cf: String) async throws -> PositionReadDecision {
      try await a.readDecision(
        .person(Person(codiceFiscale: try CodiceFiscale(cf))), position: privata,
        subject: subject, at: now)
    }
    #expect(
      try await decision(subEmployee)
        == PositionReadDecision(allowed: true, chain: "subdelega:s1 > delega:p1"))
    #expect(try await decision(stranger) == PositionReadDecision(allowed: false))
    #expect(try await a.mayRead(
      .person(Person(codiceFiscale: try CodiceFiscale(subEmployee))), position: privata,
      subject: subject, at: now))
  }
}
