import Access
import Contracts
import Foundation
import Validation

/// A form SC65 / SC62 / RA012 request that passed every field rule.
public struct ValidSubmission: Sendable, Hashable {
  public var form: Cassetto_Identity_V1_Form
  /// Sorted, without duplicates; empty for RA012.
  public var scopes: [Cassetto_Common_V1_Scope]
  /// Sorted, without duplicates; empty for SC65 / SC62.
  public var ra012Services: [Cassetto_Identity_V1_Ra012Service]
  public var sede: SedeCode
  /// Required for SC62, optional otherwise.
  public var employer: CodiceFiscale?
}

/// The enablement rules of DOMAIN.md (Enablement) that need no stored data.
public enum AbilitazioneRules {
  /// Checks a `SubmitAbilitazioneRequest`:
  /// - `form` is SC65, SC62 or RA012 (`FORM_LEGACY_GDP` is only ever imported);
  /// - SC65 and SC62 ask for one or more profile scopes and name no RA012 service;
  /// - RA012 names one or more of the services the circular leaves under it and has no
  ///   scopes (Circ. 34/2023: the GDP "Denunce contributive e versamenti" moved to the
  ///   Azienda/Operatore profile with the public-sector scope);
  /// - `sede_code` is the competent office's four-digit code;
  /// - SC62 (a delegated employee) names the employer's fiscal code, 16 characters or 11
  ///   digits; the other forms may name one, which must then be valid.
  public static func validate(_ request: Cassetto_Identity_V1_SubmitAbilitazioneRequestRequest)
    throws -> ValidSubmission
  {
    var check = ViolationCollector()
    let form = try check { () throws(FieldViolation) in
      let form = try validateEnum(request.form, field: "form")
      if form == .legacyGdp {
        throw FieldViolation(
          field: "form",
          description: "FORM_LEGACY_GDP is imported from the old system, not requested")
      }
      return form
    }
    let scopes = try validScopes(request.scopes, form: form, check: &check)
    let services = try validServices(request.ra012Services, form: form, check: &check)
    let sede = try check { () throws(FieldViolation) in
      try SedeCode(request.sedeCode, field: "sede_code")
    }
    var employer: CodiceFiscale? = nil
    if request.employerFiscalCode.isEmpty {
      if form == .sc62 {
        check.add(
          field: "employer_fiscal_code", "form SC62 needs the employer's fiscal code")
      }
    } else {
      employer = try check { () throws(FieldViolation) in
        try CodiceFiscale(request.employerFiscalCode, field: "employer_fiscal_code")
      }
    }
    try check.throwIfAny()
    guard let form, let sede else { throw ValidationError([]) }  // unreachable: recorded above
    return ValidSubmission(
      form: form, scopes: scopes, ra012Services: services, sede: sede, employer: employer)
  }

  static func validScopes(
    _ scopes: [Cassetto_Common_V1_Scope], form: Cassetto_Identity_V1_Form?,
    check: inout ViolationCollector
  ) throws -> [Cassetto_Common_V1_Scope] {
    var valid: [Cassetto_Common_V1_Scope] = []
    for (index, scope) in scopes.enumerated() {
      if let scope = try check({ () throws(FieldViolation) in
        try validateEnum(scope, field: "scopes[\(index)]")
      }) {
        if !valid.contains(scope) { valid.append(scope) }
      }
    }
    switch form {
    case .sc65?, .sc62?:
      if scopes.isEmpty {
        check.add(field: "scopes", "forms SC65 and SC62 ask for at least one scope")
      }
    case .ra012?:
      if !scopes.isEmpty {
        check.add(field: "scopes", "form RA012 has no scopes: it names services")
      }
    default: break
    }
    return valid.sorted { $0.rawValue < $1.rawValue }
  }

  static func validServices(
    _ services: [Cassetto_Identity_V1_Ra012Service], form: Cassetto_Identity_V1_Form?,
    check: inout ViolationCollector
  ) throws -> [Cassetto_Identity_V1_Ra012Service] {
    var valid: [Cassetto_Identity_V1_Ra012Service] = []
    for (index, service) in services.enumerated() {
      if let service = try check({ () throws(FieldViolation) in
        try validateEnum(service, field: "ra012_services[\(index)]")
      }) {
        if !valid.contains(service) { valid.append(service) }
      }
    }
    switch form {
    case .ra012?:
      if services.isEmpty {
        check.add(field: "ra012_services", "form RA012 names at least one service")
      }
    case .sc65?, .sc62?, .legacyGdp?:
      if !services.isEmpty {
        check.add(field: "ra012_services", "only form RA012 names services")
      }
    default: break
    }
    return valid.sorted { $0.rawValue < $1.rawValue }
  }

  /// Checks one record of the legacy feed: a person's enablement recorded by the old system,
  /// for an employer or administration, at a sede, granted on or before the cut-over
  /// (``CutoverDates/legacyEnablementsUntil``); `legacy_id` names it in the old system.
  public static func validate(
    legacy record: Cassetto_Identity_V1_LegacyAbilitazione, cutover: CutoverDates
  ) throws -> ValidLegacyAbilitazione {
    var check = ViolationCollector()
    let holder = try check { () throws(FieldViolation) in
      try CodiceFiscale(person: record.holderFiscalCode, field: "holder_fiscal_code")
    }
    let form = try check { () throws(FieldViolation) in try validateEnum(record.form, field: "form")
    }
    var scopes: [Cassetto_Common_V1_Scope] = []
    for (index, scope) in record.scopes.enumerated() {
      if let scope = try check({ () throws(FieldViolation) in
        try validateEnum(scope, field: "scopes[\(index)]")
      }), !scopes.contains(scope) {
        scopes.append(scope)
      }
    }
    let services = try validServices(record.ra012Services, form: form, check: &check)
    let sede = try check { () throws(FieldViolation) in
      try SedeCode(record.sedeCode, field: "sede_code")
    }
    let employer = try check { () throws(FieldViolation) in
      try CodiceFiscale(record.employerFiscalCode, field: "employer_fiscal_code")
    }
    var grantedOn: CalendarDate? = nil
    if let date = record.grantedOn {
      grantedOn = try check { () throws(FieldViolation) in
        let day = try CalendarDate(
          year: Int(date.year), month: Int(date.month), day: Int(date.day), field: "granted_on")
        guard cutover.isLegacy(grantedOn: day) else {
          throw FieldViolation(
            field: "granted_on",
            description:
              "granted after the cut-over (\(cutover.legacyEnablementsUntil)): request it with SC65 or SC62"
          )
        }
        return day
      }
    } else {
      check.add(field: "granted_on", "the date the enablement was granted is required")
    }
    let legacyID = record.legacyId.trimmingCharacters(in: .whitespaces)
    if legacyID.isEmpty || legacyID.utf8.count > 128 {
      check.add(field: "legacy_id", "the old system's identifier is required (1–128 characters)")
    }
    try check.throwIfAny()
    guard let holder, let form, let sede, let employer, let grantedOn else {
      throw ValidationError([])
    }
    return ValidLegacyAbilitazione(
      holder: holder, form: form, scopes: scopes.sorted { $0.rawValue < $1.rawValue },
      ra012Services: services, sede: sede, employer: employer, grantedOn: grantedOn,
      legacyID: legacyID)
  }

  /// Checks one record of the professional-register feed.
  public static func validate(albo record: Cassetto_Identity_V1_AlboRegistration)
    throws -> ValidAlboRegistration
  {
    var check = ViolationCollector()
    let person = try check { () throws(FieldViolation) in
      try CodiceFiscale(person: record.fiscalCode, field: "fiscal_code")
    }
    let albo = try check { () throws(FieldViolation) in try validateEnum(record.albo, field: "albo")
    }
    let state = try check { () throws(FieldViolation) in
      try validateEnum(record.state, field: "state")
    }
    let ordine = record.ordine.trimmingCharacters(in: .whitespaces)
    if ordine.isEmpty || ordine.utf8.count > 100 {
      check.add(field: "ordine", "the ordine keeping the register is required (1–100 characters)")
    }
    let number = record.registrationNumber.trimmingCharacters(in: .whitespaces)
    if number.isEmpty || number.utf8.count > 50 {
      check.add(
        field: "registration_number", "the registration number is required (1–50 characters)")
    }
    var registeredOn: CalendarDate? = nil
    if let date = record.registeredOn {
      registeredOn = try check { () throws(FieldViolation) in
        try CalendarDate(
          year: Int(date.year), month: Int(date.month), day: Int(date.day), field: "registered_on")
      }
    }
    for (name, value) in [("given_name", record.givenName), ("family_name", record.familyName)]
    where value.utf8.count > 200 {
      check.add(field: name, "at most 200 characters")
    }
    try check.throwIfAny()
    guard let person, let albo, let state else { throw ValidationError([]) }
    return ValidAlboRegistration(
      person: person, albo: albo, ordine: ordine, registrationNumber: number, state: state,
      registeredOn: registeredOn, givenName: record.givenName, familyName: record.familyName)
  }

  /// Checks new contacts: each of e-mail, PEC and mobile is either empty (cleared) or valid.
  public static func validate(contacts: Cassetto_Common_V1_Contacts?) throws
    -> Cassetto_Common_V1_Contacts
  {
    guard let contacts else {
      throw ValidationError.field("contacts", "the new contacts are required")
    }
    var check = ViolationCollector()
    var result = Cassetto_Common_V1_Contacts()
    if !contacts.email.isEmpty {
      result.email =
        try check { () throws(FieldViolation) in
          try EmailAddress(contacts.email, field: "contacts.email").value
        } ?? ""
    }
    if !contacts.pec.isEmpty {
      result.pec =
        try check { () throws(FieldViolation) in
          try EmailAddress(contacts.pec, field: "contacts.pec").value
        } ?? ""
    }
    if !contacts.mobile.isEmpty {
      result.mobile =
        try check { () throws(FieldViolation) in
          try PhoneNumber(contacts.mobile, field: "contacts.mobile").value
        } ?? ""
    }
    try check.throwIfAny()
    return result
  }

  /// Checks an optional idempotency key: at most 128 characters.
  public static func validate(requestID: String) throws -> String {
    guard requestID.utf8.count <= 128 else {
      throw ValidationError.field("request_id", "an idempotency key has at most 128 characters")
    }
    return requestID
  }
}

/// A legacy-feed record that passed every field rule.
public struct ValidLegacyAbilitazione: Sendable, Hashable {
  public var holder: CodiceFiscale
  public var form: Cassetto_Identity_V1_Form
  public var scopes: [Cassetto_Common_V1_Scope]
  public var ra012Services: [Cassetto_Identity_V1_Ra012Service]
  public var sede: SedeCode
  public var employer: CodiceFiscale
  public var grantedOn: CalendarDate
  public var legacyID: String
}

/// A register-feed record that passed every field rule.
public struct ValidAlboRegistration: Sendable, Hashable {
  public var person: CodiceFiscale
  public var albo: Cassetto_Identity_V1_Albo
  public var ordine: String
  public var registrationNumber: String
  public var state: Cassetto_Identity_V1_AlboState
  public var registeredOn: CalendarDate?
  public var givenName: String
  public var familyName: String
}
