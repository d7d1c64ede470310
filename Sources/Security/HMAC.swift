import COpenSSL

/// Keyed hashes through OpenSSL's `EVP_MAC` interface; OTPs and similar secrets are stored
/// only as their HMAC (ARCHITECTURE.md, Security).
public enum HMAC {
  /// HMAC-SHA-256 (RFC 2104) of `data` under `key`; 32 bytes.
  public static func sha256(key: [UInt8], data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var length = 0
    // An empty array may have no base address; OpenSSL wants a valid pointer even for length 0.
    let keyStorage = key.isEmpty ? [0] : key
    let dataStorage = data.isEmpty ? [0] : data
    let result = keyStorage.withUnsafeBytes { k in
      dataStorage.withUnsafeBytes { d in
        out.withUnsafeMutableBytes { o in
          EVP_Q_mac(
            nil, "HMAC", nil, "SHA256", nil,
            k.baseAddress, key.count,
            d.baseAddress!.assumingMemoryBound(to: UInt8.self), data.count,
            o.baseAddress!.assumingMemoryBound(to: UInt8.self), 32, &length)
        }
      }
    }
    // With the built-in HMAC and SHA-256 this fails only when allocation fails.
    precondition(result != nil && length == 32, "EVP_Q_mac(HMAC-SHA256) failed")
    return out
  }
}
