import Foundation
import Testing

@testable import Security

/// Cross-checks with Python's `cryptography` package (system python3): tokens it signs verify
/// here and tokens signed here verify there. Its ECDSA signatures are DER, converted to
/// `r||s` with its own `decode_dss_signature`, so this checks our conversion independently.
/// Many signatures per run, so `r` or `s` with leading zero bytes (1 in 128) come up.
@Suite struct PythonCryptographyInteropTests {
  static let script = #"""
    import sys, json, base64
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

    def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    def unb64(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    def pem(k): return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    req = json.load(sys.stdin)
    if req["mode"] == "sign":
        es, ed = ec.generate_private_key(ec.SECP256R1()), ed25519.Ed25519PrivateKey.generate()
        out = {"es256": pem(es), "eddsa": pem(ed), "tokens": []}
        for i in range(req["count"]):
            for alg, key in (("ES256", es), ("EdDSA", ed)):
                claims = dict(req["claims"], jti="py-%d" % i)
                head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
                body = b64(json.dumps(claims).encode())
                data = (head + "." + body).encode()
                if alg == "ES256":
                    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
                    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
                else:
                    sig = key.sign(data)
                out["tokens"].append(head + "." + body + "." + b64(sig))
        print(json.dumps(out))
    else:
        keys = {"ES256": serialization.load_pem_public_key(req["es256"].encode()),
                "EdDSA": serialization.load_pem_public_key(req["eddsa"].encode())}
        ok = 0
        for token in req["tokens"]:
            head, body, sig = token.split(".")
            alg = json.loads(unb64(head))["alg"]
            data, raw = (head + "." + body).encode(), unb64(sig)
            if alg == "ES256":
                assert len(raw) == 64
                der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
                keys[alg].verify(der, data, ec.ECDSA(hashes.SHA256()))
            else:
                keys[alg].verify(raw, data)
            assert json.loads(unb64(body))["fiscal_number"] == "TINIT-RSSMRA80A01H501U"
            ok += 1
        print(json.dumps({"verified": ok}))
    """#

  /// Runs the script with `request` on stdin; returns its JSON output.
  static func python(_ request: [String: Any]) throws -> [String: Any] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script]
    let input = Pipe()
    let output = Pipe()
    let errors = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: request))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let stderr = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    else {
      throw PythonFailure(message: String(decoding: stderr, as: UTF8.self))
    }
    return object
  }

  struct PythonFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { "python3 failed: \(message)" }
  }

  static var claimsForPython: [String: Any] {
    [
      "iss": Fixture.issuer, "aud": Fixture.audience, "iat": 1_750_000_000,
      "exp": 1_750_000_600, "fiscal_number": "TINIT-" + Fixture.cf,
      "acr": "https://www.spid.gov.it/SpidL2", "amr": ["spid"], "given_name": "Mario",
      "family_name": "Rossi",
    ]
  }

  @Test func tokensSignedByPythonVerifyHere() throws {
    let result = try Self.python(["mode": "sign", "count": 150, "claims": Self.claimsForPython])
    let es256 = try TrustedKey(pem: try #require(result["es256"] as? String))
    let edDSA = try TrustedKey(pem: try #require(result["eddsa"] as? String))
    #expect(es256.algorithm == .es256 && edDSA.algorithm == .edDSA)
    let verifier = JWTVerifier(
      trustedKeys: [es256, edDSA], issuer: Fixture.issuer, audience: Fixture.audience)
    let tokens = try #require(result["tokens"] as? [String])
    #expect(tokens.count == 300)
    for token in tokens {
      let claims = try verifier.verify(token, now: Fixture.now)
      #expect(claims.codiceFiscale.value == Fixture.cf)
    }
  }

  @Test func tokensSignedHereVerifyInPython() throws {
    let es256 = try JWTSigner.generate(.es256)
    let edDSA = try JWTSigner.generate(.edDSA)
    var tokens: [String] = []
    for index in 0..<150 {
      var person = Fixture.person()
      person.tokenID = "swift-\(index)"
      tokens.append(try es256.sign(person))
      tokens.append(try edDSA.sign(person))
    }
    let result = try Self.python([
      "mode": "verify", "es256": es256.publicKeyPEM, "eddsa": edDSA.publicKeyPEM,
      "tokens": tokens,
    ])
    #expect(result["verified"] as? Int == 300)
  }

  @Test func pythonRefusesATamperedSwiftToken() throws {
    let signer = try JWTSigner.generate(.es256)
    var token = Array(try signer.sign(Fixture.person()).utf8)
    let lastDot = token.lastIndex(of: UInt8(ascii: "."))!
    token[lastDot + 5] =
      token[lastDot + 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
    #expect(throws: PythonFailure.self) {
      try Self.python([
        "mode": "verify", "es256": signer.publicKeyPEM, "eddsa": Fixture.edDSA.publicKeyPEM,
        "tokens": [String(decoding: token, as: UTF8.self)],
      ])
    }
  }
}
