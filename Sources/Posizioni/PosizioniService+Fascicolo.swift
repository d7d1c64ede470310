import Access
import Contracts
import Documents
import Foundation
import RPC
import Storage
import Validation

typealias Block = PDFDocument.Block

/// `ExportFascicolo`: the *fascicolo aziendale* (issue 5 item 6) — everything the caller may
/// see about one position, or about every visible position of a subject: identification,
/// positions, payments, correction notes, declarations with their errors, amortisation plans,
/// debit notes (ECA included) and alerts — as one PDF (``PDFDocument``, cairo) with page numbers
/// and the production date, streamed in 64 KiB chunks. Each included position writes its
/// access audit event (granted or refused) like any read; nothing visible → `NOT_FOUND`.
/// Deleghe in force are not included (Posizioni does not read the Deleghe module's data;
/// `Deleghe.ListDeleghe` gives them).
extension PosizioniService {
  static let fascicoloChunk = 64 * 1024

  public func exportFascicolo(
    request: Cassetto_Posizioni_V1_ExportFascicoloRequest,
    responses: ResponseWriter<Cassetto_Posizioni_V1_FascicoloChunk>, context: ServerContext
  ) async throws {
    let caller = Caller.current
    try caller.requireAuthenticated()
    let hasSubject = !request.subjectFiscalCode.isEmpty
    let hasMatricola = !request.matricola.isEmpty
    guard hasSubject != hasMatricola else {
      throw ValidationError.field(
        "subject_fiscal_code", "give exactly one of subject_fiscal_code and matricola")
    }
    var positions: [Cassetto_Posizioni_V1_Posizione] = []
    if hasMatricola {
      positions = [
        try await visiblePosition(request.matricola, caller: caller, action: Method.exportFascicolo)
      ]
    } else {
      let subject = request.subjectFiscalCode.uppercased()
      let matricole = try await database.read { db in
        try db.query(
          "SELECT matricola FROM posizioni_positions WHERE subject_fiscal_code = ? ORDER BY matricola",
          [subject]
        ).map { try $0.string("matricola") }
      }
      for matricola in matricole {
        if let position = try? await visiblePosition(
          matricola, caller: caller, action: Method.exportFascicolo)
        {
          positions.append(position)
        }
      }
      guard !positions.isEmpty else {
        throw AccessError.notFound("no position of \(subject) visible to the caller")
      }
    }
    let now = clock.now()
    let included = positions
    let blocks = try await database.read { db in
      try Self.fascicoloBlocks(included, in: db)
    }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "it_IT")
    formatter.timeZone = institutionTimeZone
    formatter.dateFormat = "dd/MM/yyyy HH:mm"
    let pdf = try PDFDocument(
      title: "Fascicolo aziendale", blocks: blocks, producedAt: formatter.string(from: now)
    ).render()
    var offset = 0
    while offset < pdf.count {
      var chunk = Cassetto_Posizioni_V1_FascicoloChunk()
      chunk.data = Array(pdf[offset..<min(pdf.count, offset + Self.fascicoloChunk)])
      try await responses.write(chunk)
      offset += Self.fascicoloChunk
    }
  }

  static func euro(_ cents: Int64) -> String {
    let sign = cents < 0 ? "-" : ""
    let value = abs(cents)
    var units = String(value / 100)
    var grouped = ""
    while units.count > 3 {
      grouped = "." + units.suffix(3) + grouped
      units = String(units.dropLast(3))
    }
    return "\(sign)€ \(units)\(grouped),\(String(format: "%02lld", value % 100))"
  }

  static func fascicoloBlocks(_ positions: [Cassetto_Posizioni_V1_Posizione], in db: any ReadContext)
    throws -> [Block]
  {
    var blocks = [Block(style: .title, text: "Fascicolo aziendale")]
    if let subject = positions.first?.subject {
      blocks += [
        Block(style: .heading, text: "Soggetto contribuente", spaceBefore: 10),
        Block(style: .body, text: "Denominazione: \(subject.name)"),
        Block(style: .body, text: "Codice fiscale: \(subject.fiscalCode)"),
        Block(style: .body, text: "Legale rappresentante: \(subject.legalRepresentative)"),
        Block(
          style: .body,
          text: "Altri responsabili: \(subject.altriResponsabili.isEmpty ? "nessuno" : subject.altriResponsabili.joined(separator: ", "))"),
        Block(style: .body, text: "PEC: \(subject.pec.isEmpty ? "non comunicata" : subject.pec)"),
      ]
    }
    for position in positions {
      let m = position.matricola
      blocks += [
        Block(style: .heading, text: "Posizione \(m)", spaceBefore: 14),
        Block(style: .body, text: "Gestione: \(fundName(position.fund)) · sede \(position.sede)"),
        Block(style: .body, text: "Descrizione: \(position.description)"),
        Block(style: .body, text: "Stato: \(stateName(position.state))"),
      ]
      func section(_ title: String, _ sql: String, _ line: (Row) throws -> String) throws {
        let rows = try db.query(sql, [m])
        blocks.append(Block(style: .bodyBold, text: "\(title) (\(rows.count))", spaceBefore: 6))
        if rows.isEmpty { blocks.append(Block(style: .small, text: "nessuno")) }
        for row in rows { blocks.append(Block(style: .small, text: try line(row))) }
      }
      try section(
        "Versamenti",
        "SELECT period, amount_cents, channel FROM posizioni_versamenti WHERE matricola = ? ORDER BY period, seq"
      ) { row in
        "\(try row.string("period"))  \(euro(try row.int64("amount_cents")))  \(try row.int64("channel") == 1 ? "F24" : "Banca d'Italia")"
      }
      try section(
        "Note di rettifica",
        "SELECT period, amount_cents, reason FROM posizioni_note_rettifica WHERE matricola = ? ORDER BY period, seq"
      ) { row in
        "\(try row.string("period"))  \(euro(try row.int64("amount_cents")))  \(try row.string("reason"))"
      }
      try section(
        "Denunce",
        """
        SELECT d.period, d.total_taxable_cents, d.total_contribution_cents,
          (SELECT COUNT(*) FROM posizioni_denuncia_errors e WHERE e.denuncia_id = d.id) AS errors
        FROM posizioni_denunce d WHERE d.matricola = ? ORDER BY d.period, d.seq
        """
      ) { row in
        let errors = try row.int64("errors")
        return "\(try row.string("period"))  imponibile \(euro(try row.int64("total_taxable_cents")))  contributi \(euro(try row.int64("total_contribution_cents")))\(errors > 0 ? "  \(errors) errori" : "")"
      }
      try section(
        "Piani di ammortamento",
        "SELECT description, total_cents FROM posizioni_piani WHERE matricola = ? ORDER BY seq"
      ) { row in "\(try row.string("description"))  \(euro(try row.int64("total_cents")))" }
      try section(
        "Note di debito",
        "SELECT id, period, amount_cents, due_on, contest_reason FROM posizioni_note_debito WHERE matricola = ? ORDER BY period, seq"
      ) { row in
        let contest = try row.string("contest_reason")
        return "\(try row.string("id"))  \(try row.string("period"))  \(euro(try row.int64("amount_cents")))  scadenza \(try row.string("due_on"))\(contest.isEmpty ? "" : "  contestata")"
      }
      try section(
        "Evidenze",
        "SELECT description FROM posizioni_evidenze WHERE matricola = ? ORDER BY seq"
      ) { row in try row.string("description") }
    }
    return blocks
  }

  static func fundName(_ fund: Cassetto_Common_V1_Fund) -> String {
    switch fund {
    case .privatiUniemens: "dipendenti privati (UniEmens)"
    case .pubbliciGdp: "dipendenti pubblici (GDP)"
    case .gestioneSeparata: "Gestione Separata (committenti)"
    case .agricoli: "aziende agricole"
    default: "non indicata"
    }
  }

  static func stateName(_ state: Cassetto_Posizioni_V1_PosizioneState) -> String {
    switch state {
    case .attiva: "attiva"
    case .sospesa: "sospesa"
    case .cessata: "cessata"
    default: "non indicato"
    }
  }
}
