import Access
import ArgumentParser
import Contracts
import Foundation
import Posizioni
import RPC
import Security
import Server
import Storage
import Synchronization
import Validation

/// `bench-posizioni`: the positions benchmark of issue 5 — by default 100,000 subjects,
/// 1,000,000 positions and 10,000,000 payments on SQLite:
/// 1. **ingest rate**: every record through `PosizioniService.ingest` (the `Ingest` handler:
///    validation, batches of 20,000, multi-row upserts, one audit event per batch), records
///    generated on the fly — subjects, then positions, then payments period by period
///    (a monthly feed spreads over every position). The HTTP/2 + TLS path of the same handler
///    is `tools/bench-ingest.py`.
/// 2. **SearchPosizioni** and 3. **ListVersamenti** over gRPC: an in-process server on
///    127.0.0.1:0 with the application's services (the Authorizer, the access audit: every
///    ListVersamenti writes its audit event), our client, person tokens signed with the
///    development key; `--concurrency` callers for `--duration` seconds each; p50/p99/p99.9
///    and calls/s; every answer checked (a wrong count is reported as unexpected).
///
/// Layout: subject s (11-digit code) has `positions / subjects` consecutive positions and a
/// legal representative of its own; subjects are spread over `--sedi` sedi (s % sedi); one
/// operator holds the role at sede 7000. Payments: `payments / positions` per position, one
/// per month from 2025-01. Searches: 40% an owner's positions (no filter), 30% the operator by
/// name prefix, 30% the operator by fiscal code. ListVersamenti: half owners, half the
/// operator, the position's whole list (page size 12).
///
/// A benchmark program, never a test. `--data-dir DIR` keeps the database for another run
/// (the load is skipped when DIR already holds the positions).
@main
struct BenchPosizioni: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-posizioni",
    abstract: "Posizioni benchmark: ingest rate; SearchPosizioni and ListVersamenti over gRPC.")

  @Option(help: "Subjects.") var subjects: Int = 100_000
  @Option(help: "Positions (a multiple of subjects).") var positions: Int = 1_000_000
  @Option(help: "Payments (a multiple of positions, at most 12 per position).")
  var payments: Int = 10_000_000
  @Option(help: "Sedi the subjects are spread over (7000, 7001, …).") var sedi: Int = 100
  @Option(help: "Seconds per gRPC phase.") var duration: Double = 10
  @Option(help: "Concurrent callers per gRPC phase.") var concurrency: Int = 16
  @Option(help: "Owners with a signed token (the callers of the owner share).")
  var owners: Int = 500
  @Option(help: "Keep the data directory here (re-used when already loaded).")
  var dataDir: String?
  @Flag(help: "Print one JSON object instead of text.") var json = false

  func validate() throws {
    guard subjects > 0, positions >= subjects, positions % subjects == 0 else {
      throw ValidationError("--positions must be a positive multiple of --subjects")
    }
    guard payments >= 0, payments % positions == 0, payments / positions <= 12 else {
      throw ValidationError("--payments must be 0…12 times --positions")
    }
    guard (1...2000).contains(sedi), sedi <= subjects else {
      throw ValidationError("--sedi must be 1…2000 and at most --subjects")
    }
    guard duration > 0, concurrency > 0, owners > 0 else {
      throw ValidationError("--duration, --concurrency and --owners must be positive")
    }
  }

  func run() async throws {
    let layout = Layout(
      subjects: subjects, positions: positions, payments: payments, sedi: sedi)
    let temporary = dataDir == nil
    let directory =
      dataDir
      ?? (NSTemporaryDirectory() as NSString).appendingPathComponent(
        "bench-posizioni-\(ProcessInfo.processInfo.processIdentifier)")
    defer { if temporary { try? FileManager.default.removeItem(atPath: directory) } }
    let config = Configuration(dataDirectory: directory, developmentMode: true)
    let application = try await Application.start(config)
    var report: [String: Any] = [
      "subjects": subjects, "positions": positions, "payments": payments, "sedi": sedi,
      "duration_s": duration, "concurrency": concurrency,
    ]
    func say(_ line: String) { if !json { print(line) } }
    do {
      let stored = try await application.database.read { db in
        try db.queryFirst("SELECT COUNT(*) AS n FROM posizioni_positions")?.int64("n") ?? 0
      }
      if stored == 0 {
        let ingest = try await load(
          layout, into: application.database, path: config.resolvedDatabasePath)
        report["ingest"] = ingest
        say(
          String(
            format: "ingest: %d records in %.1f s = %.0f records/s (subjects+positions %.1f s, payments %.1f s = %.0f payments/s); database %.0f MB",
            ingest["records"] as? Int ?? 0, ingest["seconds"] as? Double ?? 0,
            ingest["records_per_s"] as? Double ?? 0, ingest["registry_s"] as? Double ?? 0,
            ingest["payments_s"] as? Double ?? 0, ingest["payments_per_s"] as? Double ?? 0,
            ingest["database_mb"] as? Double ?? 0))
      } else {
        say("re-using \(stored) positions in \(directory)")
      }
      try await application.database.write { db in
        try db.execute(
          """
          INSERT INTO identity_operator_roles (fiscal_code, sede_code, role, active, granted_by,
            granted_at) VALUES (?, '7000', ?, 1, 'bench', 0) ON CONFLICT DO NOTHING
          """, [Layout.operatorCF, Cassetto_Identity_V1_Role.operator.rawValue])
      }

      let server = try RPC.Server(
        configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
        services: application.services)
      try server.start()
      let signer = try DevelopmentKey.loadOrCreate(at: config.developmentKeyPath)
      func metadata(_ cf: String) throws -> Metadata {
        let token = try signer.sign(
          PersonToken(
            codiceFiscale: cf, issuer: DevelopmentKey.issuer, audience: config.tokenAudience,
            issuedAt: Date(), lifetime: 86_400))
        return ["authorization": "Bearer " + token]
      }
      let operatorMetadata = try metadata(Layout.operatorCF)
      // Owners: subjects spread over the range, each with a token.
      let ownerSubjects = (0..<min(owners, subjects)).map { $0 * (subjects / min(owners, subjects)) }
      let ownerMetadata = try ownerSubjects.map { try metadata(layout.owner($0)) }
      let channel = Channel(host: "127.0.0.1", port: server.localPort)
      let client = Cassetto_Posizioni_V1_PosizioniClient(channel: channel)
      // The operator's subjects: those of sede 7000.
      let operatorSubjects = stride(from: 0, to: subjects, by: sedi).map { $0 }
      let perSubject = layout.positionsPerSubject
      let perPosition = layout.paymentsPerPosition

      let search = try await drive { rng in
        let pick = rng.next()
        var request = Cassetto_Posizioni_V1_SearchPosizioniRequest()
        switch pick % 10 {
        case 0..<4:
          let owner = Int((pick >> 8) % UInt64(ownerSubjects.count))
          let answer = try await client.searchPosizioni(request, metadata: ownerMetadata[owner])
          return answer.message.posizioni.count == min(perSubject, 10)
        case 4..<7:
          let s = operatorSubjects[Int((pick >> 8) % UInt64(operatorSubjects.count))]
          request.namePrefix = String(layout.name(s).prefix(13))  // "Azienda 00012": ≤ 10 subjects
          let answer = try await client.searchPosizioni(request, metadata: operatorMetadata)
          return !answer.message.posizioni.isEmpty
            && answer.message.posizioni.allSatisfy { $0.sede == "7000" }
        default:
          let s = operatorSubjects[Int((pick >> 8) % UInt64(operatorSubjects.count))]
          request.fiscalCode = layout.subject(s)
          let answer = try await client.searchPosizioni(request, metadata: operatorMetadata)
          return answer.message.posizioni.count == min(perSubject, 10)
        }
      }
      report["search"] = search.dictionary
      say(search.line("gRPC SearchPosizioni "))

      let list = try await drive { rng in
        let pick = rng.next()
        var request = Cassetto_Posizioni_V1_ListVersamentiRequest()
        request.pageSize = 12
        let metadata: Metadata
        let s: Int
        if pick & 1 == 0 {
          let owner = Int((pick >> 8) % UInt64(ownerSubjects.count))
          s = ownerSubjects[owner]
          metadata = ownerMetadata[owner]
        } else {
          s = operatorSubjects[Int((pick >> 8) % UInt64(operatorSubjects.count))]
          metadata = operatorMetadata
        }
        request.matricola = layout.matricola(s * perSubject + Int((pick >> 40) % UInt64(perSubject)))
        let answer = try await client.listVersamenti(request, metadata: metadata)
        return answer.message.versamenti.count == perPosition
      }
      report["list_versamenti"] = list.dictionary
      say(list.line("gRPC ListVersamenti  "))
      channel.close()
      await server.shutdown(gracePeriod: .seconds(1))
    } catch {
      await application.close()
      throw error
    }
    await application.close()
    if json {
      let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }

  /// Streams every record through the `Ingest` handler as a back-end granted
  /// `posizioni.ingest`; two calls (registry, then payments) to time them apart.
  func load(_ layout: Layout, into database: SQLiteDatabase, path: String) async throws
    -> [String: Any]
  {
    let service = PosizioniService(
      database: database, clock: SystemClock(), access: NoAccess())
    let ingestor = Caller.service(ServiceIdentity(name: "bench", permissions: [.posizioniIngest]))
    let context = ServerContext(
      method: Cassetto_Posizioni_V1_Posizioni.Method.ingest, requestMetadata: [:], deadline: nil,
      peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: true))
    func feed(_ count: Int, _ record: @escaping @Sendable (Int) -> Cassetto_Posizioni_V1_IngestRecord)
      async throws -> (Cassetto_Posizioni_V1_IngestSummary, Double)
    {
      let next = Mutex(0)
      let stream = RequestStream<Cassetto_Posizioni_V1_IngestRecord>(nextRaw: {
        let index: Int? = next.withLock { value in
          guard value < count else { return nil }
          defer { value += 1 }
          return value
        }
        return index.map { record($0).serializedBytes() }
      })
      let started = ContinuousClock.now
      let summary = try await Caller.$current.withValue(ingestor) {
        try await service.ingest(requests: stream, context: context)
      }
      return (summary, (ContinuousClock.now - started).seconds)
    }
    let registryCount = layout.subjects + layout.positions
    let (registry, registrySeconds) = try await feed(registryCount) { i in
      i < layout.subjects ? layout.subjectRecord(i) : layout.positionRecord(i - layout.subjects)
    }
    guard registry.accepted == registryCount else {
      throw ValidationError("ingest refused registry records: \(registry.errors.prefix(3))")
    }
    let (paid, paymentSeconds) = try await feed(layout.payments) { layout.paymentRecord($0) }
    guard paid.accepted == layout.payments else {
      throw ValidationError("ingest refused payments: \(paid.errors.prefix(3))")
    }
    let total = registryCount + layout.payments
    let seconds = registrySeconds + paymentSeconds
    let size =
      (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    return [
      "records": total, "seconds": seconds, "records_per_s": (Double(total) / seconds).rounded(),
      "registry_s": registrySeconds, "payments_s": paymentSeconds,
      "payments_per_s": (Double(layout.payments) / paymentSeconds).rounded(),
      "database_mb": (Double(size) / 1_048_576).rounded(),
    ]
  }

  /// Runs `concurrency` callers for `duration` seconds, each timing every call.
  func drive(_ call: @escaping @Sendable (inout SplitMix) async throws -> Bool) async throws
    -> PhaseResult
  {
    let started = ContinuousClock.now
    let deadline = started + .milliseconds(Int64(duration * 1000))
    let parts = try await withThrowingTaskGroup(of: Part.self) { group in
      for worker in 0..<concurrency {
        group.addTask {
          var rng = SplitMix(seed: UInt64(worker) &* 0x9E37_79B9 &+ 17)
          var part = Part()
          while ContinuousClock.now < deadline {
            let t0 = ContinuousClock.now
            let expected = try await call(&rng)
            part.latencies.append((ContinuousClock.now - t0).nanoseconds)
            if !expected { part.unexpected += 1 }
          }
          return part
        }
      }
      var parts: [Part] = []
      for try await part in group { parts.append(part) }
      return parts
    }
    var latencies = parts.flatMap(\.latencies)
    latencies.sort()
    return PhaseResult(
      calls: latencies.count, unexpected: parts.reduce(0) { $0 + $1.unexpected },
      wallSeconds: (ContinuousClock.now - started).seconds, latencies: latencies)
  }
}

/// Ingest does not read positions: no visibility needed while loading.
struct NoAccess: PositionAccess {
  func scope(for caller: Caller, at instant: Date) async throws -> PositionScope { .none }
  func mayRead(_ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date)
    async throws -> Bool
  { false }
}

/// Where the records are (see the program's comment).
struct Layout: Sendable {
  var subjects: Int
  var positions: Int
  var payments: Int
  var sedi: Int

  var positionsPerSubject: Int { positions / subjects }
  var paymentsPerPosition: Int { positions == 0 ? 0 : payments / positions }

  static let operatorCF = personCF(7_999_999)

  /// A valid 16-character code: six letters from `n`, then "80A01H501", check character.
  static func personCF(_ n: Int) -> String {
    var value = n
    var letters = ""
    for _ in 0..<6 {
      letters.append(Character(UnicodeScalar(UInt8(65 + value % 26))))
      value /= 26
    }
    let first15 = letters + "80A01H501"
    return first15 + String(CodiceFiscale.checkCharacter(for: first15) ?? "X")
  }

  func subject(_ s: Int) -> String {
    // Seven serial digits, then an office code (digits 8–10 must be one).
    let first10 = String(format: "%07d", 2_000_000 + s) + "052"
    return first10 + String(PartitaIVA.checkDigit(for: first10) ?? "0")
  }
  func owner(_ s: Int) -> String { Self.personCF(s) }
  func name(_ s: Int) -> String { String(format: "Azienda %07d S.r.l.", s) }
  func sede(ofSubject s: Int) -> String { String(7000 + s % sedi) }
  func matricola(_ p: Int) -> String { String(format: "B%09d", p) }

  func subjectRecord(_ s: Int) -> Cassetto_Posizioni_V1_IngestRecord {
    var subject = Cassetto_Posizioni_V1_Subject()
    subject.fiscalCode = self.subject(s)
    subject.name = name(s)
    subject.nature = .private
    subject.legalRepresentative = owner(s)
    subject.sede = sede(ofSubject: s)
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.subject = subject
    return record
  }

  func positionRecord(_ p: Int) -> Cassetto_Posizioni_V1_IngestRecord {
    let s = p / positionsPerSubject
    var position = Cassetto_Posizioni_V1_Posizione()
    position.matricola = matricola(p)
    position.subjectFiscalCode = subject(s)
    position.fund = .privatiUniemens
    position.sede = sede(ofSubject: s)
    position.description = "Unità produttiva \(p % positionsPerSubject)"
    position.state = .attiva
    var start = Google_Type_Date()
    start.year = 2015
    start.month = 1
    start.day = 1
    position.startDate = start
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.posizione = position
    return record
  }

  /// Payment i: month i / positions (a monthly feed), position i % positions.
  func paymentRecord(_ i: Int) -> Cassetto_Posizioni_V1_IngestRecord {
    let month = i / positions + 1
    let p = i % positions
    var payment = Cassetto_Posizioni_V1_Versamento()
    payment.matricola = matricola(p)
    payment.channel = .f24
    payment.reference = "F24-\(p)-\(month)"
    payment.period = String(format: "2025-%02d", month)
    payment.amountCents = Int64(100_000 + (p % 997) * 100 + month)
    var paid = Google_Type_Date()
    paid.year = month == 12 ? 2026 : 2025
    paid.month = Int32(month == 12 ? 1 : month + 1)
    paid.day = 16
    payment.paidOn = paid
    var record = Cassetto_Posizioni_V1_IngestRecord()
    record.versamento = payment
    return record
  }
}

/// splitmix64: a small, fast, seedable generator (one per worker).
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

struct Part: Sendable {
  var latencies: [UInt64] = []
  var unexpected = 0
}

struct PhaseResult {
  var calls: Int
  var unexpected: Int
  var wallSeconds: Double
  var latencies: [UInt64]

  var rate: Double { Double(calls) / wallSeconds }
  func quantile(_ q: Double) -> Double {
    guard !latencies.isEmpty else { return 0 }
    let rank = max(0, min(latencies.count - 1, Int((q * Double(latencies.count)).rounded(.up)) - 1))
    return Double(latencies[rank]) / 1_000_000
  }

  var dictionary: [String: Any] {
    [
      "calls": calls, "unexpected": unexpected, "calls_per_s": (rate * 10).rounded() / 10,
      "p50_ms": quantile(0.5), "p99_ms": quantile(0.99), "p999_ms": quantile(0.999),
      "max_ms": Double(latencies.last ?? 0) / 1_000_000,
    ]
  }

  func line(_ label: String) -> String {
    String(
      format: "%@: %d calls in %.1f s = %.0f calls/s; p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; unexpected answers %d",
      label, calls, wallSeconds, rate, quantile(0.5), quantile(0.99), quantile(0.999),
      Double(latencies.last ?? 0) / 1_000_000, unexpected)
  }
}

extension Duration {
  var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
  var nanoseconds: UInt64 {
    UInt64(components.seconds) * 1_000_000_000 + UInt64(components.attoseconds / 1_000_000_000)
  }
}
