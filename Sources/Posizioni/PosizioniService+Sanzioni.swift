import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

/// `ComputeSanzioniECA`: the civil penalties on an ECA debit note the caller may see, for a
/// payment date, itemised per period (``SanzioniCivili``). Audited as a read of the note's
/// position. Not an ECA note → `FAILED_PRECONDITION`; unknown or invisible → `NOT_FOUND`.
extension PosizioniService {
  public func computeSanzioniECA(
    request: Cassetto_Posizioni_V1_ComputeSanzioniECARequest, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_SanzioniECA {
    let caller = Caller.current
    try caller.requireAuthenticated()
    var check = ViolationCollector()
    if request.notaId.isEmpty || request.notaId.utf8.count > 64 {
      check.add(field: "nota_id", "required, at most 64 bytes")
    }
    var paid: CalendarDate? = nil
    if let date = request.paymentDate {
      paid = try check {
        try CalendarDate(
          year: Int(date.year), month: Int(date.month), day: Int(date.day), field: "payment_date")
      }
    } else {
      check.add(field: "payment_date", "required")
    }
    try check.throwIfAny()
    guard let paid else { throw ValidationError.field("payment_date", "required") }
    let id = request.notaId
    let found = try await database.read { db -> (String, Int64, String, [ValidNotaDebitoPeriodo])? in
      guard
        let row = try db.queryFirst(
          "SELECT matricola, kind, due_on FROM posizioni_note_debito WHERE id = ?", [id])
      else { return nil }
      return (
        try row.string("matricola"), try row.int64("kind"), try row.string("due_on"),
        try PosizioniGDPStore.periodi(ofNota: id, in: db)
      )
    }
    guard let (matricola, kind, noteDue, periods) = found else {
      throw AccessError.notFound("no debit note \(id) visible to the caller")
    }
    _ = try await visiblePosition(
      matricola, caller: caller, action: Method.computeSanzioniECA, object: "nota_debito:\(id)")
    guard kind == Int64(Cassetto_Posizioni_V1_NotaDebitoKind.eca.rawValue) else {
      throw RPCError(.failedPrecondition, "civil penalties are computed on ECA debit notes only")
    }
    var response = Cassetto_Posizioni_V1_SanzioniECA()
    response.notaId = id
    for period in periods {
      // A period without its own due date is due with the note.
      guard let due = try? CalendarDate(parsing: period.dueOn.isEmpty ? noteDue : period.dueOn)
      else { continue }
      let item = sanzioni.penalty(
        contributionCents: period.contributionCents, due: due, paid: paid,
        evasion: request.evasione)
      var line = Cassetto_Posizioni_V1_SanzionePeriodo()
      line.period = period.period
      line.contributionCents = period.contributionCents
      line.daysLate = Int32(item.daysLate)
      line.rateBasisPoints = Int32(item.rateBasisPoints)
      line.penaltyCents = item.penaltyCents
      line.capped = item.capped
      response.periods.append(line)
      response.totalCents += item.penaltyCents
    }
    return response
  }
}
