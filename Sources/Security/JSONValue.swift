/// A JSON value, as JWT headers and claim sets carry them. (Deliberately not
/// `ExpressibleByNilLiteral`: `nil` must keep meaning "absent", never JSON `null`.)
///
/// Parsing is deliberately strict (RFC 8259 plus RFC 7515 §5.2's advice): duplicate member
/// names are refused, nesting is bounded, and numbers keep whether they were integers.
public enum JSONValue: Sendable, Hashable {
  case null
  case bool(Bool)
  /// A number written without fraction or exponent that fits in 64 bits.
  case integer(Int64)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// The string, if this is one.
  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The number as seconds, if this is a number (integer or not).
  public var numberValue: Double? {
    switch self {
    case .integer(let i): return Double(i)
    case .number(let d): return d
    default: return nil
    }
  }

  /// The members, if this is an object.
  public var objectValue: [String: JSONValue]? {
    if case .object(let o) = self { return o }
    return nil
  }

  /// Compact JSON text; object members in sorted order so the output is deterministic.
  public var serialized: String {
    var out = ""
    serialize(into: &out)
    return out
  }

  private func serialize(into out: inout String) {
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .integer(let i): out += String(i)
    case .number(let d):
      if d.isFinite, d == d.rounded(), abs(d) < 9.0e15 {
        out += String(Int64(d))
      } else if d.isFinite {
        out += "\(d)"
      } else {
        out += "null"
      }
    case .string(let s): JSONValue.serialize(string: s, into: &out)
    case .array(let a):
      out += "["
      for (index, element) in a.enumerated() {
        if index > 0 { out += "," }
        element.serialize(into: &out)
      }
      out += "]"
    case .object(let o):
      out += "{"
      for (index, key) in o.keys.sorted().enumerated() {
        if index > 0 { out += "," }
        JSONValue.serialize(string: key, into: &out)
        out += ":"
        o[key]!.serialize(into: &out)
      }
      out += "}"
    }
  }

  private static func serialize(string: String, into out: inout String) {
    out += "\""
    for scalar in string.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: out.unicodeScalars.append(scalar)
      }
    }
    out += "\""
  }

  /// Parses JSON text (UTF-8); `nil` if it is not exactly one well-formed value.
  public static func parse(_ bytes: [UInt8], maximumDepth: Int = 32) -> JSONValue? {
    var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
    guard let value = parser.parseValue(depth: 0) else { return nil }
    parser.skipWhitespace()
    return parser.index == bytes.count ? value : nil
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
  ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }
}

/// Recursive-descent parser over UTF-8 bytes.
private struct JSONParser {
  let bytes: [UInt8]
  let maximumDepth: Int
  var index = 0

  init(bytes: [UInt8], maximumDepth: Int) {
    self.bytes = bytes
    self.maximumDepth = maximumDepth
  }

  mutating func skipWhitespace() {
    while index < bytes.count,
      bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D
    {
      index += 1
    }
  }

  mutating func consume(_ literal: String) -> Bool {
    let utf8 = Array(literal.utf8)
    guard index + utf8.count <= bytes.count, Array(bytes[index..<index + utf8.count]) == utf8
    else { return false }
    index += utf8.count
    return true
  }

  mutating func parseValue(depth: Int) -> JSONValue? {
    guard depth <= maximumDepth else { return nil }
    skipWhitespace()
    guard index < bytes.count else { return nil }
    switch bytes[index] {
    case UInt8(ascii: "{"): return parseObject(depth: depth)
    case UInt8(ascii: "["): return parseArray(depth: depth)
    case UInt8(ascii: "\""): return parseString().map(JSONValue.string)
    case UInt8(ascii: "t"): return consume("true") ? .bool(true) : nil
    case UInt8(ascii: "f"): return consume("false") ? .bool(false) : nil
    case UInt8(ascii: "n"): return consume("null") ? .null : nil
    default: return parseNumber()
    }
  }

  mutating func parseObject(depth: Int) -> JSONValue? {
    index += 1
    var members: [String: JSONValue] = [:]
    skipWhitespace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
      index += 1
      return .object(members)
    }
    while true {
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = parseString()
      else { return nil }
      skipWhitespace()
      guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
      index += 1
      guard let value = parseValue(depth: depth + 1) else { return nil }
      // RFC 7515 §5.2: refuse duplicate member names rather than guess which one counts.
      guard members.updateValue(value, forKey: key) == nil else { return nil }
      skipWhitespace()
      guard index < bytes.count else { return nil }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
      } else if bytes[index] == UInt8(ascii: "}") {
        index += 1
        return .object(members)
      } else {
        return nil
      }
    }
  }

  mutating func parseArray(depth: Int) -> JSONValue? {
    index += 1
    var elements: [JSONValue] = []
    skipWhitespace()
    if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
      index += 1
      return .array(elements)
    }
    while true {
      guard let value = parseValue(depth: depth + 1) else { return nil }
      elements.append(value)
      skipWhitespace()
      guard index < bytes.count else { return nil }
      if bytes[index] == UInt8(ascii: ",") {
        index += 1
      } else if bytes[index] == UInt8(ascii: "]") {
        index += 1
        return .array(elements)
      } else {
        return nil
      }
    }
  }

  mutating func parseHex4() -> UInt32? {
    guard index + 4 <= bytes.count else { return nil }
    var value: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[index]
      let digit: UInt32
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
      default: return nil
      }
      value = value << 4 | digit
      index += 1
    }
    return value
  }

  mutating func parseString() -> String? {
    index += 1
    var scalars = String.UnicodeScalarView()
    var run: [UInt8] = []
    func flush(_ run: inout [UInt8], into scalars: inout String.UnicodeScalarView) -> Bool {
      if run.isEmpty { return true }
      // Validate the raw UTF-8 run; invalid UTF-8 is refused, not repaired.
      guard let s = String(validating: run, as: UTF8.self) else { return false }
      scalars.append(contentsOf: s.unicodeScalars)
      run.removeAll(keepingCapacity: true)
      return true
    }
    while index < bytes.count {
      let c = bytes[index]
      switch c {
      case UInt8(ascii: "\""):
        index += 1
        guard flush(&run, into: &scalars) else { return nil }
        return String(scalars)
      case UInt8(ascii: "\\"):
        guard flush(&run, into: &scalars) else { return nil }
        index += 1
        guard index < bytes.count else { return nil }
        let escape = bytes[index]
        index += 1
        switch escape {
        case UInt8(ascii: "\""): scalars.append("\"")
        case UInt8(ascii: "\\"): scalars.append("\\")
        case UInt8(ascii: "/"): scalars.append("/")
        case UInt8(ascii: "b"): scalars.append("\u{08}")
        case UInt8(ascii: "f"): scalars.append("\u{0C}")
        case UInt8(ascii: "n"): scalars.append("\n")
        case UInt8(ascii: "r"): scalars.append("\r")
        case UInt8(ascii: "t"): scalars.append("\t")
        case UInt8(ascii: "u"):
          guard let high = parseHex4() else { return nil }
          if (0xD800...0xDBFF).contains(high) {
            guard consume("\\u"), let low = parseHex4(), (0xDC00...0xDFFF).contains(low)
            else { return nil }
            let value = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { return nil }
            scalars.append(scalar)
          } else {
            guard let scalar = Unicode.Scalar(high) else { return nil }  // lone low surrogate
            scalars.append(scalar)
          }
        default: return nil
        }
      case 0x00..<0x20:
        return nil
      default:
        run.append(c)
        index += 1
      }
    }
    return nil
  }

  mutating func parseNumber() -> JSONValue? {
    let start = index
    var isInteger = true
    if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
    guard index < bytes.count, isDigit(bytes[index]) else { return nil }
    if bytes[index] == UInt8(ascii: "0") {
      index += 1
    } else {
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
      isInteger = false
      index += 1
      guard index < bytes.count, isDigit(bytes[index]) else { return nil }
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
      isInteger = false
      index += 1
      if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")
      {
        index += 1
      }
      guard index < bytes.count, isDigit(bytes[index]) else { return nil }
      while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }
    let text = String(decoding: bytes[start..<index], as: UTF8.self)
    if isInteger, let integer = Int64(text) { return .integer(integer) }
    guard let double = Double(text), double.isFinite else { return nil }
    return .number(double)
  }

  func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
