/// An Italian fiscal code (*codice fiscale*): either the 16-character code of a natural
/// person, or the 11-digit numeric code of a legal person or body (which is also its
/// *partita IVA* when it has one, and the provisional code some persons get).
///
/// Values are normalised: surrounding white space removed, letters upper-case.
public struct CodiceFiscale: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// Which form of fiscal code.
  public enum Kind: Sendable, Hashable {
    /// 16 characters: a natural person (DM 23/12/1976).
    case person
    /// 11 digits: a company, public body or association, or a provisional personal code.
    case numeric
  }

  /// The normalised code.
  public let value: String
  public let kind: Kind

  public var description: String { value }

  public static func < (a: CodiceFiscale, b: CodiceFiscale) -> Bool { a.value < b.value }

  /// Accepts either form; which one by length (16 or 11).
  public init(_ text: String, field: String = "codice_fiscale") throws(FieldViolation) {
    let normalised = trimmed(text).uppercased()
    switch normalised.utf8.count {
    case 16:
      try self.init(person: normalised, field: field)
    case 11:
      self.init(unchecked: try PartitaIVA.validate(normalised, field: field, name: "fiscal code"))
    default:
      throw FieldViolation(
        field: field,
        description: "a fiscal code has 16 characters (person) or 11 digits (company or body)")
    }
  }

  /// Accepts only the 16-character code of a natural person.
  ///
  /// Rules (DM 23/12/1976 and DM 12/03/1974 on *omocodia*): positions 1–6 letters (surname
  /// and name), 7–8 year, 9 month letter (`ABCDEHLMPRST`), 10–11 day (1–31, or 41–71 for
  /// women), 12 a letter and 13–15 digits (place of birth), 16 the check character from the
  /// odd/even tables. In the seven numeric positions (7, 8, 10, 11, 13, 14, 15) a digit may be
  /// replaced by its *omocodia* letter `LMNPQRSTUV` (0–9), as the Agenzia delle Entrate does
  /// for people whose codes would otherwise coincide; the order of replacement is not
  /// enforced.
  public init(person text: String, field: String = "codice_fiscale") throws(FieldViolation) {
    let code = Array(trimmed(text).uppercased().utf8)
    func fail(_ description: String) -> FieldViolation {
      FieldViolation(field: field, description: description)
    }
    guard code.count == 16 else {
      throw fail("a personal fiscal code has 16 characters")
    }
    for index in [0, 1, 2, 3, 4, 5, 8, 11] where !isLetter(code[index]) {
      throw fail("character \(index + 1) must be a letter")
    }
    var decoded = code
    for index in CodiceFiscale.numericPositions {
      if isDigit(code[index]) { continue }
      guard let digit = CodiceFiscale.omocodiaLetters.firstIndex(of: code[index]) else {
        throw fail(
          "character \(index + 1) must be a digit or an omocodia letter (LMNPQRSTUV)")
      }
      decoded[index] = UInt8(ascii: "0") + UInt8(digit)
    }
    guard CodiceFiscale.monthLetters.contains(code[8]) else {
      throw fail("character 9 is not a month letter (ABCDEHLMPRST)")
    }
    let day = Int(decoded[9] - UInt8(ascii: "0")) * 10 + Int(decoded[10] - UInt8(ascii: "0"))
    guard (1...31).contains(day) || (41...71).contains(day) else {
      throw fail("the day of birth must be 1–31 (41–71 for women)")
    }
    guard isLetter(code[15]) else {
      throw fail("character 16 (check character) must be a letter")
    }
    guard let expected = CodiceFiscale.checkCharacter(code[0..<15]), expected == code[15] else {
      throw fail("the check character does not match")
    }
    value = String(decoding: code, as: UTF8.self)
    kind = .person
  }

  /// Positions (0-based) where a digit may be replaced by an omocodia letter.
  public static let numericPositions = [6, 7, 9, 10, 12, 13, 14]
  /// Omocodia letters for the digits 0–9, in order.
  static let omocodiaLetters = Array("LMNPQRSTUV".utf8)
  /// Month letters for January–December, in order.
  static let monthLetters = Array("ABCDEHLMPRST".utf8)

  /// Values of a character in an odd position (1st, 3rd, …, 15th), for `0`–`9` then `A`–`Z`.
  private static let oddValues: [Int] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21,  // 0–9
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
  ]

  /// The check character for the first 15 characters of a personal code (upper-case letters
  /// and digits); `nil` if there are not exactly 15 such characters.
  ///
  /// Characters in odd positions count by the odd table, in even positions by their value
  /// (`0`–`9` and `A`–`Z` as 0–25); the sum modulo 26 is the check letter.
  public static func checkCharacter(for first15: String) -> Character? {
    checkCharacter(Array(first15.utf8)[...]).map { Character(Unicode.Scalar($0)) }
  }

  static func checkCharacter(_ characters: ArraySlice<UInt8>) -> UInt8? {
    guard characters.count == 15 else { return nil }
    var sum = 0
    for (offset, c) in characters.enumerated() {
      let index: Int
      if isDigit(c) {
        index = Int(c - UInt8(ascii: "0"))
      } else if isLetter(c) {
        index = Int(c - UInt8(ascii: "A")) + 10
      } else {
        return nil
      }
      if offset % 2 == 0 {
        sum += oddValues[index]
      } else {
        sum += index < 10 ? index : index - 10
      }
    }
    return UInt8(ascii: "A") + UInt8(sum % 26)
  }
}

func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
func isLetter(_ c: UInt8) -> Bool { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") }
