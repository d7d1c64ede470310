import Testing

@testable import Validation

/// Expected check characters below were computed with an independent Python implementation
/// of the DM 23/12/1976 tables, not copied from this module.
@Suite struct CodiceFiscaleTests {
  @Test(arguments: [
    "RSSMRA80A01H501U", "VRDGPP13R10B293P", "BNCLRA85M52F205I", "MRNLCU90T71Z404U",
  ])
  func validPersonalCodesAreAccepted(_ code: String) throws {
    let cf = try CodiceFiscale(code)
    #expect(cf.value == code)
    #expect(cf.kind == .person)
    #expect(try CodiceFiscale(person: code).value == code)
  }

  @Test func inputIsTrimmedAndUpperCased() throws {
    #expect(try CodiceFiscale("  rssmra80a01h501u ").value == "RSSMRA80A01H501U")
  }

  @Test(arguments: ["RSSMRA80A01H50MM", "RSSMRA80A01H5LMX", "RSSMRA80A01HRLMS"])
  func omocodiaVariantsWithRecomputedCheckAreAccepted(_ code: String) throws {
    #expect(try CodiceFiscale(person: code).value == code)
  }

  @Test func omocodiaVariantWithTheOriginalCheckCharacterIsRefused() {
    // 1 → M in position 15 changes the check character from U to M.
    #expect(throws: FieldViolation(field: "cf", description: "the check character does not match"))
    {
      try CodiceFiscale(person: "RSSMRA80A01H50MU", field: "cf")
    }
  }

  @Test func checkCharacterMatchesTheOfficialTables() {
    #expect(CodiceFiscale.checkCharacter(for: "RSSMRA80A01H501") == "U")
    #expect(CodiceFiscale.checkCharacter(for: "RSSMRA80A01HRLM") == "S")
    #expect(CodiceFiscale.checkCharacter(for: "RSSMRA80A01H50") == nil)
    #expect(CodiceFiscale.checkCharacter(for: "RSSMRA80A01H50!") == nil)
  }

  @Test func wrongCheckCharacterIsRefused() {
    #expect(throws: FieldViolation.self) { try CodiceFiscale("RSSMRA80A01H501V") }
  }

  @Test func wrongLengthIsRefused() {
    #expect(throws: FieldViolation.self) { try CodiceFiscale("RSSMRA80A01H501") }
    #expect(throws: FieldViolation.self) { try CodiceFiscale(person: "00743110157") }
    #expect(throws: FieldViolation.self) { try CodiceFiscale("") }
  }

  @Test func digitWhereALetterBelongsIsRefused() {
    let error = violation { try CodiceFiscale(person: fixCheck("RSS1RA80A01H501"), field: "cf") }
    #expect(error == FieldViolation(field: "cf", description: "character 4 must be a letter"))
  }

  @Test func letterOutsideOmocodiaSetInANumericPositionIsRefused() {
    // A is not an omocodia letter.
    let error = violation { try CodiceFiscale(person: fixCheck("RSSMRA8AA01H501")) }
    #expect(error?.description.contains("omocodia") == true)
  }

  @Test func unknownMonthLetterIsRefused() {
    // F is not a month letter (months are ABCDEHLMPRST).
    let error = violation { try CodiceFiscale(person: fixCheck("RSSMRA80F01H501")) }
    #expect(error?.description.contains("month") == true)
  }

  @Test(arguments: ["00", "32", "40", "72", "99"])
  func dayOutsideBothRangesIsRefused(_ day: String) {
    let error = violation { try CodiceFiscale(person: fixCheck("RSSMRA80A\(day)H501")) }
    #expect(error?.description.contains("day") == true)
  }

  @Test(arguments: ["01", "31", "41", "71"])
  func dayAtRangeEdgesIsAccepted(_ day: String) throws {
    _ = try CodiceFiscale(person: fixCheck("RSSMRA80A\(day)H501"))
  }

  @Test func omocodiaLettersCountAsDigitsForTheDay() throws {
    // Day "7L" is 70 (a woman born on the 30th); "QL" would be 40, refused.
    _ = try CodiceFiscale(person: fixCheck("BNCLRA85M7LF205"))
    #expect(throws: FieldViolation.self) { try CodiceFiscale(person: fixCheck("BNCLRA85MQLF205")) }
  }

  @Test func numericCodeIsAcceptedAsCodiceFiscale() throws {
    let cf = try CodiceFiscale("80001320581")
    #expect(cf.kind == .numeric)
    #expect(cf.value == "80001320581")
  }
}

@Suite struct PartitaIVATests {
  @Test(arguments: ["00743110157", "02116750965", "01597800927", "06903311006"])
  func validNumbersAreAccepted(_ number: String) throws {
    #expect(try PartitaIVA(number).value == number)
    #expect(try PartitaIVA(number).codiceFiscale.kind == .numeric)
  }

  @Test func checkDigitIsLuhnStyle() {
    #expect(PartitaIVA.checkDigit(for: "0074311015") == "7")
    #expect(PartitaIVA.checkDigit(for: "8000132058") == "1")
    #expect(PartitaIVA.checkDigit(for: "007431101") == nil)
  }

  @Test func countryPrefixAndSpacesAreRemoved() throws {
    #expect(try PartitaIVA(" IT00743110157 ").value == "00743110157")
  }

  @Test func wrongCheckDigitIsRefused() {
    let error = violation { try PartitaIVA("00743110158", field: "piva") }
    #expect(error == FieldViolation(field: "piva", description: "the check digit does not match"))
  }

  @Test func officeCodeOutsideTheAllowedSetIsRefused() {
    // 12345678903 has a correct check digit but office 890.
    #expect(PartitaIVA.checkDigit(for: "1234567890") == "3")
    let error = violation { try PartitaIVA("12345678903") }
    #expect(error?.description.contains("office") == true)
  }

  @Test(arguments: [0, 1, 100, 101, 119, 120, 121, 122, 887, 888, 999])
  func officeCodes(_ office: Int) throws {
    let allowed = (1...100).contains(office) || [120, 121, 888, 999].contains(office)
    let digits = "1234567" + String(1000 + office).dropFirst()
    let number = digits + String(PartitaIVA.checkDigit(for: digits)!)
    #expect(((try? PartitaIVA(number)) != nil) == allowed, Comment(rawValue: number))
  }

  @Test func lettersOrWrongLengthAreRefused() {
    #expect(throws: FieldViolation.self) { try PartitaIVA("0074311015A") }
    #expect(throws: FieldViolation.self) { try PartitaIVA("0074311015") }
    #expect(throws: FieldViolation.self) { try CodiceFiscale("00743110158") }
  }
}

/// The first 15 characters plus their check character.
func fixCheck(_ first15: String) -> String {
  first15 + String(CodiceFiscale.checkCharacter(for: first15) ?? "?")
}

/// The violation a validator throws, or `nil` if it accepts.
func violation<T>(_ body: () throws -> T) -> FieldViolation? {
  do {
    _ = try body()
    return nil
  } catch let error as FieldViolation {
    return error
  } catch {
    Issue.record("not a FieldViolation: \(error)")
    return nil
  }
}
