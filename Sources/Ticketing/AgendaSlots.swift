import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

private typealias M = Cassetto_Ticketing_V1_Ticketing.Method

// Agenda slots (Agenda appuntamenti): operators publish them for their sede; requesters see
// the free ones of their request's sede, operators those of a sede they work for.
extension AgendaService {
  static let slotsPerPublish = 200
  static let slotLengthMinutes = 5...480
  static let slotCapacity = 1...100
  /// How far ahead a slot may start.
  static let slotHorizon: TimeInterval = 400 * 86_400

  func publishSlots(
    request: Cassetto_Ticketing_V1_PublishSlotsRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_PublishSlotsResponse {
    let caller = Caller.current
    var check = ViolationCollector()
    let requestID = AgendaText.requestID(request.requestId, into: &check)
    let now = clock.now()
    if request.slots.isEmpty {
      check.add(field: "slots", "at least one slot")
    } else if request.slots.count > Self.slotsPerPublish {
      check.add(field: "slots", "at most \(Self.slotsPerPublish) slots per call")
    }
    var specs: [(start: Date, length: Int32, channel: Cassetto_Ticketing_V1_Channel, capacity: Int32)] = []
    for (index, spec) in request.slots.prefix(Self.slotsPerPublish).enumerated() {
      let field = "slots[\(index)]"
      var start: Date?
      if let timestamp = spec.start {
        do {
          let date = try timestamp.agendaDate(field: "\(field).start")
          if date <= now {
            check.add(field: "\(field).start", "must be in the future")
          } else if date > now.addingTimeInterval(Self.slotHorizon) {
            check.add(field: "\(field).start", "at most 400 days ahead")
          } else {
            start = date
          }
        } catch {
          (error as? ValidationError)?.violations.forEach { check.add($0) }
        }
      } else {
        check.add(field: "\(field).start", "required")
      }
      if !Self.slotLengthMinutes.contains(Int(spec.lengthMinutes)) {
        check.add(field: "\(field).length_minutes", "from 5 to 480 minutes")
      }
      switch spec.channel {
      case .sportello, .telefono, .video: break
      default:
        check.add(field: "\(field).channel", "one of CHANNEL_SPORTELLO, CHANNEL_TELEFONO, CHANNEL_VIDEO")
      }
      if !Self.slotCapacity.contains(Int(spec.capacity)) {
        check.add(field: "\(field).capacity", "from 1 to 100")
      }
      if let start { specs.append((start, spec.lengthMinutes, spec.channel, spec.capacity)) }
    }
    try check.throwIfAny()
    let sede = try await operatorSede(request.sedeCode)
    let publisher = try caller.requirePerson().codiceFiscale.value
    let ids = specs.map { _ in newID() }
    let slots = specs
    return try await mutate(M.publishSlots, caller: caller, requestID: requestID) { db, now in
      var response = Cassetto_Ticketing_V1_PublishSlotsResponse()
      for (id, spec) in zip(ids, slots) {
        try db.execute(
          """
          INSERT INTO ticketing_slots (id, sede_code, start_at, length_minutes, channel, capacity,
            published_by, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          """,
          [
            id, sede, spec.start, Int64(spec.length), Int64(spec.channel.rawValue),
            Int64(spec.capacity), publisher, now,
          ])
        guard let row = try Self.slotRow(id: id, in: db) else {
          throw StorageError.corrupt("slot vanished after it was written")
        }
        response.slots.append(try Self.slot(row))
      }
      return .done(
        response,
        auditEvent(
          M.publishSlots, by: caller, at: now, subject: "sede:\(sede)",
          details: ["slots": "\(ids.count)", "first_slot": ids.first ?? ""]))
    }
  }

  func listAvailableSlots(
    request: Cassetto_Ticketing_V1_ListAvailableSlotsRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_ListAvailableSlotsResponse {
    try Caller.current.requireAuthenticated()
    var check = ViolationCollector()
    if !request.richiestaId.isEmpty && !request.sedeCode.isEmpty {
      check.add(field: "sede_code", "give richiesta_id or sede_code, not both")
    }
    var parsedFrom: Date?
    var parsedTo: Date?
    do { parsedFrom = try request.from.map { try $0.agendaDate(field: "from") } } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    do { parsedTo = try request.to.map { try $0.agendaDate(field: "to") } } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    if let parsedFrom, let parsedTo, parsedTo <= parsedFrom {
      check.add(field: "to", "must be after from")
    }
    switch request.channel {
    case .unspecified, .sportello, .telefono, .video: break
    default: check.add(field: "channel", "unknown channel")
    }
    var parsedSize = AgendaPageToken.defaultPageSize
    do { parsedSize = try AgendaPageToken.pageSize(request.pageSize) } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    try check.throwIfAny()
    let sede: String
    if request.richiestaId.isEmpty {
      sede = try await operatorSede(request.sedeCode)
    } else {
      sede = try await visibleRichiesta(request.richiestaId).sedeCode
    }
    let channel = request.channel.rawValue
    let (from, to, size) = (parsedFrom, parsedTo, parsedSize)
    let fingerprint =
      "slots|\(sede)|\(from?.microsecondsSinceEpoch ?? 0)|\(to?.microsecondsSinceEpoch ?? 0)|\(channel)"
    let after = try AgendaPageToken.decode(request.pageToken, filter: fingerprint)
    let now = clock.now()
    return try await database.read { db in
      var sql = """
        SELECT * FROM ticketing_slots
        WHERE sede_code = ? AND start_at > ? AND booked < capacity
        """
      var arguments: [any SQLConvertible] = [sede, now]
      if let from {
        sql += " AND start_at >= ?"
        arguments.append(from)
      }
      if let to {
        sql += " AND start_at < ?"
        arguments.append(to)
      }
      if channel != 0 {
        sql += " AND channel = ?"
        arguments.append(Int64(channel))
      }
      if let after {
        sql += " AND (start_at > ? OR (start_at = ? AND seq > ?))"
        arguments += [after.key, after.key, after.seq]
      }
      sql += " ORDER BY start_at, seq LIMIT ?"
      arguments.append(size + 1)
      let rows = try db.query(sql, arguments)
      var response = Cassetto_Ticketing_V1_ListAvailableSlotsResponse()
      response.slots = try rows.prefix(size).map(Self.slot)
      if rows.count > size, let last = rows.prefix(size).last {
        response.nextPageToken = AgendaPageToken.encode(
          key: try last.int64("start_at"), seq: try last.int64("seq"), filter: fingerprint)
      }
      return response
    }
  }

  static func slotRow(id: String, in db: any ReadContext) throws -> Row? {
    try db.queryFirst("SELECT * FROM ticketing_slots WHERE id = ?", [id])
  }

  static func slot(_ row: Row) throws -> Cassetto_Ticketing_V1_Slot {
    var slot = Cassetto_Ticketing_V1_Slot()
    slot.id = try row.string("id")
    slot.sede = .agenda(try row.string("sede_code"))
    slot.start = .agenda(try row.date("start_at"))
    slot.lengthMinutes = Int32(clamping: try row.int64("length_minutes"))
    slot.channel = .init(rawValue: Int32(clamping: try row.int64("channel")))
    slot.capacity = Int32(clamping: try row.int64("capacity"))
    slot.booked = Int32(clamping: try row.int64("booked"))
    return slot
  }
}
