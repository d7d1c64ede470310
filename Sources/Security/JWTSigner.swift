import Foundation

/// Signs JWTs (JWS compact serialization) with a private key: ES256 with a P-256 key, EdDSA
/// with an Ed25519 key. For development mode and tests; in production the identity gateway
/// signs.
public struct JWTSigner: Sendable {
  let key: EVPKey
  /// Put in the header as `kid` when set.
  public let kid: String?

  public var algorithm: JWTAlgorithm { key.algorithm }

  /// Reads an unencrypted private key PEM (`PRIVATE KEY` or `EC PRIVATE KEY`).
  public init(privateKeyPEM: String, kid: String? = nil) throws(KeyError) {
    self.key = try EVPKey.privateKey(pem: privateKeyPEM)
    self.kid = kid
  }

  init(key: EVPKey, kid: String?) {
    self.key = key
    self.kid = kid
  }

  /// A signer with a freshly generated key.
  public static func generate(_ algorithm: JWTAlgorithm, kid: String? = nil) throws(KeyError)
    -> JWTSigner
  {
    JWTSigner(key: try EVPKey.generate(algorithm), kid: kid)
  }

  /// The private key as unencrypted PKCS#8 PEM. Handle as a secret.
  public var privateKeyPEM: String { key.privateKeyPEM }
  /// The public key as PEM.
  public var publicKeyPEM: String { key.publicKeyPEM }
  /// The matching public key, with the same `kid`, for a ``JWTVerifier``.
  public var trustedKey: TrustedKey { TrustedKey(key: key, kid: kid) }

  /// A key id derived from the public key: `base64url(SHA-256(SubjectPublicKeyInfo DER))`,
  /// first 22 characters (128 bits); the same key always gets the same id.
  public var publicKeyFingerprint: String {
    String(Base64URL.encode(Digest.sha256(key.publicKeyDER)).prefix(22))
  }

  /// Signs `claims` under the header `{"alg": …, "typ": "JWT", "kid": …}`.
  public func sign(_ claims: [String: JSONValue]) throws(KeyError) -> String {
    var header: [String: JSONValue] = ["alg": .string(algorithm.rawValue), "typ": "JWT"]
    if let kid { header["kid"] = .string(kid) }
    return try sign(header: header, claims: claims)
  }

  /// Signs `claims` under exactly `header` (tests use it to forge odd headers; `alg` is
  /// whatever the caller puts there, the signature is always this key's).
  public func sign(header: [String: JSONValue], claims: [String: JSONValue]) throws(KeyError)
    -> String
  {
    let signingInput =
      Base64URL.encode(JSONValue.object(header).serialized) + "."
      + Base64URL.encode(JSONValue.object(claims).serialized)
    guard let signature = key.sign(Array(signingInput.utf8)) else { throw .signingFailed }
    return signingInput + "." + Base64URL.encode(signature)
  }

  /// Signs a person token with the claims of API.md (Calling conventions).
  public func sign(_ person: PersonToken) throws(KeyError) -> String {
    try sign(person.claims)
  }
}

/// The claims of a person token, for development tokens (`cassetto dev-token`) and tests.
public struct PersonToken: Sendable, Hashable {
  /// 16-character or 11-digit code; sent as `fiscal_number: TINIT-<code>`.
  public var codiceFiscale: String
  public var level: SPIDLevel
  public var method: AuthenticationMethod
  public var givenName: String?
  public var familyName: String?
  public var issuer: String
  public var audience: String
  public var issuedAt: Date
  public var lifetime: TimeInterval
  public var tokenID: String

  public init(
    codiceFiscale: String, level: SPIDLevel = .level2, method: AuthenticationMethod = .spid,
    givenName: String? = nil, familyName: String? = nil, issuer: String, audience: String,
    issuedAt: Date, lifetime: TimeInterval = 3600,
    tokenID: String = Base64URL.encode(SecureRandom.bytes(16))
  ) {
    self.codiceFiscale = codiceFiscale
    self.level = level
    self.method = method
    self.givenName = givenName
    self.familyName = familyName
    self.issuer = issuer
    self.audience = audience
    self.issuedAt = issuedAt
    self.lifetime = lifetime
    self.tokenID = tokenID
  }

  /// The claim set: `iss`, `aud`, `iat`, `nbf`, `exp`, `jti`, `fiscal_number`, `acr`, `amr`
  /// and the names when set.
  public var claims: [String: JSONValue] {
    let iat = Int64(issuedAt.timeIntervalSince1970.rounded(.down))
    var claims: [String: JSONValue] = [
      "iss": .string(issuer),
      "aud": .string(audience),
      "iat": .integer(iat),
      "nbf": .integer(iat),
      "exp": .integer(iat + Int64(lifetime.rounded(.down))),
      "jti": .string(tokenID),
      "fiscal_number": .string("TINIT-" + codiceFiscale),
      "acr": .string(level.uri),
      "amr": .array([.string(method.rawValue)]),
    ]
    if let givenName { claims["given_name"] = .string(givenName) }
    if let familyName { claims["family_name"] = .string(familyName) }
    return claims
  }
}
