import Access
import Contracts
import Foundation
import Storage
import Validation

/// Demo subjects, positions and payments for `--dev --demo`, owned by the Identity demo
/// personas (same fiscal codes as `Identity.DemoData`): ACME Costruzioni (legal
/// representative Mario Rossi) with UniEmens positions at 7000 ROMA EUR and 7500 SIENA,
/// Trattoria Il Campo (Marco Esposito) at 7500, and two public bodies with GDP positions at
/// 7500 SIENA (Comune di Siena: legal representative Francesca Romano; Azienda USL Toscana
/// Sud Est: Francesca Romano as altro responsabile). Loaded only into empty tables.
public enum PosizioniDemoData {
  static func person(_ first15: String) -> String {
    (CodiceFiscale.checkCharacter(for: first15).map { first15 + String($0) }) ?? first15
  }

  static func numeric(_ first10: String) -> String {
    (PartitaIVA.checkDigit(for: first10).map { first10 + String($0) }) ?? first10
  }

  static let marioRossi = person("RSSMRA80A01H501")
  static let marcoEsposito = person("SPSMRC88T10F839")
  static let francescaRomano = person("RMNFNC72L48I726")

  public static let acme = numeric("0412345052")
  public static let trattoria = numeric("0198765052")
  public static let comuneSiena = numeric("0005080052")
  public static let aslToscana = numeric("0231556053")

  static func subject(
    _ cf: String, _ name: String, _ nature: Cassetto_Posizioni_V1_Nature, rep: String,
    altri: [String] = [], pec: String, sede: String
  ) -> Cassetto_Posizioni_V1_IngestRecord {
    var subject = Cassetto_Posizioni_V1_Subject()
    subject.fiscalCode = cf
    subject.name = name
    subject.nature = nature
    subject.legalRepresentative = rep
    subject.altriResponsabili = altri
    subject.pec = pec
    subject.sede = sede
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.subject = subject
    return record
  }

  static func date(_ year: Int32, _ month: Int32, _ day: Int32) -> Google_Type_Date {
    var date = Google_Type_Date()
    date.year = year
    date.month = month
    date.day = day
    return date
  }

  static func position(
    _ matricola: String, _ subject: String, _ fund: Cassetto_Common_V1_Fund, sede: String,
    _ description: String, _ state: Cassetto_Posizioni_V1_PosizioneState,
    start: Google_Type_Date, end: Google_Type_Date? = nil
  ) -> Cassetto_Posizioni_V1_IngestRecord {
    var position = Cassetto_Posizioni_V1_Posizione()
    position.matricola = matricola
    position.subjectFiscalCode = subject
    position.fund = fund
    position.sede = sede
    position.description = description
    position.state = state
    position.startDate = start
    position.endDate = end
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.posizione = position
    return record
  }

  /// The demo records, in ingest order.
  public static var records: [Cassetto_Posizioni_V1_IngestRecord] {
    var records = [
      subject(
        acme, "ACME Costruzioni S.p.A.", .private, rep: marioRossi,
        pec: "acme.costruzioni@pec.example.it", sede: "7000"),
      subject(
        trattoria, "Trattoria Il Campo S.r.l.", .private, rep: marcoEsposito,
        pec: "trattoria.ilcampo@pec.example.it", sede: "7500"),
      subject(
        comuneSiena, "Comune di Siena", .public, rep: francescaRomano,
        pec: "comune.siena@postacert.example.it", sede: "7500"),
      subject(
        aslToscana, "Azienda USL Toscana Sud Est", .public, rep: "", altri: [francescaRomano],
        pec: "ausltoscanasudest@postacert.example.it", sede: "7500"),
      position(
        "7012345601", acme, .privatiUniemens, sede: "7000", "Sede legale, Roma", .attiva,
        start: date(2015, 3, 1)),
      position(
        "7512345602", acme, .privatiUniemens, sede: "7500", "Cantiere Siena", .cessata,
        start: date(2010, 1, 1), end: date(2019, 12, 31)),
      position(
        "7598765401", trattoria, .privatiUniemens, sede: "7500", "Ristorante, Piazza del Campo",
        .attiva, start: date(2018, 6, 1)),
      position(
        "G750000101", comuneSiena, .pubbliciGdp, sede: "7500", "Personale di ruolo", .attiva,
        start: date(1996, 1, 1)),
      position(
        "G750000102", comuneSiena, .pubbliciGdp, sede: "7500", "Personale a tempo determinato",
        .sospesa, start: date(2005, 1, 1)),
      position(
        "G750000201", aslToscana, .pubbliciGdp, sede: "7500", "Dirigenza sanitaria", .attiva,
        start: date(2016, 1, 1)),
    ]
    for month in Int32(1)...12 {
      var payment = Cassetto_Posizioni_V1_Versamento()
      payment.matricola = "7012345601"
      payment.channel = .f24
      payment.reference = "F24-DEMO-2025-\(month)"
      payment.period = String(format: "2025-%02d", month)
      payment.amountCents = 1_234_567 + Int64(month) * 1_000
      payment.paidOn = date(month == 12 ? 2026 : 2025, month == 12 ? 1 : month + 1, 16)
      var record = Cassetto_Posizioni_V1_IngestRecord()
      record.versamento = payment
      records.append(record)
    }
    for month in Int32(1)...6 {
      var payment = Cassetto_Posizioni_V1_Versamento()
      payment.matricola = "G750000101"
      payment.channel = .bancaItalia
      payment.reference = "BDI-DEMO-2025-\(month)"
      payment.period = String(format: "2025-%02d", month)
      payment.amountCents = 45_600_000
      payment.paidOn = date(2025, month + 1, 16)
      var record = Cassetto_Posizioni_V1_IngestRecord()
      record.versamento = payment
      records.append(record)
    }
    return records + gdpRecords
  }

  /// GDP data of Comune di Siena's G750000101: a correction note, a TFS amortisation plan,
  /// three DMA declarations (February's with an error), an adjustment and an ECA debit note,
  /// two alerts (one open).
  static var gdpRecords: [Cassetto_Posizioni_V1_IngestRecord] {
    let matricola = "G750000101"
    var records: [Cassetto_Posizioni_V1_IngestRecord] = []
    func add(_ fill: (inout Cassetto_Posizioni_V1_IngestRecord) -> Void) {
      var record = Cassetto_Posizioni_V1_IngestRecord()
      fill(&record)
      records.append(record)
    }
    add {
      var nota = Cassetto_Posizioni_V1_NotaRettifica()
      nota.id = "NR-DEMO-2025-03"
      nota.matricola = matricola
      nota.period = "2025-03"
      nota.amountCents = 125_000
      nota.reason = "Contributi CPDEL ricalcolati sull'imponibile corretto"
      nota.issuedOn = date(2025, 6, 10)
      $0.notaRettifica = nota
    }
    add {
      var piano = Cassetto_Posizioni_V1_PianoAmmortamento()
      piano.id = "PA-DEMO-TFS-1"
      piano.matricola = matricola
      piano.benefit = .tfs
      piano.description = "Riscatto ai fini TFS"
      piano.grantedOn = date(2025, 1, 15)
      piano.totalCents = 3_000_000
      piano.rate = (Int32(1)...3).map { number in
        var rata = Cassetto_Posizioni_V1_Rata()
        rata.number = number
        rata.dueOn = date(2025, 1 + number, 28)
        rata.amountCents = 1_000_000
        rata.paid = number == 1
        if number == 1 { rata.paidOn = date(2025, 2, 20) }
        return rata
      }
      $0.pianoAmmortamento = piano
    }
    let employees = [person("BNCGNN75C12I726"), person("VRDLCU80E45I726")]
    for month in Int32(1)...3 {
      add {
        var denuncia = Cassetto_Posizioni_V1_Denuncia()
        denuncia.id = String(format: "DMA-DEMO-2025-%02d", month)
        denuncia.matricola = matricola
        denuncia.period = String(format: "2025-%02d", month)
        denuncia.kind = .dma
        denuncia.submittedOn = date(2025, month + 1, 15)
        denuncia.lines = employees.map { cf in
          var line = Cassetto_Posizioni_V1_DenunciaLine()
          line.employeeFiscalCode = cf
          line.fundCode = "CPDEL"
          line.taxableCents = 300_000
          line.contributionCents = 71_400
          return line
        }
        if month == 2 {
          var error = Cassetto_Posizioni_V1_DenunciaError()
          error.code = "E042"
          error.message = "Contributo non coerente con l'aliquota della cassa CPDEL"
          error.line = 1
          denuncia.errors = [error]
        }
        $0.denuncia = denuncia
      }
    }
    add {
      var nota = Cassetto_Posizioni_V1_NotaDebito()
      nota.id = "ND-DEMO-2025-01"
      nota.matricola = matricola
      nota.kind = .adjustment
      nota.state = .aperta
      nota.period = "2025-02"
      nota.amountCents = 150_000
      nota.issuedOn = date(2025, 9, 1)
      nota.dueOn = date(2025, 10, 1)
      $0.notaDebito = nota
    }
    add {
      var nota = Cassetto_Posizioni_V1_NotaDebito()
      nota.id = "ECA-DEMO-2024"
      nota.matricola = matricola
      nota.kind = .eca
      nota.state = .aperta
      nota.period = "2024-10"
      nota.amountCents = 6_100_000
      nota.issuedOn = date(2025, 3, 1)
      nota.dueOn = date(2025, 4, 30)
      nota.periods = [("2024-10", Int64(3_000_000)), ("2024-11", Int64(3_100_000))].map {
        var item = Cassetto_Posizioni_V1_NotaDebitoPeriodo()
        item.period = $0.0
        item.contributionCents = $0.1
        return item
      }
      $0.notaDebito = nota
    }
    add {
      var evidenza = Cassetto_Posizioni_V1_Evidenza()
      evidenza.id = "EV-DEMO-1"
      evidenza.matricola = matricola
      evidenza.code = "DMA_ERR"
      evidenza.description = "Denuncia DMA 2025-02 con errori da correggere"
      evidenza.openedOn = date(2025, 3, 20)
      evidenza.open = true
      $0.evidenza = evidenza
    }
    add {
      var evidenza = Cassetto_Posizioni_V1_Evidenza()
      evidenza.id = "EV-DEMO-2"
      evidenza.matricola = matricola
      evidenza.code = "VERS_MANC"
      evidenza.description = "Versamento di dicembre 2024 non pervenuto"
      evidenza.openedOn = date(2025, 1, 20)
      evidenza.closedOn = date(2025, 2, 5)
      evidenza.open = false
      $0.evidenza = evidenza
    }
    return records
  }
}

extension PosizioniService {
  /// Loads ``PosizioniDemoData`` unless the module holds subjects already; returns whether it
  /// did. Written like an ingest by the actor `demo`.
  @discardableResult
  public func loadDemoDataIfEmpty() async throws -> Bool {
    let count = try await database.read { db in
      try db.queryFirst("SELECT COUNT(*) AS n FROM posizioni_subjects")?.int64("n") ?? 0
    }
    guard count == 0 else { return false }
    var batch = IngestBatch()
    for (offset, record) in PosizioniDemoData.records.enumerated() {
      let index = Int64(offset)
      try batch.add(record, index: index)
    }
    let outcome = try await write(
      batch, knownSubjects: [], knownPositions: [],
      caller: .service(ServiceIdentity(name: "demo", permissions: [.posizioniIngest])))
    return outcome.refused.isEmpty
  }
}
