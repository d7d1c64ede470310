import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

private typealias M = Cassetto_Ticketing_V1_Ticketing.Method

// Communications from the institute to a position (DOMAIN.md: "comunicazioni irregolarità,
// da leggere / lette"; Messaggio 6838).
//
// - Send: an operator of the position's sede, or a back-end whose configuration grants
//   `ticketing.send-comunicazione` (any position). Others who may see the position:
//   PERMISSION_DENIED; a position the caller may not see: NOT_FOUND.
// - List: whoever may see the position (the one rule), newest first, with the unread count.
// - Mark read: a person who may see the position other than as an operator of its sede (the
//   company side reads; the office does not mark its own message read). The first reader and
//   instant are kept; marking again returns the message unchanged.
extension AgendaService {
  static let comunicazioneTitleLimit = 200
  static let comunicazioneBodyLimit = 20_000

  func sendComunicazione(
    request: Cassetto_Ticketing_V1_SendComunicazioneRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    let caller = Caller.current
    var check = ViolationCollector()
    let requestID = AgendaText.requestID(request.requestId, into: &check)
    var parsedMatricola = ""
    do { parsedMatricola = try AgendaText.matricola(request.matricola, field: "matricola") } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    switch request.kind {
    case .irregolarita, .avviso, .esito: break
    default: check.add(field: "kind", "one of IRREGOLARITA, AVVISO, ESITO")
    }
    let title = AgendaText.text(
      request.title, field: "title", max: Self.comunicazioneTitleLimit, required: true,
      into: &check)
    let body = AgendaText.text(
      request.body, field: "body", max: Self.comunicazioneBodyLimit, required: true, into: &check)
    try check.throwIfAny()
    let matricola = parsedMatricola

    let position: PositionInfo
    let sender: String
    let chain: String
    switch caller {
    case .anonymous:
      throw AccessError.unauthenticated("sign in: this method requires a caller")
    case .service(let service):
      guard service.has(.ticketingSendComunicazione) else {
        throw AccessError.permissionDenied(
          "the caller is not granted \(Permission.ticketingSendComunicazione)")
      }
      position = try await self.position(matricola).0
      sender = service.name
      chain = "service:\(Permission.ticketingSendComunicazione)"
    case .person(let person):
      position = try await visiblePosition(matricola).position
      guard try await isOperator(of: position.sedeCode) else {
        throw AccessError.permissionDenied(
          "only operators of the position's sede send comunicazioni")
      }
      sender = person.codiceFiscale.value
      chain = "sede:\(position.sedeCode)"
    }
    let id = newID()
    let kind = request.kind
    return try await mutate(M.sendComunicazione, caller: caller, requestID: requestID) {
      db, now in
      try db.execute(
        """
        INSERT INTO ticketing_comunicazioni (id, matricola, sede_code, kind, title, body, sender,
          sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [id, matricola, position.sedeCode, Int64(kind.rawValue), title, body, sender, now])
      guard let row = try Self.comunicazioneRow(id: id, in: db) else {
        throw StorageError.corrupt("comunicazione vanished after it was written")
      }
      return .done(
        try Self.comunicazione(row),
        auditEvent(
          M.sendComunicazione, by: caller, at: now, subject: "posizione:\(matricola)",
          chain: chain, details: ["comunicazione": id, "kind": "\(kind)"]))
    }
  }

  func listComunicazioni(
    request: Cassetto_Ticketing_V1_ListComunicazioniRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_ListComunicazioniResponse {
    try Caller.current.requireAuthenticated()
    let matricola = try AgendaText.matricola(request.matricola, field: "matricola")
    let filter: String
    switch request.filter {
    case .unspecified: filter = ""
    case .unread: filter = " AND read_at IS NULL"
    case .read: filter = " AND read_at IS NOT NULL"
    default: throw ValidationError.field("filter", "one of READ_FILTER_UNREAD, READ_FILTER_READ")
    }
    let size = try AgendaPageToken.pageSize(request.pageSize)
    let fingerprint = "comunicazioni|\(matricola)|\(request.filter.rawValue)"
    let after = try AgendaPageToken.decode(request.pageToken, filter: fingerprint)
    _ = try await visiblePosition(matricola)
    return try await database.read { db in
      var sql = "SELECT * FROM ticketing_comunicazioni WHERE matricola = ?" + filter
      var arguments: [any SQLConvertible] = [matricola]
      if let after {
        sql += " AND seq < ?"
        arguments.append(after.seq)
      }
      sql += " ORDER BY seq DESC LIMIT ?"
      arguments.append(size + 1)
      let rows = try db.query(sql, arguments)
      var response = Cassetto_Ticketing_V1_ListComunicazioniResponse()
      response.comunicazioni = try rows.prefix(size).map(Self.comunicazione)
      if rows.count > size, let last = rows.prefix(size).last {
        response.nextPageToken = AgendaPageToken.encode(
          key: 0, seq: try last.int64("seq"), filter: fingerprint)
      }
      let unread = try db.queryFirst(
        "SELECT COUNT(*) AS n FROM ticketing_comunicazioni WHERE matricola = ? AND read_at IS NULL",
        [matricola])
      response.unreadCount = Int32(clamping: try unread?.int64("n") ?? 0)
      return response
    }
  }

  func markComunicazioneRead(
    request: Cassetto_Ticketing_V1_MarkComunicazioneReadRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    let id = try AgendaText.id(request.id, field: "id")
    guard let row = try await database.read({ db in try Self.comunicazioneRow(id: id, in: db) })
    else { throw AccessError.notFound("no such comunicazione") }
    let matricola = try row.string("matricola")
    guard let position = try await authorizer.positions.position(matricola: matricola),
      let subject = try await authorizer.positions.subject(fiscalCode: position.subjectFiscalCode)
    else { throw AccessError.notFound("no such comunicazione") }
    let decision = try await authorizer.decide(
      person: cf, function: .readPosition, position: position, subject: subject, at: clock.now())
    guard decision.allowed else { throw AccessError.notFound("no such comunicazione") }
    if decision.chain == [.sedeOperator(position.sedeCode)] {
      throw AccessError.permissionDenied(
        "the institute's operators do not mark a company's comunicazioni read")
    }
    let chain = decision.chain.auditText
    return try await mutate(M.markComunicazioneRead, caller: caller, requestID: "") { db, now in
      let changed = try db.execute(
        """
        UPDATE ticketing_comunicazioni SET read_at = ?, read_by = ?
        WHERE id = ? AND read_at IS NULL
        """, [now, cf, id])
      guard let updated = try Self.comunicazioneRow(id: id, in: db) else {
        throw StorageError.corrupt("comunicazione vanished after it was written")
      }
      let message = try Self.comunicazione(updated)
      guard changed == 1 else { return .unchanged(message) }
      return .done(
        message,
        auditEvent(
          M.markComunicazioneRead, by: caller, at: now, subject: "posizione:\(matricola)",
          chain: chain, details: ["comunicazione": id]))
    }
  }

  static func comunicazioneRow(id: String, in db: any ReadContext) throws -> Row? {
    try db.queryFirst("SELECT * FROM ticketing_comunicazioni WHERE id = ?", [id])
  }

  static func comunicazione(_ row: Row) throws -> Cassetto_Ticketing_V1_Comunicazione {
    var message = Cassetto_Ticketing_V1_Comunicazione()
    message.id = try row.string("id")
    message.matricola = try row.string("matricola")
    message.kind = .init(rawValue: Int32(clamping: try row.int64("kind")))
    message.title = try row.string("title")
    message.body = try row.string("body")
    message.sender = try row.string("sender")
    message.sentAt = .agenda(try row.date("sent_at"))
    if let readAt = try row.optionalDate("read_at") {
      message.read = true
      message.readAt = .agenda(readAt)
      message.readBy = try row.string("read_by")
    }
    return message
  }
}
