import Foundation
import Validation

/// How the person logged in at the identity gateway (`amr` claim).
public enum AuthenticationMethod: String, Sendable, Hashable, CaseIterable {
  /// Sistema Pubblico di Identità Digitale.
  case spid
  /// Carta d'Identità Elettronica.
  case cie
  /// Carta Nazionale dei Servizi.
  case cns
}

/// SPID assurance level (`acr` claim), as the URIs of the SPID technical rules
/// (`https://www.spid.gov.it/SpidL1` … `SpidL3`).
public enum SPIDLevel: Int, Sendable, Hashable, Comparable, CaseIterable {
  case level1 = 1
  case level2 = 2
  case level3 = 3

  /// The `acr` URI of this level.
  public var uri: String { "https://www.spid.gov.it/SpidL\(rawValue)" }

  /// The level named by an `acr` URI; `nil` for any other text.
  public init?(uri: String) {
    guard let level = SPIDLevel.allCases.first(where: { $0.uri == uri }) else { return nil }
    self = level
  }

  public static func < (a: SPIDLevel, b: SPIDLevel) -> Bool { a.rawValue < b.rawValue }
}

/// What a verified person token proves: who the person is and how they logged in. Nothing
/// about their rights — profiles, enablements and deleghe come from Cassetto's own data
/// (API.md, Calling conventions).
public struct PersonClaims: Sendable, Hashable {
  /// The `fiscal_number` claim as sent, `TINIT-<codice fiscale>`.
  public let fiscalNumber: String
  /// The person's identity: the code after `TINIT-`, validated. Never `sub`, which SPID and
  /// CIE make different for every service provider.
  public let codiceFiscale: CodiceFiscale
  /// Assurance level; always ``SPIDLevel/level2`` or higher in a verified token.
  public let level: SPIDLevel
  public let method: AuthenticationMethod
  public let givenName: String?
  public let familyName: String?
  /// `jti`, for audit and replay detection.
  public let tokenID: String?
  public let issuer: String
  public let issuedAt: Date?
  public let expiresAt: Date
  /// The `kid` of the trusted key that verified the signature, if it has one.
  public let keyID: String?

  public init(
    fiscalNumber: String, codiceFiscale: CodiceFiscale, level: SPIDLevel,
    method: AuthenticationMethod, givenName: String?, familyName: String?, tokenID: String?,
    issuer: String, issuedAt: Date?, expiresAt: Date, keyID: String?
  ) {
    self.fiscalNumber = fiscalNumber
    self.codiceFiscale = codiceFiscale
    self.level = level
    self.method = method
    self.givenName = givenName
    self.familyName = familyName
    self.tokenID = tokenID
    self.issuer = issuer
    self.issuedAt = issuedAt
    self.expiresAt = expiresAt
    self.keyID = keyID
  }
}

/// Why a person token was refused. The server answers `UNAUTHENTICATED` for every case; the
/// cases exist for logs. No case carries the token or any part of its signature; header
/// values (`alg`, `kid`) are reduced to at most 64 printable ASCII characters.
public enum JWTError: Error, Sendable, Hashable, CustomStringConvertible {
  /// `exp` (plus the allowed skew) is in the past.
  case expired
  /// `nbf` or `iat` is later than now plus the allowed skew.
  case notYetValid
  /// The signature does not verify with any trusted key that could have made it.
  case badSignature
  /// `alg` is not ES256 or EdDSA (so `none` and HS256 among others), or no trusted key of that
  /// algorithm exists, or the key named by `kid` is of another type.
  case unsupportedAlgorithm(String)
  /// The header names a `kid` that is not configured.
  case unknownKey(String)
  case wrongAudience
  case wrongIssuer
  /// SPID level 1 (`acr` SpidL1).
  case levelTooLow
  /// Not three base64url segments of JSON objects, too large, or an unsupported `crit` header.
  case malformed(String)
  /// A required claim is absent.
  case missingClaim(String)
  /// A claim is present with the wrong type or an unacceptable value.
  case invalidClaim(String)

  public var description: String {
    switch self {
    case .expired: "token expired"
    case .notYetValid: "token not yet valid"
    case .badSignature: "bad signature"
    case .unsupportedAlgorithm(let alg): "unsupported algorithm \(alg)"
    case .unknownKey(let kid): "unknown key id \(kid)"
    case .wrongAudience: "wrong audience"
    case .wrongIssuer: "wrong issuer"
    case .levelTooLow: "authentication level too low"
    case .malformed(let why): "malformed token: \(why)"
    case .missingClaim(let name): "missing claim \(name)"
    case .invalidClaim(let name): "invalid claim \(name)"
    }
  }
}
