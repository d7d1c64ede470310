/// Accumulates generated source with two-space indentation.
struct Printer {
  private(set) var text = ""
  private var indentation = ""

  mutating func line(_ line: String = "") {
    if line.isEmpty {
      text += "\n"
    } else {
      text += indentation + line + "\n"
    }
  }

  /// A proto comment as `///` lines (one leading space of each line dropped); nothing for nil.
  mutating func docComment(_ comment: String?) {
    guard let comment else { return }
    var lines = comment.split(separator: "\n", omittingEmptySubsequences: false).map {
      line -> String in
      var line = Substring(line)
      if line.first == " " { line = line.dropFirst() }
      while let last = line.last, last.isWhitespace { line = line.dropLast() }
      return String(line)
    }
    while lines.first?.isEmpty == true { lines.removeFirst() }
    while lines.last?.isEmpty == true { lines.removeLast() }
    for line in lines { self.line(line.isEmpty ? "///" : "/// " + line) }
  }

  mutating func indent() { indentation += "  " }
  mutating func outdent() { indentation.removeLast(2) }

  /// `switch subject {`, the cases at the same level (swift-format's style), `}`.
  mutating func switchBlock(_ header: String, _ body: (inout Printer) -> Void) {
    line(header + " {")
    body(&self)
    line("}")
  }

  /// `header {`, the body indented, `}`.
  mutating func block(_ header: String, _ body: (inout Printer) -> Void) {
    line(header + " {")
    indent()
    body(&self)
    outdent()
    line("}")
  }
}

/// A Swift string literal for `value`.
func swiftStringLiteral(_ value: String) -> String {
  var out = "\""
  for scalar in value.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    default:
      if scalar.value < 0x20 {
        out += "\\u{\(String(scalar.value, radix: 16))}"
      } else {
        out.unicodeScalars.append(scalar)
      }
    }
  }
  return out + "\""
}

/// Standard base64 with padding.
func base64(_ bytes: [UInt8]) -> String {
  let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  var out = ""
  out.reserveCapacity((bytes.count + 2) / 3 * 4)
  var index = 0
  while index < bytes.count {
    let b0 = UInt32(bytes[index])
    let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
    let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
    let triple = b0 << 16 | b1 << 8 | b2
    out.append(alphabet[Int(triple >> 18 & 63)])
    out.append(alphabet[Int(triple >> 12 & 63)])
    out.append(index + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : "=")
    out.append(index + 2 < bytes.count ? alphabet[Int(triple & 63)] : "=")
    index += 3
  }
  return out
}
