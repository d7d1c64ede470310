/// Percent-encoding of `grpc-message` (grpc/grpc `doc/PROTOCOL-HTTP2.md`): the UTF-8 bytes
/// of the message, with every byte outside `0x20...0x7E`, and `%` itself, written as `%XX`.
package enum GRPCPercentEncoding {
  private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

  /// Encodes a status message for the `grpc-message` header.
  package static func encode(_ message: String) -> String {
    let utf8 = message.utf8
    // Fast path: nothing to escape (the common case).
    if utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E && $0 != UInt8(ascii: "%") }) {
      return message
    }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count * 3)
    for byte in utf8 {
      if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
        out.append(byte)
      } else {
        out.append(UInt8(ascii: "%"))
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0F)])
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Decodes a `grpc-message` value. Malformed `%` sequences are kept verbatim and invalid
  /// UTF-8 is replaced, as the spec asks receivers to be lenient.
  package static func decode(_ value: some StringProtocol) -> String {
    let bytes = Array(value.utf8)
    guard bytes.contains(UInt8(ascii: "%")) else { return String(value) }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var i = 0
    while i < bytes.count {
      if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
        let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2])
      {
        out.append(high << 4 | low)
        i += 3
      } else {
        out.append(bytes[i])
        i += 1
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  private static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
