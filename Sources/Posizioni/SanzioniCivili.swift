import Foundation
import Validation

/// Civil penalties for contributions paid late (legge 388/2000, art. 116, comma 8), on the
/// periods of an ECA debit note, as issue 5 states the rule:
///
/// - late payment (*ritardo*, lett. a): a yearly rate equal to the reference rate in force
///   (BCE main refinancing rate, the successor of the *tasso ufficiale di riferimento*) plus
///   5.5 points, day by day — a period spanning a rate change is split at the change — capped
///   at 40% of the contribution;
/// - evasion (lett. b): 30% a year, capped at 60%.
///
/// Days late = payment date − due date (calendar days; none when paid on time). Amounts are
/// integer cents; each period's penalty is computed exactly in rational arithmetic over the
/// segments and rounded once, half up, to the cent.
public struct SanzioniCivili: Sendable {
  /// The reference rate from `from` (inclusive), in basis points.
  public struct Rate: Sendable, Hashable, Codable {
    public var from: String
    public var basisPoints: Int
    public init(from: String, basisPoints: Int) {
      self.from = from
      self.basisPoints = basisPoints
    }
  }

  public let rates: [(from: CalendarDate, basisPoints: Int)]

  public static let lateSpreadBasisPoints = 550
  public static let lateCapPercent: Int64 = 40
  public static let evasionBasisPoints = 3000
  public static let evasionCapPercent: Int64 = 60

  /// BCE main refinancing operations rate, by decision effect date (basis points).
  public static let defaultRates: [Rate] = [
    Rate(from: "2016-03-16", basisPoints: 0), Rate(from: "2022-07-27", basisPoints: 50),
    Rate(from: "2022-09-14", basisPoints: 125), Rate(from: "2022-11-02", basisPoints: 200),
    Rate(from: "2022-12-21", basisPoints: 250), Rate(from: "2023-02-08", basisPoints: 300),
    Rate(from: "2023-03-22", basisPoints: 350), Rate(from: "2023-05-10", basisPoints: 375),
    Rate(from: "2023-06-21", basisPoints: 400), Rate(from: "2023-08-02", basisPoints: 425),
    Rate(from: "2023-09-20", basisPoints: 450), Rate(from: "2024-06-12", basisPoints: 425),
    Rate(from: "2024-09-18", basisPoints: 365), Rate(from: "2024-10-23", basisPoints: 340),
    Rate(from: "2024-12-18", basisPoints: 315), Rate(from: "2025-02-05", basisPoints: 290),
    Rate(from: "2025-03-12", basisPoints: 265), Rate(from: "2025-04-23", basisPoints: 240),
    Rate(from: "2025-06-11", basisPoints: 215),
  ]

  public enum TableError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
      switch self { case .invalid(let reason): "sanzioni rates: \(reason)" }
    }
  }

  /// A validated table: dates valid and strictly increasing, rates 0…10000 bp.
  public init(rates: [Rate] = SanzioniCivili.defaultRates) throws {
    var parsed: [(from: CalendarDate, basisPoints: Int)] = []
    for (index, rate) in rates.enumerated() {
      guard let date = try? CalendarDate(parsing: rate.from) else {
        throw TableError.invalid("entry \(index): 'from' \(rate.from) is not a YYYY-MM-DD date")
      }
      guard (0...10_000).contains(rate.basisPoints) else {
        throw TableError.invalid("entry \(index): basisPoints must be 0…10000")
      }
      if let last = parsed.last, !(last.from < date) {
        throw TableError.invalid("entry \(index): dates must increase")
      }
      parsed.append((date, rate.basisPoints))
    }
    guard !parsed.isEmpty else { throw TableError.invalid("the table is empty") }
    self.rates = parsed
  }

  /// Reads a JSON array of `{"from": "YYYY-MM-DD", "basisPoints": N}`.
  public init(file path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw TableError.invalid("cannot read \(path)")
    }
    let rates: [Rate]
    do { rates = try JSONDecoder().decode([Rate].self, from: data) } catch {
      throw TableError.invalid("\(path) is not a JSON array of {from, basisPoints}")
    }
    try self.init(rates: rates)
  }

  public struct Item: Sendable, Hashable {
    public var daysLate: Int
    /// Day-weighted yearly rate applied, in basis points.
    public var rateBasisPoints: Int
    public var penaltyCents: Int64
    public var capped: Bool
  }

  /// The penalty on `contributionCents` due on `due` and paid on `paid`.
  public func penalty(
    contributionCents: Int64, due: CalendarDate, paid: CalendarDate, evasion: Bool
  ) -> Item {
    let days = max(0, paid.daysSince(due))
    guard days > 0, contributionCents > 0 else {
      return Item(daysLate: 0, rateBasisPoints: 0, penaltyCents: 0, capped: false)
    }
    // Σ (rate_bp × days) over the segments; penalty = contribution × Σ / (10000 × 365).
    var basisPointDays: Int64 = 0
    if evasion {
      basisPointDays = Int64(Self.evasionBasisPoints) * Int64(days)
    } else {
      var day = due.adding(days: 1)
      while !(paid < day) {
        let rate = self.rate(on: day) + Self.lateSpreadBasisPoints
        let next = rates.first { day < $0.from }?.from
        let segmentEnd = next.map { min($0.adding(days: -1), paid) } ?? paid
        let segmentDays = Int64(segmentEnd.daysSince(day) + 1)
        basisPointDays += Int64(rate) * segmentDays
        day = segmentEnd.adding(days: 1)
      }
    }
    let numerator = contributionCents * basisPointDays
    let denominator: Int64 = 10_000 * 365
    var penalty = (numerator + denominator / 2) / denominator
    let cap =
      contributionCents * (evasion ? Self.evasionCapPercent : Self.lateCapPercent) / 100
    let capped = penalty > cap
    if capped { penalty = cap }
    return Item(
      daysLate: days, rateBasisPoints: Int(basisPointDays / Int64(days)), penaltyCents: penalty,
      capped: capped)
  }

  func rate(on day: CalendarDate) -> Int {
    rates.last { !(day < $0.from) }?.basisPoints ?? 0
  }
}

extension CalendarDate {
  /// `YYYY-MM-DD`.
  init(parsing text: String) throws {
    let parts = text.split(separator: "-").compactMap { Int($0) }
    guard parts.count == 3, text.count == 10 else {
      throw FieldViolation(field: "date", description: "not YYYY-MM-DD")
    }
    try self.init(year: parts[0], month: parts[1], day: parts[2])
  }

  /// Days since 1970-01-01 (proleptic Gregorian; H. Hinnant's days_from_civil).
  var dayNumber: Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
  }

  init(dayNumber z0: Int) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    // The arithmetic above only produces valid dates.
    self = (try? CalendarDate(year: y, month: m, day: d)) ?? (try! CalendarDate(year: 1970, month: 1, day: 1))
  }

  func daysSince(_ other: CalendarDate) -> Int { dayNumber - other.dayNumber }
  func adding(days: Int) -> CalendarDate { CalendarDate(dayNumber: dayNumber + days) }
}
