import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

/// `SubmitDenunciaManuale`: a DMA (UniEmens ListaPosPA) compiled by hand for a public
/// administration's GDP position the caller may see, validated line by line — the employee's
/// fiscal code with its check character, the public pension fund (CPDEL, CTPS, CPS, CPI,
/// CPUG), a positive taxable amount, and the contribution equal to taxable × the fund's rate
/// within one cent. Any refused line refuses the declaration: `INVALID_ARGUMENT` with one field
/// violation per problem, named `lines[i].<field>` (nothing stored). Accepted, it is stored as
/// a declaration of the position with source MANUALE (one transaction with its audit event;
/// idempotent with request_id) and returned.
///
/// The rates (contribution as a share of the taxable amount, employer + employee) are
/// configuration in code (design choice, from the public funds' rates in force):
/// ``dmaRatesBasisPoints``.
extension PosizioniService {
  public static let dmaRatesBasisPoints: [String: Int64] = [
    "CPDEL": 3265, "CTPS": 3300, "CPS": 3265, "CPI": 3265, "CPUG": 3265,
  ]
  static let dmaMaxLines = 1000

  public func submitDenunciaManuale(
    request: Cassetto_Posizioni_V1_SubmitDenunciaManualeRequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_SubmitDenunciaManualeResponse {
    let caller = Caller.current
    _ = try caller.requirePerson()
    var check = ViolationCollector()
    let period = try check { try PosizioniRules.period(request.period, field: "period") }
    if request.lines.isEmpty || request.lines.count > Self.dmaMaxLines {
      check.add(field: "lines", "1 to \(Self.dmaMaxLines) lines")
    }
    if request.requestId.utf8.count > 128 { check.add(field: "request_id", "at most 128 bytes") }
    var lines: [ValidDenunciaLine] = []
    for (index, line) in request.lines.enumerated() {
      let (valid, violations) = Self.dmaLine(
        employee: line.employeeFiscalCode, fund: line.fundCode, taxable: line.taxableCents,
        contribution: line.contributionCents, prefix: "lines[\(index)]")
      violations.forEach { check.add($0) }
      if let valid { lines.append(valid) }
    }
    try check.throwIfAny()
    guard let period else { throw ValidationError.field("period", "required") }
    let position = try await visiblePosition(
      request.matricola, caller: caller, action: Method.submitDenunciaManuale)
    guard position.fund == .pubbliciGdp else {
      throw RPCError(
        .failedPrecondition, "a DMA is compiled for positions of the public employees' fund only")
    }
    let now = clock.now()
    let actor = caller.actorID
    let requestID = request.requestId
    let denuncia = ValidDenuncia(
      id: "MAN-" + newID(), matricola: position.matricola, period: period, kind: .dma,
      source: .manuale, submittedOn: CalendarDate.of(now).description,
      linesCount: Int32(lines.count), totalTaxableCents: lines.reduce(0) { $0 + $1.taxableCents },
      totalContributionCents: lines.reduce(0) { $0 + $1.contributionCents }, lines: lines,
      errors: [])
    let eventID = newID()
    return try await database.write { db in
      if !requestID.isEmpty,
        let first = try Idempotency.lookup(
          caller: actor, method: Method.submitDenunciaManuale.path, requestID: requestID, in: db)
      {
        return try Cassetto_Posizioni_V1_SubmitDenunciaManualeResponse(serializedBytes: first)
      }
      try Self.upsertDenunce([denuncia], now: now, in: db)
      try AuditLog.append(
        AuditEvent(
          id: eventID, time: now, actor: actor, action: Method.submitDenunciaManuale.path,
          subject: "posizione:\(denuncia.matricola)", delegaChain: nil, outcome: .success,
          details: AuditEvent.json(["denuncia": denuncia.id, "lines": "\(denuncia.linesCount)"])),
        in: db)
      var response = Cassetto_Posizioni_V1_SubmitDenunciaManualeResponse()
      guard let stored = try PosizioniGDPStore.denuncia(id: denuncia.id, in: db) else {
        throw StorageError.corrupt("declaration vanished")
      }
      response.denuncia = stored
      if !requestID.isEmpty {
        try Idempotency.store(
          caller: actor, method: Method.submitDenunciaManuale.path, requestID: requestID,
          response: response.serializedBytes(), at: now, in: db)
      }
      return response
    }
  }

  /// One DMA line: the employee's fiscal code (check character), the public fund, a positive
  /// taxable amount and the contribution = taxable × the fund's rate within one cent.
  static func dmaLine(
    employee: String, fund rawFund: String, taxable: Int64, contribution: Int64, prefix: String
  ) -> (ValidDenunciaLine?, [FieldViolation]) {
    var violations: [FieldViolation] = []
    var cf: String? = nil
    do { cf = try CodiceFiscale(employee, field: "\(prefix).employee_fiscal_code").value } catch {
      violations.append(error)
    }
    let fund = rawFund.trimmingCharacters(in: .whitespaces).uppercased()
    let rate = dmaRatesBasisPoints[fund]
    if rate == nil {
      violations.append(
        FieldViolation(field: "\(prefix).fund_code", description: "one of CPDEL, CTPS, CPS, CPI, CPUG"))
    }
    if taxable <= 0 || taxable > 100_000_000_00 {
      violations.append(
        FieldViolation(
          field: "\(prefix).taxable_cents", description: "must be positive (at most € 100,000,000)"))
    } else if let rate {
      let expected = (taxable * rate + 5_000) / 10_000
      if abs(contribution - expected) > 1 {
        violations.append(
          FieldViolation(
            field: "\(prefix).contribution_cents",
            description: "must be taxable × \(Double(rate) / 100)% = \(expected) cents (± 1)"))
      }
    }
    guard violations.isEmpty, let cf else { return (nil, violations) }
    return (
      ValidDenunciaLine(
        employeeFiscalCode: cf, fundCode: fund, taxableCents: taxable, contributionCents: contribution),
      []
    )
  }
}
