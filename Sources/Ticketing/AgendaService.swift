import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

/// Appointment agenda, communications from the institute and instant feedback of
/// `cassetto.ticketing.v1.Ticketing`. Its tables use migrations 450–499 (``TicketingSchema``).
///
/// The RPCs live in extensions: `Comunicazioni.swift` (SendComunicazione, ListComunicazioni,
/// MarkComunicazioneRead), `Feedback.swift` (SubmitFeedback, GetFeedbackStats),
/// `AgendaSlots.swift` (PublishSlots, ListAvailableSlots) and `AgendaAppointments.swift`
/// (BookAppointment, CancelAppointment, ListAppointments).
///
/// Every mutation runs in one write transaction with its audit event and, with a
/// `request_id`, its idempotency record (``mutate(_:caller:requestID:_:)``). Refusals found
/// inside the transaction (a full slot, an ineligible request) are audited too: their audit
/// event commits, then the error is thrown.
public struct AgendaService: Sendable {
  let database: any Database
  let clock: any CallClock
  let authorizer: Authorizer
  let newID: @Sendable () -> String
  /// The richieste appointments are booked for (RichiesteService's tables).
  let richieste: any AgendaRichieste

  public init(
    database: any Database, clock: any CallClock, authorizer: Authorizer,
    newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }
  ) {
    self.init(
      database: database, clock: clock, authorizer: authorizer,
      richieste: AgendaRichiesteTables(), newID: newID)
  }

  init(
    database: any Database, clock: any CallClock, authorizer: Authorizer,
    richieste: any AgendaRichieste,
    newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }
  ) {
    self.database = database
    self.clock = clock
    self.authorizer = authorizer
    self.richieste = richieste
    self.newID = newID
  }

  /// The outcome of a write body: a response to commit with its audit event, a response that
  /// changed nothing (an idempotent repeat: no audit event), or a refusal whose audit event
  /// commits before the error is thrown.
  enum Outcome<Response: ProtoMessage>: Sendable {
    case done(Response, AuditEvent)
    case unchanged(Response)
    case refuse(TicketingError, AuditEvent)
  }

  /// Runs `body` in one write transaction with its audit event and idempotency record.
  func mutate<Response: ProtoMessage>(
    _ method: MethodDescriptor, caller: Caller, requestID: String,
    _ body: @escaping @Sendable (any WriteContext, Date) throws -> Outcome<Response>
  ) async throws -> Response {
    let now = clock.now()
    let actor = caller.actorID
    let result: Result<Response, TicketingError> = try await database.write { db in
      if !requestID.isEmpty,
        let first = try Idempotency.lookup(
          caller: actor, method: method.path, requestID: requestID, in: db)
      {
        return .success(try Response(serializedBytes: first))
      }
      switch try body(db, now) {
      case .done(let response, let event):
        try AuditLog.append(event, in: db)
        if !requestID.isEmpty {
          try Idempotency.store(
            caller: actor, method: method.path, requestID: requestID,
            response: response.serializedBytes(), at: now, in: db)
        }
        return .success(response)
      case .unchanged(let response):
        return .success(response)
      case .refuse(let error, let event):
        try AuditLog.append(event, in: db)
        return .failure(error)
      }
    }
    return try result.get()
  }

  func auditEvent(
    _ method: MethodDescriptor, by caller: Caller, at now: Date, subject: String,
    outcome: AuditOutcome = .success, chain: String? = nil, details: [String: String] = [:]
  ) -> AuditEvent {
    AuditEvent(
      id: newID(), time: now, actor: caller.actorID, action: method.path, subject: subject,
      delegaChain: chain, outcome: outcome, details: AuditEvent.json(details))
  }
}

/// Validation of the agenda's text fields at the boundary.
enum AgendaText {
  /// Trimmed `value`, 1…`max` characters when `required` (0…`max` otherwise), without control
  /// characters other than tab and line breaks.
  static func text(
    _ value: String, field: String, max: Int, required: Bool, into check: inout ViolationCollector
  ) -> String {
    let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.isEmpty {
      if required { check.add(field: field, "required") }
      return ""
    }
    if trimmed.count > max {
      check.add(field: field, "at most \(max) characters")
    } else if trimmed.unicodeScalars.contains(where: {
      $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" && $0 != "\r"
    }) {
      check.add(field: field, "must not contain control characters")
    }
    return trimmed
  }

  /// An idempotency key: at most 128 bytes.
  static func requestID(_ value: String, into check: inout ViolationCollector) -> String {
    if value.utf8.count > 128 { check.add(field: "request_id", "at most 128 bytes") }
    return value
  }

  /// A four-digit sede code.
  static func sedeCode(_ value: String, field: String) throws -> String {
    guard value.utf8.count == 4, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
      throw ValidationError.field(field, "a sede code is four digits")
    }
    return value
  }

  /// A matricola: 1…20 letters and digits, uppercase (as Posizioni stores it).
  static func matricola(_ value: String, field: String) throws -> String {
    let upper = value.trimmingCharacters(in: .whitespaces).uppercased()
    guard !upper.isEmpty else { throw ValidationError.field(field, "required") }
    guard upper.utf8.count <= 20,
      upper.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) })
    else { throw ValidationError.field(field, "must be 1 to 20 letters and digits") }
    return upper
  }

  /// An opaque id issued by this service (UUID text), checked for shape only.
  static func id(_ value: String, field: String) throws -> String {
    guard !value.isEmpty else { throw ValidationError.field(field, "required") }
    guard value.utf8.count <= 64 else { throw ValidationError.field(field, "not an id") }
    return value
  }
}

extension Google_Protobuf_Timestamp {
  /// The instant as a protobuf timestamp (whole microseconds, as stored).
  static func agenda(_ date: Date) -> Google_Protobuf_Timestamp {
    var timestamp = Google_Protobuf_Timestamp()
    let micros = date.microsecondsSinceEpoch
    let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
    timestamp.seconds = seconds
    timestamp.nanos = Int32((micros - seconds * 1_000_000) * 1_000)
    return timestamp
  }

  /// The instant, or a field violation for an out-of-range timestamp.
  func agendaDate(field: String) throws -> Date {
    guard nanos >= 0, nanos < 1_000_000_000, seconds >= -62_135_596_800,
      seconds <= 253_402_300_799
    else { throw ValidationError.field(field, "not a valid timestamp") }
    return Date(
      microsecondsSinceEpoch: seconds * 1_000_000 + Int64(nanos / 1_000))
  }
}

extension Cassetto_Common_V1_Sede {
  static func agenda(_ code: String) -> Cassetto_Common_V1_Sede {
    var sede = Cassetto_Common_V1_Sede()
    sede.code = code
    return sede
  }
}

/// Opaque keyset page tokens: the last row's sort key and `seq`, plus a fingerprint of the
/// filters, so a token reused with other filters is refused.
enum AgendaPageToken {
  static let defaultPageSize = 50
  static let maximumPageSize = 200

  static func pageSize(_ requested: Int32) throws -> Int {
    guard requested >= 0 else { throw ValidationError.field("page_size", "must not be negative") }
    return requested == 0 ? defaultPageSize : min(Int(requested), maximumPageSize)
  }

  static func encode(key: Int64, seq: Int64, filter: String) -> String {
    Data("\(key):\(seq):\(fingerprint(filter))".utf8).base64EncodedString()
  }

  /// The (key, seq) to continue after, `nil` for an empty token.
  static func decode(_ token: String, filter: String) throws -> (key: Int64, seq: Int64)? {
    guard !token.isEmpty else { return nil }
    guard token.utf8.count <= 120, let data = Data(base64Encoded: token) else {
      throw ValidationError.field("page_token", "not a page token from this list")
    }
    let parts = String(decoding: data, as: UTF8.self).split(separator: ":")
    guard parts.count == 3, let key = Int64(parts[0]), let seq = Int64(parts[1]) else {
      throw ValidationError.field("page_token", "not a page token from this list")
    }
    guard parts[2] == fingerprint(filter) else {
      throw ValidationError.field("page_token", "the page token was issued for other filters")
    }
    return (key, seq)
  }

  /// FNV-1a 64 of the filter text, in hex: a consistency check, not a secret.
  private static func fingerprint(_ filter: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in filter.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return String(hash, radix: 16)
  }
}
