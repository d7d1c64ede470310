/// Base64url without padding (RFC 4648 §5), as JWS compact serialization uses it (RFC 7515 §2).
public enum Base64URL {
  private static let alphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

  private static let reverse: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
    return table
  }()

  /// Encodes `bytes` without `=` padding.
  public static func encode(_ bytes: [UInt8]) -> String {
    var out = [UInt8]()
    out.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index + 3 <= bytes.count {
      let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
      out.append(alphabet[Int(n >> 18 & 63)])
      out.append(alphabet[Int(n >> 12 & 63)])
      out.append(alphabet[Int(n >> 6 & 63)])
      out.append(alphabet[Int(n & 63)])
      index += 3
    }
    switch bytes.count - index {
    case 1:
      let n = UInt32(bytes[index]) << 16
      out.append(alphabet[Int(n >> 18 & 63)])
      out.append(alphabet[Int(n >> 12 & 63)])
    case 2:
      let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
      out.append(alphabet[Int(n >> 18 & 63)])
      out.append(alphabet[Int(n >> 12 & 63)])
      out.append(alphabet[Int(n >> 6 & 63)])
    default:
      break
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Encodes the UTF-8 bytes of `string`.
  public static func encode(_ string: String) -> String {
    encode(Array(string.utf8))
  }

  /// Decodes canonical base64url: only the URL-safe alphabet, no padding, no white space, and
  /// the unused low bits of the last character zero (so each byte string has exactly one
  /// encoding and a signature cannot be altered without changing its bytes). `nil` otherwise.
  public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
    decode(utf8: Array(text.utf8))
  }

  static func decode(utf8 input: [UInt8]) -> [UInt8]? {
    if input.count % 4 == 1 { return nil }
    var out = [UInt8]()
    out.reserveCapacity(input.count * 3 / 4)
    var accumulator: UInt32 = 0
    var bits = 0
    for character in input {
      let value = reverse[Int(character)]
      if value == 0xFF { return nil }
      accumulator = accumulator << 6 | UInt32(value)
      bits += 6
      if bits >= 8 {
        bits -= 8
        out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
        accumulator &= (1 << UInt32(bits)) - 1
      }
    }
    if accumulator != 0 { return nil }
    return out
  }
}
