import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

/// Records of one ingest transaction, with their indexes in the stream.
struct IngestBatch: Sendable {
  var subjects: [(index: Int64, record: ValidSubject)] = []
  var positions: [(index: Int64, record: ValidPosition)] = []
  var versamenti: [(index: Int64, record: ValidVersamento)] = []
  var noteRettifica: [(index: Int64, record: ValidNotaRettifica)] = []
  var piani: [(index: Int64, record: ValidPiano)] = []
  var denunce: [(index: Int64, record: ValidDenuncia)] = []
  var noteDebito: [(index: Int64, record: ValidNotaDebito)] = []
  var evidenze: [(index: Int64, record: ValidEvidenza)] = []

  var count: Int {
    subjects.count + positions.count + versamenti.count + noteRettifica.count + piani.count
      + denunce.count + noteDebito.count + evidenze.count
  }

  /// Validates `message` and adds it; `ValidationError` naming every bad field otherwise.
  mutating func add(_ message: Cassetto_Posizioni_V1_IngestRecord, index: Int64) throws {
    switch message.record {
    case .subject(let record): subjects.append((index, try PosizioniRules.subject(record)))
    case .posizione(let record): positions.append((index, try PosizioniRules.position(record)))
    case .versamento(let record):
      versamenti.append((index, try PosizioniRules.versamento(record)))
    case .notaRettifica(let record):
      noteRettifica.append((index, try PosizioniRules.notaRettifica(record)))
    case .pianoAmmortamento(let record): piani.append((index, try PosizioniRules.piano(record)))
    case .denuncia(let record): denunce.append((index, try PosizioniRules.denuncia(record)))
    case .notaDebito(let record):
      noteDebito.append((index, try PosizioniRules.notaDebito(record)))
    case .evidenza(let record): evidenze.append((index, try PosizioniRules.evidenza(record)))
    case nil:
      throw ValidationError.field(
        "record",
        "required: one of subject, posizione, versamento, nota_rettifica, "
          + "piano_ammortamento, denuncia, nota_debito, evidenza")
    }
  }

  /// The smallest stream index in the batch (for the audit event).
  var firstIndex: Int64 {
    [
      subjects.first?.index, positions.first?.index, versamenti.first?.index,
      noteRettifica.first?.index, piani.first?.index, denunce.first?.index,
      noteDebito.first?.index, evidenze.first?.index,
    ].compactMap { $0 }.min() ?? 0
  }
}

/// What one ingest transaction did.
struct IngestOutcome: Sendable {
  var subjects: Int64 = 0
  var positions: Int64 = 0
  var versamenti: Int64 = 0
  var noteRettifica: Int64 = 0
  var piani: Int64 = 0
  var denunce: Int64 = 0
  var noteDebito: Int64 = 0
  var evidenze: Int64 = 0
  var accepted: Int64 {
    subjects + positions + versamenti + noteRettifica + piani + denunce + noteDebito + evidenze
  }
  var refused: [(index: Int64, field: String, message: String)] = []
  /// Matricole and subjects found or written, for the next batches' reference checks.
  var knownPositions: [String] = []
  var knownSubjects: [String] = []
}

extension PosizioniService {
  /// At most this many per-record errors are returned; the counts stay exact.
  static let maximumRecordErrors = 1000
  /// Natural keys remembered across batches of one stream (references checked without a read).
  static let maximumRememberedKeys = 200_000

  /// Back-end feed (permission `posizioni.ingest`): subjects, positions and payments, one
  /// record per message. Idempotent by natural key (subject: fiscal code; position: matricola;
  /// payment: channel + reference): a record already stored is updated, or left alone when
  /// nothing changed. Each record is validated on its own; a refused record (bad field, a
  /// position whose subject is unknown, a payment whose position is unknown) is answered by
  /// index, field and message and the good ones are kept. Records are written in batches of
  /// `ingestBatchSize` (20,000 by default), each one write transaction with multi-row upserts
  /// and one audit event.
  public func ingest(
    requests: RequestStream<Cassetto_Posizioni_V1_IngestRecord>, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_IngestSummary {
    let caller = Caller.current
    _ = try caller.requireService(granting: .posizioniIngest)
    var summary = Cassetto_Posizioni_V1_IngestSummary()
    var batch = IngestBatch()
    var knownSubjects = Set<String>()
    var knownPositions = Set<String>()
    var refused: [(index: Int64, field: String, message: String)] = []

    // One batch is written while the next one is read from the stream: at most one write in
    // flight, awaited before the next starts (writes are serialised anyway), so a batch's
    // reference checks see every earlier batch committed.
    var pending: Task<IngestOutcome, any Error>? = nil

    func absorb(_ outcome: IngestOutcome) {
      summary.subjects += outcome.subjects
      summary.posizioni += outcome.positions
      summary.versamenti += outcome.versamenti
      summary.noteRettifica += outcome.noteRettifica
      summary.pianiAmmortamento += outcome.piani
      summary.denunce += outcome.denunce
      summary.noteDebito += outcome.noteDebito
      summary.evidenze += outcome.evidenze
      summary.accepted += outcome.accepted
      summary.rejected += Int64(Set(outcome.refused.map(\.index)).count)
      refused.append(contentsOf: outcome.refused)
      if knownSubjects.count < Self.maximumRememberedKeys {
        knownSubjects.formUnion(outcome.knownSubjects)
      }
      if knownPositions.count < Self.maximumRememberedKeys {
        knownPositions.formUnion(outcome.knownPositions)
      }
    }

    func flush() async throws {
      if let previous = pending {
        pending = nil
        absorb(try await previous.value)
      }
      guard batch.count > 0 else { return }
      let records = batch
      let subjects = knownSubjects
      let positions = knownPositions
      batch = IngestBatch()
      pending = Task {
        try await write(records, knownSubjects: subjects, knownPositions: positions, caller: caller)
      }
    }

    do {
      for try await message in requests {
        let index = summary.received
        summary.received += 1
        do {
          try batch.add(message, index: index)
        } catch let error as ValidationError {
          summary.rejected += 1
          for violation in error.violations {
            refused.append((index, violation.field, violation.description))
          }
        }
        if batch.count >= ingestBatchSize { try await flush() }
      }
      try await flush()
      try await flush()
    } catch {
      // A batch already sent to the writer commits or fails on its own; wait for it.
      _ = try? await pending?.value
      throw error
    }
    refused.sort { $0.index < $1.index }
    summary.errors = refused.prefix(Self.maximumRecordErrors).map {
      var error = Cassetto_Posizioni_V1_RecordError()
      error.index = $0.index
      error.field = $0.field
      error.message = $0.message
      return error
    }
    return summary
  }

  /// One transaction: subjects, then positions (their subject must exist), then payments
  /// (their position must exist), then the audit event.
  func write(
    _ batch: IngestBatch, knownSubjects: Set<String>, knownPositions: Set<String>, caller: Caller
  ) async throws -> IngestOutcome {
    let now = clock.now()
    let eventID = newID()
    return try await database.write { db in
      var outcome = IngestOutcome()
      // Subjects: the last record of a key wins.
      var subjects: [String: ValidSubject] = [:]
      var subjectOrder: [String] = []
      for (_, subject) in batch.subjects {
        if subjects.updateValue(subject, forKey: subject.fiscalCode) == nil {
          subjectOrder.append(subject.fiscalCode)
        }
      }
      try Self.upsert(
        table: "posizioni_subjects",
        columns: [
          "fiscal_code", "name", "name_folded", "nature", "legal_representative", "pec",
          "sede_code", "updated_at",
        ],
        key: ["fiscal_code"],
        rows: subjectOrder.compactMap { subjects[$0] }.map {
          [
            $0.fiscalCode, $0.name, PosizioniRules.fold($0.name), $0.nature.rawValue,
            $0.legalRepresentative, $0.pec, $0.sede, now,
          ]
        }, in: db)
      for cf in subjectOrder {
        guard let subject = subjects[cf] else { continue }
        let stored = try PosizioniStore.altriResponsabili(of: cf, in: db)
        if stored == subject.altriResponsabili.sorted() { continue }
        try db.execute(
          "DELETE FROM posizioni_subject_responsabili WHERE subject_fiscal_code = ?", [cf])
        for person in subject.altriResponsabili {
          try db.execute(
            """
            INSERT INTO posizioni_subject_responsabili (subject_fiscal_code, fiscal_code)
            VALUES (?, ?)
            """, [cf, person])
        }
      }
      outcome.subjects = Int64(batch.subjects.count)
      outcome.knownSubjects = subjectOrder

      // Positions whose subject exists.
      var subjectExists: [String: Bool] = [:]
      for cf in subjectOrder { subjectExists[cf] = true }
      var positions: [String: ValidPosition] = [:]
      var positionOrder: [String] = []
      for (index, position) in batch.positions {
        let exists: Bool
        if let known = subjectExists[position.subject] {
          exists = known
        } else if knownSubjects.contains(position.subject) {
          exists = true
        } else {
          exists =
            try db.queryFirst(
              "SELECT 1 AS found FROM posizioni_subjects WHERE fiscal_code = ?",
              [position.subject]) != nil
          subjectExists[position.subject] = exists
        }
        guard exists else {
          outcome.refused.append(
            (
              index, "posizione.subject_fiscal_code",
              "unknown subject \(position.subject): send its subject record first"
            ))
          continue
        }
        outcome.positions += 1
        if positions.updateValue(position, forKey: position.matricola) == nil {
          positionOrder.append(position.matricola)
        }
      }
      try Self.upsert(
        table: "posizioni_positions",
        columns: [
          "matricola", "subject_fiscal_code", "fund", "sede_code", "description", "state",
          "start_date", "end_date", "updated_at",
        ],
        key: ["matricola"],
        rows: positionOrder.compactMap { positions[$0] }.map {
          [
            $0.matricola, $0.subject, $0.fund.rawValue, $0.sede, $0.description,
            $0.state.rawValue, $0.startDate, $0.endDate, now,
          ]
        }, in: db)
      outcome.knownPositions = positionOrder

      // Payments whose position exists.
      var positionExists: [String: Bool] = [:]
      for matricola in positionOrder { positionExists[matricola] = true }
      struct PaymentKey: Hashable {
        var channel: Int32
        var reference: String
      }
      var versamenti: [PaymentKey: ValidVersamento] = [:]
      var versamentoOrder: [PaymentKey] = []
      for (index, versamento) in batch.versamenti {
        let exists: Bool
        if let known = positionExists[versamento.matricola] {
          exists = known
        } else if knownPositions.contains(versamento.matricola) {
          exists = true
        } else {
          exists =
            try db.queryFirst(
              "SELECT 1 AS found FROM posizioni_positions WHERE matricola = ?",
              [versamento.matricola]) != nil
          positionExists[versamento.matricola] = exists
          if exists { outcome.knownPositions.append(versamento.matricola) }
        }
        guard exists else {
          outcome.refused.append(
            (
              index, "versamento.matricola",
              "unknown position \(versamento.matricola): send its posizione record first"
            ))
          continue
        }
        outcome.versamenti += 1
        let key = PaymentKey(channel: versamento.channel.rawValue, reference: versamento.reference)
        if versamenti.updateValue(versamento, forKey: key) == nil { versamentoOrder.append(key) }
      }
      try Self.upsert(
        table: "posizioni_versamenti",
        columns: ["channel", "reference", "matricola", "period", "amount_cents", "paid_on"],
        key: ["channel", "reference"],
        rows: versamentoOrder.compactMap { versamenti[$0] }.map {
          [$0.channel.rawValue, $0.reference, $0.matricola, $0.period, $0.amountCents, $0.paidOn]
        }, in: db)

      // GDP records (notes, plans, declarations, debit notes, alerts) whose position exists.
      try Self.writeGDP(
        batch, now: now, outcome: &outcome,
        positionExists: { matricola in
          if let known = positionExists[matricola] { return known }
          if knownPositions.contains(matricola) { return true }
          let exists =
            try db.queryFirst(
              "SELECT 1 AS found FROM posizioni_positions WHERE matricola = ?", [matricola]) != nil
          positionExists[matricola] = exists
          return exists
        }, in: db)

      try AuditLog.append(
        AuditEvent(
          id: eventID, time: now, actor: caller.actorID, action: Method.ingest.path,
          subject: "posizioni:ingest", outcome: .success,
          details: AuditEvent.json([
            "subjects": String(outcome.subjects), "posizioni": String(outcome.positions),
            "versamenti": String(outcome.versamenti), "note_rettifica": String(outcome.noteRettifica),
            "piani_ammortamento": String(outcome.piani), "denunce": String(outcome.denunce),
            "note_debito": String(outcome.noteDebito), "evidenze": String(outcome.evidenze),
            "refused": String(outcome.refused.count), "first_index": String(batch.firstIndex),
          ])), in: db)
      return outcome
    }
  }

  /// Multi-row `INSERT … ON CONFLICT (key) DO UPDATE` that rewrites a stored row only when a
  /// value differs. Rows go in statements of 128, 64, …, 1 rows, so at most eight distinct
  /// statements per table reach the prepared-statement cache. `rows` must not repeat a key
  /// (PostgreSQL refuses to update one row twice in a statement).
  static func upsert(
    table: String, columns: [String], key: [String], rows: [[any SQLConvertible]],
    in db: any WriteContext
  ) throws {
    guard !rows.isEmpty else { return }
    let updated = columns.filter { !key.contains($0) }
    let set = updated.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
    let differs = updated.filter { $0 != "updated_at" }
      .map { "\(table).\($0) <> excluded.\($0)" }.joined(separator: " OR ")
    let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
    var offset = 0
    var chunk = 128
    while offset < rows.count {
      while chunk > rows.count - offset { chunk /= 2 }
      let sql = """
        INSERT INTO \(table) (\(columns.joined(separator: ", ")))
        VALUES \(Array(repeating: tuple, count: chunk).joined(separator: ", "))
        ON CONFLICT (\(key.joined(separator: ", "))) DO UPDATE SET \(set) WHERE \(differs)
        """
      var arguments: [any SQLConvertible] = []
      arguments.reserveCapacity(chunk * columns.count)
      for row in rows[offset..<(offset + chunk)] { arguments.append(contentsOf: row) }
      try db.execute(sql, arguments)
      offset += chunk
    }
  }
}
