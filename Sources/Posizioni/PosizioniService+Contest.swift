import Access
import Contracts
import Foundation
import RPC
import Security
import Storage
import Validation

/// `ContestNotaDebito`: a person who may see the debit note's position (owner, delegate)
/// contests it — client stream: a header (note id, reason 1–4,000 characters, optional
/// request_id), then up to 3 attachments of at most 3 MiB each in chunks (types by content,
/// `Validation.AttachmentType`), refused as they arrive once past a limit (nothing stored).
/// The contest (instant, reason, attachments) is recorded on the note in one transaction with
/// its audit event; a second contest of the same note is `FAILED_PRECONDITION`, a retry with
/// the same request_id returns the note. Operators of the sede and back-ends do not contest
/// (`PERMISSION_DENIED`). Opening a ticketing request for it is not wired yet (the
/// `contest_richiesta_id` stays empty; docs/posizioni.md).
extension PosizioniService {
  static let contestMaxAttachments = 3
  static let contestMaxBytes = 3 * 1024 * 1024

  public func contestNotaDebito(
    requests: RequestStream<Cassetto_Posizioni_V1_ContestNotaDebitoRequest>, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_NotaDebito {
    let caller = Caller.current
    _ = try caller.requirePerson()
    var iterator = requests.makeAsyncIterator()
    guard let first = try await iterator.next(), case .header(let header)? = first.part else {
      throw ValidationError.field("header", "the first message must carry the header")
    }
    var check = ViolationCollector()
    let id = header.notaId.trimmingCharacters(in: .whitespaces)
    if id.isEmpty || id.utf8.count > 64 { check.add(field: "nota_id", "required, at most 64 bytes") }
    let reason = header.reason.trimmingCharacters(in: .whitespacesAndNewlines)
    if reason.isEmpty || reason.count > 4000 { check.add(field: "reason", "1 to 4,000 characters") }
    if header.requestId.utf8.count > 128 { check.add(field: "request_id", "at most 128 bytes") }
    try check.throwIfAny()
    guard
      let matricola = try await database.read({ db in
        try db.queryFirst("SELECT matricola FROM posizioni_note_debito WHERE id = ?", [id])?
          .string("matricola")
      })
    else { throw AccessError.notFound("no debit note \(id) visible to the caller") }
    let position = try await visiblePosition(
      matricola, caller: caller, action: Method.contestNotaDebito, object: "nota_debito:\(id)")
    let me = caller.person?.codiceFiscale.value ?? ""
    let owner =
      position.subject?.legalRepresentative == me
      || (position.subject?.altriResponsabili.contains(me) ?? false)
    if !owner, try await isOperatorOfSede(position.sede) {
      throw AccessError.permissionDenied("operators of the sede do not contest debit notes")
    }
    var files: [(name: String, type: String, data: [UInt8])] = []
    while let part = try await iterator.next() {
      guard case .chunk(let chunk)? = part.part else {
        throw ValidationError.field("header", "only the first message carries the header")
      }
      let index = Int(chunk.attachment)
      if index == files.count {
        guard files.count < Self.contestMaxAttachments else {
          throw RPCError(.resourceExhausted, "at most \(Self.contestMaxAttachments) attachments")
        }
        let name = chunk.fileName.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 200, !name.contains("/") else {
          throw ValidationError.field("chunk.file_name", "1 to 200 characters, no path")
        }
        files.append((name, "", []))
      } else if index != files.count - 1 {
        throw ValidationError.field("chunk.attachment", "attachments come one after the other")
      }
      guard files[index].data.count + chunk.data.count <= Self.contestMaxBytes else {
        throw RPCError(
          .resourceExhausted, "attachment \(index) is larger than \(Self.contestMaxBytes) bytes")
      }
      files[index].data += chunk.data
    }
    for index in files.indices {
      guard let type = AttachmentType.detect(files[index].data[...]) else {
        throw ValidationError.field(
          "attachment[\(index)]", "content is not one of PDF, JPEG, PNG, TIFF or a signed P7M")
      }
      files[index].type = type
    }
    let now = clock.now()
    let actor = caller.actorID
    let requestID = header.requestId
    let stored = files
    let eventID = newID()
    return try await database.write { db in
      if !requestID.isEmpty,
        let first = try Idempotency.lookup(
          caller: actor, method: Method.contestNotaDebito.path, requestID: requestID, in: db)
      {
        return try Cassetto_Posizioni_V1_NotaDebito(serializedBytes: first)
      }
      guard
        let row = try db.queryFirst(
          "SELECT contested_at FROM posizioni_note_debito WHERE id = ?", [id])
      else { throw AccessError.notFound("no debit note \(id) visible to the caller") }
      guard try row.int64("contested_at") == 0 else {
        throw RPCError(.failedPrecondition, "debit note \(id) is contested already")
      }
      _ = try db.execute(
        "UPDATE posizioni_note_debito SET contested_at = ?, contest_reason = ? WHERE id = ?",
        [now.microsecondsSinceEpoch, reason, id])
      for (number, file) in stored.enumerated() {
        _ = try db.execute(
          """
          INSERT INTO posizioni_contest_attachments (nota_id, number, file_name, content_type,
            size, sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)
          """,
          [id, Int64(number), file.name, file.type, Int64(file.data.count),
           Digest.sha256(file.data).map { String(format: "%02x", $0) }.joined(), file.data])
      }
      try AuditLog.append(
        AuditEvent(
          id: eventID, time: now, actor: actor, action: Method.contestNotaDebito.path,
          subject: "posizione:\(matricola)", delegaChain: nil, outcome: .success,
          details: AuditEvent.json(["nota_debito": id, "attachments": "\(stored.count)"])),
        in: db)
      guard let nota = try PosizioniGDPStore.notaDebito(id: id, in: db) else {
        throw StorageError.corrupt("debit note vanished")
      }
      if !requestID.isEmpty {
        try Idempotency.store(
          caller: actor, method: Method.contestNotaDebito.path, requestID: requestID,
          response: nota.serializedBytes(), at: now, in: db)
      }
      return nota
    }
  }

  func isOperatorOfSede(_ sede: String) async throws -> Bool {
    guard let cf = Caller.current.person?.codiceFiscale.value, let enablements else {
      return false
    }
    return try await enablements.enablements(of: cf).operatorSedi.contains(sede)
  }
}
