/// An e-mail address, also used for PEC (*posta elettronica certificata*) addresses: a PEC
/// address has ordinary e-mail syntax, and whether a mailbox is certified can only be known
/// from the provider, not from the text.
///
/// Accepted (a conservative subset of RFC 5321/5322 that every mail system delivers to):
/// - `local@domain`, at most 254 characters in all, ASCII only (international domains in
///   their `xn--` form);
/// - local part: 1–64 characters of letters, digits and ``!#$%&'*+/=?^_`{|}~-`` in
///   dot-separated non-empty atoms (no quoted strings, no comments);
/// - domain: two or more dot-separated labels of 1–63 letters, digits and hyphens, neither
///   starting nor ending with a hyphen; the last label (top-level domain) at least two
///   characters and not all digits (no IP-address literals).
///
/// Normalised: surrounding white space removed, domain lower-cased (the local part is kept as
/// written: it may be case-sensitive).
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
  public let value: String

  public var description: String { value }

  public init(_ text: String, field: String = "email") throws(FieldViolation) {
    let address = Array(trimmed(text).utf8)
    func fail(_ description: String) -> FieldViolation {
      FieldViolation(field: field, description: description)
    }
    guard !address.isEmpty else { throw fail("an e-mail address is required") }
    guard address.count <= 254 else { throw fail("an e-mail address has at most 254 characters") }
    guard let at = address.lastIndex(of: UInt8(ascii: "@")) else {
      throw fail("an e-mail address has the form name@domain")
    }
    let local = address[..<at]
    let domain = Array(address[(at + 1)...]).map(lowercased)
    guard !local.isEmpty, local.count <= 64 else {
      throw fail("the part before @ must have 1–64 characters")
    }
    let atext = Array("!#$%&'*+/=?^_`{|}~-".utf8)
    for atom in local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
      guard !atom.isEmpty else {
        throw fail("the part before @ may not start or end with a dot or have two dots in a row")
      }
      guard atom.allSatisfy({ isAlphanumeric($0) || atext.contains($0) }) else {
        throw fail("the part before @ has a character e-mail addresses may not use")
      }
    }
    try EmailAddress.checkDomain(domain, fail: fail)
    value = String(decoding: local, as: UTF8.self) + "@" + String(decoding: domain, as: UTF8.self)
  }

  static func checkDomain(_ domain: [UInt8], fail: (String) -> FieldViolation)
    throws(FieldViolation)
  {
    let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    guard labels.count >= 2 else { throw fail("the domain after @ needs at least two parts") }
    for label in labels {
      guard (1...63).contains(label.count),
        label.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") }),
        label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
      else {
        throw fail("the domain after @ is not a valid host name")
      }
    }
    let tld = labels.last!
    guard tld.count >= 2, !tld.allSatisfy(isDigit) else {
      throw fail("the domain after @ must end with a top-level domain")
    }
  }
}

/// A telephone number in E.164 form (`+` and 8–15 digits, the first not 0).
///
/// Accepted input: `+<digits>` or `00<digits>` (international prefix), or an Italian mobile
/// number without country code (`3` followed by 8 or 9 more digits, e.g. `3471234567`),
/// which becomes `+39…`. Spaces, hyphens, dots and parentheses between digits are ignored.
/// For `+39` the national number must be a mobile (`3`, 9–10 digits) or a fixed line (`0`,
/// 6–11 digits). Normalised to `+<digits>`.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
  /// E.164: `+` and digits.
  public let value: String

  public var description: String { value }

  /// True for Italian mobile numbers (`+393…`), the only ones that receive SMS OTPs.
  public var isItalianMobile: Bool { value.hasPrefix("+393") }

  public init(_ text: String, field: String = "phone") throws(FieldViolation) {
    func fail(_ description: String) -> FieldViolation {
      FieldViolation(field: field, description: description)
    }
    var characters = Array(trimmed(text).utf8)
    guard !characters.isEmpty else { throw fail("a phone number is required") }
    let international: Bool
    if characters.first == UInt8(ascii: "+") {
      international = true
      characters.removeFirst()
    } else if characters.starts(with: Array("00".utf8)) {
      international = true
      characters.removeFirst(2)
    } else {
      international = false
    }
    let separators = Array(" -.()".utf8)
    var digits: [UInt8] = []
    for c in characters {
      if isDigit(c) {
        digits.append(c)
      } else if !separators.contains(c) {
        throw fail("a phone number has only digits, after an optional +")
      }
    }
    if !international {
      guard digits.first == UInt8(ascii: "3"), (9...10).contains(digits.count) else {
        throw fail("write the number with its country code (+39 for Italy)")
      }
      digits = Array("39".utf8) + digits
    }
    guard (8...15).contains(digits.count), digits.first != UInt8(ascii: "0") else {
      throw fail("an international number has a country code and 8–15 digits in all")
    }
    if digits.starts(with: Array("39".utf8)) {
      let national = digits.dropFirst(2)
      let valid: Bool
      switch national.first {
      case UInt8(ascii: "3"): valid = (9...10).contains(national.count)
      case UInt8(ascii: "0"): valid = (6...11).contains(national.count)
      default: valid = false
      }
      guard valid else { throw fail("not a valid Italian mobile or landline number") }
    }
    value = "+" + String(decoding: digits, as: UTF8.self)
  }
}

/// The code of a territorial office (*sede*, *Struttura territoriale*) of the institute:
/// exactly four digits (e.g. `7000`), `0000` excluded; surrounding white space removed.
public struct SedeCode: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let value: String

  public var description: String { value }

  public static func < (a: SedeCode, b: SedeCode) -> Bool { a.value < b.value }

  public init(_ text: String, field: String = "sede") throws(FieldViolation) {
    let code = trimmed(text)
    guard code.utf8.count == 4, code.utf8.allSatisfy(isDigit), code != "0000" else {
      throw FieldViolation(field: field, description: "a sede code has four digits")
    }
    value = String(code)
  }
}

func isAlphanumeric(_ c: UInt8) -> Bool {
  isDigit(c) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
}

func lowercased(_ c: UInt8) -> UInt8 {
  c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c
}
