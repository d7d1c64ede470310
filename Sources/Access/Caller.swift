import Validation

/// Who is making the current call, as authentication established it.
///
/// A token or a certificate proves identity only (API.md, Calling conventions): what the
/// caller may do — profiles, enablements, operator roles, deleghe — comes from Cassetto's own
/// data and is checked on every call, deny by default.
///
/// Handlers read the caller of their call from ``Caller/current``, a task-local value the
/// authentication interceptor binds around the handler (design choice: a task-local keeps the
/// generated handler signatures unchanged and cannot be forged by a request; it is only ever
/// set by `Caller.$current.withValue` in the composition root and in tests).
public enum Caller: Sendable, Hashable {
  /// A natural person who logged in at the identity gateway (SPID, CIE or CNS).
  case person(Person)
  /// A back-end of the institute, identified by its client TLS certificate.
  case service(ServiceIdentity)
  /// No credentials were presented. Only the health and reflection services serve it.
  case anonymous

  /// The caller of the current call; ``anonymous`` outside an authenticated call.
  @TaskLocal public static var current: Caller = .anonymous

  /// How the caller is named in audit events and idempotency keys: `TINIT-<codice fiscale>`
  /// for a person, `service:<name>` for a back-end, `anonymous` otherwise.
  public var actorID: String {
    switch self {
    case .person(let person): "TINIT-" + person.codiceFiscale.value
    case .service(let service): "service:" + service.name
    case .anonymous: "anonymous"
    }
  }

  /// The person, if the caller is one.
  public var person: Person? {
    if case .person(let person) = self { return person }
    return nil
  }

  /// The service identity, if the caller is a back-end.
  public var service: ServiceIdentity? {
    if case .service(let service) = self { return service }
    return nil
  }
}

/// A person as their token describes them.
public struct Person: Sendable, Hashable {
  /// The `fiscal_number` claim without `TINIT-`: the person's identity (never `sub`).
  public var codiceFiscale: CodiceFiscale
  public var givenName: String?
  public var familyName: String?
  public var method: AuthenticationMethod
  /// SPID assurance level, 2 or 3 (level 1 never gets this far; CIE and CNS count as 2+).
  public var level: Int
  /// The token's `jti`, for audit.
  public var tokenID: String?

  public init(
    codiceFiscale: CodiceFiscale, givenName: String? = nil, familyName: String? = nil,
    method: AuthenticationMethod = .spid, level: Int = 2, tokenID: String? = nil
  ) {
    self.codiceFiscale = codiceFiscale
    self.givenName = givenName
    self.familyName = familyName
    self.method = method
    self.level = level
    self.tokenID = tokenID
  }

  /// How the person logged in.
  public enum AuthenticationMethod: String, Sendable, Hashable, CaseIterable {
    case spid
    case cie
    case cns
  }
}

/// A back-end identified by mutual TLS, with the permissions its configuration grants.
public struct ServiceIdentity: Sendable, Hashable {
  /// The configured service name, e.g. `ledger`.
  public var name: String
  public var permissions: Set<Permission>

  public init(name: String, permissions: Set<Permission>) {
    self.name = name
    self.permissions = permissions
  }

  /// Whether the configuration grants `permission`.
  public func has(_ permission: Permission) -> Bool { permissions.contains(permission) }
}

/// Something a back-end's configuration may grant, named `module.action`.
public struct Permission: RawRepresentable, Sendable, Hashable, Comparable,
  ExpressibleByStringLiteral, CustomStringConvertible
{
  public let rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }
  public init(stringLiteral value: String) { self.rawValue = value }
  public var description: String { rawValue }
  public static func < (a: Permission, b: Permission) -> Bool { a.rawValue < b.rawValue }

  /// Feed `ImportLegacyAbilitazioni`: enablements held before the cut-over.
  public static let importLegacyAbilitazioni: Permission = "identity.import-legacy-abilitazioni"
  /// Feed `UpsertAlboRegistrations`: the professional registers.
  public static let upsertAlboRegistrations: Permission = "identity.upsert-albo-registrations"

  /// Feed `Posizioni.Ingest`: subjects, positions, payments and their data.
  public static let posizioniIngest: Permission = "posizioni.ingest"
  /// Read every position (`SearchPosizioni`, `GetPosizione` and the GDP reads).
  public static let posizioniRead: Permission = "posizioni.read"

  /// `Deleghe.CheckAccess` for any person (back-ends, the gateway).
  public static let delegheCheckAccess: Permission = "deleghe.check-access"

  /// `Ticketing.SendComunicazione` to any position (e.g. irregularities found by a back-end).
  public static let ticketingSendComunicazione: Permission = "ticketing.send-comunicazione"

  /// Every permission this version knows, for `--help` and configuration checks.
  public static let known: [Permission] = [
    importLegacyAbilitazioni, upsertAlboRegistrations, posizioniIngest, posizioniRead,
    delegheCheckAccess, ticketingSendComunicazione,
  ]
}
