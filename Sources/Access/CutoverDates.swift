import Validation

/// The dates on which the rules changed, as configuration: rules take the call's date and
/// compare it with these, never with a date written in code (DOMAIN.md, Enablement).
public struct CutoverDates: Sendable, Hashable {
  /// Last day the old channel "Dipendenti pubblici: servizi per amministrazioni, enti e
  /// aziende" served the GDP services "Denunce contributive e versamenti" to holders of the
  /// legacy profile *Amministrazioni e Enti pubblici – Servizi GDP*: 15-07-2023
  /// (Circ. 34/2023 §2.1). From the day after, only the drawer, with the new profile scope and
  /// a delega.
  public var gdpOldChannelEnd: CalendarDate
  /// Publication of the new enablement rules (Circ. 34 of 31-03-2023): enablements held on
  /// this date are kept without a new request ("non dovranno ripetere le operazioni di
  /// accreditamento") and may be imported; later ones must be requested with SC65 / SC62.
  public var legacyEnablementsUntil: CalendarDate

  public init(gdpOldChannelEnd: CalendarDate, legacyEnablementsUntil: CalendarDate) {
    self.gdpOldChannelEnd = gdpOldChannelEnd
    self.legacyEnablementsUntil = legacyEnablementsUntil
  }

  /// The dates of Circ. 34/2023: old GDP channel until 2023-07-15, legacy enablements held
  /// on or before 2023-03-31.
  public static let circolare34: CutoverDates = {
    guard let end = try? CalendarDate(year: 2023, month: 7, day: 15),
      let publication = try? CalendarDate(year: 2023, month: 3, day: 31)
    else { preconditionFailure("constant dates are valid") }
    return CutoverDates(gdpOldChannelEnd: end, legacyEnablementsUntil: publication)
  }()

  /// Whether a caller holding only an imported legacy GDP enablement may still use the GDP
  /// services "Denunce contributive e versamenti" on a call made on `callDate`: on or before
  /// ``gdpOldChannelEnd``, and not after (Circ. 34/2023 §2.1).
  public func legacyGDPChannelOpen(on callDate: CalendarDate) -> Bool {
    callDate <= gdpOldChannelEnd
  }

  /// Whether an enablement granted on `grantedOn` was held before the new rules and may be
  /// imported rather than requested again.
  public func isLegacy(grantedOn: CalendarDate) -> Bool {
    grantedOn <= legacyEnablementsUntil
  }
}

/// The GDP services "Denunce contributive e versamenti" (view payments, debit notes,
/// amortisation plans, manual DMA, view DMA) on a position of a public administration
/// (Circ. 34/2023 §2.1): with the *Azienda/Operatore* profile holding the public-sector scope
/// and an active delega, always; with only the imported legacy profile *Amministrazioni e Enti
/// pubblici – Servizi GDP* for that administration, only on or before the configured end of
/// the old channel. The positions issue supplies the facts from storage; the rule lives here.
public func mayUseGDPDenunceServices(
  holdsPublicSectorScope: Bool, hasActiveDelega: Bool,
  holdsLegacyGDPEnablementForTheAdministration: Bool, on callDate: CalendarDate,
  cutover: CutoverDates
) -> Bool {
  if holdsPublicSectorScope && hasActiveDelega { return true }
  return holdsLegacyGDPEnablementForTheAdministration
    && cutover.legacyGDPChannelOpen(on: callDate)
}

/// Access decisions that need no stored data. The full authorization function — "may P do F
/// on X at T, and through which chain" (profile + enablement scope + an active delega chain at
/// the call's date) — arrives with the deleghe issue and lives here, beside these rules, so
/// every domain module keeps asking one place.
public enum AccessError: Error, Sendable, Hashable {
  /// No caller, or not the kind of caller the RPC serves (`UNAUTHENTICATED`).
  case unauthenticated(String)
  /// A visible resource or an action the caller's rights do not cover (`PERMISSION_DENIED`).
  case permissionDenied(String)
  /// The resource does not exist or the caller may not see it: the two are not told apart
  /// (`NOT_FOUND`, no existence leak).
  case notFound(String)
}

extension Caller {
  /// The person making the call, or `UNAUTHENTICATED` for anonymous callers and
  /// `PERMISSION_DENIED` for back-ends (the RPC is for persons).
  public func requirePerson() throws(AccessError) -> Person {
    switch self {
    case .person(let person): return person
    case .service: throw .permissionDenied("this method is for persons, not services")
    case .anonymous: throw .unauthenticated("sign in: this method requires a caller")
    }
  }

  /// The back-end making the call if its configuration grants `permission`; otherwise
  /// `UNAUTHENTICATED` (anonymous) or `PERMISSION_DENIED`.
  public func requireService(granting permission: Permission) throws(AccessError)
    -> ServiceIdentity
  {
    switch self {
    case .service(let service) where service.has(permission): return service
    case .service, .person:
      throw .permissionDenied("the caller is not granted \(permission)")
    case .anonymous: throw .unauthenticated("this method requires a service identity")
    }
  }

  /// Refuses anonymous callers.
  public func requireAuthenticated() throws(AccessError) {
    if case .anonymous = self { throw .unauthenticated("sign in: this method requires a caller") }
  }
}
