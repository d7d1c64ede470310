import Testing

@testable import Validation

@Suite struct EmailAddressTests {
  @Test(arguments: [
    ("mario.rossi@example.it", "mario.rossi@example.it"),
    (" Mario.Rossi@Example.IT ", "Mario.Rossi@example.it"),
    ("ufficio+pec@pec.azienda-srl.it", "ufficio+pec@pec.azienda-srl.it"),
    ("a@b.co", "a@b.co"),
    ("x@xn--caf-dma.com", "x@xn--caf-dma.com"),
  ])
  func validAddressesAreAcceptedAndNormalised(_ input: String, _ expected: String) throws {
    #expect(try EmailAddress(input).value == expected)
  }

  @Test(arguments: [
    "", "mario.rossi", "@example.it", "mario@", "mario@example", "mario..rossi@example.it",
    ".mario@example.it", "mario.@example.it", "mario rossi@example.it", "mario@-example.it",
    "mario@example-.it", "mario@example..it", "mario@example.i", "mario@192.168.0.1",
    "\"mario\"@example.it", "mário@example.it", "mario@exämple.it",
  ])
  func invalidAddressesAreRefused(_ input: String) {
    #expect(throws: FieldViolation.self) { try EmailAddress(input, field: "pec") }
  }

  @Test func tooLongPartsAreRefused() {
    let local = String(repeating: "a", count: 65)
    #expect(throws: FieldViolation.self) { try EmailAddress("\(local)@example.it") }
    let label = String(repeating: "b", count: 64)
    #expect(throws: FieldViolation.self) { try EmailAddress("a@\(label).it") }
    let long = (0..<60).map { _ in "abcd" }.joined(separator: ".")
    #expect(throws: FieldViolation.self) { try EmailAddress("a@\(long).it") }
  }

  @Test func violationNamesTheField() {
    #expect(violation { try EmailAddress("nope", field: "contacts.pec") }?.field == "contacts.pec")
  }
}

@Suite struct PhoneNumberTests {
  @Test(arguments: [
    ("3471234567", "+393471234567"),
    ("347 123 4567", "+393471234567"),
    ("+39 347-123-4567", "+393471234567"),
    ("0039 3471234567", "+393471234567"),
    ("+39 06 1234 5678", "+390612345678"),
    ("+44 20 7946 0958", "+442079460958"),
    ("+1 (202) 555-0143", "+12025550143"),
  ])
  func validNumbersAreNormalisedToE164(_ input: String, _ expected: String) throws {
    #expect(try PhoneNumber(input).value == expected)
  }

  @Test(arguments: [
    "", "0612345678", "34712345", "347123456789", "+0612345678", "+39 1234567",
    "+39 3471234", "+3912345678901234", "347-ABC-4567", "+", "++393471234567",
  ])
  func invalidNumbersAreRefused(_ input: String) {
    #expect(throws: FieldViolation.self) { try PhoneNumber(input, field: "mobile") }
  }

  @Test func italianMobileIsRecognised() throws {
    #expect(try PhoneNumber("3471234567").isItalianMobile)
    #expect(try !PhoneNumber("+390612345678").isItalianMobile)
  }
}

@Suite struct SedeCodeTests {
  @Test func fourDigitsAreAccepted() throws {
    #expect(try SedeCode(" 7000 ").value == "7000")
    #expect(try SedeCode("0101").value == "0101")
  }

  @Test(arguments: ["", "700", "70000", "70A0", "0000", "７０００"])
  func anythingElseIsRefused(_ input: String) {
    #expect(violation { try SedeCode(input, field: "sede") }?.field == "sede")
  }
}

@Suite struct CalendarDateTests {
  @Test func validDatesAreAccepted() throws {
    #expect(try CalendarDate(year: 2023, month: 7, day: 15).description == "2023-07-15")
    _ = try CalendarDate(year: 2024, month: 2, day: 29)
    _ = try CalendarDate(year: 2000, month: 2, day: 29)
    _ = try CalendarDate(year: 2023, month: 12, day: 31)
  }

  @Test func february29OnlyInLeapYears() {
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 2023, month: 2, day: 29) }
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 1900, month: 2, day: 29) }
    #expect(CalendarDate.isLeapYear(2000) && CalendarDate.isLeapYear(2024))
    #expect(!CalendarDate.isLeapYear(1900) && !CalendarDate.isLeapYear(2023))
  }

  @Test func outOfRangeFieldsAreRefused() {
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 0, month: 1, day: 1) }
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 10000, month: 1, day: 1) }
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 2023, month: 0, day: 1) }
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 2023, month: 13, day: 1) }
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 2023, month: 4, day: 31) }
    #expect(throws: FieldViolation.self) { try CalendarDate(year: 2023, month: 1, day: 0) }
  }

  @Test func datesCompareChronologically() throws {
    #expect(
      try CalendarDate(year: 2023, month: 7, day: 14) < CalendarDate(year: 2023, month: 7, day: 15))
    #expect(
      try CalendarDate(year: 2022, month: 12, day: 31) < CalendarDate(year: 2023, month: 1, day: 1))
  }
}

/// Shaped like a generated enum: unknown numbers arrive as `.unrecognized`.
enum Form: RawRepresentable, CaseIterable, Equatable {
  case unspecified, sc65, sc62
  case unrecognized(Int32)
  static let allCases: [Form] = [.unspecified, .sc65, .sc62]
  init(rawValue: Int32) {
    switch rawValue {
    case 0: self = .unspecified
    case 1: self = .sc65
    case 2: self = .sc62
    default: self = .unrecognized(rawValue)
    }
  }
  var rawValue: Int32 {
    switch self {
    case .unspecified: 0
    case .sc65: 1
    case .sc62: 2
    case .unrecognized(let value): value
    }
  }
}

@Suite struct EnumValueTests {
  @Test func knownValueIsAccepted() throws {
    #expect(try validateEnum(Form.sc62, field: "form") == .sc62)
  }

  @Test func unspecifiedIsRefusedUnlessAllowed() throws {
    #expect(violation { try validateEnum(Form.unspecified, field: "form") }?.field == "form")
    #expect(
      try validateEnum(Form.unspecified, field: "form", allowUnspecified: true) == .unspecified)
  }

  @Test func unknownNumberIsRefused() {
    let error = violation { try validateEnum(Form(rawValue: 7), field: "form") }
    #expect(error == FieldViolation(field: "form", description: "unknown value 7"))
  }
}

@Suite struct ViolationCollectorTests {
  @Test func collectsEveryViolationAndThrowsThemTogether() throws {
    var check = ViolationCollector()
    let cf = try check { try CodiceFiscale("RSSMRA80A01H501U", field: "cf") }
    let mail = try check { try EmailAddress("bad", field: "email") }
    let sede = try check { try SedeCode("12", field: "sede") }
    #expect(cf?.value == "RSSMRA80A01H501U")
    #expect(mail == nil && sede == nil)
    #expect(check.violations.map(\.field) == ["email", "sede"])
    #expect(throws: ValidationError.self) { try check.throwIfAny() }
  }

  @Test func emptyCollectorDoesNotThrow() throws {
    try ViolationCollector().throwIfAny()
  }
}
