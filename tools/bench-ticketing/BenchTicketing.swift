import ArgumentParser
import Contracts
import Foundation
import Identity
import RPC
import Security
import Server
import Storage
import Synchronization

/// `bench-ticketing`: the ticketing benchmark of issue 6, on the real composition root
/// (`Application.start`, demo data set, a throw-away data directory) behind an in-process
/// server on 127.0.0.1:0, called with our generated client and person tokens:
///
/// 1. `CreateRichiesta` without attachments and with 3 × 3 MiB PDF attachments (closed loop,
///    `--concurrency` callers, `--duration` seconds each): richieste/s, MiB/s, p50/p99;
/// 2. `SearchRichieste` over `--stored` richieste (bulk-inserted rows on the demo positions):
///    newest-first pages by matricola with state and subject filters: calls/s, p50/p99;
/// 3. `WatchRichiesta` fan-out: `--watchers` watchers of one richiesta over `--connections`
///    connections; an operator comments `--rounds` times; the time from the comment's commit to
///    each watcher's event: p50/p99/max.
///
/// A benchmark program, never a test.
@main
struct BenchTicketing: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-ticketing",
    abstract: "Ticketing benchmark: creation with/without attachments, search, watch fan-out.")

  @Option(help: "Seconds per creation and search phase.") var duration: Double = 5
  @Option(help: "Concurrent callers per phase.") var concurrency: Int = 8
  @Option(help: "Richieste bulk-stored before the search phase.") var stored: Int = 1_000_000
  @Option(help: "Concurrent watchers of one richiesta.") var watchers: Int = 1000
  @Option(help: "HTTP/2 connections the watchers share.") var connections: Int = 10
  @Option(help: "Comments the watchers must see.") var rounds: Int = 5
  @Flag(help: "Print one JSON object instead of text.") var json = false

  static let matricola = "7012345601"

  func run() async throws {
    let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
      "bench-ticketing-\(ProcessInfo.processInfo.processIdentifier)")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let config = Configuration(dataDirectory: directory, developmentMode: true, loadDemoData: true)
    let application = try await Application.start(config)
    let server = try RPC.Server(
      configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
      services: application.services)
    try server.start()
    let signer = try DevelopmentKey.loadOrCreate(at: config.developmentKeyPath)
    func auth(_ key: String) throws -> Metadata {
      let persona = Identity.DemoData.persona(key)!
      let token = try signer.sign(
        PersonToken(
          codiceFiscale: persona.codiceFiscale.value, issuer: DevelopmentKey.issuer,
          audience: config.tokenAudience, issuedAt: Date(), lifetime: 86_400))
      return ["authorization": "Bearer " + token]
    }
    let owner = try auth("legal-representative")
    let office = try auth("operator-roma")
    let channels = (0..<max(1, concurrency / 4)).map { _ in
      Channel(host: "127.0.0.1", port: server.localPort)
    }
    let clients = channels.map { Cassetto_Ticketing_V1_TicketingClient(channel: $0) }
    var report: [String: Any] = ["duration_s": duration, "concurrency": concurrency]
    func say(_ line: String) { if !json { print(line) } }

    // 1. Creation.
    let pdf = Array("%PDF-1.4\n".utf8) + [UInt8](repeating: 0x20, count: 3 * 1024 * 1024 - 9)
    for (label, files) in [("create_no_attachments", 0), ("create_3x3MiB", 3)] {
      let counter = Mutex(0)
      let result = try await drive { worker in
        let client = clients[worker % clients.count]
        let call = try await client.createRichiesta(metadata: owner)
        var header = Cassetto_Ticketing_V1_CreateRichiestaHeader()
        header.matricola = Self.matricola
        header.subjectCode = "P06.02"
        header.text = "Benchmark"
        var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
        contacts.email = "bench@example.it"
        header.contacts = contacts
        header.attachments = (0..<files).map { index in
          var info = Cassetto_Ticketing_V1_AttachmentInfo()
          info.fileName = "allegato-\(index).pdf"
          info.size = Int64(pdf.count)
          return info
        }
        var first = Cassetto_Ticketing_V1_CreateRichiestaRequest()
        first.header = header
        try await call.send(first)
        for index in 0..<files {
          var offset = 0
          while offset < pdf.count {
            var chunk = Cassetto_Ticketing_V1_AttachmentChunk()
            chunk.index = Int32(index)
            chunk.data = Array(pdf[offset..<min(pdf.count, offset + 64 * 1024)])
            var message = Cassetto_Ticketing_V1_CreateRichiestaRequest()
            message.chunk = chunk
            try await call.send(message)
            offset += 64 * 1024
          }
        }
        _ = try await call.closeAndReceive()
        counter.withLock { $0 += 1 }
      }
      var entry = result.dictionary
      entry["MiB_per_s"] = Double(files * 3) * result.rate
      report[label] = entry
      say(result.line(label) + (files > 0 ? String(format: ", %.0f MiB/s in", Double(files * 3) * result.rate) : ""))
    }

    // 2. Search over many stored richieste.
    let loadStart = ContinuousClock.now
    try await bulkStore(stored, into: application.database)
    report["stored"] = stored
    report["store_s"] = (ContinuousClock.now - loadStart).seconds
    say("stored \(stored) richieste in " + String(format: "%.1f s", (ContinuousClock.now - loadStart).seconds))
    let matricole = ["7012345601", "7512345602"]
    let states: [Cassetto_Ticketing_V1_RichiestaState] = [.unspecified, .aperta, .chiusa]
    let search = try await drive { worker in
      var request = Cassetto_Ticketing_V1_SearchRichiesteRequest()
      request.matricola = matricole[Int.random(in: 0..<matricole.count)]
      request.state = states[Int.random(in: 0..<states.count)]
      if Bool.random() { request.subjectCode = "P0\(Int.random(in: 1...6)).01" }
      request.pageSize = 50
      _ = try await clients[worker % clients.count].searchRichieste(request, metadata: owner)
    }
    report["search"] = search.dictionary
    say(search.line("SearchRichieste (page of 50)"))

    // 3. Watch fan-out.
    var create = Cassetto_Ticketing_V1_CreateRichiestaRequest()
    var header = Cassetto_Ticketing_V1_CreateRichiestaHeader()
    header.matricola = Self.matricola
    header.subjectCode = "P06.02"
    header.text = "Watched"
    var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
    contacts.email = "bench@example.it"
    header.contacts = contacts
    create.header = header
    let call = try await clients[0].createRichiesta(metadata: owner)
    try await call.send(create)
    let watched = try await call.closeAndReceive().message
    let watchChannels = (0..<connections).map { _ in Channel(host: "127.0.0.1", port: server.localPort) }
    let shared = FanOut()
    let rounds = self.rounds
    let watchedID = watched.id
    let watchTasks = (0..<watchers).map { index in
      Task {
        var request = Cassetto_Ticketing_V1_WatchRichiestaRequest()
        request.id = watchedID
        let client = Cassetto_Ticketing_V1_TicketingClient(channel: watchChannels[index % watchChannels.count])
        let stream = try await client.watchRichiesta(request, metadata: owner)
        var seen = 0
        for try await event in stream.responses {
          if event.kind == .snapshot { shared.ready.withLock { $0 += 1 }; continue }
          guard event.kind == .comment else { continue }
          let now = ContinuousClock.now
          if let at = shared.commentedAt.withLock({ $0[Int64(event.comment) ?? -1] }) {
            shared.delays.withLock { $0.append((now - at).seconds) }
          }
          seen += 1
          if seen == rounds { return }
        }
      }
    }
    while shared.ready.withLock({ $0 }) < watchers { try await Task.sleep(for: .milliseconds(20)) }
    for round in 0..<rounds {
      var comment = Cassetto_Ticketing_V1_AddCommentRequest()
      comment.id = watched.id
      comment.text = "\(round)"
      let start = ContinuousClock.now
      shared.commentedAt.withLock { $0[Int64(round)] = start }
      _ = try await clients[0].addComment(comment, metadata: office)
      try await Task.sleep(for: .milliseconds(300))
    }
    for task in watchTasks { try await task.value }
    let all = shared.delays.withLock { $0 }.sorted()
    func q(_ p: Double) -> Double { all.isEmpty ? 0 : all[min(all.count - 1, Int(Double(all.count) * p))] * 1000 }
    report["watch"] = [
      "watchers": watchers, "connections": connections, "events": all.count,
      "p50_ms": q(0.5), "p99_ms": q(0.99), "max_ms": (all.last ?? 0) * 1000,
    ]
    say(String(format: "WatchRichiesta fan-out: %d watchers on %d connections, %d events: p50 %.1f ms, p99 %.1f ms, max %.1f ms (comment sent → event received)", watchers, connections, all.count, q(0.5), q(0.99), (all.last ?? 0) * 1000))

    for channel in channels + watchChannels { channel.close() }
    await server.shutdown(gracePeriod: .seconds(1))
    await application.close()
    if json {
      let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }

  /// Rows straight into `ticketing_richieste` (as CreateRichiesta writes them, without the
  /// history), in transactions of 20,000, spread over the demo positions' subjects and states.
  func bulkStore(_ count: Int, into database: any Database) async throws {
    var done = 0
    while done < count {
      let batch = min(20_000, count - done)
      let start = done
      try await database.write { db in
        let now = Date()
        for n in start..<(start + batch) {
          let matricola = n % 2 == 0 ? "7012345601" : "7512345602"
          let sede = n % 2 == 0 ? "7000" : "7500"
          _ = try db.execute(
            """
            INSERT INTO ticketing_richieste (id, protocol_number, matricola, subject_fiscal_code,
              subject_code, threshold_days, text, email, consent_email, consent_sms, state,
              esito, sede_code, requester, opened_at, updated_at)
            VALUES (?, ?, ?, '00000000000', ?, 30, 'bulk', 'bench@example.it', 0, 0, ?, 0, ?,
              'BULK', ?, ?)
            """,
            [
              "bulk-\(n)", "\(sede)-1999-\(n)", matricola, "P0\(1 + n % 6).01",
              Int64(1 + n % 3), sede, now.addingTimeInterval(Double(n - count)),
              now.addingTimeInterval(Double(n - count)),
            ])
        }
      }
      done += batch
    }
  }

  struct PhaseResult {
    var calls: Int
    var errors: Int
    var seconds: Double
    var latencies: [Double]
    var rate: Double { Double(calls) / seconds }
    func quantile(_ q: Double) -> Double {
      latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))] * 1000
    }
    var dictionary: [String: Any] {
      ["calls": calls, "errors": errors, "per_s": rate, "p50_ms": quantile(0.5), "p99_ms": quantile(0.99)]
    }
    func line(_ label: String) -> String {
      String(format: "%@: %d calls, %.1f/s, p50 %.2f ms, p99 %.2f ms, %d errors", label, calls, rate, quantile(0.5), quantile(0.99), errors)
    }
  }

  /// `concurrency` workers repeat `call` for `duration` seconds.
  func drive(_ call: @escaping @Sendable (Int) async throws -> Void) async throws -> PhaseResult {
    let end = ContinuousClock.now + .milliseconds(Int(duration * 1000))
    let started = ContinuousClock.now
    let results = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
      for worker in 0..<concurrency {
        group.addTask {
          var latencies: [Double] = []
          var errors = 0
          while ContinuousClock.now < end {
            let start = ContinuousClock.now
            do { try await call(worker) } catch { errors += 1 }
            latencies.append((ContinuousClock.now - start).seconds)
          }
          return (latencies, errors)
        }
      }
      var all: [([Double], Int)] = []
      for try await result in group { all.append(result) }
      return all
    }
    let latencies = results.flatMap(\.0).sorted()
    let errors = results.reduce(0) { $0 + $1.1 }
    return PhaseResult(
      calls: latencies.count - errors, errors: errors,
      seconds: (ContinuousClock.now - started).seconds, latencies: latencies)
  }
}

/// What the watchers and the commenter share in the fan-out phase.
final class FanOut: Sendable {
  let ready = Mutex(0)
  let delays = Mutex<[Double]>([])
  let commentedAt = Mutex<[Int64: ContinuousClock.Instant]>([:])
}

extension Duration {
  var seconds: Double {
    Double(components.seconds) + Double(components.attoseconds) / 1e18
  }
}
