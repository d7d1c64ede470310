import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

extension IdentityService {
  /// Records are written in transactions of this many (each with its audit events).
  static let feedBatchSize = 100
  /// At most this many per-record errors are returned; the counts stay exact.
  static let maximumRecordErrors = 1000

  /// Back-end feed (permission `identity.import-legacy-abilitazioni`): enablements held before
  /// the cut-over are kept without a new request (Circ. 34/2023: "non dovranno ripetere le
  /// operazioni di accreditamento"). Idempotent by `legacy_id`: a record imported before is
  /// accepted and changes nothing. Invalid records are refused one by one, by index.
  public func importLegacyAbilitazioni(
    requests: RequestStream<Cassetto_Identity_V1_LegacyAbilitazione>, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_ImportSummary {
    let caller = Caller.current
    _ = try caller.requireService(granting: .importLegacyAbilitazioni)
    var summary = Cassetto_Identity_V1_ImportSummary()
    var batch: [ValidLegacyAbilitazione] = []
    for try await record in requests {
      let index = summary.received
      summary.received += 1
      do {
        batch.append(try AbilitazioneRules.validate(legacy: record, cutover: cutover))
      } catch let error as ValidationError {
        summary.rejected += 1
        Self.record(error, at: index, in: &summary)
      }
      if batch.count >= Self.feedBatchSize {
        try await importLegacy(batch, caller: caller)
        summary.accepted += Int64(batch.count)
        batch.removeAll()
      }
    }
    if !batch.isEmpty {
      try await importLegacy(batch, caller: caller)
      summary.accepted += Int64(batch.count)
    }
    return summary
  }

  private func importLegacy(_ batch: [ValidLegacyAbilitazione], caller: Caller) async throws {
    let now = clock.now()
    let ids = batch.map { _ in newID() }
    let events = batch.map { _ in newID() }
    try await database.write { db in
      for (offset, record) in batch.enumerated() {
        let known = try db.queryFirst(
          "SELECT id FROM identity_abilitazioni WHERE legacy_id = ?", [record.legacyID])
        if known != nil { continue }
        let grantedAt = Self.noonInRome(record.grantedOn)
        let form: Cassetto_Identity_V1_Form = record.form
        let inserted = try IdentityStore.insertAbilitazione(
          id: ids[offset], holder: record.holder.value, form: form, scopes: record.scopes,
          services: record.ra012Services, sede: record.sede.value, employer: record.employer.value,
          grantedAt: grantedAt, legacyID: record.legacyID, sourceRequestID: "", in: db)
        try AuditLog.append(
          AuditEvent(
            id: events[offset], time: now, actor: caller.actorID,
            action: Method.importLegacyAbilitazioni.path, subject: "abilitazione:" + inserted.id,
            outcome: .success,
            details: AuditEvent.json([
              "legacy_id": record.legacyID, "holder": record.holder.value,
              "granted_on": record.grantedOn.description,
            ])), in: db)
      }
    }
  }

  /// Back-end feed (permission `identity.upsert-albo-registrations`): the professional
  /// registers (labour consultants, accountants, lawyers; L. 12/1979 art. 1) that make a person
  /// an intermediary. Upsert by (person, register, ordine); a `LAPSED` entry removes the power
  /// to act as intermediary on that register. Records that change nothing write nothing.
  public func upsertAlboRegistrations(
    requests: RequestStream<Cassetto_Identity_V1_AlboRegistration>, context: ServerContext
  ) async throws -> Cassetto_Identity_V1_ImportSummary {
    let caller = Caller.current
    _ = try caller.requireService(granting: .upsertAlboRegistrations)
    var summary = Cassetto_Identity_V1_ImportSummary()
    var batch: [ValidAlboRegistration] = []
    for try await record in requests {
      let index = summary.received
      summary.received += 1
      do {
        batch.append(try AbilitazioneRules.validate(albo: record))
      } catch let error as ValidationError {
        summary.rejected += 1
        Self.record(error, at: index, in: &summary)
      }
      if batch.count >= Self.feedBatchSize {
        try await upsertAlbo(batch, caller: caller)
        summary.accepted += Int64(batch.count)
        batch.removeAll()
      }
    }
    if !batch.isEmpty {
      try await upsertAlbo(batch, caller: caller)
      summary.accepted += Int64(batch.count)
    }
    return summary
  }

  private func upsertAlbo(_ batch: [ValidAlboRegistration], caller: Caller) async throws {
    let now = clock.now()
    let events = batch.map { _ in newID() }
    try await database.write { db in
      for (offset, record) in batch.enumerated() {
        let cf = record.person.value
        let registeredOn = record.registeredOn?.description ?? ""
        let values: [any SQLConvertible] = [
          record.registrationNumber, record.state.rawValue, registeredOn, record.givenName,
          record.familyName,
        ]
        let existing = try db.queryFirst(
          """
          SELECT registration_number, state, registered_on, given_name, family_name
          FROM identity_albo_registrations WHERE fiscal_code = ? AND albo = ? AND ordine = ?
          """, [cf, record.albo.rawValue, record.ordine])
        if let existing {
          if existing.values == values.map(\.sqlValue) { continue }
          try db.execute(
            """
            UPDATE identity_albo_registrations SET registration_number = ?, state = ?,
              registered_on = ?, given_name = ?, family_name = ?, updated_at = ?
            WHERE fiscal_code = ? AND albo = ? AND ordine = ?
            """, values + [now, cf, record.albo.rawValue, record.ordine])
        } else {
          try db.execute(
            """
            INSERT INTO identity_albo_registrations (registration_number, state, registered_on,
              given_name, family_name, updated_at, fiscal_code, albo, ordine)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, values + [now, cf, record.albo.rawValue, record.ordine])
        }
        try AuditLog.append(
          AuditEvent(
            id: events[offset], time: now, actor: caller.actorID,
            action: Method.upsertAlboRegistrations.path, subject: "person:" + cf,
            outcome: .success,
            details: AuditEvent.json([
              "albo": String(record.albo.rawValue), "ordine": record.ordine,
              "state": record.state == .active ? "active" : "lapsed",
            ])), in: db)
      }
    }
  }

  private static func record(
    _ error: ValidationError, at index: Int64, in summary: inout Cassetto_Identity_V1_ImportSummary
  ) {
    for violation in error.violations where summary.errors.count < maximumRecordErrors {
      var recordError = Cassetto_Identity_V1_RecordError()
      recordError.index = index
      recordError.field = violation.field
      recordError.message = violation.description
      summary.errors.append(recordError)
    }
  }

  /// A legacy grant date as an instant: noon in Rome that day (the old system kept dates).
  static func noonInRome(_ date: CalendarDate) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = institutionTimeZone
    let components = DateComponents(year: date.year, month: date.month, day: date.day, hour: 12)
    return calendar.date(from: components) ?? Date(timeIntervalSince1970: 0)
  }
}

/// Start-up data: the first IDM managers from configuration, sede names.
public enum IdentityBootstrap {
  /// Bootstraps the first gestore IDM of each sede from configuration: for every sede that has
  /// no active IDM manager, makes each configured `(codice fiscale, sede)` of that sede one.
  /// A sede that already has one is left alone, so the IDM managers' own decisions (a
  /// revocation through `RevokeOperatorRole`) are not undone at the next start. Audited as
  /// actor `configuration`. Returns how many roles were granted.
  @discardableResult
  public static func ensureIDMManagers(
    _ managers: [(person: CodiceFiscale, sede: SedeCode)], in database: any Database, now: Date
  ) async throws -> Int {
    let pairs = managers.map { ($0.person.value, $0.sede.value) }
    return try await database.write { db in
      var granted = 0
      var unmanaged: Set<String> = []
      for sede in Set(pairs.map(\.1)) {
        let managers = try db.queryFirst(
          """
          SELECT COUNT(*) AS n FROM identity_operator_roles WHERE sede_code = ? AND role = ?
            AND active = 1
          """, [sede, Cassetto_Identity_V1_Role.idmManager.rawValue])
        if try managers?.int64("n") ?? 0 == 0 { unmanaged.insert(sede) }
      }
      for (person, sede) in pairs where unmanaged.contains(sede) {
        if try IdentityStore.holds(person, .idmManager, at: sede, in: db) { continue }
        _ = try IdentityStore.grant(
          person, .idmManager, at: sede, by: "configuration", now: now, in: db)
        try AuditLog.append(
          AuditEvent(
            time: now, actor: "configuration", action: "identity.BootstrapIDMManager",
            subject: "person:" + person, outcome: .success,
            details: AuditEvent.json(["sede": sede])), in: db)
        granted += 1
      }
      return granted
    }
  }
}
