import Contracts
import Foundation
import Storage
import Validation

extension Google_Protobuf_Timestamp {
  /// The instant as a protobuf timestamp (whole microseconds, as stored).
  init(_ date: Date) {
    self.init()
    let micros = date.microsecondsSinceEpoch
    let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
    self.seconds = seconds
    self.nanos = Int32((micros - seconds * 1_000_000) * 1_000)
  }
}

extension Google_Type_Date {
  init(_ date: CalendarDate) {
    self.init()
    year = Int32(date.year)
    month = Int32(date.month)
    day = Int32(date.day)
  }
}

/// Lists of enum values are stored as comma-separated proto numbers.
enum EnumList {
  static func encode<E: RawRepresentable>(_ values: [E]) -> String where E.RawValue == Int32 {
    values.map { String($0.rawValue) }.joined(separator: ",")
  }

  static func decode<E: RawRepresentable>(_ text: String, as type: E.Type = E.self) -> [E]
  where E.RawValue == Int32 {
    text.split(separator: ",").compactMap { Int32($0).flatMap(E.init(rawValue:)) }
  }
}

extension CalendarDate {
  /// Parses `YYYY-MM-DD` as stored.
  init?(iso text: String) {
    let parts = text.split(separator: "-").compactMap { Int($0) }
    guard parts.count == 3,
      let date = try? CalendarDate(year: parts[0], month: parts[1], day: parts[2])
    else { return nil }
    self = date
  }
}

/// Row → message conversions. Columns as `IdentitySchema` defines them.
enum Records {
  static func request(_ row: Row) throws -> Cassetto_Identity_V1_AbilitazioneRequest {
    var message = Cassetto_Identity_V1_AbilitazioneRequest()
    message.id = try row.string("id")
    message.requesterFiscalCode = try row.string("requester_fiscal_code")
    message.form = Cassetto_Identity_V1_Form(rawValue: try row.decode("form", as: Int32.self))
    message.scopes = EnumList.decode(try row.string("scopes"))
    message.ra012Services = EnumList.decode(try row.string("ra012_services"))
    message.sedeCode = try row.string("sede_code")
    message.employerFiscalCode = try row.string("employer_fiscal_code")
    message.state = Cassetto_Identity_V1_RequestState(
      rawValue: try row.decode("state", as: Int32.self))
    message.submittedAt = Google_Protobuf_Timestamp(try row.date("submitted_at"))
    message.decidedAt = try row.optionalDate("decided_at").map(Google_Protobuf_Timestamp.init)
    message.decidedBy = try row.string("decided_by")
    message.decisionReason = try row.string("decision_reason")
    message.abilitazioneId = try row.string("abilitazione_id")
    return message
  }

  static func abilitazione(_ row: Row) throws -> Cassetto_Identity_V1_Abilitazione {
    var message = Cassetto_Identity_V1_Abilitazione()
    message.id = try row.string("id")
    message.holderFiscalCode = try row.string("holder_fiscal_code")
    message.form = Cassetto_Identity_V1_Form(rawValue: try row.decode("form", as: Int32.self))
    message.scopes = EnumList.decode(try row.string("scopes"))
    message.ra012Services = EnumList.decode(try row.string("ra012_services"))
    message.sedeCode = try row.string("sede_code")
    message.employerFiscalCode = try row.string("employer_fiscal_code")
    message.state = Cassetto_Identity_V1_AbilitazioneState(
      rawValue: try row.decode("state", as: Int32.self))
    message.grantedAt = Google_Protobuf_Timestamp(try row.date("granted_at"))
    message.revokedAt = try row.optionalDate("revoked_at").map(Google_Protobuf_Timestamp.init)
    message.legacy = try row.bool("legacy")
    message.sourceRequestId = try row.string("source_request_id")
    return message
  }

  static func role(_ row: Row) throws -> Cassetto_Identity_V1_OperatorRole {
    var message = Cassetto_Identity_V1_OperatorRole()
    message.fiscalCode = try row.string("fiscal_code")
    message.sedeCode = try row.string("sede_code")
    message.role = Cassetto_Identity_V1_Role(rawValue: try row.decode("role", as: Int32.self))
    message.active = try row.bool("active")
    message.grantedBy = try row.string("granted_by")
    message.grantedAt = Google_Protobuf_Timestamp(try row.date("granted_at"))
    message.revokedAt = try row.optionalDate("revoked_at").map(Google_Protobuf_Timestamp.init)
    return message
  }

  static func albo(_ row: Row) throws -> Cassetto_Identity_V1_AlboRegistration {
    var message = Cassetto_Identity_V1_AlboRegistration()
    message.fiscalCode = try row.string("fiscal_code")
    message.albo = Cassetto_Identity_V1_Albo(rawValue: try row.decode("albo", as: Int32.self))
    message.ordine = try row.string("ordine")
    message.registrationNumber = try row.string("registration_number")
    message.state = Cassetto_Identity_V1_AlboState(
      rawValue: try row.decode("state", as: Int32.self))
    message.registeredOn = CalendarDate(iso: try row.string("registered_on")).map(
      Google_Type_Date.init)
    message.givenName = try row.string("given_name")
    message.familyName = try row.string("family_name")
    return message
  }
}
