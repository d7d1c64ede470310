import COpenSSL

/// The signature algorithms accepted on person tokens: ES256 (ECDSA on P-256 with SHA-256,
/// RFC 7518 §3.4) and EdDSA with Ed25519 (RFC 8037). Nothing else, `none` least of all.
public enum JWTAlgorithm: String, Sendable, Hashable, CaseIterable {
  case es256 = "ES256"
  case edDSA = "EdDSA"
}

/// Why a key could not be read, made or stored. Never carries key material.
public enum KeyError: Error, Sendable, Hashable {
  /// The text is not a PEM public key, certificate or (unencrypted) private key.
  case unreadablePEM
  /// A key of a type or curve tokens may not use (only P-256 and Ed25519 are accepted).
  case unsupportedKeyType(String)
  /// An encrypted private key: Cassetto never prompts for a passphrase.
  case encryptedPrivateKey
  /// OpenSSL could not generate a key.
  case generationFailed
  /// OpenSSL could not sign.
  case signingFailed
  /// A file could not be read or written; the message names the path and errno text.
  case fileSystem(String)
}

/// Owns one `EVP_PKEY` and frees it in `deinit`.
///
/// `@unchecked Sendable`: the key is never modified after it is loaded or generated, and
/// OpenSSL 3 allows concurrent read-only use of an `EVP_PKEY` (each operation makes its own
/// `EVP_MD_CTX`/`EVP_PKEY_CTX`).
final class EVPKey: @unchecked Sendable {
  let pointer: OpaquePointer
  let algorithm: JWTAlgorithm

  private init(pointer: OpaquePointer, algorithm: JWTAlgorithm) {
    self.pointer = pointer
    self.algorithm = algorithm
  }

  deinit { EVP_PKEY_free(pointer) }

  /// Takes ownership of `pointer` if it is a P-256 or Ed25519 key; frees it otherwise.
  static func adopt(_ pointer: OpaquePointer) throws(KeyError) -> EVPKey {
    let type = EVP_PKEY_get_base_id(pointer)
    if type == EVP_PKEY_ED25519 {
      return EVPKey(pointer: pointer, algorithm: .edDSA)
    }
    if type == EVP_PKEY_EC {
      var name = [CChar](repeating: 0, count: 64)
      var length = 0
      let ok = EVP_PKEY_get_group_name(pointer, &name, name.count, &length)
      let group =
        ok == 1
        ? String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        : "unknown curve"
      if group == "prime256v1" || group == "P-256" {
        return EVPKey(pointer: pointer, algorithm: .es256)
      }
      EVP_PKEY_free(pointer)
      throw .unsupportedKeyType("EC key on \(group); ES256 needs P-256")
    }
    let name = EVP_PKEY_get0_type_name(pointer).map { String(cString: $0) } ?? "type \(type)"
    EVP_PKEY_free(pointer)
    throw .unsupportedKeyType(name)
  }

  /// A public key from PEM: `PUBLIC KEY` (SubjectPublicKeyInfo) or `CERTIFICATE`.
  static func publicKey(pem: String) throws(KeyError) -> EVPKey {
    defer { ERR_clear_error() }
    if let key = withMemoryBIO(pem, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }) {
      return try adopt(key)
    }
    if let certificate = withMemoryBIO(pem, { PEM_read_bio_X509($0, nil, nil, nil) }) {
      defer { X509_free(certificate) }
      if let key = X509_get_pubkey(certificate) { return try adopt(key) }
    }
    throw .unreadablePEM
  }

  /// A private key from PEM (PKCS#8 `PRIVATE KEY` or `EC PRIVATE KEY`); never prompts.
  static func privateKey(pem: String) throws(KeyError) -> EVPKey {
    defer { ERR_clear_error() }
    if pem.contains("ENCRYPTED") { throw .encryptedPrivateKey }
    // The callback refuses to supply a passphrase, so OpenSSL cannot read from the terminal.
    let key = withMemoryBIO(pem) { bio in
      PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in 0 }, nil)
    }
    guard let key else { throw .unreadablePEM }
    return try adopt(key)
  }

  /// A fresh key for `algorithm` from OpenSSL's key generator.
  static func generate(_ algorithm: JWTAlgorithm) throws(KeyError) -> EVPKey {
    defer { ERR_clear_error() }
    let context: OpaquePointer?
    switch algorithm {
    case .es256: context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil)
    case .edDSA: context = EVP_PKEY_CTX_new_from_name(nil, "ED25519", nil)
    }
    guard let context else { throw .generationFailed }
    defer { EVP_PKEY_CTX_free(context) }
    guard EVP_PKEY_keygen_init(context) == 1 else { throw .generationFailed }
    if algorithm == .es256 {
      guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else { throw .generationFailed }
    }
    var key: OpaquePointer? = nil
    guard EVP_PKEY_generate(context, &key) == 1, let key else { throw .generationFailed }
    return try adopt(key)
  }

  /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`).
  var publicKeyPEM: String {
    readingMemoryBIO { PEM_write_bio_PUBKEY($0, pointer) }
  }

  /// The private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
  var privateKeyPEM: String {
    readingMemoryBIO { PEM_write_bio_PrivateKey($0, pointer, nil, nil, 0, nil, nil) }
  }

  /// DER SubjectPublicKeyInfo, for key identifiers.
  var publicKeyDER: [UInt8] {
    var buffer: UnsafeMutablePointer<UInt8>? = nil
    let length = i2d_PUBKEY(pointer, &buffer)
    guard length > 0, let buffer else { return [] }
    defer { cassetto_OPENSSL_free(buffer) }
    return Array(UnsafeBufferPointer(start: buffer, count: Int(length)))
  }

  /// Signs `message` and returns the JWS signature: raw `r||s` (64 bytes) for ES256, the
  /// 64-byte Ed25519 signature for EdDSA. `nil` only if OpenSSL fails.
  func sign(_ message: [UInt8]) -> [UInt8]? {
    defer { ERR_clear_error() }
    guard let context = EVP_MD_CTX_new() else { return nil }
    defer { EVP_MD_CTX_free(context) }
    let digest = algorithm == .es256 ? EVP_sha256() : nil
    guard EVP_DigestSignInit(context, nil, digest, nil, pointer) == 1 else { return nil }
    var length = 0
    let messageStorage = message.isEmpty ? [0] : message
    guard
      messageStorage.withUnsafeBufferPointer({
        EVP_DigestSign(context, nil, &length, $0.baseAddress, message.count)
      }) == 1
    else { return nil }
    var signature = [UInt8](repeating: 0, count: length)
    guard
      messageStorage.withUnsafeBufferPointer({ m in
        signature.withUnsafeMutableBufferPointer { s in
          EVP_DigestSign(context, s.baseAddress, &length, m.baseAddress, message.count)
        }
      }) == 1
    else { return nil }
    signature.removeSubrange(length...)
    switch algorithm {
    case .edDSA: return signature
    case .es256: return ECDSASignature.rawFromDER(signature)
    }
  }

  /// Verifies a JWS signature over `message` with this key's algorithm.
  func verify(signature: [UInt8], message: [UInt8]) -> Bool {
    defer { ERR_clear_error() }
    let encoded: [UInt8]
    switch algorithm {
    case .edDSA:
      guard signature.count == 64 else { return false }
      encoded = signature
    case .es256:
      guard let der = ECDSASignature.derFromRaw(signature) else { return false }
      encoded = der
    }
    guard let context = EVP_MD_CTX_new() else { return false }
    defer { EVP_MD_CTX_free(context) }
    let digest = algorithm == .es256 ? EVP_sha256() : nil
    guard EVP_DigestVerifyInit(context, nil, digest, nil, pointer) == 1 else { return false }
    let messageStorage = message.isEmpty ? [0] : message
    let result = encoded.withUnsafeBufferPointer { s in
      messageStorage.withUnsafeBufferPointer { m in
        EVP_DigestVerify(context, s.baseAddress, s.count, m.baseAddress, message.count)
      }
    }
    return result == 1
  }
}

/// Conversion between the JWS form of an ECDSA P-256 signature (RFC 7518 §3.4: `r` and `s`
/// as 32-byte big-endian integers, concatenated) and the DER `ECDSA-Sig-Value` OpenSSL uses.
enum ECDSASignature {
  /// DER from raw `r||s`; `nil` unless exactly 64 bytes.
  static func derFromRaw(_ raw: [UInt8]) -> [UInt8]? {
    guard raw.count == 64 else { return nil }
    defer { ERR_clear_error() }
    guard let signature = ECDSA_SIG_new() else { return nil }
    defer { ECDSA_SIG_free(signature) }
    let r = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress, 32, nil) }
    let s = raw.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + 32, 32, nil) }
    guard let r, let s else {
      BN_free(r)
      BN_free(s)
      return nil
    }
    // ECDSA_SIG_set0 takes ownership of r and s on success.
    guard ECDSA_SIG_set0(signature, r, s) == 1 else {
      BN_free(r)
      BN_free(s)
      return nil
    }
    var buffer: UnsafeMutablePointer<UInt8>? = nil
    let length = i2d_ECDSA_SIG(signature, &buffer)
    guard length > 0, let buffer else { return nil }
    defer { cassetto_OPENSSL_free(buffer) }
    return Array(UnsafeBufferPointer(start: buffer, count: Int(length)))
  }

  /// Raw `r||s` (64 bytes) from DER; `nil` if the DER is not a P-256-sized signature.
  static func rawFromDER(_ der: [UInt8]) -> [UInt8]? {
    defer { ERR_clear_error() }
    let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
      var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
      return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
    }
    guard let signature else { return nil }
    defer { ECDSA_SIG_free(signature) }
    guard let r = ECDSA_SIG_get0_r(signature), let s = ECDSA_SIG_get0_s(signature) else {
      return nil
    }
    var raw = [UInt8](repeating: 0, count: 64)
    let ok = raw.withUnsafeMutableBufferPointer { out in
      BN_bn2binpad(r, out.baseAddress, 32) == 32 && BN_bn2binpad(s, out.baseAddress! + 32, 32) == 32
    }
    return ok ? raw : nil
  }
}

/// Runs `body` on a read-only memory BIO over `text`.
private func withMemoryBIO<T>(_ text: String, _ body: (OpaquePointer) -> T?) -> T? {
  let bytes = Array(text.utf8)
  guard !bytes.isEmpty, bytes.count < Int(Int32.max) else { return nil }
  return bytes.withUnsafeBytes { buffer -> T? in
    guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
    defer { BIO_free(bio) }
    return body(bio)
  }
}

/// Runs `write` on a fresh memory BIO and returns what it wrote as a string.
private func readingMemoryBIO(_ write: (OpaquePointer) -> Int32) -> String {
  guard let bio = BIO_new(BIO_s_mem()) else { return "" }
  defer { BIO_free(bio) }
  guard write(bio) == 1 else { return "" }
  let pending = BIO_ctrl_pending(bio)
  var bytes = [UInt8](repeating: 0, count: pending)
  let read = bytes.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(pending)) }
  return String(decoding: bytes.prefix(max(0, Int(read))), as: UTF8.self)
}
