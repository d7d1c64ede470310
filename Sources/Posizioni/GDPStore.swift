import Contracts
import Foundation
import Storage

/// Reads of the GDP records (tables of migrations 310–314): child rows in the validated form
/// (to compare with an incoming record) and rows as contract messages.
enum PosizioniGDPStore {
  // MARK: Child rows, validated form

  static func rate(ofPiano id: String, in db: any ReadContext) throws -> [ValidRata] {
    try db.query(
      """
      SELECT number, due_on, amount_cents, paid, paid_on FROM posizioni_piani_rate
      WHERE piano_id = ? ORDER BY number
      """, [id]
    ).map {
      ValidRata(
        number: try $0.decode("number", as: Int32.self), dueOn: try $0.string("due_on"),
        amountCents: try $0.int64("amount_cents"), paid: try $0.int64("paid") != 0,
        paidOn: try $0.string("paid_on"))
    }
  }

  static func periodi(ofNota id: String, in db: any ReadContext) throws -> [ValidNotaDebitoPeriodo]
  {
    try db.query(
      """
      SELECT period, contribution_cents, due_on FROM posizioni_nota_debito_periodi
      WHERE nota_id = ? ORDER BY period
      """, [id]
    ).map {
      ValidNotaDebitoPeriodo(
        period: try $0.string("period"), contributionCents: try $0.int64("contribution_cents"),
        dueOn: try $0.string("due_on"))
    }
  }

  static func lines(ofDenuncia id: String, in db: any ReadContext) throws -> [ValidDenunciaLine] {
    try db.query(
      """
      SELECT employee_fiscal_code, fund_code, taxable_cents, contribution_cents
      FROM posizioni_denuncia_lines WHERE denuncia_id = ? ORDER BY number
      """, [id]
    ).map {
      ValidDenunciaLine(
        employeeFiscalCode: try $0.string("employee_fiscal_code"),
        fundCode: try $0.string("fund_code"), taxableCents: try $0.int64("taxable_cents"),
        contributionCents: try $0.int64("contribution_cents"))
    }
  }

  static func errors(ofDenuncia id: String, in db: any ReadContext) throws -> [ValidDenunciaError]
  {
    try db.query(
      """
      SELECT line, code, message FROM posizioni_denuncia_errors WHERE denuncia_id = ?
      ORDER BY number
      """, [id]
    ).map {
      ValidDenunciaError(
        line: try $0.decode("line", as: Int32.self), code: try $0.string("code"),
        message: try $0.string("message"))
    }
  }

  // MARK: Contract messages

  static let notaRettificaColumns =
    "seq, id, matricola, period, amount_cents, reason, issued_on"

  static func notaRettifica(_ row: Row) throws -> Cassetto_Posizioni_V1_NotaRettifica {
    var nota = Cassetto_Posizioni_V1_NotaRettifica()
    nota.id = try row.string("id")
    nota.matricola = try row.string("matricola")
    nota.period = try row.string("period")
    nota.amountCents = try row.int64("amount_cents")
    nota.reason = try row.string("reason")
    nota.issuedOn = Google_Type_Date(iso: try row.string("issued_on"))
    return nota
  }

  static let pianoColumns =
    "seq, id, matricola, benefit, total_cents, description, granted_on"

  static func piano(_ row: Row, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_PianoAmmortamento
  {
    var piano = Cassetto_Posizioni_V1_PianoAmmortamento()
    piano.id = try row.string("id")
    piano.matricola = try row.string("matricola")
    piano.benefit = .init(rawValue: try row.decode("benefit", as: Int32.self))
    piano.totalCents = try row.int64("total_cents")
    piano.description = try row.string("description")
    piano.grantedOn = Google_Type_Date(iso: try row.string("granted_on"))
    piano.rate = try rate(ofPiano: piano.id, in: db).map {
      var rata = Cassetto_Posizioni_V1_Rata()
      rata.number = $0.number
      rata.dueOn = Google_Type_Date(iso: $0.dueOn)
      rata.amountCents = $0.amountCents
      rata.paid = $0.paid
      rata.paidOn = Google_Type_Date(iso: $0.paidOn)
      return rata
    }
    return piano
  }

  static let notaDebitoColumns = """
    seq, id, matricola, kind, state, period, amount_cents, issued_on, due_on, contested_at,
    contest_reason, contest_richiesta_id
    """

  /// A debit note with its periods.
  static func notaDebito(_ row: Row, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_NotaDebito
  {
    var nota = Cassetto_Posizioni_V1_NotaDebito()
    nota.id = try row.string("id")
    nota.matricola = try row.string("matricola")
    nota.kind = .init(rawValue: try row.decode("kind", as: Int32.self))
    nota.state = .init(rawValue: try row.decode("state", as: Int32.self))
    nota.period = try row.string("period")
    nota.amountCents = try row.int64("amount_cents")
    nota.issuedOn = Google_Type_Date(iso: try row.string("issued_on"))
    nota.dueOn = Google_Type_Date(iso: try row.string("due_on"))
    let contestedAt = try row.int64("contested_at")
    if contestedAt != 0 {
      nota.contested = true
      nota.contestReason = try row.string("contest_reason")
      nota.contestRichiestaId = try row.string("contest_richiesta_id")
      let seconds = contestedAt.quotientAndRemainder(dividingBy: 1_000_000)
      var stamp = Google_Protobuf_Timestamp()
      stamp.seconds = seconds.quotient
      stamp.nanos = Int32(seconds.remainder * 1000)
      nota.contestedAt = stamp
    }
    nota.periods = try periodi(ofNota: nota.id, in: db).map {
      var item = Cassetto_Posizioni_V1_NotaDebitoPeriodo()
      item.period = $0.period
      item.contributionCents = $0.contributionCents
      item.dueOn = Google_Type_Date(iso: $0.dueOn)
      return item
    }
    return nota
  }

  /// One debit note by id (with its periods), `nil` when unknown.
  static func notaDebito(id: String, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_NotaDebito?
  {
    try db.queryFirst(
      "SELECT \(notaDebitoColumns) FROM posizioni_note_debito WHERE id = ?", [id]
    ).map { try notaDebito($0, in: db) }
  }

  static let denunciaColumns = """
    seq, id, matricola, period, kind, source, submitted_on, lines_count, total_taxable_cents,
    total_contribution_cents, errors_count
    """

  /// A declaration with its errors; with its lines too when `withLines`.
  static func denuncia(_ row: Row, withLines: Bool, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_Denuncia
  {
    var denuncia = Cassetto_Posizioni_V1_Denuncia()
    denuncia.id = try row.string("id")
    denuncia.matricola = try row.string("matricola")
    denuncia.period = try row.string("period")
    denuncia.kind = .init(rawValue: try row.decode("kind", as: Int32.self))
    denuncia.source = .init(rawValue: try row.decode("source", as: Int32.self))
    denuncia.submittedOn = Google_Type_Date(iso: try row.string("submitted_on"))
    denuncia.linesCount = try row.decode("lines_count", as: Int32.self)
    denuncia.totalTaxableCents = try row.int64("total_taxable_cents")
    denuncia.totalContributionCents = try row.int64("total_contribution_cents")
    if try row.int64("errors_count") > 0 {
      denuncia.errors = try errors(ofDenuncia: denuncia.id, in: db).map {
        var error = Cassetto_Posizioni_V1_DenunciaError()
        error.line = $0.line
        error.code = $0.code
        error.message = $0.message
        return error
      }
    }
    if withLines {
      denuncia.lines = try lines(ofDenuncia: denuncia.id, in: db).map {
        var line = Cassetto_Posizioni_V1_DenunciaLine()
        line.employeeFiscalCode = $0.employeeFiscalCode
        line.fundCode = $0.fundCode
        line.taxableCents = $0.taxableCents
        line.contributionCents = $0.contributionCents
        return line
      }
    }
    return denuncia
  }

  /// One declaration by id with lines and errors, `nil` when unknown.
  static func denuncia(id: String, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_Denuncia?
  {
    try db.queryFirst(
      "SELECT \(denunciaColumns) FROM posizioni_denunce WHERE id = ?", [id]
    ).map { try denuncia($0, withLines: true, in: db) }
  }

  static let evidenzaColumns =
    "seq, id, matricola, code, description, opened_on, closed_on, is_open"

  static func evidenza(_ row: Row) throws -> Cassetto_Posizioni_V1_Evidenza {
    var evidenza = Cassetto_Posizioni_V1_Evidenza()
    evidenza.id = try row.string("id")
    evidenza.matricola = try row.string("matricola")
    evidenza.code = try row.string("code")
    evidenza.description = try row.string("description")
    evidenza.openedOn = Google_Type_Date(iso: try row.string("opened_on"))
    evidenza.closedOn = Google_Type_Date(iso: try row.string("closed_on"))
    evidenza.open = try row.int64("is_open") != 0
    return evidenza
  }
}
