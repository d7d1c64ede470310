import Contracts
import Foundation
import Storage

/// ``AgendaRichieste`` over RichiesteService's tables (`RichiesteSchema.swift`).
struct AgendaRichiesteTables: AgendaRichieste {
  func richiesta(id: String, in db: any ReadContext) throws -> AgendaRichiesta? {
    guard
      let row = try db.queryFirst(
        """
        SELECT id, matricola, sede_code, state, esito, opened_at, threshold_days
        FROM ticketing_richieste WHERE id = ?
        """, [id])
    else { return nil }
    return AgendaRichiesta(
      id: try row.string("id"), matricola: try row.string("matricola"),
      sedeCode: try row.string("sede_code"),
      state: .init(rawValue: Int32(try row.int64("state"))),
      esito: .init(rawValue: Int32(try row.int64("esito"))), openedAt: try row.date("opened_at"),
      answerThresholdDays: Int(try row.int64("threshold_days")))
  }

  func appendHistory(
    richiesta id: String, kind: Cassetto_Ticketing_V1_RichiestaEventKind, actor: String,
    comment: String, at now: Date, in db: any WriteContext
  ) throws {
    guard let current = try richiesta(id: id, in: db) else { return }
    try RichiesteService.appendHistory(
      id, kind: kind, actor: actor, comment: comment, internal: false, state: current.state,
      esito: current.esito, at: now, in: db)
    _ = try db.execute(
      "UPDATE ticketing_richieste SET updated_at = ? WHERE id = ?", [now, id])
    // Runs before the commit; AgendaService signals RichiesteWatchers after it commits.
  }
}
