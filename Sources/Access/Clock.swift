import Foundation
import Validation

/// The source of "now" for rules. Injected everywhere a rule depends on time, so tests run
/// them at chosen instants (STYLE.md, convention 6). Named `CallClock` so it never collides
/// with the standard library's `Clock` protocol.
public protocol CallClock: Sendable {
  /// The current instant.
  func now() -> Date
}

/// The machine's wall clock.
public struct SystemClock: CallClock {
  public init() {}
  public func now() -> Date { Date() }
}

/// A clock that always answers the same instant (tests, demo data).
public struct FixedClock: CallClock {
  public var instant: Date
  public init(_ instant: Date) { self.instant = instant }
  public func now() -> Date { instant }
}

/// The time zone calendar dates are read in: the institute's, Europe/Rome (a call at
/// 00:30 on 16 July in Rome is on 16 July even though it is still 15 July in UTC).
public let institutionTimeZone: TimeZone = TimeZone(identifier: "Europe/Rome") ?? .gmt

extension CalendarDate {
  /// The calendar date of `instant` in `timeZone` (the institute's by default).
  public static func of(_ instant: Date, in timeZone: TimeZone = institutionTimeZone)
    -> CalendarDate
  {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    let parts = calendar.dateComponents([.year, .month, .day], from: instant)
    guard
      let date = try? CalendarDate(
        year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0)
    else { preconditionFailure("the Gregorian calendar produced an invalid date") }
    return date
  }
}
