import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

private typealias M = Cassetto_Ticketing_V1_Ticketing.Method

// Instant feedback on the digital services (Circolare 34: "Sistema di Instant Feedback").
//
// - Submit: any signed-in person; `service` names one of Cassetto's services as
//   `<module>` or one of its RPCs as `<module>.<Method>` (e.g. `posizioni.ListVersamenti`),
//   checked against the contracts compiled into this server; rating 1–5; an optional comment
//   of at most 1,000 characters. One feedback per caller per `interaction_id`: a second one is
//   ALREADY_EXISTS (and audited as rejected).
// - Stats: operators of any sede; per rated service: count, mean ×100 (rounded half up),
//   distribution over 1…5, how many carry a comment; optional service and [from, to) filters.
extension AgendaService {
  static let feedbackCommentLimit = 1_000

  /// The services feedback may name: each Cassetto service as `<module>` and each of its RPCs
  /// as `<module>.<Method>`, read from the generated descriptors.
  static let feedbackServices: Set<String> = {
    let services: [(String, ProtoFileDescriptor)] = [
      (Cassetto_Identity_V1_Identity.name, ProtoFile_cassetto_identity_v1_identity.descriptor),
      (Cassetto_Posizioni_V1_Posizioni.name, ProtoFile_cassetto_posizioni_v1_posizioni.descriptor),
      (Cassetto_Deleghe_V1_Deleghe.name, ProtoFile_cassetto_deleghe_v1_deleghe.descriptor),
      (Cassetto_Ticketing_V1_Ticketing.name, ProtoFile_cassetto_ticketing_v1_ticketing.descriptor),
    ]
    var names = Set<String>()
    for (service, file) in services {
      let parts = service.split(separator: ".")
      guard parts.count >= 2 else { continue }
      let module = String(parts[1])
      names.insert(module)
      let prefix = service + "."
      for symbol in file.symbols where symbol.hasPrefix(prefix) {
        let method = symbol.dropFirst(prefix.count)
        if !method.contains(".") { names.insert(module + "." + method) }
      }
    }
    return names
  }()

  static func feedbackService(_ value: String, field: String = "service") throws -> String {
    guard !value.isEmpty else { throw ValidationError.field(field, "required") }
    guard feedbackServices.contains(value) else {
      throw ValidationError.field(
        field, "not a Cassetto service: use <module> or <module>.<Method>, e.g. posizioni.ListVersamenti")
    }
    return value
  }

  func submitFeedback(
    request: Cassetto_Ticketing_V1_SubmitFeedbackRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Feedback {
    let caller = Caller.current
    let cf = try caller.requirePerson().codiceFiscale.value
    var check = ViolationCollector()
    var parsedService = ""
    do { parsedService = try Self.feedbackService(request.service) } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    let interaction = request.interactionId
    if interaction.isEmpty {
      check.add(field: "interaction_id", "required")
    } else if interaction.utf8.count > 128
      || interaction.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F })
    {
      check.add(field: "interaction_id", "1 to 128 bytes without spaces or control characters")
    }
    if !(1...5).contains(request.rating) { check.add(field: "rating", "from 1 to 5") }
    let comment = AgendaText.text(
      request.comment, field: "comment", max: Self.feedbackCommentLimit, required: false,
      into: &check)
    try check.throwIfAny()
    let service = parsedService
    let id = newID()
    let rating = request.rating
    do {
      return try await mutate(M.submitFeedback, caller: caller, requestID: "") { db, now in
        let details = [
          "service": service, "interaction_id": interaction, "rating": "\(rating)",
          "with_comment": comment.isEmpty ? "false" : "true",
        ]
        if try db.queryFirst(
          "SELECT id FROM ticketing_feedback WHERE caller = ? AND interaction_id = ?",
          [cf, interaction]) != nil
        {
          return .refuse(
            .alreadyExists("you already gave feedback on interaction \(interaction)"),
            auditEvent(
              M.submitFeedback, by: caller, at: now, subject: "feedback:\(service)",
              outcome: .rejected, details: details))
        }
        try db.execute(
          """
          INSERT INTO ticketing_feedback (id, caller, service, interaction_id, rating, comment,
            submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?)
          """, [id, cf, service, interaction, Int64(rating), comment, now])
        var feedback = Cassetto_Ticketing_V1_Feedback()
        feedback.id = id
        feedback.service = service
        feedback.interactionId = interaction
        feedback.rating = rating
        feedback.comment = comment
        feedback.submittedAt = .agenda(Date(microsecondsSinceEpoch: now.microsecondsSinceEpoch))
        return .done(
          feedback,
          auditEvent(
            M.submitFeedback, by: caller, at: now, subject: "feedback:\(service)",
            details: details))
      }
    } catch StorageError.constraintViolation {
      // A concurrent first submission on another replica won the unique key.
      throw TicketingError.alreadyExists("you already gave feedback on interaction \(interaction)")
    }
  }

  func getFeedbackStats(
    request: Cassetto_Ticketing_V1_GetFeedbackStatsRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_FeedbackStats {
    let cf = try Caller.current.requirePerson().codiceFiscale.value
    var check = ViolationCollector()
    var parsedService = ""
    if !request.service.isEmpty {
      do { parsedService = try Self.feedbackService(request.service) } catch {
        (error as? ValidationError)?.violations.forEach { check.add($0) }
      }
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
    try check.throwIfAny()
    let (service, from, to) = (parsedService, parsedFrom, parsedTo)
    guard try await !authorizer.enablements.enablements(of: cf).operatorSedi.isEmpty else {
      throw AccessError.permissionDenied("only the institute's operators read feedback statistics")
    }
    let rows = try await database.read { db in
      var sql = """
        SELECT service, rating, COUNT(*) AS n,
          SUM(CASE WHEN comment <> '' THEN 1 ELSE 0 END) AS commented
        FROM ticketing_feedback WHERE 1 = 1
        """
      var arguments: [any SQLConvertible] = []
      if !service.isEmpty {
        sql += " AND service = ?"
        arguments.append(service)
      }
      if let from {
        sql += " AND submitted_at >= ?"
        arguments.append(from)
      }
      if let to {
        sql += " AND submitted_at < ?"
        arguments.append(to)
      }
      sql += " GROUP BY service, rating ORDER BY service, rating"
      return try db.query(sql, arguments)
    }
    var stats: [String: Cassetto_Ticketing_V1_ServiceFeedbackStats] = [:]
    var sums: [String: Int64] = [:]
    for row in rows {
      let name = try row.string("service")
      let rating = try row.int64("rating")
      let count = try row.int64("n")
      var entry =
        stats[name]
        ?? {
          var s = Cassetto_Ticketing_V1_ServiceFeedbackStats()
          s.service = name
          s.distribution = [0, 0, 0, 0, 0]
          return s
        }()
      if (1...5).contains(rating) { entry.distribution[Int(rating) - 1] += count }
      entry.count += count
      entry.withComment += try row.int64("commented")
      sums[name, default: 0] += rating * count
      stats[name] = entry
    }
    var response = Cassetto_Ticketing_V1_FeedbackStats()
    response.services = stats.keys.sorted().compactMap { name in
      guard var entry = stats[name], entry.count > 0 else { return nil }
      let sum = sums[name, default: 0]
      // Mean × 100, rounded half up.
      entry.averageRatingCenti = Int32(clamping: (sum * 200 + entry.count) / (2 * entry.count))
      return entry
    }
    return response
  }
}
