import Foundation

@testable import Security

/// Shared fixtures: one ES256 and one EdDSA gateway key, a fixed clock, and a verifier that
/// trusts both keys.
enum Fixture {
  static let issuer = "https://gateway.example.it"
  static let audience = "cassetto"
  static let now = Date(timeIntervalSince1970: 1_750_000_000)
  static let cf = "RSSMRA80A01H501U"

  static let es256 = try! JWTSigner.generate(.es256, kid: "gw-es256")
  static let edDSA = try! JWTSigner.generate(.edDSA, kid: "gw-ed25519")

  static var verifier: JWTVerifier {
    JWTVerifier(
      trustedKeys: [es256.trustedKey, edDSA.trustedKey], issuer: issuer, audience: audience)
  }

  static func person(
    level: SPIDLevel = .level2, method: AuthenticationMethod = .spid, issuedAt: Date = now
  ) -> PersonToken {
    PersonToken(
      codiceFiscale: cf, level: level, method: method, givenName: "Mario", familyName: "Rossi",
      issuer: issuer, audience: audience, issuedAt: issuedAt, lifetime: 600, tokenID: "jti-1")
  }

  /// Standard claims with some replaced (`nil` removes one).
  static func claims(_ changes: [String: JSONValue?] = [:]) -> [String: JSONValue] {
    var claims = person().claims
    for (name, value) in changes { claims[name] = value }
    return claims
  }

  /// A token signed by `signer` with its usual header.
  static func token(_ changes: [String: JSONValue?] = [:], signer: JWTSigner = es256) -> String {
    try! signer.sign(claims(changes))
  }
}

/// The error `verify` throws, or `nil` if it accepts.
func refusal(_ token: String, verifier: JWTVerifier = Fixture.verifier, now: Date = Fixture.now)
  -> JWTError?
{
  do {
    _ = try verifier.verify(token, now: now)
    return nil
  } catch {
    return error
  }
}
