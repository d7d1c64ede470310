/// Base64 for `-bin` metadata values (grpc/grpc `doc/PROTOCOL-HTTP2.md`): implementations
/// emit unpadded values and must accept padded and unpadded ones.
package enum GRPCBase64 {
  private static let alphabet: [UInt8] = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

  private static let decodeTable: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
    // Also accept the URL-safe alphabet; some clients send it.
    table[Int(UInt8(ascii: "-"))] = 62
    table[Int(UInt8(ascii: "_"))] = 63
    return table
  }()

  /// Encodes `bytes` as standard base64 without padding.
  package static func encode(_ bytes: some Collection<UInt8>, padded: Bool = false) -> String {
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var iterator = bytes.makeIterator()
    while let b0 = iterator.next() {
      let b1 = iterator.next()
      let b2 = b1 == nil ? nil : iterator.next()
      out.append(alphabet[Int(b0 >> 2)])
      out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
      if let b1 {
        out.append(alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)])
      } else if padded {
        out.append(UInt8(ascii: "="))
      }
      if let b2 {
        out.append(alphabet[Int(b2 & 0x3F)])
      } else if padded {
        out.append(UInt8(ascii: "="))
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Decodes padded or unpadded base64; `nil` when the text is not base64.
  package static func decode(_ text: some StringProtocol) -> [UInt8]? {
    var input = Array(text.utf8)
    while let last = input.last, last == UInt8(ascii: "=") { input.removeLast() }
    if input.count % 4 == 1 { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(input.count * 3 / 4)
    var accumulator: UInt32 = 0
    var bits = 0
    for byte in input {
      let value = decodeTable[Int(byte)]
      if value == 0xFF { return nil }
      accumulator = accumulator << 6 | UInt32(value)
      bits += 6
      if bits >= 8 {
        bits -= 8
        out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
      }
    }
    return out
  }
}
