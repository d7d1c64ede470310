import Access
import Contracts
import Foundation
import RPC
import Storage
import Testing
import Validation

@testable import Posizioni

/// Records of the GDP kinds for position `matricola`.
enum GDPRecords {
  static func notaRettifica(_ id: String, _ matricola: String, cents: Int64 = -5_000)
    -> Cassetto_Posizioni_V1_IngestRecord
  {
    var nota = Cassetto_Posizioni_V1_NotaRettifica()
    nota.id = id
    nota.matricola = matricola
    nota.period = "2025-04"
    nota.amountCents = cents
    nota.reason = "Rettifica"
    nota.issuedOn = date(2025, 7, 1)
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.notaRettifica = nota
    return record
  }

  static func piano(_ id: String, _ matricola: String, amounts: [Int64] = [500, 500])
    -> Cassetto_Posizioni_V1_IngestRecord
  {
    var piano = Cassetto_Posizioni_V1_PianoAmmortamento()
    piano.id = id
    piano.matricola = matricola
    piano.benefit = .pensione
    piano.totalCents = amounts.reduce(0, +)
    piano.rate = amounts.enumerated().map { offset, amount in
      var rata = Cassetto_Posizioni_V1_Rata()
      rata.number = Int32(offset + 1)
      rata.dueOn = date(2026, Int32(offset + 1), 28)
      rata.amountCents = amount
      return rata
    }
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.pianoAmmortamento = piano
    return record
  }

  static func denuncia(
    _ id: String, _ matricola: String, period: String = "2025-05", errors: [String] = []
  ) -> Cassetto_Posizioni_V1_IngestRecord {
    var denuncia = Cassetto_Posizioni_V1_Denuncia()
    denuncia.id = id
    denuncia.matricola = matricola
    denuncia.period = period
    denuncia.kind = .dma
    denuncia.submittedOn = date(2025, 6, 16)
    var line = Cassetto_Posizioni_V1_DenunciaLine()
    line.employeeFiscalCode = marioRossi
    line.fundCode = "cpdel"
    line.taxableCents = 100_000
    line.contributionCents = 23_800
    denuncia.lines = [line]
    denuncia.errors = errors.map {
      var error = Cassetto_Posizioni_V1_DenunciaError()
      error.code = $0
      error.message = "Errore \($0)"
      error.line = 1
      return error
    }
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.denuncia = denuncia
    return record
  }

  static func notaDebito(
    _ id: String, _ matricola: String, kind: Cassetto_Posizioni_V1_NotaDebitoKind = .eca,
    state: Cassetto_Posizioni_V1_NotaDebitoState = .aperta, period: String = "2025-01",
    cents: Int64 = 70_000
  ) -> Cassetto_Posizioni_V1_IngestRecord {
    var nota = Cassetto_Posizioni_V1_NotaDebito()
    nota.id = id
    nota.matricola = matricola
    nota.kind = kind
    nota.state = state
    nota.period = period
    nota.amountCents = cents
    nota.issuedOn = date(2025, 8, 1)
    nota.dueOn = date(2025, 9, 1)
    if kind == .eca {
      var item = Cassetto_Posizioni_V1_NotaDebitoPeriodo()
      item.period = period
      item.contributionCents = cents
      nota.periods = [item]
    }
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.notaDebito = nota
    return record
  }

  static func evidenza(_ id: String, _ matricola: String, open: Bool = true)
    -> Cassetto_Posizioni_V1_IngestRecord
  {
    var evidenza = Cassetto_Posizioni_V1_Evidenza()
    evidenza.id = id
    evidenza.matricola = matricola
    evidenza.code = "dma_err"
    evidenza.description = "Denuncia con errori"
    evidenza.openedOn = date(2025, 6, 20)
    evidenza.open = open
    if !open { evidenza.closedOn = date(2025, 7, 1) }
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.evidenza = evidenza
    return record
  }
}

@Suite struct GDPIngestTests {
  func ingest(_ service: PosizioniService, _ records: [Cassetto_Posizioni_V1_IngestRecord])
    async throws -> Cassetto_Posizioni_V1_IngestSummary
  {
    try await Caller.$current.withValue(ingestor) {
      try await service.ingest(requests: stream(records), context: context(Method.ingest))
    }
  }

  func count(_ table: String, _ database: SQLiteDatabase) async throws -> Int64 {
    try await database.read { db in
      try db.queryFirst("SELECT COUNT(*) AS n FROM \(table)")?.int64("n") ?? -1
    }
  }

  @Test func demoDataHoldsEveryKind() async throws {
    try await withPosizioni { _, database in
      for (table, expected) in [
        ("posizioni_note_rettifica", 1), ("posizioni_piani", 1), ("posizioni_piani_rate", 3),
        ("posizioni_denunce", 3), ("posizioni_denuncia_lines", 6), ("posizioni_denuncia_errors", 1),
        ("posizioni_note_debito", 2), ("posizioni_nota_debito_periodi", 2),
        ("posizioni_evidenze", 2),
      ] as [(String, Int64)] {
        let stored = try await count(table, database)
        #expect(stored == expected, "\(table)")
      }
    }
  }

  @Test func everyKindIsValidatedOnItsOwnAndNeedsItsPosition() async throws {
    try await withPosizioni { service, database in
      var badPiano = GDPRecords.piano("P-2", "G750000101")
      badPiano.pianoAmmortamento.totalCents = 999  // not the instalments' sum
      var badRate = GDPRecords.piano("P-3", "G750000101")
      badRate.pianoAmmortamento.rate[1].number = 1  // repeats instalment 1
      var badDenuncia = GDPRecords.denuncia("D-2", "G750000101")
      badDenuncia.denuncia.lines[0].employeeFiscalCode = "RSSMRA80A01H501X"
      badDenuncia.denuncia.errors = [Cassetto_Posizioni_V1_DenunciaError()]
      var badNota = GDPRecords.notaDebito("N-2", "G750000101")
      badNota.notaDebito.periods = []  // an ECA note without periods
      badNota.notaDebito.dueOn = date(2025, 1, 1)  // before issued_on
      var badEvidenza = GDPRecords.evidenza("E-2", "G750000101")
      badEvidenza.evidenza.closedOn = date(2025, 7, 1)  // open with a closing date
      var badRettifica = GDPRecords.notaRettifica("R 2", "G750000101", cents: 0)
      badRettifica.notaRettifica.period = "2025-13"
      let records = [
        GDPRecords.notaRettifica("R-1", "G750000101"),  // 0 ok
        badRettifica,  // 1
        GDPRecords.piano("P-1", "G750000101"),  // 2 ok
        badPiano,  // 3
        badRate,  // 4
        GDPRecords.denuncia("D-1", "G750000101", errors: ["E1"]),  // 5 ok
        badDenuncia,  // 6
        GDPRecords.notaDebito("N-1", "G750000101"),  // 7 ok
        badNota,  // 8
        GDPRecords.evidenza("E-1", "G750000101"),  // 9 ok
        badEvidenza,  // 10
        GDPRecords.evidenza("E-3", "G799999999"),  // 11 unknown position
        GDPRecords.notaDebito("N-3", "G799999999"),  // 12 unknown position
      ]
      let summary = try await ingest(service, records)
      #expect((summary.received, summary.accepted, summary.rejected) == (13, 5, 8))
      #expect(
        [
          summary.noteRettifica, summary.pianiAmmortamento, summary.denunce, summary.noteDebito,
          summary.evidenze,
        ] == [1, 1, 1, 1, 1])
      #expect(
        summary.errors.map { "\($0.index):\($0.field)" } == [
          "1:nota_rettifica.id", "1:nota_rettifica.period", "1:nota_rettifica.amount_cents",
          "3:piano_ammortamento.total_cents", "4:piano_ammortamento.rate[1].number",
          "6:denuncia.lines[0].employee_fiscal_code", "6:denuncia.errors[0].code",
          "6:denuncia.errors[0].message", "8:nota_debito.due_on", "8:nota_debito.periods",
          "10:evidenza.closed_on", "11:evidenza.matricola", "12:nota_debito.matricola",
        ])
      let stored = try await database.read { db in
        (
          try db.queryFirst(
            "SELECT errors_count, lines_count, total_contribution_cents FROM posizioni_denunce WHERE id = 'D-1'"),
          try db.queryFirst("SELECT code FROM posizioni_evidenze WHERE id = 'E-1'")
        )
      }
      #expect(try stored.0?.int64("errors_count") == 1)
      #expect(try stored.0?.int64("total_contribution_cents") == 23_800)
      #expect(try stored.1?.string("code") == "DMA_ERR")
      #expect(try await count("posizioni_evidenze", database) == 3)
    }
  }

  @Test func replayChangesNothingAndUpdatesReplaceChildren() async throws {
    try await withPosizioni(demo: false) { service, database in
      let company = numericCF("0005080052")
      let base = [
        subjectRecord(company, "Comune", rep: francescaRomano),
        positionRecord("G1", company, sede: "7500"),
        GDPRecords.piano("P-1", "G1", amounts: [100, 200, 300]),
        GDPRecords.denuncia("D-1", "G1", errors: ["E1", "E2"]),
        GDPRecords.notaDebito("N-1", "G1"),
        GDPRecords.evidenza("E-1", "G1"),
        GDPRecords.notaRettifica("R-1", "G1"),
      ]
      #expect(try await ingest(service, base).accepted == 7)
      // A contest recorded on the note survives any feed.
      try await database.write { db in
        try db.execute(
          """
          UPDATE posizioni_note_debito SET contested_at = 5, contest_reason = 'no'
          WHERE id = 'N-1'
          """)
      }
      func snapshot() async throws -> [String] {
        try await database.read { db in
          var rows: [String] = []
          for table in [
            "posizioni_piani", "posizioni_piani_rate", "posizioni_denunce",
            "posizioni_denuncia_errors", "posizioni_denuncia_lines", "posizioni_note_debito",
            "posizioni_nota_debito_periodi", "posizioni_evidenze", "posizioni_note_rettifica",
          ] {
            for row in try db.query("SELECT * FROM \(table)") { rows.append("\(table) \(row)") }
          }
          return rows.sorted()
        }
      }
      let before = try await snapshot()
      #expect(try await ingest(service, base).accepted == 7)
      #expect(try await snapshot() == before)
      // Updates by natural key: fewer instalments, no errors left, state paid, closed alert.
      let updated = [
        GDPRecords.piano("P-1", "G1", amounts: [600]),
        GDPRecords.denuncia("D-1", "G1"),
        GDPRecords.notaDebito("N-1", "G1", state: .pagata),
        GDPRecords.evidenza("E-1", "G1", open: false),
      ]
      #expect(try await ingest(service, updated).accepted == 4)
      let after = try await database.read { db in
        (
          try db.queryFirst("SELECT COUNT(*) AS n FROM posizioni_piani_rate")?.int64("n"),
          try db.queryFirst("SELECT COUNT(*) AS n FROM posizioni_denuncia_errors")?.int64("n"),
          try db.queryFirst("SELECT errors_count FROM posizioni_denunce")?.int64("errors_count"),
          try db.queryFirst("SELECT state, contested_at, contest_reason FROM posizioni_note_debito"),
          try db.queryFirst("SELECT is_open, closed_on FROM posizioni_evidenze")
        )
      }
      #expect(after.0 == 1)
      #expect(after.1 == 0)
      #expect(after.2 == 0)
      #expect(try after.3?.int64("state") == 2)
      #expect(try after.3?.int64("contested_at") == 5)
      #expect(try after.3?.string("contest_reason") == "no")
      #expect(try after.4?.int64("is_open") == 0)
      #expect(try after.4?.string("closed_on") == "2025-07-01")
      #expect(try await AuditLog.verify(database).isIntact)
    }
  }
}
