import Access
import Contracts
import Foundation
import Storage

// The GDP records of an ingest batch: correction notes, amortisation plans, declarations,
// debit notes, alerts. Each kind keyed by `id` (the last record of an id in a batch wins),
// refused when its position is unknown, upserted with ``PosizioniService/upsert`` (a replay
// changes nothing), and its child rows (instalments, lines, errors, periods) replaced only
// when they differ from the stored ones.
extension PosizioniService {
  static func writeGDP(
    _ batch: IngestBatch, now: Date, outcome: inout IngestOutcome,
    positionExists: (String) throws -> Bool, in db: any WriteContext
  ) throws {
    /// The records of one kind whose position exists, deduplicated by id (last wins), in
    /// first-seen order; the others refused on `field`.
    var refused: [(index: Int64, field: String, message: String)] = []
    defer { outcome.refused.append(contentsOf: refused) }
    func accepted<R>(
      _ records: [(index: Int64, record: R)], field: String, matricola: (R) -> String,
      id: (R) -> String, count: inout Int64
    ) throws -> [R] {
      var byID: [String: R] = [:]
      var order: [String] = []
      for (index, record) in records {
        let position = matricola(record)
        guard try positionExists(position) else {
          refused.append(
            (index, field, "unknown position \(position): send its posizione record first"))
          continue
        }
        count += 1
        if byID.updateValue(record, forKey: id(record)) == nil { order.append(id(record)) }
      }
      return order.compactMap { byID[$0] }
    }

    let note = try accepted(
      batch.noteRettifica, field: "nota_rettifica.matricola", matricola: \.matricola, id: \.id,
      count: &outcome.noteRettifica)
    try upsert(
      table: "posizioni_note_rettifica",
      columns: ["id", "matricola", "period", "amount_cents", "reason", "issued_on", "updated_at"],
      key: ["id"],
      rows: note.map { [$0.id, $0.matricola, $0.period, $0.amountCents, $0.reason, $0.issuedOn, now] },
      in: db)

    let piani = try accepted(
      batch.piani, field: "piano_ammortamento.matricola", matricola: \.matricola, id: \.id,
      count: &outcome.piani)
    try upsert(
      table: "posizioni_piani",
      columns: [
        "id", "matricola", "benefit", "total_cents", "description", "granted_on", "updated_at",
      ],
      key: ["id"],
      rows: piani.map {
        [$0.id, $0.matricola, $0.benefit.rawValue, $0.totalCents, $0.description, $0.grantedOn, now]
      }, in: db)
    for piano in piani {
      let stored = try PosizioniGDPStore.rate(ofPiano: piano.id, in: db)
      guard stored != piano.rate else { continue }
      try db.execute("DELETE FROM posizioni_piani_rate WHERE piano_id = ?", [piano.id])
      for rata in piano.rate {
        try db.execute(
          """
          INSERT INTO posizioni_piani_rate (piano_id, number, due_on, amount_cents, paid, paid_on)
          VALUES (?, ?, ?, ?, ?, ?)
          """,
          [piano.id, rata.number, rata.dueOn, rata.amountCents, rata.paid ? 1 : 0, rata.paidOn])
      }
    }

    let denunce = try accepted(
      batch.denunce, field: "denuncia.matricola", matricola: \.matricola, id: \.id,
      count: &outcome.denunce)
    try upsertDenunce(denunce, now: now, in: db)

    let noteDebito = try accepted(
      batch.noteDebito, field: "nota_debito.matricola", matricola: \.matricola, id: \.id,
      count: &outcome.noteDebito)
    // The contest columns are not in the list: a feed never changes them.
    try upsert(
      table: "posizioni_note_debito",
      columns: [
        "id", "matricola", "kind", "state", "period", "amount_cents", "issued_on", "due_on",
        "updated_at",
      ],
      key: ["id"],
      rows: noteDebito.map {
        [
          $0.id, $0.matricola, $0.kind.rawValue, $0.state.rawValue, $0.period, $0.amountCents,
          $0.issuedOn, $0.dueOn, now,
        ]
      }, in: db)
    for nota in noteDebito {
      let stored = try PosizioniGDPStore.periodi(ofNota: nota.id, in: db)
      guard stored != nota.periods else { continue }
      try db.execute("DELETE FROM posizioni_nota_debito_periodi WHERE nota_id = ?", [nota.id])
      for item in nota.periods {
        try db.execute(
          """
          INSERT INTO posizioni_nota_debito_periodi (nota_id, period, contribution_cents, due_on)
          VALUES (?, ?, ?, ?)
          """, [nota.id, item.period, item.contributionCents, item.dueOn])
      }
    }

    let evidenze = try accepted(
      batch.evidenze, field: "evidenza.matricola", matricola: \.matricola, id: \.id,
      count: &outcome.evidenze)
    try upsert(
      table: "posizioni_evidenze",
      columns: [
        "id", "matricola", "code", "description", "opened_on", "closed_on", "is_open",
        "updated_at",
      ],
      key: ["id"],
      rows: evidenze.map {
        [$0.id, $0.matricola, $0.code, $0.description, $0.openedOn, $0.closedOn, $0.open ? 1 : 0, now]
      }, in: db)
  }

  /// Upserts declarations with their lines and errors (children replaced when they differ).
  /// Also used for declarations compiled by hand or uploaded (their `source` says which).
  static func upsertDenunce(_ denunce: [ValidDenuncia], now: Date, in db: any WriteContext) throws {
    try upsert(
      table: "posizioni_denunce",
      columns: [
        "id", "matricola", "period", "kind", "source", "submitted_on", "lines_count",
        "total_taxable_cents", "total_contribution_cents", "errors_count", "updated_at",
      ],
      key: ["id"],
      rows: denunce.map {
        [
          $0.id, $0.matricola, $0.period, $0.kind.rawValue, $0.source.rawValue, $0.submittedOn,
          $0.linesCount, $0.totalTaxableCents, $0.totalContributionCents, Int32($0.errors.count),
          now,
        ]
      }, in: db)
    for denuncia in denunce {
      if try PosizioniGDPStore.lines(ofDenuncia: denuncia.id, in: db) != denuncia.lines {
        try db.execute("DELETE FROM posizioni_denuncia_lines WHERE denuncia_id = ?", [denuncia.id])
        for (offset, line) in denuncia.lines.enumerated() {
          try db.execute(
            """
            INSERT INTO posizioni_denuncia_lines (denuncia_id, number, employee_fiscal_code,
              fund_code, taxable_cents, contribution_cents) VALUES (?, ?, ?, ?, ?, ?)
            """,
            [
              denuncia.id, offset + 1, line.employeeFiscalCode, line.fundCode, line.taxableCents,
              line.contributionCents,
            ])
        }
      }
      if try PosizioniGDPStore.errors(ofDenuncia: denuncia.id, in: db) != denuncia.errors {
        try db.execute("DELETE FROM posizioni_denuncia_errors WHERE denuncia_id = ?", [denuncia.id])
        for (offset, error) in denuncia.errors.enumerated() {
          try db.execute(
            """
            INSERT INTO posizioni_denuncia_errors (denuncia_id, number, line, code, message)
            VALUES (?, ?, ?, ?, ?)
            """, [denuncia.id, offset + 1, error.line, error.code, error.message])
        }
      }
    }
  }
}
