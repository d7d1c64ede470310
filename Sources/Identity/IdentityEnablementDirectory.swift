import Access
import Contracts
import Storage

/// Identity's side of the authorization rule: a person's active profile scopes (SC65/SC62),
/// SC62 scopes, operator sedi, albo standing and legacy GDP enablements, read from Identity's
/// tables on every call (no cache: a revocation counts at the next decision).
public struct IdentityEnablementDirectory: EnablementDirectory {
  let database: any Database

  public init(database: any Database) { self.database = database }

  public func enablements(of fiscalCode: String) async throws -> PersonEnablements {
    try await database.read { db in
      var result = PersonEnablements()
      for abilitazione in try IdentityStore.activeAbilitazioni(of: fiscalCode, in: db) {
        let scopes = Set(abilitazione.scopes.compactMap(Self.profileScope))
        switch abilitazione.form {
        case .sc65:
          result.profileScopes.formUnion(scopes)
        case .sc62:
          result.profileScopes.formUnion(scopes)
          result.sc62Scopes.formUnion(scopes)
        case .legacyGdp:
          if !abilitazione.employerFiscalCode.isEmpty {
            result.legacyGDPAdministrations.insert(abilitazione.employerFiscalCode)
          }
        default:
          break
        }
      }
      result.operatorSedi = try IdentityStore.sedi(where: fiscalCode, holds: .operator, in: db)
      let albo = try IdentityStore.activeAlboRegistrations(of: fiscalCode, in: db)
      result.activeAlbo = !albo.isEmpty
      result.alboEntries = albo.map {
        AlboEntry(
          albo: Self.alboName($0.albo), ordine: $0.ordine,
          registrationNumber: $0.registrationNumber, givenName: $0.givenName,
          familyName: $0.familyName)
      }
      return result
    }
  }

  static func alboName(_ albo: Cassetto_Identity_V1_Albo) -> String {
    switch albo {
    case .consulentiLavoro: "Consulenti del lavoro"
    case .dottoriCommercialisti: "Dottori commercialisti ed esperti contabili"
    case .avvocati: "Avvocati"
    default: "Albo professionale"
    }
  }

  static func profileScope(_ scope: Cassetto_Common_V1_Scope) -> ProfileScope? {
    switch scope {
    case .contribuzionePrivati: .contribuzionePrivati
    case .contribuzionePubblici: .contribuzionePubblici
    default: nil
    }
  }
}
