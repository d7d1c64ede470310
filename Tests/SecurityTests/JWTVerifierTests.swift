import Foundation
import Testing

@testable import Security

@Suite struct JWTVerifierAcceptanceTests {
  @Test func validES256TokenVerifies() throws {
    let token = try Fixture.es256.sign(Fixture.person())
    let claims = try Fixture.verifier.verify(token, now: Fixture.now)
    #expect(claims.codiceFiscale.value == Fixture.cf)
    #expect(claims.fiscalNumber == "TINIT-" + Fixture.cf)
    #expect(claims.level == .level2)
    #expect(claims.method == .spid)
    #expect(claims.givenName == "Mario" && claims.familyName == "Rossi")
    #expect(claims.tokenID == "jti-1")
    #expect(claims.keyID == "gw-es256")
    #expect(claims.expiresAt == Fixture.now.addingTimeInterval(600))
    #expect(token.split(separator: ".").last.map { Base64URL.decode($0)?.count } == 64)
  }

  @Test func validEdDSATokenVerifies() throws {
    let token = try Fixture.edDSA.sign(Fixture.person(level: .level3, method: .cie))
    let claims = try Fixture.verifier.verify(token, now: Fixture.now)
    #expect(claims.level == .level3)
    #expect(claims.method == .cie)
    #expect(claims.keyID == "gw-ed25519")
  }

  @Test func tokenWithoutKidVerifiesAgainstKeysOfItsAlgorithm() throws {
    let token = try Fixture.edDSA.sign(header: ["alg": "EdDSA"], claims: Fixture.claims())
    #expect(try Fixture.verifier.verify(token, now: Fixture.now).keyID == "gw-ed25519")
  }

  @Test func audienceMayBeAnArrayContainingOurs() throws {
    let token = Fixture.token(["aud": ["other", "cassetto"]])
    _ = try Fixture.verifier.verify(token, now: Fixture.now)
  }

  @Test func cieAndCnsWithoutAcrCountAsLevelTwo() throws {
    for method in ["cie", "cns"] {
      let token = Fixture.token(["acr": nil, "amr": .string(method)])
      #expect(try Fixture.verifier.verify(token, now: Fixture.now).level == .level2)
    }
  }

  @Test func expiryWithinTheSkewIsTolerated() throws {
    let at = Fixture.now.addingTimeInterval(600 + 59)
    _ = try Fixture.verifier.verify(Fixture.token(), now: at)
  }

  @Test func notBeforeWithinTheSkewIsTolerated() throws {
    let token = Fixture.token(["nbf": .integer(1_750_000_050), "iat": .integer(1_750_000_050)])
    _ = try Fixture.verifier.verify(token, now: Fixture.now)
  }
}

@Suite struct JWTVerifierRefusalTests {
  @Test func expiredTokenIsRefused() {
    #expect(refusal(Fixture.token(), now: Fixture.now.addingTimeInterval(600 + 61)) == .expired)
  }

  @Test func notYetValidTokenIsRefused() {
    let token = Fixture.token(["nbf": .integer(1_750_000_000 + 120)])
    #expect(refusal(token) == .notYetValid)
  }

  @Test func tokenIssuedInTheFutureIsRefused() {
    let token = Fixture.token(["iat": .integer(1_750_000_000 + 120)])
    #expect(refusal(token) == .notYetValid)
  }

  @Test func wrongAudienceIsRefused() {
    #expect(refusal(Fixture.token(["aud": "another-service"])) == .wrongAudience)
    #expect(refusal(Fixture.token(["aud": ["a", "b"]])) == .wrongAudience)
  }

  @Test func wrongIssuerIsRefused() {
    #expect(refusal(Fixture.token(["iss": "https://evil.example"])) == .wrongIssuer)
  }

  @Test func tokenSignedByAnUntrustedKeyIsRefused() throws {
    let stranger = try JWTSigner.generate(.es256)
    #expect(refusal(Fixture.token(signer: stranger)) == .badSignature)
    // Even when it claims the kid of a trusted key.
    let impostor = try JWTSigner(privateKeyPEM: stranger.privateKeyPEM, kid: "gw-es256")
    #expect(refusal(Fixture.token(signer: impostor)) == .badSignature)
  }

  @Test func unsignedAlgNoneTokenIsRefused() {
    let header = Base64URL.encode(#"{"alg":"none","typ":"JWT"}"#)
    let payload = Base64URL.encode(JSONValue.object(Fixture.claims()).serialized)
    #expect(refusal("\(header).\(payload).") == .unsupportedAlgorithm("none"))
    #expect(refusal("\(header).\(payload)") == .malformed("expected three segments"))
  }

  @Test func hs256WithThePublicKeyAsSecretIsRefused() {
    // The classic confusion attack: HMAC keyed with the trusted public key's PEM.
    let header = Base64URL.encode(#"{"alg":"HS256","typ":"JWT","kid":"gw-es256"}"#)
    let payload = Base64URL.encode(JSONValue.object(Fixture.claims()).serialized)
    let input = "\(header).\(payload)"
    let mac = HMAC.sha256(key: Array(Fixture.es256.publicKeyPEM.utf8), data: Array(input.utf8))
    #expect(refusal("\(input).\(Base64URL.encode(mac))") == .unsupportedAlgorithm("HS256"))
  }

  @Test func algorithmThatDoesNotMatchTheKeyTypeIsRefused() throws {
    // EdDSA claimed with the kid of the ES256 key.
    let forged = try Fixture.edDSA.sign(
      header: ["alg": "EdDSA", "kid": "gw-es256"], claims: Fixture.claims())
    #expect(refusal(forged) == .unsupportedAlgorithm("EdDSA"))
    // EdDSA token when only ES256 keys are trusted.
    var esOnly = Fixture.verifier
    esOnly.trustedKeys = [Fixture.es256.trustedKey]
    #expect(
      refusal(Fixture.token(signer: Fixture.edDSA), verifier: esOnly) == .unknownKey("gw-ed25519"))
    let noKid = try Fixture.edDSA.sign(header: ["alg": "EdDSA"], claims: Fixture.claims())
    #expect(refusal(noKid, verifier: esOnly) == .unsupportedAlgorithm("EdDSA"))
  }

  @Test func unknownKidIsRefused() throws {
    let token = try Fixture.es256.sign(
      header: ["alg": "ES256", "kid": "nope"], claims: Fixture.claims())
    #expect(refusal(token) == .unknownKey("nope"))
  }

  @Test func spidLevelOneIsRefused() throws {
    let token = try Fixture.es256.sign(Fixture.person(level: .level1))
    #expect(refusal(token) == .levelTooLow)
    let cie = try Fixture.es256.sign(Fixture.person(level: .level1, method: .cie))
    #expect(refusal(cie) == .levelTooLow)
  }

  @Test func tamperedPayloadIsRefused() {
    let parts = Fixture.token().split(separator: ".").map(String.init)
    let forged = Base64URL.encode(
      JSONValue.object(Fixture.claims(["fiscal_number": "TINIT-VRDGPP13R10B293P"])).serialized)
    #expect(refusal("\(parts[0]).\(forged).\(parts[2])") == .badSignature)
  }

  @Test func tamperedSignatureIsRefused() {
    for signer in [Fixture.es256, Fixture.edDSA] {
      let parts = Fixture.token(signer: signer).split(separator: ".").map(String.init)
      var signature = Base64URL.decode(parts[2])!
      signature[10] ^= 0x01
      #expect(refusal("\(parts[0]).\(parts[1]).\(Base64URL.encode(signature))") == .badSignature)
      #expect(
        refusal("\(parts[0]).\(parts[1]).\(Base64URL.encode(signature.dropLast()))")
          == .badSignature)
      #expect(refusal("\(parts[0]).\(parts[1]).") == .badSignature)
    }
  }

  @Test func signatureIsOverTheExactEncodedBytes() {
    // A non-canonical spelling of the signature (non-zero unused bits) is not accepted.
    let parts = Fixture.token(signer: Fixture.edDSA).split(separator: ".").map(String.init)
    var last = Array(parts[2].utf8)
    last[last.count - 1] =
      last[last.count - 1] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
    let altered = "\(parts[0]).\(parts[1]).\(String(decoding: last, as: UTF8.self))"
    #expect(refusal(altered) != nil)
  }

  @Test(arguments: [
    "", "abc", "a.b", "a.b.c.d", "!!!.e30.AA", "e30.e30.AA", "bm90IGpzb24.e30.AA",
    "W10.e30.AA", "..",
  ])
  func malformedTokensAreRefused(_ token: String) {
    guard case .malformed = refusal(token) else {
      Issue.record("\(token) not refused as malformed: \(String(describing: refusal(token)))")
      return
    }
  }

  @Test func malformedPayloadBehindAValidSignatureIsRefused() throws {
    let header = Base64URL.encode(#"{"alg":"ES256","kid":"gw-es256"}"#)
    let payload = Base64URL.encode("[1,2]")
    let input = "\(header).\(payload)"
    let signature = Fixture.es256.key.sign(Array(input.utf8))!
    #expect(
      refusal("\(input).\(Base64URL.encode(signature))")
        == .malformed("payload is not base64url JSON object"))
  }

  @Test func duplicateHeaderMembersAreRefused() {
    let parts = Fixture.token().split(separator: ".").map(String.init)
    let header = Base64URL.encode(#"{"alg":"ES256","alg":"none","kid":"gw-es256"}"#)
    guard case .malformed = refusal("\(header).\(parts[1]).\(parts[2])") else {
      Issue.record("duplicate alg accepted")
      return
    }
  }

  @Test func criticalHeaderExtensionsAreRefused() throws {
    let token = try Fixture.es256.sign(
      header: ["alg": "ES256", "kid": "gw-es256", "crit": ["exp"]], claims: Fixture.claims())
    #expect(refusal(token) == .malformed("unsupported crit header"))
  }

  @Test func missingFiscalNumberIsRefused() {
    #expect(refusal(Fixture.token(["fiscal_number": nil])) == .missingClaim("fiscal_number"))
  }

  @Test(arguments: [
    "RSSMRA80A01H501U", "TINIT-RSSMRA80A01H501V", "TINIT-", "tinit-RSSMRA80A01H501U",
  ])
  func invalidFiscalNumberIsRefused(_ value: String) {
    #expect(
      refusal(Fixture.token(["fiscal_number": .string(value)])) == .invalidClaim("fiscal_number"))
  }

  @Test func identityComesFromFiscalNumberNeverSub() throws {
    let token = Fixture.token(["sub": "TINIT-VRDGPP13R10B293P"])
    #expect(try Fixture.verifier.verify(token, now: Fixture.now).codiceFiscale.value == Fixture.cf)
  }

  @Test(arguments: ["exp", "iss", "aud", "amr"])
  func requiredClaimsMustBePresent(_ name: String) {
    #expect(refusal(Fixture.token([name: nil])) == .missingClaim(name))
  }

  @Test func spidWithoutAcrIsRefused() {
    #expect(refusal(Fixture.token(["acr": nil])) == .missingClaim("acr"))
  }

  @Test func claimsOfTheWrongTypeAreRefused() {
    #expect(refusal(Fixture.token(["exp": "tomorrow"])) == .invalidClaim("exp"))
    #expect(refusal(Fixture.token(["exp": true])) == .invalidClaim("exp"))
    #expect(refusal(Fixture.token(["aud": 7])) == .invalidClaim("aud"))
    #expect(refusal(Fixture.token(["amr": ["pwd"]])) == .invalidClaim("amr"))
    #expect(
      refusal(Fixture.token(["acr": "https://www.spid.gov.it/SpidL9"])) == .invalidClaim("acr"))
    #expect(refusal(Fixture.token(["given_name": 3])) == .invalidClaim("given_name"))
  }

  @Test func oversizedTokenIsRefusedUnparsed() {
    let huge = String(repeating: "A", count: 20_000)
    #expect(refusal("\(huge).\(huge).\(huge)") == .malformed("token too long"))
  }

  @Test func errorsNeverQuoteTheToken() {
    let token = Fixture.token()
    let signature = String(token.split(separator: ".")[2])
    for at in [Fixture.now, Fixture.now.addingTimeInterval(10_000)] {
      if let error = refusal(token + "x", now: at) {
        #expect(!error.description.contains(signature))
      }
    }
  }
}

@Suite struct JWTErrorLoggingTests {
  @Test func headerValuesInErrorsAreMadeSafeForLogs() throws {
    let evil = "none\n2026-01-01 INFO forged log line" + String(repeating: "x", count: 100)
    let header = Base64URL.encode(JSONValue.object(["alg": .string(evil)]).serialized)
    guard case .unsupportedAlgorithm(let alg) = refusal("\(header).e30.") else {
      Issue.record("not refused for its algorithm")
      return
    }
    #expect(alg.count == 64)
    #expect(!alg.contains("\n"))
    #expect(alg.hasPrefix("none?2026"))
  }
}
