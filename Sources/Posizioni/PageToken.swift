import Foundation
import Validation

/// Opaque page tokens for keyset pagination (AIP-158): the last row's `seq` plus a
/// fingerprint of the filters, so a token is refused when reused with other filters.
enum PageToken {
  /// Default and largest `page_size`.
  static let defaultPageSize = 10
  static let maximumPageSize = 100

  /// `page_size` 0 means the default; larger than the maximum is clamped; negative is refused.
  static func pageSize(_ requested: Int32) throws(FieldViolation) -> Int {
    guard requested >= 0 else {
      throw FieldViolation(field: "page_size", description: "must not be negative")
    }
    return requested == 0 ? defaultPageSize : min(Int(requested), maximumPageSize)
  }

  static func encode(after seq: Int64, filter: String) -> String {
    Data("\(seq):\(fingerprint(filter))".utf8).base64EncodedString()
  }

  /// The `seq` to continue after: 0 for an empty token.
  static func decode(_ token: String, filter: String) throws(ValidationError) -> Int64 {
    guard !token.isEmpty else { return 0 }
    guard token.utf8.count <= 100, let data = Data(base64Encoded: token) else {
      throw .field("page_token", "not a page token from this list")
    }
    let parts = String(decoding: data, as: UTF8.self).split(separator: ":")
    guard parts.count == 2, let seq = Int64(parts[0]), seq >= 0 else {
      throw .field("page_token", "not a page token from this list")
    }
    guard parts[1] == fingerprint(filter) else {
      throw .field("page_token", "the page token was issued for other filters")
    }
    return seq
  }

  /// FNV-1a 64 of the filter text, in hex: not a secret, only a consistency check.
  private static func fingerprint(_ filter: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in filter.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return String(hash, radix: 16)
  }
}

extension PageToken {
  /// A token for a `(period, seq)` key (lists ordered by period, then ingestion order).
  static func encodeKey(period: String, seq: Int64, filter: String) -> String {
    encode(after: seq, filter: filter + "|" + period).withPeriod(period)
  }

  /// The `(period, seq)` to continue after; `nil` for an empty token.
  static func decodeKey(_ token: String, filter: String) throws(ValidationError)
    -> (period: String, seq: Int64)?
  {
    guard !token.isEmpty else { return nil }
    let parts = token.split(separator: ".", maxSplits: 1)
    guard parts.count == 2, let data = Data(base64Encoded: String(parts[0])),
      case let period = String(decoding: data, as: UTF8.self), period.utf8.count == 7
    else { throw .field("page_token", "not a page token from this list") }
    let seq = try decode(String(parts[1]), filter: filter + "|" + period)
    return (period, seq)
  }
}

extension String {
  fileprivate func withPeriod(_ period: String) -> String {
    Data(period.utf8).base64EncodedString() + "." + self
  }
}
