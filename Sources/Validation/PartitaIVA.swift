/// An 11-digit Italian VAT number (*partita IVA*), the same number as the numeric fiscal
/// code of a company or body.
///
/// Rules (DPR 633/1972 art. 35; DM 23/12/1976): 11 digits; digits 1–7 the taxpayer number,
/// 8–10 the office code — `001`–`100` (provincial offices), `120`, `121`, `888` or `999`
/// (special assignments) —, 11 the check digit, Luhn-style: digits in odd positions (1st,
/// 3rd, …, 9th) are added, those in even positions are doubled (minus 9 above 9) and added;
/// the check digit is `(10 - sum mod 10) mod 10`.
public struct PartitaIVA: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// The 11 digits.
  public let value: String

  public var description: String { value }

  public static func < (a: PartitaIVA, b: PartitaIVA) -> Bool { a.value < b.value }

  /// Accepts 11 digits (surrounding white space and an `IT` prefix are removed).
  public init(_ text: String, field: String = "partita_iva") throws(FieldViolation) {
    var normalised = trimmed(text).uppercased()
    if normalised.hasPrefix("IT") { normalised.removeFirst(2) }
    value = try PartitaIVA.validate(normalised, field: field, name: "partita IVA")
  }

  /// The numeric fiscal code with the same digits.
  public var codiceFiscale: CodiceFiscale {
    // The digits already passed the same checks CodiceFiscale applies to 11-digit codes.
    (try? CodiceFiscale(value)) ?? CodiceFiscale(unchecked: value)
  }

  /// The check digit for the first 10 digits; `nil` unless exactly 10 digits.
  public static func checkDigit(for first10: String) -> Character? {
    checkDigit(Array(first10.utf8)[...]).map { Character(Unicode.Scalar($0)) }
  }

  static func checkDigit(_ digits: ArraySlice<UInt8>) -> UInt8? {
    guard digits.count == 10, digits.allSatisfy(isDigit) else { return nil }
    var sum = 0
    for (offset, c) in digits.enumerated() {
      let d = Int(c - UInt8(ascii: "0"))
      if offset % 2 == 0 {
        sum += d
      } else {
        let doubled = d * 2
        sum += doubled > 9 ? doubled - 9 : doubled
      }
    }
    return UInt8(ascii: "0") + UInt8((10 - sum % 10) % 10)
  }

  /// Office codes (digits 8–10) that may appear.
  static func isValidOffice(_ office: Int) -> Bool {
    (1...100).contains(office) || office == 120 || office == 121 || office == 888
      || office == 999
  }

  /// Validates normalised text as an 11-digit code; returns it.
  static func validate(_ text: String, field: String, name: String) throws(FieldViolation)
    -> String
  {
    let digits = Array(text.utf8)
    guard digits.count == 11, digits.allSatisfy(isDigit) else {
      throw FieldViolation(field: field, description: "a \(name) has exactly 11 digits")
    }
    let office = digits[7..<10].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    guard isValidOffice(office) else {
      throw FieldViolation(
        field: field,
        description: "digits 8–10 of a \(name) must be an office code (001–100, 120, 121, 888, 999)"
      )
    }
    guard checkDigit(digits[0..<10]) == digits[10] else {
      throw FieldViolation(field: field, description: "the check digit does not match")
    }
    return text
  }
}

extension CodiceFiscale {
  /// For values already validated.
  init(unchecked value: String) {
    self.value = value
    self.kind = value.utf8.count == 16 ? .person : .numeric
  }
}
