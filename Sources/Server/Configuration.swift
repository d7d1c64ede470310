import Access
import Foundation
import Posizioni
import Validation

/// Everything the server needs to start, as one value (STYLE.md, convention 7): built from
/// flags by `cassetto-server` (a configuration file can fill the same value later), checked by
/// ``validate()`` before anything starts, then passed down explicitly.
public struct Configuration: Sendable {
  /// Directory for the database, the development key and spool files.
  public var dataDirectory: String
  /// The SQLite file; `nil` means `cassetto.sqlite` in ``dataDirectory``.
  public var databasePath: String?
  /// Development mode: the server creates its own signing key in the data directory and
  /// trusts it (tokens from `cassetto dev-token`). Never in production.
  public var developmentMode: Bool
  /// Load the demo data set when the database is empty (``DemoData``).
  public var loadDemoData: Bool
  /// PEM files (public keys or certificates) of the identity gateway's signing keys.
  public var trustedKeyFiles: [String]
  /// Required `iss` of person tokens signed by the trusted keys.
  public var tokenIssuer: String
  /// Required `aud` of every person token (development tokens too).
  public var tokenAudience: String
  /// Allowed clock difference with the identity gateway, in seconds.
  public var clockSkew: TimeInterval
  /// Client-certificate → service-name mappings for back-ends (mutual TLS).
  public var serviceIdentities: [ServiceIdentityRule]
  /// The first IDM managers of each sede (later ones are granted through the API).
  public var idmManagers: [IDMManagerBootstrap]
  /// Cut-over dates the rules compare the call's date with.
  public var cutover: CutoverDates
  /// The configured SMTP channel of the outbox worker; `nil` keeps the spool (default).
  public var smtp: SMTPConfiguration? = nil
  /// The HTTP SMS gateway of the outbox worker (`SMSGatewayChannel`); `nil` keeps SMS in the
  /// spool (default).
  public var smsGatewayURL: String? = nil
  /// First retry delay of a failed delivery, in seconds; it doubles per attempt (≤ 1 hour).
  public var outboxRetryBase: TimeInterval = 30
  /// The drawer's application registry file (`--applications`); `nil`: the built-in one.
  public var applicationsPath: String? = nil
  /// The dated reference-rate table of `ComputeSanzioniECA` (`--sanzioni-rates`, JSON);
  /// `nil`: the built-in one.
  public var sanzioniRatesPath: String? = nil
  /// Answer thresholds per ticketing subject (`--ticketing-thresholds`, JSON); `nil`: 30 days.
  public var ticketingThresholdsPath: String? = nil

  /// Default `aud`: the name the gateway issues Cassetto's tokens for.
  public static let defaultAudience = "cassetto"

  public init(
    dataDirectory: String, databasePath: String? = nil, developmentMode: Bool = false,
    loadDemoData: Bool = false, trustedKeyFiles: [String] = [], tokenIssuer: String = "",
    tokenAudience: String = Configuration.defaultAudience, clockSkew: TimeInterval = 60,
    serviceIdentities: [ServiceIdentityRule] = [], idmManagers: [IDMManagerBootstrap] = [],
    cutover: CutoverDates = .circolare34
  ) {
    self.dataDirectory = dataDirectory
    self.databasePath = databasePath
    self.developmentMode = developmentMode
    self.loadDemoData = loadDemoData
    self.trustedKeyFiles = trustedKeyFiles
    self.tokenIssuer = tokenIssuer
    self.tokenAudience = tokenAudience
    self.clockSkew = clockSkew
    self.serviceIdentities = serviceIdentities
    self.idmManagers = idmManagers
    self.cutover = cutover
  }

  /// The database file.
  public var resolvedDatabasePath: String {
    databasePath ?? (dataDirectory as NSString).appendingPathComponent("cassetto.sqlite")
  }

  /// The development signing key's file in the data directory.
  public var developmentKeyPath: String {
    (dataDirectory as NSString).appendingPathComponent("dev-signing-key.pem")
  }

  /// The server secret OTPs are keyed with (created on first start, mode 0600).
  public var otpKeyPath: String {
    (dataDirectory as NSString).appendingPathComponent("otp-key.bin")
  }

  /// Where the outbox worker's default channel writes each message as an `.eml` file.
  public var spoolDirectory: String {
    (dataDirectory as NSString).appendingPathComponent("spool")
  }

  /// Refuses inconsistent settings before anything starts.
  public func validate() throws(ConfigurationError) {
    if !trustedKeyFiles.isEmpty && tokenIssuer.isEmpty {
      throw .invalid("--trusted-key needs --token-issuer (the gateway's iss)")
    }
    if tokenAudience.isEmpty { throw .invalid("--token-audience must not be empty") }
    if !developmentMode && tokenIssuer == developmentIssuer {
      throw .invalid(
        "the development issuer is accepted only in development mode (--dev)")
    }
    if !(0...600).contains(clockSkew) { throw .invalid("--clock-skew must be 0…600 seconds") }
    try smtp?.validate()
    if let url = smsGatewayURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
      throw .invalid("--sms-gateway-url must be an http:// or https:// URL")
    }
    if !(0.1...3600).contains(outboxRetryBase) {
      throw .invalid("--outbox-retry-base must be 0.1…3600 seconds")
    }
    if loadDemoData && !developmentMode {
      throw .invalid("--demo loads well-known identities: only with --dev")
    }
    do {
      _ = try ApplicationRegistry.load(path: applicationsPath)
    } catch {
      throw .invalid("--applications: \(error)")
    }
  }

  /// `iss` of development tokens (`DevelopmentKey.issuer`).
  public var developmentIssuer: String { "urn:cassetto:development" }
}

/// A configuration error, reported before the server starts.
public enum ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
  case invalid(String)
  public var description: String {
    switch self {
    case .invalid(let message): message
    }
  }
}

/// Maps a verified client certificate to a back-end's service name and permissions.
///
/// Text form (flag `--service-identity`): `cn:<common name>=<name>:<perm>,<perm>` or
/// `sha256:<hex fingerprint>=<name>:<perm>,…`, e.g.
/// `cn:ledger.inps.internal=ledger:identity.upsert-albo-registrations`.
public struct ServiceIdentityRule: Sendable, Hashable {
  public enum Selector: Sendable, Hashable {
    /// The certificate's subject common name, exactly.
    case commonName(String)
    /// Lower-case hex SHA-256 of the DER certificate (pins one certificate).
    case sha256(String)
  }

  public var selector: Selector
  public var identity: ServiceIdentity

  public init(selector: Selector, identity: ServiceIdentity) {
    self.selector = selector
    self.identity = identity
  }

  /// Parses the text form; unknown permissions are refused so a typo does not silently
  /// grant nothing.
  public init(parsing text: String) throws(ConfigurationError) {
    func fail(_ why: String) -> ConfigurationError {
      .invalid(
        "--service-identity '\(text)': \(why) (expected cn:CN=NAME:PERM,PERM or sha256:HEX=NAME:PERM,PERM)"
      )
    }
    guard let equals = text.firstIndex(of: "=") else { throw fail("missing '='") }
    let selectorText = text[..<equals]
    let rest = text[text.index(after: equals)...]
    if selectorText.hasPrefix("cn:") {
      let cn = String(selectorText.dropFirst(3))
      guard !cn.isEmpty else { throw fail("empty common name") }
      selector = .commonName(cn)
    } else if selectorText.hasPrefix("sha256:") {
      let hex = selectorText.dropFirst(7).lowercased().replacingOccurrences(of: ":", with: "")
      guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
        throw fail("a SHA-256 fingerprint has 64 hex digits")
      }
      selector = .sha256(hex)
    } else {
      throw fail("the selector starts with cn: or sha256:")
    }
    let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    let name = String(parts[0])
    guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
    else { throw fail("the service name is letters, digits, - _ .") }
    var permissions: Set<Permission> = []
    if parts.count == 2 {
      for raw in parts[1].split(separator: ",") {
        let permission = Permission(rawValue: String(raw))
        guard Permission.known.contains(permission) else {
          throw fail(
            "unknown permission \(raw); known: \(Permission.known.map(\.rawValue).joined(separator: ", "))"
          )
        }
        permissions.insert(permission)
      }
    }
    identity = ServiceIdentity(name: name, permissions: permissions)
  }
}

/// One IDM manager to bootstrap: `--idm-manager CF@SEDE`.
public struct IDMManagerBootstrap: Sendable, Hashable {
  public var person: CodiceFiscale
  public var sede: SedeCode

  public init(person: CodiceFiscale, sede: SedeCode) {
    self.person = person
    self.sede = sede
  }

  public init(parsing text: String) throws(ConfigurationError) {
    let parts = text.split(separator: "@")
    guard parts.count == 2,
      let person = try? CodiceFiscale(person: String(parts[0])),
      let sede = try? SedeCode(String(parts[1]))
    else {
      throw .invalid(
        "--idm-manager '\(text)': expected CODICEFISCALE@SEDE, e.g. RSSMRA80A01H501U@7500")
    }
    self.init(person: person, sede: sede)
  }
}

extension CutoverDates {
  /// Parses `YYYY-MM-DD` for the cut-over flags.
  public static func parseDate(_ text: String, flag: String) throws(ConfigurationError)
    -> CalendarDate
  {
    let parts = text.split(separator: "-")
    guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]),
      let day = Int(parts[2]), let date = try? CalendarDate(year: year, month: month, day: day)
    else { throw .invalid("\(flag) '\(text)': expected a date YYYY-MM-DD") }
    return date
  }
}
