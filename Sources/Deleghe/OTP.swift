import Foundation
import Security

/// OTP rules of the delega a intermediario (DOMAIN.md, "OTP defaults", configurable).
public struct OTPPolicy: Sendable, Hashable {
  /// Digits of an OTP.
  public var digits: Int = 8
  /// How long an OTP (and the pending delega with it) lives.
  public var validity: TimeInterval = 7 * 24 * 3600
  /// Wrong attempts before the request is BLOCCATA.
  public var maxAttempts: Int = 5
  /// Least time between two sends.
  public var resendInterval: TimeInterval = 60
  /// Sends per calendar day (Europe/Rome), the first included.
  public var maxSendsPerDay: Int = 5

  public init() {}
}

/// The server secret OTPs are keyed with: 32 random bytes in a file of the data directory
/// (mode 0600), created on first start. Only HMAC-SHA-256(key, otp) is stored.
public enum OTPKey {
  public static func loadOrCreate(at path: String) throws -> [UInt8] {
    if let data = FileManager.default.contents(atPath: path) {
      guard data.count == 32 else {
        throw DelegheError.failedPrecondition("OTP key file \(path) is not 32 bytes")
      }
      return [UInt8](data)
    }
    let key = SecureRandom.bytes(32)
    guard
      FileManager.default.createFile(
        atPath: path, contents: Data(key), attributes: [.posixPermissions: 0o600])
    else { throw DelegheError.failedPrecondition("cannot write the OTP key file \(path)") }
    return key
  }

  static func hash(_ otp: String, key: [UInt8]) -> [UInt8] {
    HMAC.sha256(key: key, data: Array(otp.utf8))
  }
}
