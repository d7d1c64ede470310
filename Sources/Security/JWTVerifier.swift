import Foundation
import Validation

/// A public key trusted to sign person tokens, with its optional key id (`kid`).
public struct TrustedKey: Sendable {
  /// Matched against the token header's `kid` when the header has one.
  public let kid: String?
  let key: EVPKey

  /// The algorithm this key verifies: ES256 for a P-256 key, EdDSA for an Ed25519 key.
  public var algorithm: JWTAlgorithm { key.algorithm }

  /// Reads a `PUBLIC KEY` or `CERTIFICATE` PEM block (P-256 or Ed25519 only).
  public init(pem: String, kid: String? = nil) throws(KeyError) {
    self.key = try EVPKey.publicKey(pem: pem)
    self.kid = kid
  }

  init(key: EVPKey, kid: String?) {
    self.key = key
    self.kid = kid
  }

  /// The public key as PEM, for configuration files and other verifiers.
  public var pem: String { key.publicKeyPEM }
}

/// Verifies person tokens: JWS compact serialization (RFC 7515) signed ES256 or EdDSA by the
/// identity gateway, with the claims of API.md (Calling conventions).
///
/// Order of checks: structure and size; header `alg` (only ES256 and EdDSA, and only with a
/// trusted key of that type: `none`, HS256 and the alg/key confusion attack are refused
/// before any signature work); `crit` refused; signature; `exp` (required), `nbf` and `iat`
/// with ``clockSkew``; `iss`; `aud` (string or array); `fiscal_number`; `amr`; `acr`.
/// Header parameters that point at keys (`jku`, `jwk`, `x5u`, `x5c`) are ignored: only
/// configured keys verify.
public struct JWTVerifier: Sendable {
  public var trustedKeys: [TrustedKey]
  /// Required value of `iss`.
  public var issuer: String
  /// Value `aud` must be or contain.
  public var audience: String
  /// Allowed difference between the gateway's clock and ours, in seconds.
  public var clockSkew: TimeInterval
  /// Longer tokens are refused unparsed.
  public var maximumTokenLength: Int = 16 * 1024

  public init(
    trustedKeys: [TrustedKey], issuer: String, audience: String, clockSkew: TimeInterval = 60
  ) {
    self.trustedKeys = trustedKeys
    self.issuer = issuer
    self.audience = audience
    self.clockSkew = clockSkew
  }

  /// Verifies `token` at the instant `now`; returns the person it identifies.
  public func verify(_ token: String, now: Date) throws(JWTError) -> PersonClaims {
    let bytes = Array(token.utf8)
    guard bytes.count <= maximumTokenLength else { throw .malformed("token too long") }
    let segments = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard segments.count == 3 else { throw .malformed("expected three segments") }
    guard let headerBytes = Base64URL.decode(utf8: Array(segments[0])),
      let header = JSONValue.parse(headerBytes)?.objectValue
    else { throw .malformed("header is not base64url JSON object") }

    guard let alg = header["alg"]?.stringValue else { throw .malformed("header has no alg") }
    guard let algorithm = JWTAlgorithm(rawValue: alg) else {
      throw .unsupportedAlgorithm(loggable(alg))
    }
    if header["crit"] != nil { throw .malformed("unsupported crit header") }
    let candidates: [TrustedKey]
    if let kidValue = header["kid"] {
      guard let kid = kidValue.stringValue else { throw .malformed("kid is not a string") }
      let named = trustedKeys.filter { $0.kid == kid }
      guard !named.isEmpty else { throw .unknownKey(loggable(kid)) }
      candidates = named.filter { $0.algorithm == algorithm }
    } else {
      candidates = trustedKeys.filter { $0.algorithm == algorithm }
    }
    guard !candidates.isEmpty else { throw .unsupportedAlgorithm(alg) }  // ES256 or EdDSA

    guard let signature = Base64URL.decode(utf8: Array(segments[2])) else {
      throw .malformed("signature is not base64url")
    }
    let signingInput = Array(bytes[..<segments[1].endIndex])
    guard
      let key = candidates.first(where: {
        $0.key.verify(signature: signature, message: signingInput)
      })
    else { throw .badSignature }

    guard let payloadBytes = Base64URL.decode(utf8: Array(segments[1])),
      let claims = JSONValue.parse(payloadBytes)?.objectValue
    else { throw .malformed("payload is not base64url JSON object") }
    return try check(claims, now: now, keyID: key.kid)
  }

  private func check(_ claims: [String: JSONValue], now: Date, keyID: String?) throws(JWTError)
    -> PersonClaims
  {
    let time = now.timeIntervalSince1970
    guard let expValue = claims["exp"] else { throw .missingClaim("exp") }
    guard let exp = expValue.numberValue else { throw .invalidClaim("exp") }
    guard time <= exp + clockSkew else { throw .expired }
    if let nbfValue = claims["nbf"] {
      guard let nbf = nbfValue.numberValue else { throw .invalidClaim("nbf") }
      guard nbf <= time + clockSkew else { throw .notYetValid }
    }
    var issuedAt: Date? = nil
    if let iatValue = claims["iat"] {
      guard let iat = iatValue.numberValue else { throw .invalidClaim("iat") }
      guard iat <= time + clockSkew else { throw .notYetValid }
      issuedAt = Date(timeIntervalSince1970: iat)
    }

    guard let issValue = claims["iss"] else { throw .missingClaim("iss") }
    guard issValue.stringValue == issuer else { throw .wrongIssuer }
    guard let audValue = claims["aud"] else { throw .missingClaim("aud") }
    switch audValue {
    case .string(let aud):
      guard aud == audience else { throw .wrongAudience }
    case .array(let list):
      guard list.contains(.string(audience)) else { throw .wrongAudience }
    default:
      throw .invalidClaim("aud")
    }

    guard let fiscalValue = claims["fiscal_number"] else { throw .missingClaim("fiscal_number") }
    guard let fiscalNumber = fiscalValue.stringValue, fiscalNumber.hasPrefix("TINIT-"),
      let codiceFiscale = try? CodiceFiscale(String(fiscalNumber.dropFirst(6)))
    else { throw .invalidClaim("fiscal_number") }

    guard let amrValue = claims["amr"] else { throw .missingClaim("amr") }
    let methods: [JSONValue]
    switch amrValue {
    case .string: methods = [amrValue]
    case .array(let list): methods = list
    default: throw .invalidClaim("amr")
    }
    guard
      let method = methods.lazy.compactMap({
        $0.stringValue.flatMap { AuthenticationMethod(rawValue: $0.lowercased()) }
      }).first
    else { throw .invalidClaim("amr") }

    // SPID states its level in acr. CIE and CNS logins count as level 2 or higher: when they
    // carry no acr they are level 2; when they carry one, it is checked like SPID's.
    let level: SPIDLevel
    if let acrValue = claims["acr"] {
      guard let uri = acrValue.stringValue, let parsed = SPIDLevel(uri: uri) else {
        throw .invalidClaim("acr")
      }
      level = parsed
    } else if method == .spid {
      throw .missingClaim("acr")
    } else {
      level = .level2
    }
    guard level >= .level2 else { throw .levelTooLow }

    func optionalString(_ name: String) throws(JWTError) -> String? {
      guard let value = claims[name] else { return nil }
      guard let string = value.stringValue else { throw .invalidClaim(name) }
      return string
    }
    return PersonClaims(
      fiscalNumber: fiscalNumber, codiceFiscale: codiceFiscale, level: level, method: method,
      givenName: try optionalString("given_name"), familyName: try optionalString("family_name"),
      tokenID: try optionalString("jti"), issuer: issuer, issuedAt: issuedAt,
      expiresAt: Date(timeIntervalSince1970: exp), keyID: keyID)
  }
}

/// Attacker-chosen header text made safe for logs: printable ASCII only, at most 64 characters.
func loggable(_ text: String) -> String {
  String(
    String.UnicodeScalarView(
      text.unicodeScalars.prefix(64).map { $0.value >= 0x20 && $0.value < 0x7F ? $0 : "?" }))
}
