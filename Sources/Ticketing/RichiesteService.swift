import Access
import Contracts
import Foundation
import RPC
import Security
import Storage
import Validation

private typealias M = Cassetto_Ticketing_V1_Ticketing.Method
typealias RichiestaMessage = Cassetto_Ticketing_V1_Richiesta

/// Subject tree, richieste (requester side) and quesiti (back office), watch, attachments
/// and notices of `cassetto.ticketing.v1.Ticketing` (DOMAIN.md, Two-way communication;
/// Circolare 34 §3.1). Its tables use migrations 400–449 (`RichiesteSchema.swift`).
///
/// Who may do what:
/// - create: a person who may see the position (the one rule), on a fund with a subject tree;
/// - read, watch, download: whoever may see the position, and the operators of the sede the
///   richiesta is routed to (they also see internal comments); everyone else `NOT_FOUND`;
/// - back office (take in charge, comment, reassign, close, the queue): operators of the
///   richiesta's current sede; other callers `NOT_FOUND` (the queue: `PERMISSION_DENIED`).
///
/// States: APERTA → IN_CARICO (take in charge) → CHIUSA (close, with esito); comments and
/// reassignments while not CHIUSA; anything else is `FAILED_PRECONDITION`. Every change is a
/// history row (who, when, what), an audit event and, for registration and closure, notices
/// by e-mail / SMS as consented, all in one write transaction.
public struct RichiesteService: Sendable {
  let database: any Database
  let clock: any CallClock
  let authorizer: Authorizer
  let catalogue: SubjectCatalogue
  let newID: @Sendable () -> String

  static let maxAttachments = 3
  /// 3 MB per file (Messaggio 6838), read as 3 MiB (DOMAIN.md, design choice).
  static let maxAttachmentBytes = 3 * 1024 * 1024
  static let textLimit = 4000
  static let commentLimit = 4000
  static let chunkSize = 64 * 1024
  /// Every column but the attachments' zip (read only by DownloadAllegati).
  static let columns = """
    seq, id, protocol_number, matricola, subject_fiscal_code, subject_code, threshold_days, text,
    email, mobile, landline, fax, consent_email, consent_sms, attachments, state, esito,
    sede_code, requester, assigned_operator, opened_at, updated_at, closed_at
    """

  public init(
    database: any Database, clock: any CallClock, authorizer: Authorizer,
    catalogue: SubjectCatalogue = SubjectCatalogue(),
    newID: @escaping @Sendable () -> String = { UUID().uuidString.lowercased() }
  ) {
    self.database = database
    self.clock = clock
    self.authorizer = authorizer
    self.catalogue = catalogue
    self.newID = newID
  }

  var watchers: RichiesteWatchers { RichiesteWatchers.shared }

  // MARK: Subject tree

  func listSubjects(
    request: Cassetto_Ticketing_V1_ListSubjectsRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_ListSubjectsResponse {
    try Caller.current.requireAuthenticated()
    guard let fund = Self.fund(request.fund) else {
      throw ValidationError.field("fund", "one of the FUND_ values")
    }
    var response = Cassetto_Ticketing_V1_ListSubjectsResponse()
    response.classes = catalogue.tree(fund)
    return response
  }

  static func fund(_ fund: Cassetto_Common_V1_Fund) -> Fund? {
    switch fund {
    case .privatiUniemens: .privatiUniEmens
    case .pubbliciGdp: .pubbliciGDP
    case .gestioneSeparata: .gestioneSeparata
    case .agricoli: .agricoli
    default: nil
    }
  }

  // MARK: Create

  func createRichiesta(
    requests: RequestStream<Cassetto_Ticketing_V1_CreateRichiestaRequest>, context: ServerContext
  ) async throws -> RichiestaMessage {
    let caller = Caller.current
    let person = try caller.requirePerson()
    var iterator = requests.makeAsyncIterator()
    guard let first = try await iterator.next(), case .header(let header)? = first.part else {
      throw ValidationError.field("header", "the first message must carry the header")
    }
    let fields = try validate(header)
    let (position, subject, decision) = try await visiblePosition(fields.matricola)
    guard catalogue.accepts(position.fund) else {
      throw TicketingError.failedPrecondition(
        "two-way communication is not available for the fund of this position")
    }
    guard let topic = catalogue.subject(fields.subjectCode, fund: position.fund) else {
      throw ValidationError.field("subject_code", "not a subject of this position's fund")
    }
    // The attachments: counted as they arrive, refused before they pile up past the limits.
    var files = fields.attachments.map { (name: $0.name, declared: $0.size, data: [UInt8]()) }
    while let part = try await iterator.next() {
      guard case .chunk(let chunk)? = part.part else {
        throw ValidationError.field("header", "only the first message carries the header")
      }
      let index = Int(chunk.index)
      guard index >= 0, index < files.count else {
        if index >= Self.maxAttachments {
          throw TicketingError.resourceExhausted(
            "at most \(Self.maxAttachments) attachments (chunk for attachment \(index))")
        }
        throw ValidationError.field("chunk.index", "no attachment \(index) in the header")
      }
      let total = files[index].data.count + chunk.data.count
      guard total <= Self.maxAttachmentBytes else {
        throw TicketingError.resourceExhausted(
          "attachments[\(index)] is larger than \(Self.maxAttachmentBytes) bytes")
      }
      guard total <= files[index].declared else {
        throw ValidationError.field(
          "attachments[\(index)].size", "more bytes arrived than the declared size")
      }
      files[index].data += chunk.data
    }
    var check = ViolationCollector()
    var stored: [Cassetto_Ticketing_V1_Attachment] = []
    for (index, file) in files.enumerated() {
      if file.data.count != file.declared {
        check.add(
          field: "attachments[\(index)].size",
          "declared \(file.declared) bytes, received \(file.data.count)")
        continue
      }
      guard let type = AttachmentType.detect(file.data[...]) else {
        check.add(
          field: "attachments[\(index)]",
          "content is not one of PDF, JPEG, PNG, TIFF or a signed P7M file")
        continue
      }
      var attachment = Cassetto_Ticketing_V1_Attachment()
      attachment.fileName = file.name
      attachment.size = Int64(file.data.count)
      attachment.contentType = type
      attachment.sha256 = Digest.sha256(file.data).map { String(format: "%02x", $0) }.joined()
      stored.append(attachment)
    }
    try check.throwIfAny()
    let now = clock.now()
    let zip: [UInt8]? =
      files.isEmpty ? nil : RichiesteZip.archive(files.map { ($0.name, $0.data) }, at: now)
    let attachmentsJSON = try Self.encodeAttachments(stored)
    let storedCount = stored.count
    let id = newID()
    let requester = person.codiceFiscale.value
    let created = try await mutate(M.createRichiesta, caller: caller, requestID: fields.requestID) {
      db, now in
      let protocolNumber = try Self.nextProtocolNumber(sede: position.sedeCode, at: now, in: db)
      let contacts = fields.contacts
      _ = try db.execute(
        """
        INSERT INTO ticketing_richieste (id, protocol_number, matricola, subject_fiscal_code,
          subject_code, threshold_days, text, email, mobile, landline, fax, consent_email,
          consent_sms, attachments, zip, state, esito, sede_code, requester, opened_at,
          updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)
        """,
        [
          id, protocolNumber, position.matricola, subject.fiscalCode, topic.code,
          Int64(topic.thresholdDays), fields.text, contacts.email, contacts.mobile,
          contacts.landline, contacts.fax, contacts.consentEmail, contacts.consentSms,
          attachmentsJSON, zip, Int64(Cassetto_Ticketing_V1_RichiestaState.aperta.rawValue),
          position.sedeCode, requester, now, now,
        ])
      try Self.appendHistory(
        id, kind: .created, actor: requester, comment: "", internal: false, state: .aperta,
        esito: .unspecified, toSede: position.sedeCode, at: now, in: db)
      try Self.enqueueNotices(
        contacts: contacts,
        subject: "Richiesta \(protocolNumber) protocollata",
        body: "La richiesta \(protocolNumber) sulla posizione \(position.matricola) "
          + "(\(topic.title)) è stata protocollata e inviata alla sede \(position.sedeCode).",
        at: now, in: db)
      return .done(
        try Self.load(id, operatorView: false, now: now, in: db),
        auditEvent(
          M.createRichiesta, by: caller, at: now, matricola: position.matricola,
          chain: decision.chain, details: ["richiesta": id, "attachments": "\(storedCount)"]))
    }
    watchers.changed(created.id)
    return created
  }

  struct HeaderFields {
    var requestID: String
    var matricola: String
    var subjectCode: String
    var text: String
    var contacts: Cassetto_Ticketing_V1_RichiestaContacts
    var attachments: [(name: String, size: Int)]
  }

  /// Every field of the header, with all violations at once; limits on the announced
  /// attachments are `RESOURCE_EXHAUSTED` before any byte of them is read.
  func validate(_ header: Cassetto_Ticketing_V1_CreateRichiestaHeader) throws -> HeaderFields {
    if header.attachments.count > Self.maxAttachments {
      throw TicketingError.resourceExhausted(
        "at most \(Self.maxAttachments) attachments, \(header.attachments.count) announced")
    }
    for (index, attachment) in header.attachments.enumerated()
    where attachment.size > Int64(Self.maxAttachmentBytes) {
      throw TicketingError.resourceExhausted(
        "attachments[\(index)] is larger than \(Self.maxAttachmentBytes) bytes")
    }
    var check = ViolationCollector()
    let requestID = AgendaText.requestID(header.requestId, into: &check)
    var matricola = ""
    do { matricola = try AgendaText.matricola(header.matricola, field: "matricola") } catch {
      (error as? ValidationError)?.violations.forEach { check.add($0) }
    }
    if header.subjectCode.isEmpty { check.add(field: "subject_code", "required") }
    let text = AgendaText.text(
      header.text, field: "text", max: Self.textLimit, required: true, into: &check)
    var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
    let given = header.contacts ?? .init()
    if !given.email.isEmpty {
      contacts.email = try check { try EmailAddress(given.email, field: "contacts.email").value } ?? ""
    }
    if !given.mobile.isEmpty {
      contacts.mobile = try check { try PhoneNumber(given.mobile, field: "contacts.mobile").value } ?? ""
    }
    if !given.landline.isEmpty {
      contacts.landline =
        try check { try PhoneNumber(given.landline, field: "contacts.landline").value } ?? ""
    }
    if !given.fax.isEmpty {
      contacts.fax = try check { try PhoneNumber(given.fax, field: "contacts.fax").value } ?? ""
    }
    if given.email.isEmpty && given.mobile.isEmpty {
      check.add(field: "contacts", "at least one of e-mail and mobile is required")
    }
    if given.consentEmail && given.email.isEmpty {
      check.add(field: "contacts.consent_email", "needs an e-mail address")
    }
    if given.consentSms && given.mobile.isEmpty {
      check.add(field: "contacts.consent_sms", "needs a mobile number")
    }
    contacts.consentEmail = given.consentEmail
    contacts.consentSms = given.consentSms
    var attachments: [(name: String, size: Int)] = []
    for (index, attachment) in header.attachments.enumerated() {
      let name = attachment.fileName.trimmingCharacters(in: .whitespaces)
      if name.isEmpty || name.count > 200 || name.contains("/") || name.contains("\\")
        || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
      {
        check.add(
          field: "attachments[\(index)].file_name",
          "1 to 200 characters, no path separators or control characters")
      }
      if attachment.size <= 0 { check.add(field: "attachments[\(index)].size", "must be positive") }
      attachments.append((name: name, size: Int(attachment.size)))
    }
    try check.throwIfAny()
    return HeaderFields(
      requestID: requestID, matricola: matricola, subjectCode: header.subjectCode, text: text,
      contacts: contacts, attachments: attachments)
  }

  static func nextProtocolNumber(sede: String, at now: Date, in db: any WriteContext) throws
    -> String
  {
    let year = Int64(CalendarDate.of(now).year)
    let updated = try db.execute(
      "UPDATE ticketing_protocol_counters SET last = last + 1 WHERE sede_code = ? AND year = ?",
      [sede, year])
    if updated == 0 {
      _ = try db.execute(
        "INSERT INTO ticketing_protocol_counters (sede_code, year, last) VALUES (?, ?, 1)",
        [sede, year])
    }
    guard
      let row = try db.queryFirst(
        "SELECT last FROM ticketing_protocol_counters WHERE sede_code = ? AND year = ?",
        [sede, year])
    else { throw StorageError.corrupt("protocol counter vanished") }
    return "\(sede)-\(year)-\(String(format: "%06lld", try row.int64("last")))"
  }

  // MARK: Reading

  func getRichiesta(
    request: Cassetto_Ticketing_V1_GetRichiestaRequest, context: ServerContext
  ) async throws -> RichiestaMessage {
    let (id, operatorView) = try await visibleRichiesta(request.id)
    let now = clock.now()
    return try await database.read { db in
      try Self.load(id, operatorView: operatorView, now: now, in: db)
    }
  }

  /// The richiesta `id` if the caller may see it, and whether it sees it as an operator of
  /// its sede; `NOT_FOUND` otherwise (no existence leak).
  func visibleRichiesta(_ rawID: String) async throws -> (String, Bool) {
    try Caller.current.requireAuthenticated()
    let id = try AgendaText.id(rawID, field: "id")
    guard
      let row = try await database.read({ db in
        try db.queryFirst(
          "SELECT matricola, sede_code FROM ticketing_richieste WHERE id = ?", [id])
      })
    else { throw AccessError.notFound("no such richiesta") }
    let sede = try row.string("sede_code")
    if try await isOperator(of: sede) { return (id, true) }
    _ = try await visiblePosition(try row.string("matricola"))
    return (id, false)
  }

  func searchRichieste(
    request: Cassetto_Ticketing_V1_SearchRichiesteRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_SearchRichiesteResponse {
    let person = try Caller.current.requirePerson()
    var conditions: [String] = []
    var arguments: [any SQLConvertible] = []
    var operatorView = false
    if !request.matricola.isEmpty {
      let matricola = try AgendaText.matricola(request.matricola, field: "matricola")
      let visible = try await visiblePosition(matricola)
      operatorView = try await isOperator(of: visible.position.sedeCode)
      conditions.append("matricola = ?")
      arguments.append(matricola)
    } else {
      conditions.append("requester = ?")
      arguments.append(person.codiceFiscale.value)
    }
    if !request.subjectCode.isEmpty {
      conditions.append("subject_code = ?")
      arguments.append(request.subjectCode)
    }
    try Self.stateFilter(request.state, into: &conditions, &arguments)
    try Self.range(request.openedFrom, request.openedTo, column: "opened_at", field: "opened",
      into: &conditions, &arguments)
    try Self.range(request.updatedFrom, request.updatedTo, column: "updated_at",
      field: "updated", into: &conditions, &arguments)
    let fingerprint =
      "search|\(person.codiceFiscale.value)|\(request.matricola)|\(request.subjectCode)|"
      + "\(request.state.rawValue)|\(conditions.count)"
    let (rows, next) = try await page(
      conditions: conditions, arguments: arguments, order: "DESC", pageSize: request.pageSize,
      pageToken: request.pageToken, fingerprint: fingerprint)
    var response = Cassetto_Ticketing_V1_SearchRichiesteResponse()
    let now = clock.now()
    response.richieste = try rows.map {
      try Self.message($0, history: [], operatorView: operatorView, now: now)
    }
    response.nextPageToken = next
    return response
  }

  /// One page of richieste by `seq` (descending or ascending) after the token's position.
  func page(
    conditions: [String], arguments: [any SQLConvertible], order: String, pageSize: Int32,
    pageToken: String, fingerprint: String
  ) async throws -> ([Row], String) {
    let size = try AgendaPageToken.pageSize(pageSize)
    let after = try AgendaPageToken.decode(pageToken, filter: fingerprint)
    var conditions = conditions
    var arguments = arguments
    if let after {
      conditions.append(order == "DESC" ? "seq < ?" : "seq > ?")
      arguments.append(after.seq)
    }
    arguments.append(Int64(size + 1))
    let bound = arguments
    let sql =
      "SELECT \(Self.columns) FROM ticketing_richieste WHERE " + conditions.joined(separator: " AND ")
      + " ORDER BY seq \(order) LIMIT ?"
    let rows = try await database.read { db in try db.query(sql, bound) }
    var next = ""
    if rows.count > size, let last = rows.prefix(size).last {
      next = AgendaPageToken.encode(key: 0, seq: try last.int64("seq"), filter: fingerprint)
    }
    return (Array(rows.prefix(size)), next)
  }

  static func stateFilter(
    _ state: Cassetto_Ticketing_V1_RichiestaState, into conditions: inout [String],
    _ arguments: inout [any SQLConvertible]
  ) throws {
    switch state {
    case .unspecified: return
    case .aperta, .inCarico, .chiusa:
      conditions.append("state = ?")
      arguments.append(Int64(state.rawValue))
    default: throw ValidationError.field("state", "one of APERTA, IN_CARICO, CHIUSA")
    }
  }

  static func range(
    _ from: Google_Protobuf_Timestamp?, _ to: Google_Protobuf_Timestamp?, column: String,
    field: String, into conditions: inout [String], _ arguments: inout [any SQLConvertible]
  ) throws {
    let start = from.map { Date(timeIntervalSince1970: Double($0.seconds)) }
    let end = to.map { Date(timeIntervalSince1970: Double($0.seconds)) }
    if let start, let end, start > end {
      throw ValidationError.field("\(field)_from", "must not be after \(field)_to")
    }
    if let start {
      conditions.append("\(column) >= ?")
      arguments.append(start)
    }
    if let end {
      conditions.append("\(column) <= ?")
      arguments.append(end)
    }
  }

  func watchRichiesta(
    request: Cassetto_Ticketing_V1_WatchRichiestaRequest,
    responses: ResponseWriter<Cassetto_Ticketing_V1_RichiestaEvent>, context: ServerContext
  ) async throws {
    let (id, operatorView) = try await visibleRichiesta(request.id)
    let signals = watchers.watch(id)
    let now = clock.now()
    let (snapshot, lastSeq) = try await database.read { db in
      let message = try Self.load(id, operatorView: operatorView, now: now, in: db)
      let last = try db.queryFirst(
        "SELECT MAX(seq) AS last FROM ticketing_richieste_history WHERE richiesta_id = ?", [id])
      return (message, try last?.optionalInt64("last") ?? 0)
    }
    var event = Cassetto_Ticketing_V1_RichiestaEvent()
    event.kind = .snapshot
    event.at = .agenda(now)
    event.state = snapshot.state
    event.esito = snapshot.esito
    event.richiesta = snapshot
    try await responses.write(event)
    var seen = lastSeq
    for await _ in signals {
      let since = seen
      let rows = try await database.read { db in
        try db.query(
          "SELECT * FROM ticketing_richieste_history WHERE richiesta_id = ? AND seq > ? ORDER BY seq",
          [id, since])
      }
      for row in rows {
        seen = try row.int64("seq")
        if try row.bool("internal") && !operatorView { continue }
        try await responses.write(try Self.event(row))
      }
    }
  }

  func downloadAllegati(
    request: Cassetto_Ticketing_V1_DownloadAllegatiRequest,
    responses: ResponseWriter<Cassetto_Ticketing_V1_AllegatiChunk>, context: ServerContext
  ) async throws {
    let (id, _) = try await visibleRichiesta(request.id)
    let zip = try await database.read { db in
      try db.queryFirst("SELECT zip FROM ticketing_richieste WHERE id = ?", [id])?
        .optionalBytes("zip")
    }
    guard let zip else { throw AccessError.notFound("this richiesta has no attachments") }
    var offset = 0
    repeat {
      var chunk = Cassetto_Ticketing_V1_AllegatiChunk()
      if offset == 0 { chunk.totalSize = Int64(zip.count) }
      let end = min(zip.count, offset + Self.chunkSize)
      chunk.data = Array(zip[offset..<end])
      try await responses.write(chunk)
      offset = end
    } while offset < zip.count
  }

  // MARK: Back office

  func listQuesiti(
    request: Cassetto_Ticketing_V1_ListQuesitiRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_ListQuesitiResponse {
    let person = try Caller.current.requirePerson()
    let sede = try await operatorSede(request.sedeCode)
    var conditions = ["sede_code = ?"]
    var arguments: [any SQLConvertible] = [sede]
    try Self.stateFilter(request.state, into: &conditions, &arguments)
    if !request.subjectCode.isEmpty {
      conditions.append("subject_code = ?")
      arguments.append(request.subjectCode)
    }
    if !request.matricola.isEmpty {
      conditions.append("matricola = ?")
      arguments.append(try AgendaText.matricola(request.matricola, field: "matricola"))
    }
    if request.assignedToMe {
      conditions.append("assigned_operator = ?")
      arguments.append(person.codiceFiscale.value)
    }
    let fingerprint =
      "quesiti|\(sede)|\(request.state.rawValue)|\(request.subjectCode)|\(request.matricola)|"
      + "\(request.assignedToMe)"
    let (rows, next) = try await page(
      conditions: conditions, arguments: arguments, order: "ASC", pageSize: request.pageSize,
      pageToken: request.pageToken, fingerprint: fingerprint)
    var response = Cassetto_Ticketing_V1_ListQuesitiResponse()
    let now = clock.now()
    response.quesiti = try rows.map {
      try Self.message($0, history: [], operatorView: true, now: now)
    }
    response.nextPageToken = next
    return response
  }

  func takeInCharge(
    request: Cassetto_Ticketing_V1_TakeInChargeRequest, context: ServerContext
  ) async throws -> RichiestaMessage {
    let comment = try Self.comment(request.comment, required: false)
    return try await backOffice(M.takeInCharge, id: request.id, requestID: request.requestId) {
      row, actor, now, db in
      guard try row.int64("state") == Int64(Cassetto_Ticketing_V1_RichiestaState.aperta.rawValue)
      else { throw TicketingError.failedPrecondition("only an APERTA richiesta is taken in charge") }
      _ = try db.execute(
        "UPDATE ticketing_richieste SET state = ?, assigned_operator = ?, updated_at = ? WHERE id = ?",
        [Int64(Cassetto_Ticketing_V1_RichiestaState.inCarico.rawValue), actor, now,
         try row.string("id")])
      try Self.appendHistory(
        try row.string("id"), kind: .takenInCharge, actor: actor, comment: comment,
        internal: false, state: .inCarico, esito: .unspecified, at: now, in: db)
      return [:]
    }
  }

  func addComment(
    request: Cassetto_Ticketing_V1_AddCommentRequest, context: ServerContext
  ) async throws -> RichiestaMessage {
    let text = try Self.comment(request.text, required: true)
    let internalOnly = request.internal
    return try await backOffice(M.addComment, id: request.id, requestID: request.requestId) {
      row, actor, now, db in
      let state = Cassetto_Ticketing_V1_RichiestaState(rawValue: Int32(try row.int64("state")))
      guard state != .chiusa else {
        throw TicketingError.failedPrecondition("a CHIUSA richiesta takes no more comments")
      }
      _ = try db.execute(
        "UPDATE ticketing_richieste SET updated_at = ? WHERE id = ?", [now, try row.string("id")])
      try Self.appendHistory(
        try row.string("id"), kind: .comment, actor: actor, comment: text,
        internal: internalOnly, state: state, esito: .unspecified, at: now, in: db)
      return ["internal": "\(internalOnly)"]
    }
  }

  func reassignSede(
    request: Cassetto_Ticketing_V1_ReassignSedeRequest, context: ServerContext
  ) async throws -> RichiestaMessage {
    let target = try AgendaText.sedeCode(request.toSedeCode, field: "to_sede_code")
    let reason = try Self.comment(request.reason, required: true, field: "reason")
    return try await backOffice(M.reassignSede, id: request.id, requestID: request.requestId) {
      row, actor, now, db in
      let state = Cassetto_Ticketing_V1_RichiestaState(rawValue: Int32(try row.int64("state")))
      let from = try row.string("sede_code")
      guard state != .chiusa else {
        throw TicketingError.failedPrecondition("a CHIUSA richiesta is not reassigned")
      }
      guard from != target else {
        throw TicketingError.failedPrecondition("the richiesta is already routed to \(target)")
      }
      _ = try db.execute(
        """
        UPDATE ticketing_richieste SET sede_code = ?, state = ?, assigned_operator = '',
          updated_at = ? WHERE id = ?
        """,
        [target, Int64(Cassetto_Ticketing_V1_RichiestaState.aperta.rawValue), now,
         try row.string("id")])
      try Self.appendHistory(
        try row.string("id"), kind: .reassigned, actor: actor, comment: reason, internal: false,
        state: .aperta, esito: .unspecified, fromSede: from, toSede: target, at: now, in: db)
      return ["from": from, "to": target]
    }
  }

  func closeRichiesta(
    request: Cassetto_Ticketing_V1_CloseRichiestaRequest, context: ServerContext
  ) async throws -> RichiestaMessage {
    switch request.esito {
    case .accolta, .parzialmenteAccolta, .nonAccolta, .archiviata: break
    default:
      throw ValidationError.field(
        "esito", "one of ACCOLTA, PARZIALMENTE_ACCOLTA, NON_ACCOLTA, ARCHIVIATA")
    }
    let esito = request.esito
    let comment = try Self.comment(request.comment, required: true)
    return try await backOffice(M.closeRichiesta, id: request.id, requestID: request.requestId) {
      row, actor, now, db in
      let state = Cassetto_Ticketing_V1_RichiestaState(rawValue: Int32(try row.int64("state")))
      guard state == .inCarico else {
        throw TicketingError.failedPrecondition(
          "only a richiesta IN_CARICO is closed (take it in charge first)")
      }
      let id = try row.string("id")
      _ = try db.execute(
        "UPDATE ticketing_richieste SET state = ?, esito = ?, closed_at = ?, updated_at = ? WHERE id = ?",
        [Int64(Cassetto_Ticketing_V1_RichiestaState.chiusa.rawValue), Int64(esito.rawValue), now,
         now, id])
      try Self.appendHistory(
        id, kind: .closed, actor: actor, comment: comment, internal: false, state: .chiusa,
        esito: esito, at: now, in: db)
      var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
      contacts.email = try row.string("email")
      contacts.mobile = try row.string("mobile")
      contacts.consentEmail = try row.bool("consent_email")
      contacts.consentSms = try row.bool("consent_sms")
      let number = try row.string("protocol_number")
      try Self.enqueueNotices(
        contacts: contacts, subject: "Richiesta \(number) chiusa",
        body: "La richiesta \(number) è stata chiusa con esito \(AppointmentEligibility.name(esito)).",
        at: now, in: db)
      return ["esito": AppointmentEligibility.name(esito)]
    }
  }

  /// A back-office change of richiesta `id` by an operator of its current sede (others:
  /// `NOT_FOUND`), in one transaction with its history row, audit event and idempotency.
  func backOffice(
    _ method: MethodDescriptor, id rawID: String, requestID: String,
    _ body: @escaping @Sendable (Row, String, Date, any WriteContext) throws -> [String: String]
  ) async throws -> RichiestaMessage {
    let caller = Caller.current
    let person = try caller.requirePerson()
    let id = try AgendaText.id(rawID, field: "id")
    var check = ViolationCollector()
    let key = AgendaText.requestID(requestID, into: &check)
    try check.throwIfAny()
    let sedi = try await authorizer.enablements.enablements(of: person.codiceFiscale.value)
      .operatorSedi
    let actor = person.codiceFiscale.value
    let result = try await mutate(method, caller: caller, requestID: key) { db, now in
      guard let row = try db.queryFirst("SELECT \(Self.columns) FROM ticketing_richieste WHERE id = ?", [id]),
        sedi.contains(try row.string("sede_code"))
      else { throw AccessError.notFound("no such richiesta") }
      var details = try body(row, actor, now, db)
      details["richiesta"] = id
      return .done(
        try Self.load(id, operatorView: true, now: now, in: db),
        auditEvent(
          method, by: caller, at: now, matricola: try row.string("matricola"),
          chain: "sede:\(try row.string("sede_code"))", details: details))
    }
    watchers.changed(id)
    return result
  }

  static func comment(_ value: String, required: Bool, field: String = "comment") throws
    -> String
  {
    var check = ViolationCollector()
    let text = AgendaText.text(
      value, field: field, max: commentLimit, required: required, into: &check)
    try check.throwIfAny()
    return text
  }

  // MARK: Shared pieces

  enum Outcome: Sendable {
    case done(RichiestaMessage, AuditEvent)
  }

  func mutate(
    _ method: MethodDescriptor, caller: Caller, requestID: String,
    _ body: @escaping @Sendable (any WriteContext, Date) throws -> Outcome
  ) async throws -> RichiestaMessage {
    let now = clock.now()
    let actor = caller.actorID
    return try await database.write { db in
      if !requestID.isEmpty,
        let first = try Idempotency.lookup(
          caller: actor, method: method.path, requestID: requestID, in: db)
      {
        return try RichiestaMessage(serializedBytes: first)
      }
      switch try body(db, now) {
      case .done(let response, let event):
        try AuditLog.append(event, in: db)
        if !requestID.isEmpty {
          try Idempotency.store(
            caller: actor, method: method.path, requestID: requestID,
            response: response.serializedBytes(), at: now, in: db)
        }
        return response
      }
    }
  }

  func auditEvent(
    _ method: MethodDescriptor, by caller: Caller, at now: Date, matricola: String,
    chain: String?, details: [String: String]
  ) -> AuditEvent {
    AuditEvent(
      id: newID(), time: now, actor: caller.actorID, action: method.path,
      subject: "posizione:\(matricola)", delegaChain: chain, outcome: .success,
      details: AuditEvent.json(details))
  }

  static func enqueueNotices(
    contacts: Cassetto_Ticketing_V1_RichiestaContacts, subject: String, body: String,
    at now: Date, in db: any WriteContext
  ) throws {
    if contacts.consentEmail, !contacts.email.isEmpty {
      try Outbox.enqueue(
        OutboxMessage(channel: .email, recipient: contacts.email, subject: subject, body: body),
        at: now, in: db)
    }
    if contacts.consentSms, !contacts.mobile.isEmpty {
      try Outbox.enqueue(
        OutboxMessage(channel: .sms, recipient: contacts.mobile, body: "INPS: \(body)"),
        at: now, in: db)
    }
  }

  static func appendHistory(
    _ id: String, kind: Cassetto_Ticketing_V1_RichiestaEventKind, actor: String, comment: String,
    internal: Bool, state: Cassetto_Ticketing_V1_RichiestaState,
    esito: Cassetto_Ticketing_V1_Esito, fromSede: String = "", toSede: String = "",
    at now: Date, in db: any WriteContext
  ) throws {
    _ = try db.execute(
      """
      INSERT INTO ticketing_richieste_history (richiesta_id, kind, at, actor, comment, internal,
        state, esito, from_sede, to_sede) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """,
      [id, Int64(kind.rawValue), now, actor, comment, `internal`, Int64(state.rawValue),
       Int64(esito.rawValue), fromSede, toSede])
  }

  static func encodeAttachments(_ attachments: [Cassetto_Ticketing_V1_Attachment]) throws
    -> String
  {
    let list = attachments.map {
      ["file_name": $0.fileName, "size": "\($0.size)", "content_type": $0.contentType,
       "sha256": $0.sha256]
    }
    return String(decoding: try JSONSerialization.data(withJSONObject: list), as: UTF8.self)
  }

  static func decodeAttachments(_ text: String) -> [Cassetto_Ticketing_V1_Attachment] {
    guard !text.isEmpty,
      let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: String]]
    else { return [] }
    return list.map { item in
      var attachment = Cassetto_Ticketing_V1_Attachment()
      attachment.fileName = item["file_name"] ?? ""
      attachment.size = Int64(item["size"] ?? "") ?? 0
      attachment.contentType = item["content_type"] ?? ""
      attachment.sha256 = item["sha256"] ?? ""
      return attachment
    }
  }

  static func load(_ id: String, operatorView: Bool, now: Date, in db: any ReadContext) throws
    -> RichiestaMessage
  {
    guard let row = try db.queryFirst("SELECT \(columns) FROM ticketing_richieste WHERE id = ?", [id])
    else { throw AccessError.notFound("no such richiesta") }
    let history = try db.query(
      "SELECT * FROM ticketing_richieste_history WHERE richiesta_id = ? ORDER BY seq", [id])
    return try message(row, history: history, operatorView: operatorView, now: now)
  }

  static func message(_ row: Row, history: [Row], operatorView: Bool, now: Date) throws
    -> RichiestaMessage
  {
    var message = RichiestaMessage()
    message.id = try row.string("id")
    message.protocolNumber = try row.string("protocol_number")
    message.matricola = try row.string("matricola")
    message.subjectCode = try row.string("subject_code")
    message.subjectTitle = SubjectCatalogue.shared.subject(message.subjectCode)?.title ?? ""
    message.text = try row.string("text")
    var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
    contacts.email = try row.string("email")
    contacts.mobile = try row.string("mobile")
    contacts.landline = try row.string("landline")
    contacts.fax = try row.string("fax")
    contacts.consentEmail = try row.bool("consent_email")
    contacts.consentSms = try row.bool("consent_sms")
    message.contacts = contacts
    message.attachments = decodeAttachments(try row.string("attachments"))
    message.state = .init(rawValue: Int32(try row.int64("state")))
    message.esito = .init(rawValue: Int32(try row.int64("esito")))
    var sede = Cassetto_Common_V1_Sede()
    sede.code = try row.string("sede_code")
    message.sede = sede
    message.requesterFiscalCode = try row.string("requester")
    message.assignedOperator = try row.string("assigned_operator")
    let opened = try row.date("opened_at")
    message.openedAt = .agenda(opened)
    message.updatedAt = .agenda(try row.date("updated_at"))
    if let closed = try row.optionalDate("closed_at") { message.closedAt = .agenda(closed) }
    message.history = try history.compactMap { event in
      if try event.bool("internal") && !operatorView { return nil }
      return try Self.event(event)
    }
    let refusal = AppointmentEligibility.refusal(
      state: message.state, esito: message.esito, openedAt: opened,
      answerThresholdDays: Int(try row.int64("threshold_days")), now: now)
    message.appointmentEligible = refusal == nil
    message.appointmentIneligibleReason = refusal ?? ""
    return message
  }

  static func event(_ row: Row) throws -> Cassetto_Ticketing_V1_RichiestaEvent {
    var event = Cassetto_Ticketing_V1_RichiestaEvent()
    event.sequence = try row.int64("seq")
    event.kind = .init(rawValue: Int32(try row.int64("kind")))
    event.at = .agenda(try row.date("at"))
    event.actor = try row.string("actor")
    event.comment = try row.string("comment")
    event.internal = try row.bool("internal")
    event.state = .init(rawValue: Int32(try row.int64("state")))
    event.esito = .init(rawValue: Int32(try row.int64("esito")))
    let from = try row.string("from_sede")
    let to = try row.string("to_sede")
    if !from.isEmpty {
      var sede = Cassetto_Common_V1_Sede()
      sede.code = from
      event.fromSede = sede
    }
    if !to.isEmpty {
      var sede = Cassetto_Common_V1_Sede()
      sede.code = to
      event.toSede = sede
    }
    return event
  }
}

extension SubjectCatalogue {
  /// The shipped catalogue (titles of stored richieste are read from it).
  static let shared = SubjectCatalogue()
}

extension RichiesteWatchers {
  /// Every watch of this process (richiesta ids are unique, so servers in one process share it).
  static let shared = RichiesteWatchers()
}
