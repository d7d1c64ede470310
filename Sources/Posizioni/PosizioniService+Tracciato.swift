import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

/// `UploadTracciato`: a file of DMA records in the fixed-width layout of `docs/posizioni.md`
/// ("Circolare 38/2000 record layout"), streamed in chunks after a header (matricola, file
/// name, request_id) for a GDP position the caller may see. Each record is validated on its
/// own (`dmaLine`, the same rules as `SubmitDenunciaManuale`, plus the layout: length, record
/// type, period, digits); refused records are reported by their 0-based index with the field,
/// good ones are kept: one declaration per period, source TRACCIATO, in one transaction with
/// its audit event. A file over 10 MiB is refused (`RESOURCE_EXHAUSTED`) as soon as the chunk
/// that passes the limit arrives; nothing is stored.
extension PosizioniService {
  static let tracciatoMaxBytes = 10 * 1024 * 1024
  static let tracciatoRecordLength = 64

  public func uploadTracciato(
    requests: RequestStream<Cassetto_Posizioni_V1_UploadTracciatoRequest>, context: ServerContext
  ) async throws -> Cassetto_Posizioni_V1_UploadTracciatoResponse {
    let caller = Caller.current
    _ = try caller.requirePerson()
    var iterator = requests.makeAsyncIterator()
    guard let first = try await iterator.next(), case .header(let header)? = first.part else {
      throw ValidationError.field("header", "the first message must carry the header")
    }
    let position = try await visiblePosition(
      header.matricola, caller: caller, action: Method.uploadTracciato)
    guard position.fund == .pubbliciGdp else {
      throw RPCError(
        .failedPrecondition, "Circolare 38/2000 files are for the public employees' fund only")
    }
    var file: [UInt8] = []
    while let part = try await iterator.next() {
      guard case .chunk(let chunk)? = part.part else {
        throw ValidationError.field("header", "only the first message carries the header")
      }
      guard file.count + chunk.count <= Self.tracciatoMaxBytes else {
        throw RPCError(.resourceExhausted, "the file is larger than \(Self.tracciatoMaxBytes) bytes")
      }
      file += chunk
    }
    var response = Cassetto_Posizioni_V1_UploadTracciatoResponse()
    var byPeriod: [String: [ValidDenunciaLine]] = [:]
    // Records end with LF or CRLF (split on bytes: in a Swift String "\r\n" is one character).
    let records = file.split(separator: 0x0A, omittingEmptySubsequences: false)
      .map { $0.last == 0x0D ? $0.dropLast() : $0 }
    for (index, record) in records.enumerated() {
      if index == records.count - 1 && record.isEmpty { break }
      response.received += 1
      func refuse(_ field: String, _ message: String) {
        response.rejected += 1
        if response.errors.count < 1000 {
          var error = Cassetto_Posizioni_V1_RecordError()
          error.index = Int64(index)
          error.field = field
          error.message = message
          response.errors.append(error)
        }
      }
      let bytes = Array(record)
      guard bytes.count == Self.tracciatoRecordLength else {
        refuse("record", "must be \(Self.tracciatoRecordLength) characters, found \(bytes.count)")
        continue
      }
      func field(_ from: Int, _ length: Int) -> String {
        String(decoding: bytes[(from - 1)..<(from - 1 + length)], as: UTF8.self)
      }
      guard field(1, 2) == "DL" else {
        refuse("record_type", "must be DL")
        continue
      }
      guard let period = try? PosizioniRules.period(field(3, 7), field: "period") else {
        refuse("period", "must be YYYY-MM")
        continue
      }
      guard let taxable = Int64(field(31, 13)), let contribution = Int64(field(44, 13)) else {
        refuse("amounts", "columns 31–56 must be two 13-digit amounts in cents")
        continue
      }
      let (line, violations) = Self.dmaLine(
        employee: field(10, 16), fund: field(26, 5), taxable: taxable,
        contribution: contribution, prefix: "record")
      if let violation = violations.first {
        refuse(violation.field, violation.description)
        continue
      }
      if let line { byPeriod[period, default: []].append(line) }
      response.accepted += 1
    }
    guard !byPeriod.isEmpty else { return response }
    let now = clock.now()
    let denunce = byPeriod.sorted { $0.key < $1.key }.map { period, lines in
      ValidDenuncia(
        id: "TRC-" + newID(), matricola: position.matricola, period: period, kind: .dma,
        source: .tracciato, submittedOn: CalendarDate.of(now).description,
        linesCount: Int32(lines.count), totalTaxableCents: lines.reduce(0) { $0 + $1.taxableCents },
        totalContributionCents: lines.reduce(0) { $0 + $1.contributionCents }, lines: lines,
        errors: [])
    }
    let event = AuditEvent(
      id: newID(), time: now, actor: caller.actorID, action: Method.uploadTracciato.path,
      subject: "posizione:\(position.matricola)", delegaChain: nil, outcome: .success,
      details: AuditEvent.json([
        "file_name": String(header.fileName.prefix(200)), "accepted": "\(response.accepted)",
        "rejected": "\(response.rejected)",
      ]))
    try await database.write { db in
      try Self.upsertDenunce(denunce, now: now, in: db)
      try AuditLog.append(event, in: db)
    }
    return response
  }
}
