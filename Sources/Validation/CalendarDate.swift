/// A calendar date without time zone, as `google.type.Date` carries it, validated as a full
/// date: year 1–9999, month 1–12, day within the month (29 February only in leap years of
/// the Gregorian calendar). Partial dates (a zero year, month or day) are refused.
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
  public let year: Int
  public let month: Int
  public let day: Int

  public init(year: Int, month: Int, day: Int, field: String = "date") throws(FieldViolation) {
    func fail(_ description: String) -> FieldViolation {
      FieldViolation(field: field, description: description)
    }
    guard (1...9999).contains(year) else { throw fail("the year must be 1–9999") }
    guard (1...12).contains(month) else { throw fail("the month must be 1–12") }
    let length = CalendarDate.daysIn(month: month, year: year)
    guard (1...length).contains(day) else {
      throw fail("the day must be 1–\(length) in that month")
    }
    self.year = year
    self.month = month
    self.day = day
  }

  /// Gregorian leap years: divisible by 4, except centuries not divisible by 400.
  public static func isLeapYear(_ year: Int) -> Bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
  }

  /// Days in `month` (1–12) of `year`.
  public static func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: return isLeapYear(year) ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
  }

  /// ISO 8601, `YYYY-MM-DD`.
  public var description: String {
    func pad(_ n: Int, _ width: Int) -> String {
      let s = String(n)
      return String(repeating: "0", count: max(0, width - s.count)) + s
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
  }

  public static func < (a: CalendarDate, b: CalendarDate) -> Bool {
    (a.year, a.month, a.day) < (b.year, b.month, b.day)
  }
}

/// Checks a proto enum value received on the wire: it must be one the server knows (generated
/// enums carry unknown numbers as `.unrecognized`, outside `allCases`) and, unless
/// `allowUnspecified`, not the zero value (`*_UNSPECIFIED` by proto3 convention).
public func validateEnum<E>(
  _ value: E, field: String, allowUnspecified: Bool = false
) throws(FieldViolation) -> E
where E: RawRepresentable & CaseIterable & Equatable, E.RawValue == Int32 {
  if value.rawValue == 0 && !allowUnspecified {
    throw FieldViolation(field: field, description: "a value is required")
  }
  guard E.allCases.contains(value) else {
    throw FieldViolation(field: field, description: "unknown value \(value.rawValue)")
  }
  return value
}
