import Access
import Contracts
import Foundation
import Validation

// Validated forms of the GDP records an ingest feed carries (issue 5 item 1): correction
// notes, amortisation plans, declarations, debit notes, alerts. Each keyed by `id`, the
// originating system's identifier; each names the position it belongs to (checked against
// storage when written).

/// A correction note that passed validation.
struct ValidNotaRettifica: Sendable, Hashable {
  var id: String
  var matricola: String
  var period: String
  var amountCents: Int64
  var reason: String
  var issuedOn: String
}

/// One instalment of a plan.
struct ValidRata: Sendable, Hashable {
  var number: Int32
  var dueOn: String
  var amountCents: Int64
  var paid: Bool
  var paidOn: String
}

/// An amortisation plan that passed validation, its instalments in number order.
struct ValidPiano: Sendable, Hashable {
  var id: String
  var matricola: String
  var benefit: Cassetto_Posizioni_V1_Benefit
  var totalCents: Int64
  var description: String
  var grantedOn: String
  var rate: [ValidRata]
}

/// One line of a declaration.
struct ValidDenunciaLine: Sendable, Hashable {
  var employeeFiscalCode: String
  var fundCode: String
  var taxableCents: Int64
  var contributionCents: Int64
}

/// One error of a declaration (line 0: the whole declaration).
struct ValidDenunciaError: Sendable, Hashable {
  var line: Int32
  var code: String
  var message: String
}

/// A declaration that passed validation; totals are the sums over the lines when there are.
struct ValidDenuncia: Sendable, Hashable {
  var id: String
  var matricola: String
  var period: String
  var kind: Cassetto_Posizioni_V1_DenunciaKind
  var source: Cassetto_Posizioni_V1_DenunciaSource
  var submittedOn: String
  var linesCount: Int32
  var totalTaxableCents: Int64
  var totalContributionCents: Int64
  var lines: [ValidDenunciaLine]
  var errors: [ValidDenunciaError]
}

/// One period of a debit note.
struct ValidNotaDebitoPeriodo: Sendable, Hashable {
  var period: String
  var contributionCents: Int64
  var dueOn: String
}

/// A debit note that passed validation (contest fields are not part of a feed record).
struct ValidNotaDebito: Sendable, Hashable {
  var id: String
  var matricola: String
  var kind: Cassetto_Posizioni_V1_NotaDebitoKind
  var state: Cassetto_Posizioni_V1_NotaDebitoState
  var period: String
  var amountCents: Int64
  var issuedOn: String
  var dueOn: String
  var periods: [ValidNotaDebitoPeriodo]
}

/// An alert that passed validation.
struct ValidEvidenza: Sendable, Hashable {
  var id: String
  var matricola: String
  var code: String
  var description: String
  var openedOn: String
  var closedOn: String
  var open: Bool
}

extension PosizioniRules {
  static let maximumIDLength = 64
  static let maximumReasonLength = 500
  static let maximumInstalments = 600
  static let maximumDenunciaLines = 10_000
  static let maximumDenunciaErrors = 1_000
  static let maximumNotaPeriods = 600

  /// A record identifier: 1–64 printable ASCII characters without spaces.
  static func recordID(_ text: String, field: String) throws(FieldViolation) -> String {
    let value = trimmed(text)
    guard !value.isEmpty else { throw FieldViolation(field: field, description: "required") }
    guard value.utf8.count <= maximumIDLength,
      value.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
    else {
      throw FieldViolation(
        field: field,
        description: "must be 1 to \(maximumIDLength) printable ASCII characters without spaces")
    }
    return value
  }

  /// A short code: 1–`limit` letters, digits, `_` or `-`, stored uppercase.
  static func code(_ text: String, field: String, limit: Int = 32) throws(FieldViolation)
    -> String
  {
    let value = trimmed(text).uppercased()
    guard !value.isEmpty else { throw FieldViolation(field: field, description: "required") }
    guard value.utf8.count <= limit,
      value.utf8.allSatisfy({
        (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || $0 == 0x5F || $0 == 0x2D
      })
    else {
      throw FieldViolation(
        field: field, description: "must be 1 to \(limit) letters, digits, '_' or '-'")
    }
    return value
  }

  /// Free text of at most `limit` characters, trimmed; `required` refuses empty.
  static func text(_ text: String, field: String, limit: Int, required: Bool)
    throws(FieldViolation) -> String
  {
    let value = trimmed(text)
    if value.isEmpty && required { throw FieldViolation(field: field, description: "required") }
    guard value.count <= limit else {
      throw FieldViolation(field: field, description: "at most \(limit) characters")
    }
    return value
  }

  static func positiveAmount(_ cents: Int64, field: String) throws(FieldViolation) -> Int64 {
    guard cents > 0, cents <= maximumAmountCents else {
      throw FieldViolation(field: field, description: "must be a positive amount in euro cents")
    }
    return cents
  }

  static func notaRettifica(
    _ record: Cassetto_Posizioni_V1_NotaRettifica, prefix: String = "nota_rettifica"
  ) throws -> ValidNotaRettifica {
    var check = ViolationCollector()
    let id = try check { () throws(FieldViolation) in try recordID(record.id, field: prefix + ".id") }
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    let period = try check { () throws(FieldViolation) in
      try Self.period(record.period, field: prefix + ".period")
    }
    if record.amountCents == 0 || record.amountCents.magnitude > UInt64(maximumAmountCents) {
      check.add(
        field: prefix + ".amount_cents",
        "must be a non-zero amount in euro cents (negative: in the subject's favour)")
    }
    let reason = try check { () throws(FieldViolation) in
      try text(record.reason, field: prefix + ".reason", limit: maximumReasonLength, required: false)
    }
    let issuedOn = try check { () throws(FieldViolation) in
      try date(record.issuedOn, field: prefix + ".issued_on", required: true)
    }
    try check.throwIfAny()
    return ValidNotaRettifica(
      id: id ?? "", matricola: matricola ?? "", period: period ?? "",
      amountCents: record.amountCents, reason: reason ?? "", issuedOn: issuedOn ?? "")
  }

  /// A plan: benefit pension or TFS, instalments numbered exactly 1…n (in any order), each
  /// with a due date and a positive amount, paid_on only on a paid instalment, and the
  /// instalments summing to total_cents.
  static func piano(
    _ record: Cassetto_Posizioni_V1_PianoAmmortamento, prefix: String = "piano_ammortamento"
  ) throws -> ValidPiano {
    var check = ViolationCollector()
    let id = try check { () throws(FieldViolation) in try recordID(record.id, field: prefix + ".id") }
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    switch record.benefit {
    case .pensione, .tfs: break
    default: check.add(field: prefix + ".benefit", "must be BENEFIT_PENSIONE or BENEFIT_TFS")
    }
    let total = try check { () throws(FieldViolation) in
      try positiveAmount(record.totalCents, field: prefix + ".total_cents")
    }
    let description = try check { () throws(FieldViolation) in
      try text(
        record.description, field: prefix + ".description", limit: maximumDescriptionLength,
        required: false)
    }
    let grantedOn = try check { () throws(FieldViolation) in
      try date(record.grantedOn, field: prefix + ".granted_on", required: false)
    }
    var rate: [ValidRata] = []
    if record.rate.isEmpty {
      check.add(field: prefix + ".rate", "at least one instalment")
    } else if record.rate.count > maximumInstalments {
      check.add(field: prefix + ".rate", "at most \(maximumInstalments) instalments")
    } else {
      var numbers = Set<Int32>()
      var sum: Int64 = 0
      for (offset, rata) in record.rate.enumerated() {
        let field = "\(prefix).rate[\(offset)]"
        if rata.number < 1 || Int(rata.number) > record.rate.count {
          check.add(field: field + ".number", "must be 1 to \(record.rate.count)")
        } else if !numbers.insert(rata.number).inserted {
          check.add(field: field + ".number", "repeats instalment \(rata.number)")
        }
        let dueOn = try check { () throws(FieldViolation) in
          try date(rata.dueOn, field: field + ".due_on", required: true)
        }
        let amount = try check { () throws(FieldViolation) in
          try positiveAmount(rata.amountCents, field: field + ".amount_cents")
        }
        let paidOn = try check { () throws(FieldViolation) in
          try date(rata.paidOn, field: field + ".paid_on", required: false)
        }
        if let paidOn, !paidOn.isEmpty, !rata.paid {
          check.add(field: field + ".paid_on", "only a paid instalment has a payment date")
        }
        sum += amount ?? 0
        rate.append(
          ValidRata(
            number: rata.number, dueOn: dueOn ?? "", amountCents: amount ?? 0, paid: rata.paid,
            paidOn: paidOn ?? ""))
      }
      if let total, check.isEmpty, sum != total {
        check.add(
          field: prefix + ".total_cents", "must equal the sum of the instalments (\(sum))")
      }
    }
    try check.throwIfAny()
    return ValidPiano(
      id: id ?? "", matricola: matricola ?? "", benefit: record.benefit, totalCents: total ?? 0,
      description: description ?? "", grantedOn: grantedOn ?? "",
      rate: rate.sorted { $0.number < $1.number })
  }

  /// A fund code of a declaration line: 1–10 letters and digits (CPDEL, CTPS…; the strict
  /// list is SubmitDenunciaManuale's business, a feed carries what the back-end accepted).
  static func fundCode(_ text: String, field: String) throws(FieldViolation) -> String {
    let value = trimmed(text).uppercased()
    guard (1...10).contains(value.utf8.count),
      value.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) })
    else { throw FieldViolation(field: field, description: "must be 1 to 10 letters and digits") }
    return value
  }

  /// A declaration: kind UniEmens or DMA, a period, the submission date, lines (employee's
  /// codice fiscale, fund code, taxable and contribution ≥ 0) and errors (code, message, line
  /// 0…lines). With lines, totals and lines_count are computed from them (a total sent that
  /// differs is refused); without, the back-end's figures are kept (≥ 0). Source defaults to
  /// INGEST.
  static func denuncia(_ record: Cassetto_Posizioni_V1_Denuncia, prefix: String = "denuncia")
    throws -> ValidDenuncia
  {
    var check = ViolationCollector()
    let id = try check { () throws(FieldViolation) in try recordID(record.id, field: prefix + ".id") }
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    let period = try check { () throws(FieldViolation) in
      try Self.period(record.period, field: prefix + ".period")
    }
    switch record.kind {
    case .uniemens, .dma: break
    default: check.add(field: prefix + ".kind", "must be DENUNCIA_KIND_UNIEMENS or DENUNCIA_KIND_DMA")
    }
    var source = record.source
    switch record.source {
    case .unspecified: source = .ingest
    case .ingest, .manuale, .tracciato: break
    default: check.add(field: prefix + ".source", "unknown source")
    }
    let submittedOn = try check { () throws(FieldViolation) in
      try date(record.submittedOn, field: prefix + ".submitted_on", required: true)
    }
    var lines: [ValidDenunciaLine] = []
    if record.lines.count > maximumDenunciaLines {
      check.add(field: prefix + ".lines", "at most \(maximumDenunciaLines) lines")
    } else {
      for (offset, line) in record.lines.enumerated() {
        let field = "\(prefix).lines[\(offset)]"
        let cf = try check { () throws(FieldViolation) in
          try CodiceFiscale(person: line.employeeFiscalCode, field: field + ".employee_fiscal_code")
            .value
        }
        let fund = try check { () throws(FieldViolation) in
          try fundCode(line.fundCode, field: field + ".fund_code")
        }
        for (value, name) in [(line.taxableCents, "taxable_cents"), (line.contributionCents, "contribution_cents")]
        where value < 0 || value > maximumAmountCents {
          check.add(field: "\(field).\(name)", "must be an amount in euro cents, not negative")
        }
        lines.append(
          ValidDenunciaLine(
            employeeFiscalCode: cf ?? "", fundCode: fund ?? "", taxableCents: line.taxableCents,
            contributionCents: line.contributionCents))
      }
    }
    var errors: [ValidDenunciaError] = []
    if record.errors.count > maximumDenunciaErrors {
      check.add(field: prefix + ".errors", "at most \(maximumDenunciaErrors) errors")
    } else {
      let lineLimit = lines.isEmpty ? Int32(clamping: record.linesCount) : Int32(lines.count)
      for (offset, error) in record.errors.enumerated() {
        let field = "\(prefix).errors[\(offset)]"
        let code = try check { () throws(FieldViolation) in
          try Self.code(error.code, field: field + ".code")
        }
        let message = try check { () throws(FieldViolation) in
          try text(error.message, field: field + ".message", limit: maximumReasonLength, required: true)
        }
        if error.line < 0 || error.line > lineLimit {
          check.add(field: field + ".line", "must be 0 (the whole declaration) to \(lineLimit)")
        }
        errors.append(ValidDenunciaError(line: error.line, code: code ?? "", message: message ?? ""))
      }
    }
    var linesCount = record.linesCount
    var taxable = record.totalTaxableCents
    var contribution = record.totalContributionCents
    if lines.isEmpty {
      if linesCount < 0 { check.add(field: prefix + ".lines_count", "must not be negative") }
      for (value, name) in [(taxable, "total_taxable_cents"), (contribution, "total_contribution_cents")]
      where value < 0 || value > maximumAmountCents * 1000 {
        check.add(field: "\(prefix).\(name)", "must be an amount in euro cents, not negative")
      }
    } else {
      let sumTaxable = lines.reduce(Int64(0)) { $0 + $1.taxableCents }
      let sumContribution = lines.reduce(Int64(0)) { $0 + $1.contributionCents }
      if linesCount != 0 && Int(linesCount) != lines.count {
        check.add(field: prefix + ".lines_count", "must be 0 or the number of lines (\(lines.count))")
      }
      if taxable != 0 && taxable != sumTaxable {
        check.add(field: prefix + ".total_taxable_cents", "must be 0 or the lines' sum (\(sumTaxable))")
      }
      if contribution != 0 && contribution != sumContribution {
        check.add(
          field: prefix + ".total_contribution_cents",
          "must be 0 or the lines' sum (\(sumContribution))")
      }
      linesCount = Int32(lines.count)
      taxable = sumTaxable
      contribution = sumContribution
    }
    try check.throwIfAny()
    return ValidDenuncia(
      id: id ?? "", matricola: matricola ?? "", period: period ?? "", kind: record.kind,
      source: source, submittedOn: submittedOn ?? "", linesCount: linesCount,
      totalTaxableCents: taxable, totalContributionCents: contribution, lines: lines,
      errors: errors)
  }

  /// A debit note: kind, state APERTA / PAGATA / ANNULLATA, period, amount > 0, issue and due
  /// dates (due not before issue), periods unique with contribution > 0; an ECA note needs at
  /// least one period. Contest fields are ignored (ContestNotaDebito owns them).
  static func notaDebito(_ record: Cassetto_Posizioni_V1_NotaDebito, prefix: String = "nota_debito")
    throws -> ValidNotaDebito
  {
    var check = ViolationCollector()
    let id = try check { () throws(FieldViolation) in try recordID(record.id, field: prefix + ".id") }
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    switch record.kind {
    case .adjustment, .regularisation, .eca: break
    default:
      check.add(field: prefix + ".kind", "must be ADJUSTMENT, REGULARISATION or ECA")
    }
    switch record.state {
    case .aperta, .pagata, .annullata: break
    default: check.add(field: prefix + ".state", "must be APERTA, PAGATA or ANNULLATA")
    }
    let period = try check { () throws(FieldViolation) in
      try Self.period(record.period, field: prefix + ".period")
    }
    let amount = try check { () throws(FieldViolation) in
      try positiveAmount(record.amountCents, field: prefix + ".amount_cents")
    }
    let issuedOn = try check { () throws(FieldViolation) in
      try date(record.issuedOn, field: prefix + ".issued_on", required: true)
    }
    let dueOn = try check { () throws(FieldViolation) in
      try date(record.dueOn, field: prefix + ".due_on", required: true)
    }
    if let issuedOn, let dueOn, dueOn < issuedOn {
      check.add(field: prefix + ".due_on", "must not be before issued_on")
    }
    var periods: [ValidNotaDebitoPeriodo] = []
    if record.periods.count > maximumNotaPeriods {
      check.add(field: prefix + ".periods", "at most \(maximumNotaPeriods) periods")
    } else {
      var seen = Set<String>()
      for (offset, item) in record.periods.enumerated() {
        let field = "\(prefix).periods[\(offset)]"
        let value = try check { () throws(FieldViolation) in
          try Self.period(item.period, field: field + ".period")
        }
        if let value, !seen.insert(value).inserted {
          check.add(field: field + ".period", "repeats period \(value)")
        }
        let contribution = try check { () throws(FieldViolation) in
          try positiveAmount(item.contributionCents, field: field + ".contribution_cents")
        }
        let due = try check { () throws(FieldViolation) in
          try date(item.dueOn, field: field + ".due_on", required: false)
        }
        periods.append(
          ValidNotaDebitoPeriodo(
            period: value ?? "", contributionCents: contribution ?? 0, dueOn: due ?? ""))
      }
    }
    if record.kind == .eca && record.periods.isEmpty {
      check.add(field: prefix + ".periods", "an ECA note lists at least one period")
    }
    try check.throwIfAny()
    return ValidNotaDebito(
      id: id ?? "", matricola: matricola ?? "", kind: record.kind, state: record.state,
      period: period ?? "", amountCents: amount ?? 0, issuedOn: issuedOn ?? "",
      dueOn: dueOn ?? "", periods: periods.sorted { $0.period < $1.period })
  }

  /// An alert: code, description, opening date; an open alert has no closing date, a closed
  /// one may have one (not before the opening).
  static func evidenza(_ record: Cassetto_Posizioni_V1_Evidenza, prefix: String = "evidenza")
    throws -> ValidEvidenza
  {
    var check = ViolationCollector()
    let id = try check { () throws(FieldViolation) in try recordID(record.id, field: prefix + ".id") }
    let matricola = try check { () throws(FieldViolation) in
      try Self.matricola(record.matricola, field: prefix + ".matricola")
    }
    let code = try check { () throws(FieldViolation) in
      try Self.code(record.code, field: prefix + ".code")
    }
    let description = try check { () throws(FieldViolation) in
      try text(
        record.description, field: prefix + ".description", limit: maximumReasonLength,
        required: true)
    }
    let openedOn = try check { () throws(FieldViolation) in
      try date(record.openedOn, field: prefix + ".opened_on", required: true)
    }
    let closedOn = try check { () throws(FieldViolation) in
      try date(record.closedOn, field: prefix + ".closed_on", required: false)
    }
    if let closedOn, !closedOn.isEmpty {
      if record.open {
        check.add(field: prefix + ".closed_on", "an open alert has no closing date")
      } else if let openedOn, closedOn < openedOn {
        check.add(field: prefix + ".closed_on", "must not be before opened_on")
      }
    }
    try check.throwIfAny()
    return ValidEvidenza(
      id: id ?? "", matricola: matricola ?? "", code: code ?? "", description: description ?? "",
      openedOn: openedOn ?? "", closedOn: closedOn ?? "", open: record.open)
  }
}
