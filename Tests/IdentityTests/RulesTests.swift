import Access
import Contracts
import Foundation
import Identity
import Testing
import Validation

@Suite struct SubmissionRulesTests {
  func request(
    _ form: Cassetto_Identity_V1_Form, scopes: [Cassetto_Common_V1_Scope] = [],
    services: [Cassetto_Identity_V1_Ra012Service] = [], sede: String = "7500",
    employer: String = ""
  ) -> Cassetto_Identity_V1_SubmitAbilitazioneRequestRequest {
    var request = Cassetto_Identity_V1_SubmitAbilitazioneRequestRequest()
    request.form = form
    request.scopes = scopes
    request.ra012Services = services
    request.sedeCode = sede
    request.employerFiscalCode = employer
    return request
  }

  @Test func sc65WithScopesIsValidAndDeduplicated() throws {
    let valid = try AbilitazioneRules.validate(
      request(.sc65, scopes: [.malattiaAttestati, .contribuzionePrivati, .malattiaAttestati]))
    #expect(valid.scopes == [.contribuzionePrivati, .malattiaAttestati])
    #expect(valid.employer == nil)
  }

  @Test func sc62NeedsTheEmployer() {
    #expect(
      violatedFields {
        _ = try AbilitazioneRules.validate(request(.sc62, scopes: [.contribuzionePubblici]))
      }
        == ["employer_fiscal_code"])
  }

  @Test func sc62AcceptsAnElevenDigitEmployer() throws {
    let valid = try AbilitazioneRules.validate(
      request(.sc62, scopes: [.contribuzionePubblici], employer: "00050800523"))
    #expect(valid.employer?.value == "00050800523")
  }

  @Test func scFormsNeedAScopeAndNoServices() {
    #expect(
      violatedFields { _ = try AbilitazioneRules.validate(request(.sc65, services: [.prestiti])) }
        == ["scopes", "ra012_services"])
  }

  @Test func ra012NamesServicesAndHasNoScopes() {
    #expect(
      violatedFields {
        _ = try AbilitazioneRules.validate(request(.ra012, scopes: [.contribuzionePubblici]))
      } == ["scopes", "ra012_services"])
  }

  @Test func legacyFormIsNeverRequested() {
    #expect(
      violatedFields {
        _ = try AbilitazioneRules.validate(request(.legacyGdp, scopes: [.contribuzionePubblici]))
      }
      .contains("form"))
  }

  @Test func unknownEnumValuesAndBadSedeAreNamed() {
    let fields = violatedFields {
      _ = try AbilitazioneRules.validate(
        request(.sc65, scopes: [.unrecognized(42)], sede: "75A0", employer: "RSSMRA80A01H501A"))
    }
    #expect(fields == ["scopes[0]", "sede_code", "employer_fiscal_code"])
  }

  @Test func contactsAreValidatedFieldByField() {
    var contacts = Cassetto_Common_V1_Contacts()
    contacts.email = "not-an-address"
    contacts.pec = "ok@pec.example.it"
    contacts.mobile = "12"
    #expect(
      violatedFields { _ = try AbilitazioneRules.validate(contacts: contacts) }
        == ["contacts.email", "contacts.mobile"])
    #expect(violatedFields { _ = try AbilitazioneRules.validate(contacts: nil) } == ["contacts"])
  }
}

@Suite struct FeedRulesTests {
  func legacy(grantedOn: CalendarDate?) -> Cassetto_Identity_V1_LegacyAbilitazione {
    var record = Cassetto_Identity_V1_LegacyAbilitazione()
    record.holderFiscalCode = "RSSMRA80A01H501U"
    record.form = .legacyGdp
    record.scopes = [.contribuzionePubblici]
    record.sedeCode = "7500"
    record.employerFiscalCode = "00050800523"
    if let grantedOn {
      var date = Google_Type_Date()
      date.year = Int32(grantedOn.year)
      date.month = Int32(grantedOn.month)
      date.day = Int32(grantedOn.day)
      record.grantedOn = date
    }
    record.legacyId = "OLD-1"
    return record
  }

  @Test func legacyEnablementOnTheCutoverDayIsKept() throws {
    let valid = try AbilitazioneRules.validate(
      legacy: legacy(grantedOn: date(2023, 3, 31)), cutover: .circolare34)
    #expect(valid.legacyID == "OLD-1")
  }

  @Test func legacyEnablementAfterTheCutoverIsRefused() {
    #expect(
      violatedFields {
        _ = try AbilitazioneRules.validate(
          legacy: legacy(grantedOn: date(2023, 4, 1)), cutover: .circolare34)
      } == ["granted_on"])
  }

  @Test func theCutoverIsConfiguration() throws {
    let later = CutoverDates(
      gdpOldChannelEnd: date(2023, 7, 15), legacyEnablementsUntil: date(2023, 6, 30))
    _ = try AbilitazioneRules.validate(legacy: legacy(grantedOn: date(2023, 4, 1)), cutover: later)
  }

  @Test func legacyRecordNeedsItsDate() {
    #expect(
      violatedFields {
        _ = try AbilitazioneRules.validate(legacy: legacy(grantedOn: nil), cutover: .circolare34)
      }
        == ["granted_on"])
  }

  @Test func alboRecordNeedsRegisterOrdineAndNumber() {
    var record = Cassetto_Identity_V1_AlboRegistration()
    record.fiscalCode = "RSSMRA80A01H501U"
    record.state = .active
    #expect(
      violatedFields { _ = try AbilitazioneRules.validate(albo: record) }
        == ["albo", "ordine", "registration_number"])
  }
}

@Suite struct CutoverDatesTests {
  @Test func oldGDPChannelOpenThroughTheFifteenthOfJuly() {
    let cutover = CutoverDates.circolare34
    #expect(cutover.legacyGDPChannelOpen(on: date(2023, 7, 15)))
    #expect(!cutover.legacyGDPChannelOpen(on: date(2023, 7, 16)))
  }

  @Test func legacyGDPHoldersKeepTheOldChannelUntilTheCutover() {
    func allowed(_ day: CalendarDate, scope: Bool = false, delega: Bool = false, legacy: Bool)
      -> Bool
    {
      mayUseGDPDenunceServices(
        holdsPublicSectorScope: scope, hasActiveDelega: delega,
        holdsLegacyGDPEnablementForTheAdministration: legacy, on: day, cutover: .circolare34)
    }
    #expect(allowed(date(2023, 7, 15), legacy: true))
    #expect(!allowed(date(2023, 7, 16), legacy: true))
    #expect(allowed(date(2023, 7, 16), scope: true, delega: true, legacy: false))
    #expect(!allowed(date(2023, 7, 16), scope: true, delega: false, legacy: false))
    let later = CutoverDates(
      gdpOldChannelEnd: date(2023, 9, 30), legacyEnablementsUntil: date(2023, 3, 31))
    #expect(
      mayUseGDPDenunceServices(
        holdsPublicSectorScope: false, hasActiveDelega: false,
        holdsLegacyGDPEnablementForTheAdministration: true, on: date(2023, 7, 16), cutover: later))
  }

  @Test func theCallDateIsReadInRome() {
    // 2023-07-15T22:30:00Z is already 16 July in Rome (UTC+2 in summer).
    let instant = Date(timeIntervalSince1970: 1_689_460_200)
    #expect(CalendarDate.of(instant) == date(2023, 7, 16))
    #expect(!CutoverDates.circolare34.legacyGDPChannelOpen(on: CalendarDate.of(instant)))
  }
}

@Suite struct DemoDataTests {
  @Test func everyDemoFiscalCodeIsValid() throws {
    for persona in DemoData.personas {
      _ = try CodiceFiscale(person: persona.codiceFiscale.value)
    }
    for organization in DemoData.organizations {
      _ = try PartitaIVA(organization.fiscalCode.value)
    }
    #expect(Set(DemoData.personas.map(\.codiceFiscale)).count == DemoData.personas.count)
  }
}
