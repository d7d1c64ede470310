import Testing
import Validation

@testable import Posizioni

/// Worked examples of the civil penalties (legge 388/2000 art. 116 c. 8), computed by hand.
@Suite struct SanzioniCiviliTests {
  let table = try! SanzioniCivili()
  func d(_ text: String) -> CalendarDate { try! CalendarDate(parsing: text) }

  @Test func lateInsideOneRatePeriod() {
    // € 1,000.00 due 16/01/2024, paid 16/03/2024: 15 + 29 (leap February) + 16 = 60 days;
    // reference rate 4.50% (from 20/09/2023) + 5.5 = 10.00% a year:
    // 100,000 × 10% × 60/365 = 1,643.84 cents → € 16.44.
    let item = table.penalty(
      contributionCents: 100_000, due: d("2024-01-16"), paid: d("2024-03-16"), evasion: false)
    #expect(item == .init(daysLate: 60, rateBasisPoints: 1000, penaltyCents: 1644, capped: false))
  }

  @Test func aRateChangeSplitsThePeriod() {
    // Due 01/06/2024, paid 21/06/2024: 02–11 June (10 days) at 4.50 + 5.5 = 10.00%,
    // 12–21 June (10 days) at 4.25 + 5.5 = 9.75%: 100,000 × (10 × 1000 + 10 × 975) bp·days
    // / (10,000 × 365) = 541.10 cents → € 5.41; mean rate 987 bp.
    let item = table.penalty(
      contributionCents: 100_000, due: d("2024-06-01"), paid: d("2024-06-21"), evasion: false)
    #expect(item == .init(daysLate: 20, rateBasisPoints: 987, penaltyCents: 541, capped: false))
  }

  @Test func evasionIsThirtyPercentAYear() {
    // 100,000 × 30% × 60/365 = 4,931.51 cents → € 49.32.
    let item = table.penalty(
      contributionCents: 100_000, due: d("2024-01-16"), paid: d("2024-03-16"), evasion: true)
    #expect(item == .init(daysLate: 60, rateBasisPoints: 3000, penaltyCents: 4932, capped: false))
  }

  @Test func capsAndPaymentOnTime() {
    let late = table.penalty(
      contributionCents: 100_000, due: d("2015-01-16"), paid: d("2025-01-16"), evasion: false)
    #expect(late.penaltyCents == 40_000 && late.capped)
    let evasion = table.penalty(
      contributionCents: 100_000, due: d("2015-01-16"), paid: d("2025-01-16"), evasion: true)
    #expect(evasion.penaltyCents == 60_000 && evasion.capped)
    let onTime = table.penalty(
      contributionCents: 100_000, due: d("2024-01-16"), paid: d("2024-01-16"), evasion: false)
    #expect(onTime.penaltyCents == 0 && onTime.daysLate == 0)
  }

  @Test func theTableIsValidated() throws {
    #expect(throws: SanzioniCivili.TableError.self) {
      try SanzioniCivili(rates: [.init(from: "2024-01-01", basisPoints: 100), .init(from: "2023-01-01", basisPoints: 50)])
    }
    #expect(throws: SanzioniCivili.TableError.self) {
      try SanzioniCivili(rates: [.init(from: "2024-13-01", basisPoints: 100)])
    }
    #expect(throws: SanzioniCivili.TableError.self) { try SanzioniCivili(rates: []) }
    #expect(d("2024-03-01").adding(days: -1) == d("2024-02-29"))
    #expect(d("2025-01-01").daysSince(d("2024-01-01")) == 366)
  }
}
