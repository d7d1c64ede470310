import Access
import Contracts
import Foundation
import Validation

/// A subject record that passed validation.
struct ValidSubject: Sendable, Hashable {
  var fiscalCode: String
  var name: String
  var nature: Cassetto_Posizioni_V1_Nature
  var legalRepresentative: String
  var altriResponsabili: [String]
  var pec: String
  var sede: String
}

/// A position record that passed validation (its subject is checked against storage).
struct ValidPosition: Sendable, Hashable {
  var matricola: String
  var subject: String
  var fund: Cassetto_Common_V1_Fund
  var sede: String
  var description: String
  var state: Cassetto_Posizioni_V1_PosizioneState
  var startDate: String
  var endDate: String
}

/// A payment record that passed validation (its position is checked against storage).
struct ValidVersamento: Sendable, Hashable {
  var matricola: String
  var channel: Cassetto_Posizioni_V1_Channel
  var reference: String
  var period: String
  var amountCents: Int64
  var paidOn: String
}

/// The validated filters of `SearchPosizioni`.
struct SearchFilter: Sendable, Hashable {
  var fiscalCode: String = ""
  var matricola: String = ""
  var namePrefix: String = ""
  var fund: Cassetto_Common_V1_Fund = .unspecified
  var state: Cassetto_Posizioni_V1_PosizioneState = .unspecified

  /// The text page tokens are bound to.
  var fingerprintText: String {
    "\(fiscalCode)|\(matricola)|\(namePrefix)|\(fund.rawValue)|\(state.rawValue)"
  }
}

/// Validation of the module's inputs: pure functions, `ValidationError` naming every field.
enum PosizioniRules {
  static let maximumNameLength = 200
  static let maximumDescriptionLength = 200
  static let maximumReferenceLength = 64
  /// Largest single amount accepted: 10 billion euro, in cents.
  static let maximumAmountCents: Int64 = 1_000_000_000_000

  /// Case- and accent-insensitive form of a name: canonical decomposition without combining
  /// marks, lowercased, whitespace collapsed (`"Comune di Città  della Pieve"` →
  /// `"comune di citta della pieve"`).
  static func fold(_ text: String) -> String {
    let decomposed = text.decomposedStringWithCanonicalMapping
    var scalars = String.UnicodeScalarView()
    for scalar in decomposed.unicodeScalars
    where scalar.properties.generalCategory != .nonspacingMark {
      scalars.append(scalar)
    }
    return String(scalars).lowercased().split(whereSeparator: \.isWhitespace)
      .joined(separator: " ")
  }

  /// A matricola: 1–20 letters and digits, stored uppercase.
  static func matricola(_ text: String, field: String) throws(FieldViolation) -> String {
    // Fast path (the ingest's common case): already 1–20 uppercase letters and digits.
    let bytes = text.utf8
    if (1...20).contains(bytes.count),
      bytes.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) })
    {
      return text
    }
    let value = text.trimmingCharacters(in: .whitespaces).uppercased()
    guard !value.isEmpty else { throw FieldViolation(field: field, description: "required") }
    guard value.count <= 20,
      value.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
    else {
      throw FieldViolation(field: field, description: "must be 1 to 20 letters and digits")
    }
    return value
  }

  /// A competence period `YYYY-MM` (years 1900–2199).
  static func period(_ text: String, field: String) throws(FieldViolation) -> String {
    let bytes = Array(text.utf8)
    func digit(_ i: Int) -> Int? {
      (0x30...0x39).contains(bytes[i]) ? Int(bytes[i] - 0x30) : nil
    }
    guard bytes.count == 7, bytes[4] == UInt8(ascii: "-"), let y0 = digit(0), let y1 = digit(1),
      let y2 = digit(2), let y3 = digit(3), let m0 = digit(5), let m1 = digit(6),
      (1900...2199).contains(y0 * 1000 + y1 * 100 + y2 * 10 + y3), (1...12).contains(m0 * 10 + m1)
    else { throw FieldViolation(field: field, description: "must be a period YYYY-MM") }
    return text
  }

  /// `text` without leading and trailing spaces; no copy when there are none.
  static func trimmed(_ text: String) -> String {
    guard let first = text.utf8.first, let last = text.utf8.last else { return text }
    if (0x21..<0x80).contains(first) && (0x21..<0x80).contains(last) { return text }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  static func date(_ date: Google_Type_Date?, field: String, required: Bool)
    throws(FieldViolation) -> String
  {
    guard let date, date != Google_Type_Date() else {
      if required { throw FieldViolation(field: field, description: "required") }
      return ""
    }
    let valid = try CalendarDate(
      year: Int(date.year), month: Int(date.month), day: Int(date.day), field: field)
    return valid.description
  }

  static func subject(_ record: Cassetto_Posizioni_V1_Subject, prefix: String = "subject")
    throws -> ValidSubject
  {
    var check = ViolationCollector()
    let cf = try check { () throws(FieldViolation) in
      try CodiceFiscale(record.fiscalCode, field: prefix + ".fiscal_code").value
    }
    let name = trimmed(record.name)
    if name.isEmpty {
      check.add(field: prefix + ".name", "required")
    } else if name.count > maximumNameLength {
      check.add(field: prefix + ".name", "at most \(maximumNameLength) characters")
    }
    switch record.nature {
    case .private, .public: break
    default: check.add(field: prefix + ".nature", "must be NATURE_PRIVATE or NATURE_PUBLIC")
    }
    var legalRepresentative = ""
    if !record.legalRepresentative.isEmpty {
      legalRepresentative =
        try check { () throws(FieldViolation) in
          try CodiceFiscale(
            person: record.legalRepresentative, field: prefix + ".legal_representative"
          ).value
        } ?? ""
    }
    var altri: [String] = []
    for (offset, text) in record.altriResponsabili.enumerated() {
      if let value = try check({ () throws(FieldViolation) in
        try CodiceFiscale(person: text, field: "\(prefix).altri_responsabili[\(offset)]").value
      }), !altri.contains(value) {
        altri.append(value)
      }
    }
    var pec = ""
    if !record.pec.isEmpty {
      pec =
        try check { () throws(FieldViolation) in
          try EmailAddress(record.pec, field: prefix + ".pec").value
        } ?? ""
    }
    var sede = ""
    if !record.sede.isEmpty {
      sede =
        try check { () throws(FieldViolation) in
          try SedeCode(record.sede, field: prefix + ".sede").value
        }
        ?? ""
    }
    try check.throwIfAny()
    return ValidSubject(
      fiscalCode: cf ?? "", name: name, nature: record.nature,
      legalRepresentative: legalRepresentative, altriResponsabili: altri, pec: pec, sede: sede)
  }

  static func position(_ record: Cassetto_Posizioni_V1_Posizione, prefix: String = "posizione")
    throws -> ValidPosition
  {
    var check = ViolationCollector()
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    let subject = try check { () throws(FieldViolation) in
      try CodiceFiscale(record.subjectFiscalCode, field: prefix + ".subject_fiscal_code").value
    }
    switch record.fund {
    case .privatiUniemens, .pubbliciGdp, .gestioneSeparata, .agricoli: break
    default: check.add(field: prefix + ".fund", "must be a known fund")
    }
    let sede = try check { () throws(FieldViolation) in
      try SedeCode(record.sede, field: prefix + ".sede").value
    }
    let description = trimmed(record.description)
    if description.count > maximumDescriptionLength {
      check.add(field: prefix + ".description", "at most \(maximumDescriptionLength) characters")
    }
    switch record.state {
    case .attiva, .sospesa, .cessata: break
    default: check.add(field: prefix + ".state", "must be ATTIVA, SOSPESA or CESSATA")
    }
    let start = try check { () throws(FieldViolation) in
      try date(record.startDate, field: prefix + ".start_date", required: true)
    }
    let end = try check { () throws(FieldViolation) in
      try date(record.endDate, field: prefix + ".end_date", required: false)
    }
    if let start, let end, !end.isEmpty, end < start {
      check.add(field: prefix + ".end_date", "must not be before start_date")
    }
    try check.throwIfAny()
    return ValidPosition(
      matricola: matricola ?? "", subject: subject ?? "", fund: record.fund, sede: sede ?? "",
      description: description, state: record.state, startDate: start ?? "", endDate: end ?? "")
  }

  static func versamento(_ record: Cassetto_Posizioni_V1_Versamento, prefix: String = "versamento")
    throws -> ValidVersamento
  {
    var check = ViolationCollector()
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    switch record.channel {
    case .f24, .bancaItalia: break
    default: check.add(field: prefix + ".channel", "must be CHANNEL_F24 or CHANNEL_BANCA_ITALIA")
    }
    let reference = trimmed(record.reference)
    if reference.isEmpty {
      check.add(field: prefix + ".reference", "required")
    } else if reference.utf8.count > maximumReferenceLength {
      check.add(field: prefix + ".reference", "at most \(maximumReferenceLength) bytes")
    }
    let period = try check { () throws(FieldViolation) in
      try Self.period(record.period, field: prefix + ".period")
    }
    if record.amountCents <= 0 || record.amountCents > maximumAmountCents {
      check.add(field: prefix + ".amount_cents", "must be a positive amount in euro cents")
    }
    let paidOn = try check { () throws(FieldViolation) in
      try date(record.paidOn, field: prefix + ".paid_on", required: true)
    }
    try check.throwIfAny()
    return ValidVersamento(
      matricola: matricola ?? "", channel: record.channel, reference: reference,
      period: period ?? "", amountCents: record.amountCents, paidOn: paidOn ?? "")
  }

  static func filter(_ request: Cassetto_Posizioni_V1_SearchPosizioniRequest)
    throws -> SearchFilter
  {
    var check = ViolationCollector()
    var filter = SearchFilter()
    if !request.fiscalCode.isEmpty {
      filter.fiscalCode =
        try check { () throws(FieldViolation) in
          try CodiceFiscale(request.fiscalCode, field: "fiscal_code").value
        } ?? ""
    }
    if !request.matricola.isEmpty {
      filter.matricola =
        try check { () throws(FieldViolation) in
          try matricola(request.matricola, field: "matricola")
        }
        ?? ""
    }
    if !request.namePrefix.isEmpty {
      let folded = fold(request.namePrefix)
      if folded.count < 2 {
        check.add(field: "name_prefix", "at least 2 letters")
      } else if folded.count > 100 {
        check.add(field: "name_prefix", "at most 100 characters")
      } else {
        filter.namePrefix = folded
      }
    }
    switch request.fund {
    case .unspecified, .privatiUniemens, .pubbliciGdp, .gestioneSeparata, .agricoli:
      filter.fund = request.fund
    default: check.add(field: "fund", "unknown fund")
    }
    switch request.state {
    case .unspecified, .attiva, .sospesa, .cessata: filter.state = request.state
    default: check.add(field: "state", "unknown state")
    }
    try check.throwIfAny()
    return filter
  }
}

extension Cassetto_Common_V1_Fund {
  var accessFund: Fund? {
    switch self {
    case .privatiUniemens: .privatiUniEmens
    case .pubbliciGdp: .pubbliciGDP
    case .gestioneSeparata: .gestioneSeparata
    case .agricoli: .agricoli
    default: nil
    }
  }
}

extension Cassetto_Posizioni_V1_PosizioneState {
  var accessState: PositionState? {
    switch self {
    case .attiva: .attiva
    case .sospesa: .sospesa
    case .cessata: .cessata
    default: nil
    }
  }
}
