import Access
import Contracts
import Foundation
import Storage
import Validation

/// A deterministic demo data set, so a newcomer can call every RPC at once (`tools/run`,
/// `cassetto demo`): persons with valid fiscal codes in each role, companies and public bodies
/// with valid 11-digit codes, sedi, operators, an IDM manager, intermediaries in the registers,
/// approved, pending and imported enablements. Loaded only in development mode, only into an
/// empty database.
public enum DemoData {
  /// One demo person and the role they play.
  public struct Persona: Sendable, Hashable {
    /// Short key, e.g. `legal-representative`; `cassetto demo` prints a token per key.
    public var key: String
    public var role: String
    public var codiceFiscale: CodiceFiscale
    public var givenName: String
    public var familyName: String
  }

  /// A company or public body.
  public struct Organization: Sendable, Hashable {
    public var name: String
    public var fiscalCode: CodiceFiscale
    public var isPublicBody: Bool
  }

  /// A 16-character code from its first 15 characters (check character computed).
  static func person(_ first15: String) -> CodiceFiscale {
    guard let check = CodiceFiscale.checkCharacter(for: first15),
      let code = try? CodiceFiscale(person: first15 + String(check))
    else { preconditionFailure("demo fiscal code \(first15) is malformed") }
    return code
  }

  /// An 11-digit code from its first 10 digits (check digit computed).
  static func numeric(_ first10: String) -> CodiceFiscale {
    guard let check = PartitaIVA.checkDigit(for: first10),
      let code = try? CodiceFiscale(first10 + String(check))
    else { preconditionFailure("demo numeric code \(first10) is malformed") }
    return code
  }

  public static let sedi: [(code: String, name: String)] = [
    ("7500", "SIENA"), ("7000", "ROMA EUR"), ("4900", "MILANO"),
  ]

  public static let acme = Organization(
    name: "ACME Costruzioni S.p.A.", fiscalCode: numeric("0412345052"), isPublicBody: false)
  public static let trattoria = Organization(
    name: "Trattoria Il Campo S.r.l.", fiscalCode: numeric("0198765052"), isPublicBody: false)
  public static let comuneSiena = Organization(
    name: "Comune di Siena", fiscalCode: numeric("0005080052"), isPublicBody: true)
  public static let aslToscana = Organization(
    name: "Azienda USL Toscana Sud Est", fiscalCode: numeric("0231556053"), isPublicBody: true)

  public static let organizations = [acme, trattoria, comuneSiena, aslToscana]

  public static let personas: [Persona] = [
    Persona(
      key: "legal-representative", role: "legal representative of ACME (SC65 approved)",
      codiceFiscale: person("RSSMRA80A01H501"), givenName: "Mario", familyName: "Rossi"),
    Persona(
      key: "delegated-employee", role: "employee of ACME (SC62 approved)",
      codiceFiscale: person("BNCGLI85M41F205"), givenName: "Giulia", familyName: "Bianchi"),
    Persona(
      key: "public-employer", role: "dirigente of Comune di Siena (legacy GDP enablement)",
      codiceFiscale: person("RMNFNC72L48I726"), givenName: "Francesca", familyName: "Romano"),
    Persona(
      key: "applicant", role: "legal representative of Trattoria Il Campo (SC65 pending)",
      codiceFiscale: person("SPSMRC88T10F839"), givenName: "Marco", familyName: "Esposito"),
    Persona(
      key: "operator", role: "operatore di sede 7500 SIENA",
      codiceFiscale: person("VRDLCU75C15I726"), givenName: "Luca", familyName: "Verdi"),
    Persona(
      key: "idm-manager", role: "gestore IDM di sede 7500 SIENA and 7000 ROMA EUR",
      codiceFiscale: person("NRENNA70D50I726"), givenName: "Anna", familyName: "Neri"),
    Persona(
      key: "operator-roma", role: "operatore di sede 7000 ROMA EUR",
      codiceFiscale: person("CNTRRT66S12H501"), givenName: "Roberto", familyName: "Conti"),
    Persona(
      key: "labour-consultant", role: "consulente del lavoro (albo Roma, active)",
      codiceFiscale: person("GLLPLA68E20H501"), givenName: "Paolo", familyName: "Gialli"),
    Persona(
      key: "accountant", role: "dottore commercialista (albo Milano, active)",
      codiceFiscale: person("RSSSRA90H55F205"), givenName: "Sara", familyName: "Russo"),
    Persona(
      key: "lapsed-lawyer", role: "avvocato whose registration lapsed (not an intermediary)",
      codiceFiscale: person("MRNLNE77B48I726"), givenName: "Elena", familyName: "Marino"),
    Persona(
      key: "citizen", role: "a person with no enablement",
      codiceFiscale: person("FRRGPP92R03I726"), givenName: "Giuseppe", familyName: "Ferrari"),
  ]

  public static func persona(_ key: String) -> Persona? { personas.first { $0.key == key } }

  /// Loads the data set unless the Identity tables already hold data; returns whether it did.
  @discardableResult
  public static func loadIfEmpty(into database: any Database, now: Date) async throws -> Bool {
    try await database.write { db in
      let used = try db.queryFirst(
        """
        SELECT (SELECT COUNT(*) FROM identity_operator_roles)
          + (SELECT COUNT(*) FROM identity_abilitazioni)
          + (SELECT COUNT(*) FROM identity_abilitazione_requests) AS n
        """)
      guard try used?.int64("n") ?? 0 == 0 else { return false }
      try load(into: db, now: now)
      return true
    }
  }

  static func code(_ key: String) -> String { persona(key)?.codiceFiscale.value ?? "" }

  static func load(into db: any WriteContext, now: Date) throws {
    for sede in sedi { try IdentityStore.upsertSede(code: sede.code, name: sede.name, in: db) }
    let idm = code("idm-manager")
    _ = try IdentityStore.grant(idm, .idmManager, at: "7500", by: "configuration", now: now, in: db)
    _ = try IdentityStore.grant(idm, .idmManager, at: "7000", by: "configuration", now: now, in: db)
    _ = try IdentityStore.grant(code("operator"), .operator, at: "7500", by: idm, now: now, in: db)
    _ = try IdentityStore.grant(
      code("operator-roma"), .operator, at: "7000", by: idm, now: now, in: db)

    func request(
      _ id: String, _ key: String, _ form: Cassetto_Identity_V1_Form,
      _ scopes: [Cassetto_Common_V1_Scope], employer: Organization,
      decided abilitazione: String?
    ) throws {
      let state: Cassetto_Identity_V1_RequestState = abilitazione == nil ? .pending : .approved
      try db.execute(
        """
        INSERT INTO identity_abilitazione_requests (id, requester_fiscal_code, form, scopes,
          ra012_services, sede_code, employer_fiscal_code, state, submitted_at, decided_at,
          decided_by, abilitazione_id) VALUES (?, ?, ?, ?, '', '7500', ?, ?, ?, ?, ?, ?)
        """,
        [
          id, code(key), form.rawValue, EnumList.encode(scopes), employer.fiscalCode.value,
          state.rawValue, now, abilitazione == nil ? nil : now,
          abilitazione == nil ? "" : code("operator"), abilitazione ?? "",
        ])
      if let abilitazione {
        _ = try IdentityStore.insertAbilitazione(
          id: abilitazione, holder: code(key), form: form, scopes: scopes, services: [],
          sede: "7500", employer: employer.fiscalCode.value, grantedAt: now, legacyID: nil,
          sourceRequestID: id, in: db)
      }
    }
    try request(
      "demo-req-0001", "legal-representative", .sc65, [.contribuzionePrivati, .malattiaAttestati],
      employer: acme, decided: "demo-abil-0001")
    try request(
      "demo-req-0002", "delegated-employee", .sc62, [.contribuzionePrivati], employer: acme,
      decided: "demo-abil-0002")
    try request(
      "demo-req-0003", "applicant", .sc65, [.contribuzionePrivati], employer: trattoria,
      decided: nil)
    _ = try IdentityStore.insertAbilitazione(
      id: "demo-abil-0003", holder: code("public-employer"), form: .legacyGdp,
      scopes: [.contribuzionePubblici], services: [], sede: "7500",
      employer: comuneSiena.fiscalCode.value,
      grantedAt: Date(timeIntervalSince1970: 1_557_482_400), legacyID: "DEMO-GDP-0001",
      sourceRequestID: "", in: db)

    let registers:
      [(String, Cassetto_Identity_V1_Albo, String, String, Cassetto_Identity_V1_AlboState)] = [
        ("labour-consultant", .consulentiLavoro, "Roma", "CL-1234", .active),
        ("accountant", .dottoriCommercialisti, "Milano", "AA-5678", .active),
        ("lapsed-lawyer", .avvocati, "Siena", "AV-0042", .lapsed),
      ]
    for (key, albo, ordine, number, state) in registers {
      guard let persona = persona(key) else { continue }
      try db.execute(
        """
        INSERT INTO identity_albo_registrations (fiscal_code, albo, ordine, registration_number,
          state, registered_on, given_name, family_name, updated_at)
        VALUES (?, ?, ?, ?, ?, '2010-09-01', ?, ?, ?)
        """,
        [
          persona.codiceFiscale.value, albo.rawValue, ordine, number, state.rawValue,
          persona.givenName, persona.familyName, now,
        ])
    }
    try db.execute(
      """
      INSERT INTO identity_persons (fiscal_code, given_name, family_name, email, pec, mobile,
        updated_at) VALUES (?, 'Mario', 'Rossi', 'mario.rossi@example.it',
        'acme.costruzioni@pec.example.it', '+393331234567', ?)
      """, [code("legal-representative"), now])
    try AuditLog.append(
      AuditEvent(
        time: now, actor: "demo", action: "identity.LoadDemoData", subject: nil, outcome: .success,
        details: AuditEvent.json(["personas": String(personas.count)])), in: db)
  }
}
