import COpenSSL

/// Randomness from OpenSSL's CSPRNG (`RAND_bytes`), for OTPs, identifiers and keys.
public enum SecureRandom {
  /// `count` bytes from `RAND_bytes`.
  ///
  /// OpenSSL's DRBG fails only if the operating system cannot seed it; the process must not
  /// go on handing out predictable secrets then, so that failure stops it.
  public static func bytes(_ count: Int) -> [UInt8] {
    precondition(count >= 0, "negative byte count")
    var out = [UInt8](repeating: 0, count: count)
    if count == 0 { return out }
    let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
    precondition(ok == 1, "RAND_bytes failed: the CSPRNG could not be seeded")
    return out
  }

  /// `count` decimal digits, each uniform over 0–9 (bytes of 250 or more are discarded, so
  /// `byte % 10` has no modulo bias). For one-time passwords.
  public static func digits(_ count: Int) -> String {
    precondition(count >= 0, "negative digit count")
    var result = [UInt8]()
    result.reserveCapacity(count)
    while result.count < count {
      for byte in bytes(count - result.count + 4) where byte < 250 && result.count < count {
        result.append(UInt8(ascii: "0") + byte % 10)
      }
    }
    return String(decoding: result, as: UTF8.self)
  }
}

/// Compares two byte strings in time that depends only on their length (`CRYPTO_memcmp`):
/// for OTPs, MACs and other secrets. Strings of different length are unequal at once (the
/// length of a MAC or OTP is not secret).
public func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
  guard a.count == b.count else { return false }
  if a.isEmpty { return true }
  return a.withUnsafeBytes { pa in
    b.withUnsafeBytes { pb in CRYPTO_memcmp(pa.baseAddress, pb.baseAddress, pa.count) == 0 }
  }
}
