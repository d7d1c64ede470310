import Foundation
import Validation

// MARK: - The one authorization rule
//
// `Authorizer.decide(person:function:matricola:at:)` answers "may person P perform function F
// on position X at instant T, and through which chain", deny by default (API.md, Calling
// conventions, "Who sees a position"; DOMAIN.md, Delegation). Every service asks it; the
// Deleghe service exposes it as `CheckAccess`.
//
//     let authorizer = Authorizer(
//       positions: posizioniDirectory,      // PositionDirectory   (Posizioni)
//       enablements: identityEnablements,   // EnablementDirectory (Identity)
//       deleghe: delegheDirectory,          // DelegaDirectory     (Deleghe)
//       cutover: configuration.cutover)
//     let decision = try await authorizer.decide(
//       person: "RSSMRA80A01H501U", function: .readPosition, matricola: "1234567890",
//       at: clock.now())
//     if !decision.allowed { throw AccessError.notFound("no such position") }
//
// The rule, in order (the first grant wins; `chain` says which):
// 1. The position must exist (else denied; callers answer `NOT_FOUND`, no existence leak).
// 2. **Owner**: the subject's legal representative or "altro responsabile" may do every
//    function (chain `[.owner(subject)]`).
// 3. **Operator of the position's sede**: `readPosition` and `actOnPosition`
//    (chain `[.sedeOperator(sede)]`); never `manageDeleghe` nor `gdpDenunce`.
// 4. **Delega** (kind dipendente or intermediario) whose delegate is P, covering the position
//    (that matricola, or all positions of its subject), state ATTIVA and the call's date in
//    Europe/Rome within [effective_from, end_date]; P holds — now — an active SC65/SC62
//    enablement with the scope of the position's fund (privati UniEmens, Gestione Separata
//    and agricoli → `contribuzionePrivati`, design choice; pubblici GDP →
//    `contribuzionePubblici`); for an intermediario delega P has an active albo registration.
//    Grants `readPosition`, `actOnPosition`, `gdpDenunce` (GDP positions) — chain
//    `[.delega(id)]`.
// 5. **Sub-delega** whose delegate is P, valid as in 4 and P holding an **SC62** enablement
//    with the fund's scope; its parent delega must be valid too at that date (ATTIVA, dates,
//    covering the position) and its delegate — the intermediary who sub-delegated — must still
//    be in an albo. Chain `[.subdelega(id), .delega(parentID)]`.
// 6. `gdpDenunce` without 4/5: the legacy GDP enablement for the administration, only while
//    `CutoverDates.legacyGDPChannelOpen` (chain `[.legacyGDP(subject)]`), through
//    `mayUseGDPDenunceServices`.
// 7. Otherwise denied, with a reason in English.
//
// Nothing is cached: every call reads the directories, so a revocation, a revoked
// enablement or a lapsed albo registration takes effect on the very next call.
// Back-ends are not persons: callers check their configured permissions themselves.

/// What a caller wants to do on a position (mirrors `cassetto.deleghe.v1.AccessFunction`).
public enum AccessFunction: String, Sendable, Hashable, CaseIterable {
  /// Read the position's data.
  case readPosition = "read_position"
  /// Act on the position (quesiti, contestations, uploads).
  case actOnPosition = "act_on_position"
  /// Create, activate or revoke deleghe on the position: the subject's owner only.
  case manageDeleghe = "manage_deleghe"
  /// GDP "Denunce contributive e versamenti" on a public administration's position.
  case gdpDenunce = "gdp_denunce"
}

/// A scope of the Azienda/Operatore profile, mirroring `cassetto.common.v1.Scope` (the two the
/// rule needs).
public enum ProfileScope: String, Sendable, Hashable, CaseIterable {
  case contribuzionePrivati = "contribuzione_privati"
  case contribuzionePubblici = "contribuzione_pubblici"

  /// The scope a delegate needs for a position of `fund`.
  public static func required(for fund: Fund) -> ProfileScope {
    switch fund {
    case .pubbliciGDP: .contribuzionePubblici
    case .privatiUniEmens, .gestioneSeparata, .agricoli: .contribuzionePrivati
    }
  }
}

/// One active professional-register (albo) entry of a person, as printed on documents.
public struct AlboEntry: Sendable, Hashable {
  /// The register, in words ("Consulenti del lavoro", ...).
  public var albo: String
  /// The provincial order (ordine) and the registration number.
  public var ordine: String
  public var registrationNumber: String
  /// The person's name as the register knows it.
  public var givenName: String
  public var familyName: String

  public init(
    albo: String, ordine: String, registrationNumber: String, givenName: String = "",
    familyName: String = ""
  ) {
    self.albo = albo
    self.ordine = ordine
    self.registrationNumber = registrationNumber
    self.givenName = givenName
    self.familyName = familyName
  }
}

/// What Identity knows about a person, as the rule needs it (read fresh on every decision).
public struct PersonEnablements: Sendable, Hashable {
  /// Scopes of active SC65 or SC62 enablements.
  public var profileScopes: Set<ProfileScope>
  /// Scopes of active SC62 enablements only (required of a sub-delegate).
  public var sc62Scopes: Set<ProfileScope>
  /// Sedi where the person holds an active operator role.
  public var operatorSedi: Set<String>
  /// Whether the person has an active professional-register (albo) entry.
  public var activeAlbo: Bool
  /// The active albo entries themselves (for documents such as the delega form).
  public var alboEntries: [AlboEntry] = []
  /// Administrations (fiscal codes) for which the person holds an active imported legacy
  /// GDP enablement.
  public var legacyGDPAdministrations: Set<String>

  public init(
    profileScopes: Set<ProfileScope> = [], sc62Scopes: Set<ProfileScope> = [],
    operatorSedi: Set<String> = [], activeAlbo: Bool = false,
    legacyGDPAdministrations: Set<String> = []
  ) {
    self.profileScopes = profileScopes
    self.sc62Scopes = sc62Scopes
    self.operatorSedi = operatorSedi
    self.activeAlbo = activeAlbo
    self.legacyGDPAdministrations = legacyGDPAdministrations
  }
}

/// Profiles, scopes, operator roles, albo registrations; implemented by the Identity module.
public protocol EnablementDirectory: Sendable {
  func enablements(of fiscalCode: String) async throws -> PersonEnablements
}

/// The kind of a delega (mirrors `cassetto.deleghe.v1.DelegaKind`).
public enum DelegaKind: String, Sendable, Hashable, CaseIterable {
  case dipendente
  case intermediario
  case subdelega
}

/// A delega as the rule sees it.
public struct DelegaGrant: Sendable, Hashable {
  public var id: String
  public var kind: DelegaKind
  /// Whether the stored state is ATTIVA (every other state denies).
  public var isActive: Bool
  public var subjectFiscalCode: String
  /// The covered position; `nil` means every position of the subject.
  public var matricola: String?
  public var delegantFiscalCode: String
  public var delegateFiscalCode: String
  /// For a sub-delega, the intermediary's delega.
  public var parentID: String?
  /// First day in force (set on activation).
  public var effectiveFrom: CalendarDate?
  /// Last day in force; `nil` means open-ended.
  public var endDate: CalendarDate?

  public init(
    id: String, kind: DelegaKind, isActive: Bool, subjectFiscalCode: String, matricola: String?,
    delegantFiscalCode: String, delegateFiscalCode: String, parentID: String? = nil,
    effectiveFrom: CalendarDate?, endDate: CalendarDate? = nil
  ) {
    self.id = id
    self.kind = kind
    self.isActive = isActive
    self.subjectFiscalCode = subjectFiscalCode
    self.matricola = matricola
    self.delegantFiscalCode = delegantFiscalCode
    self.delegateFiscalCode = delegateFiscalCode
    self.parentID = parentID
    self.effectiveFrom = effectiveFrom
    self.endDate = endDate
  }

  /// Whether the delega covers `position`.
  public func covers(_ position: PositionInfo) -> Bool {
    guard subjectFiscalCode == position.subjectFiscalCode else { return false }
    return matricola == nil || matricola == position.matricola
  }

  /// ATTIVA and `date` within [effective_from, end_date].
  public func inForce(on date: CalendarDate) -> Bool {
    guard isActive, let from = effectiveFrom, from <= date else { return false }
    if let end = endDate, date > end { return false }
    return true
  }
}

/// Deleghe; implemented by the Deleghe module (read fresh on every decision).
public protocol DelegaDirectory: Sendable {
  /// Deleghe and sub-deleghe, in any state, whose delegate is `fiscalCode` and which name
  /// `subjectFiscalCode` (one position or all).
  func deleghe(delegate fiscalCode: String, subject subjectFiscalCode: String) async throws
    -> [DelegaGrant]
  /// Deleghe and sub-deleghe, in any state, whose delegate is `fiscalCode`.
  func deleghe(delegate fiscalCode: String) async throws -> [DelegaGrant]
  /// One delega by id.
  func delega(id: String) async throws -> DelegaGrant?
}

/// One link of the chain that grants a decision.
public enum AccessGrant: Sendable, Hashable {
  /// Legal representative / altro responsabile of the subject (its fiscal code).
  case owner(String)
  /// Operator of the sede (its code).
  case sedeOperator(String)
  /// A delega (its id).
  case delega(String)
  /// A sub-delega (its id); followed by its parent `.delega`.
  case subdelega(String)
  /// The imported legacy GDP enablement for the administration (its fiscal code).
  case legacyGDP(String)
}

/// The answer: allowed or not, the chain that grants it, the reason when denied.
public struct AccessDecision: Sendable, Hashable {
  public var allowed: Bool
  public var chain: [AccessGrant]
  public var reason: String

  public static func allow(_ chain: [AccessGrant]) -> AccessDecision {
    AccessDecision(allowed: true, chain: chain, reason: "")
  }
  public static func deny(_ reason: String) -> AccessDecision {
    AccessDecision(allowed: false, chain: [], reason: reason)
  }
}

/// The one authorization function (see the top of this file).
public struct Authorizer: Sendable {
  public let positions: any PositionDirectory
  public let enablements: any EnablementDirectory
  public let deleghe: any DelegaDirectory
  public let cutover: CutoverDates
  public let timeZone: TimeZone

  public init(
    positions: any PositionDirectory, enablements: any EnablementDirectory,
    deleghe: any DelegaDirectory, cutover: CutoverDates,
    timeZone: TimeZone = institutionTimeZone
  ) {
    self.positions = positions
    self.enablements = enablements
    self.deleghe = deleghe
    self.cutover = cutover
    self.timeZone = timeZone
  }

  /// May `person` (codice fiscale, without `TINIT-`) perform `function` on the position
  /// `matricola` at `instant`?
  public func decide(
    person: String, function: AccessFunction, matricola: String, at instant: Date
  ) async throws -> AccessDecision {
    guard let position = try await positions.position(matricola: matricola),
      let subject = try await positions.subject(fiscalCode: position.subjectFiscalCode)
    else { return .deny("no such position") }
    return try await decide(
      person: person, function: function, position: position, subject: subject, at: instant)
  }

  /// The same decision when the caller already holds the position and its subject.
  public func decide(
    person: String, function: AccessFunction, position: PositionInfo, subject: SubjectInfo,
    at instant: Date
  ) async throws -> AccessDecision {
    if subject.isOwner(person) { return .allow([.owner(subject.fiscalCode)]) }
    let enabled = try await enablements.enablements(of: person)
    if function == .readPosition || function == .actOnPosition,
      enabled.operatorSedi.contains(position.sedeCode)
    {
      return .allow([.sedeOperator(position.sedeCode)])
    }
    if function == .manageDeleghe {
      return .deny("only the subject's legal representative or altro responsabile manages deleghe")
    }
    if function == .gdpDenunce && position.fund != .pubbliciGDP {
      return .deny("the GDP services apply to positions of the public-employees fund only")
    }
    let date = CalendarDate.of(instant, in: timeZone)
    let needed = ProfileScope.required(for: position.fund)
    let candidates = try await deleghe.deleghe(delegate: person, subject: subject.fiscalCode)
      .filter { $0.covers(position) }
      .sorted { $0.id < $1.id }
    var reason = "no active delega covers this position at \(date)"
    for grant in candidates {
      guard grant.inForce(on: date) else {
        reason = "delega \(grant.id) is not in force on \(date)"
        continue
      }
      switch grant.kind {
      case .dipendente, .intermediario:
        guard enabled.profileScopes.contains(needed) else {
          reason = "the delegate lacks the profile scope \(needed.rawValue)"
          continue
        }
        if grant.kind == .intermediario && !enabled.activeAlbo {
          reason = "the intermediary has no active albo registration"
          continue
        }
        return .allow([.delega(grant.id)])
      case .subdelega:
        guard enabled.sc62Scopes.contains(needed) else {
          reason = "the sub-delegate lacks an SC62 enablement with scope \(needed.rawValue)"
          continue
        }
        guard let parentID = grant.parentID,
          let parent = try await deleghe.delega(id: parentID),
          parent.kind == .intermediario, parent.inForce(on: date), parent.covers(position),
          parent.delegateFiscalCode == grant.delegantFiscalCode
        else {
          reason = "the parent delega of sub-delega \(grant.id) is not in force"
          continue
        }
        guard try await enablements.enablements(of: parent.delegateFiscalCode).activeAlbo else {
          reason = "the intermediary of sub-delega \(grant.id) has no active albo registration"
          continue
        }
        return .allow([.subdelega(grant.id), .delega(parent.id)])
      }
    }
    if function == .gdpDenunce,
      mayUseGDPDenunceServices(
        holdsPublicSectorScope: false, hasActiveDelega: false,
        holdsLegacyGDPEnablementForTheAdministration: enabled.legacyGDPAdministrations.contains(
          subject.fiscalCode), on: date, cutover: cutover)
    {
      return .allow([.legacyGDP(subject.fiscalCode)])
    }
    return .deny(reason)
  }

  /// Every position `person` may read at `instant` through deleghe (owner and operator
  /// visibility are sets a store can query directly; this adds what deleghe grant, each
  /// position checked with ``decide(person:function:position:subject:at:)``).
  public func delegatedPositions(of person: String, at instant: Date) async throws
    -> [PositionInfo]
  {
    var seen = Set<String>()
    var result: [PositionInfo] = []
    let date = CalendarDate.of(instant, in: timeZone)
    for grant in try await deleghe.deleghe(delegate: person) where grant.inForce(on: date) {
      guard let subject = try await positions.subject(fiscalCode: grant.subjectFiscalCode)
      else { continue }
      let covered: [PositionInfo]
      if let matricola = grant.matricola {
        covered = try await positions.position(matricola: matricola).map { [$0] } ?? []
      } else {
        covered = try await positions.positions(ofSubject: grant.subjectFiscalCode)
      }
      for position in covered where !seen.contains(position.matricola) {
        let decision = try await decide(
          person: person, function: .readPosition, position: position, subject: subject,
          at: instant)
        if decision.allowed {
          seen.insert(position.matricola)
          result.append(position)
        }
      }
    }
    return result
  }
}

/// The Authorizer is the full ``PositionAccess`` (owners, operators of the sede, back-ends
/// granted `posizioni.read`, and delegates through ``Authorizer/decide(person:function:position:subject:at:)``):
/// the composition root hands it to Posizioni.
extension Authorizer: PositionAccess {
  public func scope(for caller: Caller, at instant: Date) async throws -> PositionScope {
    switch caller {
    case .anonymous: return .none
    case .service(let service):
      return service.has(.posizioniRead) ? PositionScope(all: true) : .none
    case .person(let person):
      let cf = person.codiceFiscale.value
      let sedi = try await enablements.enablements(of: cf).operatorSedi
      let delegated = try await delegatedPositions(of: cf, at: instant)
      return PositionScope(owner: cf, sedi: sedi, matricole: Set(delegated.map(\.matricola)))
    }
  }

  public func mayRead(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> Bool {
    try await readDecision(caller, position: position, subject: subject, at: instant).allowed
  }

  public func readDecision(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> PositionReadDecision {
    switch caller {
    case .anonymous: return PositionReadDecision(allowed: false)
    case .service(let service):
      return service.has(.posizioniRead)
        ? PositionReadDecision(allowed: true, chain: "service:\(Permission.posizioniRead)")
        : PositionReadDecision(allowed: false)
    case .person(let person):
      let decision = try await decide(
        person: person.codiceFiscale.value, function: .readPosition, position: position,
        subject: subject, at: instant)
      guard decision.allowed else { return PositionReadDecision(allowed: false) }
      return PositionReadDecision(allowed: true, chain: decision.chain.auditText)
    }
  }
}

extension [AccessGrant] {
  /// The chain as audit text: `owner:CF`, `sede:CODE`, `delega:ID`, `subdelega:ID`,
  /// `legacy-gdp:CF`, joined by ` > `.
  public var auditText: String {
    map { grant in
      switch grant {
      case .owner(let cf): "owner:\(cf)"
      case .sedeOperator(let sede): "sede:\(sede)"
      case .delega(let id): "delega:\(id)"
      case .subdelega(let id): "subdelega:\(id)"
      case .legacyGDP(let cf): "legacy-gdp:\(cf)"
      }
    }.joined(separator: " > ")
}
}
