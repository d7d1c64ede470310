import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

/// `cassetto.audit.v1.Audit` (issue 5 item 7; API.md, Audit): who read or changed what on a
/// subject's positions, through which delega chain, with which RPC — read from the
/// hash-chained audit log through `AuditLog`, selecting the events whose subject is
/// `posizione:<M>` for the positions the caller may audit:
/// - the subject's legal representative or altro responsabile: every position of the subject;
/// - an operator of a sede: the subject's positions managed by that sede.
/// Anyone else (delegates included: the log is the delegant's to see) gets `NOT_FOUND`, worded
/// like an unknown subject; a back-end gets `PERMISSION_DENIED`. Lives in Posizioni because
/// the positions of a subject and their sedi are this module's tables.
public struct AccessAuditService: Cassetto_Audit_V1_AuditHandler {
  let database: any Database
  let enablements: any EnablementDirectory

  public init(database: any Database, enablements: any EnablementDirectory) {
    self.database = database
    self.enablements = enablements
  }

  static let defaultPageSize = 50
  static let maximumPageSize = 500

  public func listAccessEvents(
    request: Cassetto_Audit_V1_ListAccessEventsRequest, context: ServerContext
  ) async throws -> Cassetto_Audit_V1_ListAccessEventsResponse {
    let caller = Caller.current
    try caller.requireAuthenticated()
    guard case .person(let person) = caller else {
      throw AccessError.permissionDenied(
        "the access audit is for the subject's legal representative and operators of the sede")
    }
    var check = ViolationCollector()
    let subjectCF = try check { () throws(FieldViolation) in
      try CodiceFiscale(request.subjectFiscalCode, field: "subject_fiscal_code").value
    }
    var matricola = ""
    if !request.matricola.isEmpty {
      matricola =
        try check { () throws(FieldViolation) in
          try PosizioniRules.matricola(request.matricola, field: "matricola")
        } ?? ""
    }
    if request.pageSize < 0 { check.add(field: "page_size", "must not be negative") }
    let pageSize =
      request.pageSize == 0
      ? Self.defaultPageSize : min(Int(request.pageSize), Self.maximumPageSize)
    let from = request.fromTime?.date
    let to = request.toTime?.date
    if let from, let to, to < from { check.add(field: "to_time", "must not precede from_time") }
    let filter =
      "audit|\(subjectCF ?? "")|\(matricola)|\(from?.microsecondsSinceEpoch ?? 0)|"
      + "\(to?.microsecondsSinceEpoch ?? 0)"
    let after = try check { () throws in try PageToken.decode(request.pageToken, filter: filter) }
    try check.throwIfAny()
    guard let subjectCF else { return .init() }

    let cf = person.codiceFiscale.value
    let notFound = AccessError.notFound("no subject \(subjectCF) whose access audit the caller may see")
    let found = try await database.read { db in
      (
        try PosizioniStore.subject(subjectCF, in: db),
        try db.query(
          "SELECT matricola, sede_code FROM posizioni_positions WHERE subject_fiscal_code = ?",
          [subjectCF]
        ).map { (try $0.string("matricola"), try $0.string("sede_code")) }
      )
    }
    guard let subject = found.0 else { throw notFound }
    var auditable: [String]
    if subject.info.isOwner(cf) {
      auditable = found.1.map(\.0)
    } else {
      let sedi = try await enablements.enablements(of: cf).operatorSedi
      auditable = found.1.filter { sedi.contains($0.1) }.map(\.0)
      if auditable.isEmpty { throw notFound }
    }
    if !matricola.isEmpty {
      guard auditable.contains(matricola) else { throw notFound }
      auditable = [matricola]
    }
    let subjects = auditable.sorted().map { "posizione:\($0)" }
    let start = after ?? 0
    let records = try await database.read { db in
      try AuditLog.records(
        after: start, subjects: subjects, from: from, to: to, limit: pageSize + 1, in: db)
    }
    var response = Cassetto_Audit_V1_ListAccessEventsResponse()
    response.events = records.prefix(pageSize).map(Self.event)
    if records.count > pageSize, let last = records.prefix(pageSize).last {
      response.nextPageToken = PageToken.encode(after: last.sequence, filter: filter)
    }
    return response
  }

  static func event(_ record: AuditRecord) -> Cassetto_Audit_V1_AccessEvent {
    var event = Cassetto_Audit_V1_AccessEvent()
    event.sequence = record.sequence
    event.time = Google_Protobuf_Timestamp(date: record.event.time)
    event.actor = record.event.actor
    event.rpc = record.event.action
    let subject = record.event.subject ?? ""
    event.matricola = subject.hasPrefix("posizione:") ? String(subject.dropFirst(10)) : ""
    if let data = record.event.details.data(using: .utf8),
      let details = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let object = details["object"] as? String
    {
      event.object = object
    }
    event.delegaChain = record.event.delegaChain ?? ""
    event.outcome =
      switch record.event.outcome {
      case .success: .success
      case .denied: .denied
      case .rejected: .rejected
      case .failed: .failed
      default: .unspecified
      }
    return event
  }
}

extension Google_Protobuf_Timestamp {
  init(date: Date) {
    self.init()
    let micros = date.microsecondsSinceEpoch
    let (seconds, remainder) = micros.quotientAndRemainder(dividingBy: 1_000_000)
    self.seconds = remainder < 0 ? seconds - 1 : seconds
    self.nanos = Int32((remainder < 0 ? remainder + 1_000_000 : remainder) * 1000)
  }

  var date: Date {
    Date(microsecondsSinceEpoch: seconds * 1_000_000 + Int64(nanos / 1000))
  }
}
