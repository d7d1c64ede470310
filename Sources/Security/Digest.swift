import COpenSSL

/// Message digests computed by OpenSSL.
public enum Digest {
  /// SHA-256 of `data` (32 bytes).
  public static func sha256(_ data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    let ok = data.withUnsafeBytes { input in
      out.withUnsafeMutableBytes { output in
        EVP_Digest(
          input.baseAddress, input.count,
          output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, EVP_sha256(), nil)
      }
    }
    // EVP_Digest with the built-in SHA-256 fails only when allocation fails.
    precondition(ok == 1 && length == 32, "EVP_Digest(SHA-256) failed")
    return out
  }
}
