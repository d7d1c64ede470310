import Contracts
import Foundation
import Identity
import Posizioni
import RPC
import Testing
import Validation

/// Issue 4's authorization matrix, over the wire on the real composition root: for every RPC
/// that takes a position (or a subject), each kind of caller gets the answer the one rule
/// gives — data for the subject's legal representative, an operator of the position's sede
/// and a delegate in force with the fund's scope; `NOT_FOUND` (no existence leak) for a
/// person with no relation, an operator of another sede, an intermediary whose delega was
/// revoked, one whose delega starts in the future, and a delegate without the scope of the
/// position's fund.
///
/// **Extending it**: a new RPC that takes a matricola is one more entry in `positionRPCs`
/// (a name and a closure making the call with the given metadata); one that takes a subject,
/// in `subjectRPCs`. Rows whose allowed callers differ from the usual three say so.
@Suite(.serialized) struct AuthorizationMatrixWireTests {
  static func persona(_ key: String) -> Identity.DemoData.Persona { Identity.DemoData.persona(key)! }
  let owner = Self.persona("legal-representative")  // ACME's legal representative
  let employee = Self.persona("delegated-employee")  // SC62, private contributions scope
  let publicEmployer = Self.persona("public-employer")  // Comune di Siena's legal representative
  let operatorRoma = Self.persona("operator-roma")  // operator of 7000 ROMA EUR
  let operatorSiena = Self.persona("operator")  // operator of 7500 SIENA
  let accountant = Self.persona("accountant")  // intermediary, delega revoked
  let consultant = Self.persona("labour-consultant")  // intermediary, delega from next month
  let citizen = Self.persona("citizen")  // no relation

  /// ACME's position at 7000 ROMA EUR (private UniEmens) and Comune di Siena's GDP position.
  static let acmePosition = "7012345601"
  static let publicPosition = "G750000101"

  enum Caller: String, CaseIterable {
    case owner, sedeOperator, delegate
    case stranger, otherSedeOperator, revokedIntermediary, futureIntermediary
  }

  typealias Call = @Sendable (WireHarness.Context, Metadata, String) async throws -> Void

  /// RPCs taking a matricola: name, call, and the callers that get data.
  static let positionRPCs: [(String, Call, Set<Caller>)] = {
    let usual: Set<Caller> = [.owner, .sedeOperator, .delegate]
    return [
      ("Posizioni/GetPosizione", { w, m, x in
        var r = Cassetto_Posizioni_V1_GetPosizioneRequest(); r.matricola = x
        _ = try await w.posizioni.getPosizione(r, metadata: m) }, usual),
      ("Posizioni/GetMenu", { w, m, x in
        var r = Cassetto_Posizioni_V1_GetMenuRequest(); r.matricola = x
        _ = try await w.posizioni.getMenu(r, metadata: m) }, usual),
      ("Posizioni/GetDatiSintetici", { w, m, x in
        var r = Cassetto_Posizioni_V1_GetDatiSinteticiRequest(); r.matricola = x
        _ = try await w.posizioni.getDatiSintetici(r, metadata: m) }, usual),
      ("Posizioni/ListEvidenze", { w, m, x in
        var r = Cassetto_Posizioni_V1_ListEvidenzeRequest(); r.matricola = x
        _ = try await w.posizioni.listEvidenze(r, metadata: m) }, usual),
      ("Posizioni/ListVersamenti", { w, m, x in
        var r = Cassetto_Posizioni_V1_ListVersamentiRequest(); r.matricola = x
        _ = try await w.posizioni.listVersamenti(r, metadata: m) }, usual),
      ("Posizioni/ListNoteRettifica", { w, m, x in
        var r = Cassetto_Posizioni_V1_ListNoteRettificaRequest(); r.matricola = x
        _ = try await w.posizioni.listNoteRettifica(r, metadata: m) }, usual),
      ("Posizioni/ListPianiAmmortamento", { w, m, x in
        var r = Cassetto_Posizioni_V1_ListPianiAmmortamentoRequest(); r.matricola = x
        _ = try await w.posizioni.listPianiAmmortamento(r, metadata: m) }, usual),
      ("Posizioni/ListNoteDebito", { w, m, x in
        var r = Cassetto_Posizioni_V1_ListNoteDebitoRequest(); r.matricola = x
        _ = try await w.posizioni.listNoteDebito(r, metadata: m) }, usual),
      ("Posizioni/ListDenunce", { w, m, x in
        var r = Cassetto_Posizioni_V1_ListDenunceRequest(); r.matricola = x
        _ = try await w.posizioni.listDenunce(r, metadata: m) }, usual),
      ("Ticketing/SearchRichieste", { w, m, x in
        var r = Cassetto_Ticketing_V1_SearchRichiesteRequest(); r.matricola = x
        _ = try await w.ticketing.searchRichieste(r, metadata: m) }, usual),
      ("Ticketing/ListComunicazioni", { w, m, x in
        var r = Cassetto_Ticketing_V1_ListComunicazioniRequest(); r.matricola = x
        _ = try await w.ticketing.listComunicazioni(r, metadata: m) }, usual),
    ]
  }()

  /// RPCs taking a subject's fiscal code: the audit of accesses is for the subject's legal
  /// representative and the operators of its positions' sedi only, not for delegates. ACME
  /// also has a position at 7500 SIENA, so Siena's operator (the "other sede" for the
  /// position 7012345601 of the rows above) is an operator of one of its sedi here.
  static let subjectRPCs: [(String, Call, Set<Caller>)] = [
    ("Audit/ListAccessEvents", { w, m, subject in
      var r = Cassetto_Audit_V1_ListAccessEventsRequest(); r.subjectFiscalCode = subject
      _ = try await w.audit.listAccessEvents(r, metadata: m) },
      [.owner, .sedeOperator, .otherSedeOperator]),
  ]

  func date(_ instant: Date) -> Google_Type_Date {
    let day = CalendarDate.of(instant)
    var date = Google_Type_Date()
    date.year = Int32(day.year)
    date.month = Int32(day.month)
    date.day = Int32(day.day)
    return date
  }

  func party(_ persona: Identity.DemoData.Persona) -> Cassetto_Deleghe_V1_Party {
    var party = Cassetto_Deleghe_V1_Party()
    party.fiscalCode = persona.codiceFiscale.value
    party.givenName = persona.givenName
    party.familyName = persona.familyName
    return party
  }

  func allPositions() -> Cassetto_Deleghe_V1_DelegaScope {
    var scope = Cassetto_Deleghe_V1_DelegaScope()
    scope.allPositions = true
    return scope
  }

  /// A delega a dipendente from `delegant` on all of `subject`'s positions, activated.
  func delegaDipendente(
    _ wire: WireHarness.Context, from delegant: Identity.DemoData.Persona, subject: String,
    to delegate: Identity.DemoData.Persona
  ) async throws {
    var create = Cassetto_Deleghe_V1_CreateDelegaDipendenteRequest()
    create.subjectFiscalCode = subject
    create.scope = allPositions()
    create.delegate = party(delegate)
    create.decorrenza = date(wire.clock.now())
    let created = try await wire.deleghe.createDelegaDipendente(
      create, metadata: try wire.auth(delegant)).message
    var activate = Cassetto_Deleghe_V1_ActivateDelegaRequest()
    activate.id = created.id
    _ = try await wire.deleghe.activateDelega(activate, metadata: try wire.auth(delegant))
  }

  /// A delega a intermediario on ACME confirmed with the spooled OTP; its id.
  func delegaIntermediario(
    _ wire: WireHarness.Context, to intermediary: Identity.DemoData.Persona, from start: Date
  ) async throws -> String {
    var request = Cassetto_Deleghe_V1_RequestDelegaIntermediarioRequest()
    request.subjectFiscalCode = PosizioniDemoData.acme
    request.scope = allPositions()
    request.delegant = party(owner)
    request.decorrenza = date(start)
    let pending = try await wire.deleghe.requestDelegaIntermediario(
      request, metadata: try wire.auth(intermediary)).message
    var confirm = Cassetto_Deleghe_V1_ConfirmDelegaOtpRequest()
    confirm.id = pending.id
    confirm.otp = try await wire.spooledOTP(delegaID: pending.id)
    confirm.signatureDeclared = true
    let active = try await wire.deleghe.confirmDelegaOtp(
      confirm, metadata: try wire.auth(intermediary)).message
    #expect(active.state == .attiva)
    return active.id
  }

  func person(_ caller: Caller) -> Identity.DemoData.Persona {
    switch caller {
    case .owner: owner
    case .sedeOperator: operatorRoma
    case .delegate: employee
    case .stranger: citizen
    case .otherSedeOperator: operatorSiena
    case .revokedIntermediary: accountant
    case .futureIntermediary: consultant
    }
  }

  /// Runs `call` as `persona` and says whether it got data; any status other than OK and
  /// NOT_FOUND is recorded as a failure.
  func outcome(
    _ name: String, _ call: Call, _ wire: WireHarness.Context,
    _ persona: Identity.DemoData.Persona, _ argument: String
  ) async throws -> Bool {
    do {
      try await call(wire, try wire.auth(persona), argument)
      return true
    } catch let error as RPCError where error.code == .notFound {
      return false
    } catch let error as RPCError {
      Issue.record("\(name) as \(persona.key): \(error.code) \(error.message)")
      return false
    }
  }

  @Test func everyCallerGetsTheAnswerOfTheRule() async throws {
    try await WireHarness().withServer { wire in
      // The relations: an employee delegated on ACME (in force from tomorrow) and, by the
      // public body, on Comune di Siena without the public-contributions scope; an
      // intermediary whose delega ACME then revokes; one whose delega starts next month.
      try await delegaDipendente(
        wire, from: owner, subject: PosizioniDemoData.acme, to: employee)
      try await delegaDipendente(
        wire, from: publicEmployer, subject: PosizioniDemoData.comuneSiena, to: employee)
      let revokedID = try await delegaIntermediario(wire, to: accountant, from: wire.clock.now())
      var revoke = Cassetto_Deleghe_V1_RevokeDelegaRequest()
      revoke.id = revokedID
      _ = try await wire.deleghe.revokeDelega(revoke, metadata: try wire.auth(owner))
      _ = try await delegaIntermediario(
        wire, to: consultant, from: wire.clock.now().addingTimeInterval(40 * 24 * 3600))
      wire.clock.advance(by: 36 * 3600)  // the activated deleghe are in force

      for (name, call, allowed) in Self.positionRPCs {
        for caller in Caller.allCases {
          let got = try await outcome(name, call, wire, person(caller), Self.acmePosition)
          #expect(got == allowed.contains(caller), "\(name) as \(caller) on ACME")
        }
        // The fund's scope: the employee's delega on the GDP position does not give it data
        // (private scope only); the body's legal representative gets it.
        #expect(
          try await outcome(name, call, wire, employee, Self.publicPosition) == false,
          "\(name) as a delegate without the public scope")
        #expect(
          try await outcome(name, call, wire, publicEmployer, Self.publicPosition),
          "\(name) as the public body's legal representative")
      }
      for (name, call, allowed) in Self.subjectRPCs {
        for caller in Caller.allCases {
          let got = try await outcome(
            name, call, wire, person(caller), PosizioniDemoData.acme)
          #expect(got == allowed.contains(caller), "\(name) as \(caller) on ACME")
        }
      }

      // CheckAccess, the rule itself, agrees with every row above.
      for caller in Caller.allCases {
        var check = Cassetto_Deleghe_V1_CheckAccessRequest()
        check.matricola = Self.acmePosition
        check.function = .readPosition
        let decision = try await wire.deleghe.checkAccess(
          check, metadata: try wire.auth(person(caller))).message
        #expect(
          decision.allowed == [.owner, .sedeOperator, .delegate].contains(caller),
          "CheckAccess as \(caller)")
      }
    }
  }
}
