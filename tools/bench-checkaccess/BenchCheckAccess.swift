import Access
import ArgumentParser
import Contracts
import Deleghe
import Foundation
import Identity
import Posizioni
import RPC
import Security
import Server
import Storage

/// `bench-checkaccess`: the `CheckAccess` benchmark of issue 4 — an intermediary holding
/// `--deleghe` ATTIVA deleghe over `--positions` positions — measured in-process (the
/// ``Authorizer`` as the server builds it) and over gRPC (`cassetto.deleghe.v1.Deleghe/
/// CheckAccess` on an in-process server on 127.0.0.1:0, our client, a person token).
///
/// A benchmark program, never a test. Data: a throw-away data directory under the temporary
/// directory, the real migrations (`Application.start`), rows inserted with the modules'
/// schemas in one transaction each. Checks are random (position, time) pairs: half on a
/// delegated position (allowed unless the time precedes the delega), half on any position
/// (mostly denied: not covered by a delega).
@main
struct BenchCheckAccess: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-checkaccess",
    abstract: "CheckAccess benchmark: checks/s and p50/p99/p99.9 latency, in-process and over gRPC.")

  @Option(help: "Positions to load.")
  var positions: Int = 100_000

  @Option(help: "Subjects the positions belong to.")
  var subjects: Int = 10_000

  @Option(help: "ATTIVA deleghe held by the intermediary (each on one position).")
  var deleghe: Int = 10_000

  @Option(help: "Seconds per phase (in-process, gRPC).")
  var duration: Double = 10

  @Option(help: "Concurrent callers per phase.")
  var concurrency: Int = 16

  @Option(help: "HTTP/2 connections for the gRPC phase.")
  var connections: Int = 1

  @Option(help: "Phases to run: both, inprocess or grpc.")
  var mode: String = "both"

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  @Option(help: "Keep the data directory here instead of a temporary one (re-used if loaded).")
  var dataDir: String?

  func validate() throws {
    guard positions > 0, subjects > 0, subjects <= positions else {
      throw ValidationError("--positions and --subjects must be positive, subjects <= positions")
    }
    guard deleghe > 0, deleghe <= positions else {
      throw ValidationError("--deleghe must be in 1...positions")
    }
    guard duration > 0, concurrency > 0, connections > 0 else {
      throw ValidationError("--duration, --concurrency and --connections must be positive")
    }
    guard ["both", "inprocess", "grpc"].contains(mode) else {
      throw ValidationError("--mode is both, inprocess or grpc")
    }
  }

  /// The intermediary (a syntactically valid codice fiscale).
  static let intermediary = "RSSMRA80A01H501U"
  /// Deleghe are in force from this day; checks span a window starting earlier.
  static let effectiveFrom = "2024-01-01"

  func run() async throws {
    let temporary = dataDir == nil
    let directory =
      dataDir
      ?? (NSTemporaryDirectory() as NSString).appendingPathComponent(
        "bench-checkaccess-\(ProcessInfo.processInfo.processIdentifier)")
    defer { if temporary { try? FileManager.default.removeItem(atPath: directory) } }

    let config = Configuration(dataDirectory: directory, developmentMode: true)
    let application = try await Application.start(config)
    var report: [String: Any] = [
      "positions": positions, "subjects": subjects, "deleghe": deleghe,
      "duration_s": duration, "concurrency": concurrency, "connections": connections,
    ]
    do {
      let loadStart = ContinuousClock.now
      let layout = Layout(positions: positions, subjects: subjects, deleghe: deleghe)
      try await load(layout, into: application.database)
      report["load_s"] = (ContinuousClock.now - loadStart).seconds
      if !json {
        print(
          "loaded \(positions) positions, \(subjects) subjects, \(deleghe) deleghe in "
            + String(format: "%.1f s", report["load_s"] as? Double ?? 0))
      }
      let workload = Workload(layout: layout)

      if mode != "grpc" {
        let database = application.database
        let authorizer = Authorizer(
          positions: PosizioniDirectory(database: database),
          enablements: IdentityEnablementDirectory(database: database),
          deleghe: DelegheDirectory(database: database), cutover: config.cutover)
        let result = try await drive(workload: workload) { check in
          try await authorizer.decide(
            person: Self.intermediary, function: .readPosition, matricola: check.matricola,
            at: check.instant
          ).allowed
        }
        report["inprocess"] = result.dictionary
        if !json { print(result.line("in-process Authorizer.decide")) }
      }

      if mode != "inprocess" {
        let server = try RPC.Server(
          configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
          services: application.services)
        try server.start()
        let signer = try DevelopmentKey.loadOrCreate(at: config.developmentKeyPath)
        let token = try signer.sign(
          PersonToken(
            codiceFiscale: Self.intermediary, issuer: DevelopmentKey.issuer,
            audience: config.tokenAudience, issuedAt: Date(), lifetime: 86_400))
        let metadata: Metadata = ["authorization": "Bearer " + token]
        let channels = (0..<connections).map { _ in
          Channel(host: "127.0.0.1", port: server.localPort)
        }
        let clients = channels.map { Cassetto_Deleghe_V1_DelegheClient(channel: $0) }
        // One call to check the wiring (and open the connections) before timing.
        for client in clients {
          _ = try await client.checkAccess(workload.request(workload.check(0)), metadata: metadata)
        }
        let result = try await drive(workload: workload) { check in
          let client = clients[check.worker % clients.count]
          return try await client.checkAccess(workload.request(check), metadata: metadata)
            .message.allowed
        }
        report["grpc"] = result.dictionary
        if !json { print(result.line("gRPC Deleghe/CheckAccess     ")) }
        for channel in channels { channel.close() }
        await server.shutdown(gracePeriod: .seconds(1))
      }
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

  /// Runs `concurrency` callers for `duration` seconds, each timing every call.
  func drive(
    workload: Workload, call: @escaping @Sendable (Check) async throws -> Bool
  ) async throws -> PhaseResult {
    let seconds = duration
    let started = ContinuousClock.now
    let deadline = started + .milliseconds(Int64(seconds * 1000))
    let parts = try await withThrowingTaskGroup(of: Part.self) { group in
      for worker in 0..<concurrency {
        group.addTask {
          var rng = SplitMix(seed: UInt64(worker) &+ 0x9E37_79B9)
          var part = Part()
          part.latencies.reserveCapacity(1 << 16)
          while ContinuousClock.now < deadline {
            var check = workload.check(rng.next())
            check.worker = worker
            let t0 = ContinuousClock.now
            let allowed = try await call(check)
            let elapsed = ContinuousClock.now - t0
            part.latencies.append(elapsed.nanoseconds)
            if allowed { part.allowed += 1 }
            if allowed != check.expectAllowed { part.unexpected += 1 }
          }
          return part
        }
      }
      var parts: [Part] = []
      for try await part in group { parts.append(part) }
      return parts
    }
    let wall = (ContinuousClock.now - started).seconds
    var latencies = parts.flatMap(\.latencies)
    latencies.sort()
    return PhaseResult(
      checks: latencies.count, allowed: parts.reduce(0) { $0 + $1.allowed },
      unexpected: parts.reduce(0) { $0 + $1.unexpected }, wallSeconds: wall,
      latencies: latencies)
  }

  /// Inserts subjects, positions, the intermediary's enablement, albo entry and deleghe.
  func load(_ layout: Layout, into database: SQLiteDatabase) async throws {
    let now = Date()
    let micros = Int64(now.timeIntervalSince1970 * 1_000_000)
    try await database.write { db in
      for s in 0..<layout.subjects {
        try db.execute(
          """
          INSERT INTO posizioni_subjects (fiscal_code, name, name_folded, nature,
            legal_representative, pec, sede_code, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?)
          """,
          [
            layout.subject(s), "Azienda \(s)", "azienda \(s)",
            Cassetto_Posizioni_V1_Nature.private.rawValue, "LGLRPP70A01H501X",
            "azienda\(s)@pec.example.it", "7000", micros,
          ])
      }
      for p in 0..<layout.positions {
        try db.execute(
          """
          INSERT INTO posizioni_positions (matricola, subject_fiscal_code, fund, sede_code,
            description, state, start_date, end_date, updated_at)
          VALUES (?, ?, ?, ?, '', ?, '2010-01-01', '', ?)
          """,
          [
            layout.matricola(p), layout.subject(layout.subjectOf(position: p)),
            Cassetto_Common_V1_Fund.privatiUniemens.rawValue, "7000",
            Cassetto_Posizioni_V1_PosizioneState.attiva.rawValue, micros,
          ])
      }
    }
    try await database.write { db in
      try db.execute(
        """
        INSERT INTO identity_abilitazioni (id, holder_fiscal_code, form, scopes, ra012_services,
          sede_code, employer_fiscal_code, state, granted_at, legacy, legacy_id,
          source_request_id)
        VALUES ('bench-abil-1', ?, ?, ?, '', '7000', '', ?, ?, 0, NULL, '')
        """,
        [
          Self.intermediary, Cassetto_Identity_V1_Form.sc62.rawValue,
          String(Cassetto_Common_V1_Scope.contribuzionePrivati.rawValue),
          Cassetto_Identity_V1_AbilitazioneState.active.rawValue, micros,
        ])
      try db.execute(
        """
        INSERT INTO identity_albo_registrations (fiscal_code, albo, ordine, registration_number,
          state, registered_on, given_name, family_name, updated_at)
        VALUES (?, ?, 'Roma', 'CL-0001', ?, '2010-09-01', 'Mario', 'Rossi', ?)
        """,
        [
          Self.intermediary, Cassetto_Identity_V1_Albo.consulentiLavoro.rawValue,
          Cassetto_Identity_V1_AlboState.active.rawValue, micros,
        ])
      for d in 0..<layout.deleghe {
        let p = layout.delegatedPosition(d)
        try db.execute(
          """
          INSERT INTO deleghe_deleghe (id, kind, state, subject_fiscal_code, matricola,
            delegant_fiscal_code, delegate_fiscal_code, decorrenza, effective_from,
            created_by, created_at, activated_at, signature_declared)
          VALUES (?, ?, ?, ?, ?, 'LGLRPP70A01H501X', ?, ?, ?, 'bench', ?, ?, 1)
          """,
          [
            String(format: "bench-%07d", d), Cassetto_Deleghe_V1_DelegaKind.intermediario.rawValue,
            Cassetto_Deleghe_V1_DelegaState.attiva.rawValue,
            layout.subject(layout.subjectOf(position: p)), layout.matricola(p),
            Self.intermediary, Self.effectiveFrom, Self.effectiveFrom, micros, micros,
          ])
      }
    }
  }
}

/// Where the rows are: position p belongs to subject p % subjects; delega d is on position
/// (d * stride) so the deleghe spread over the subjects.
struct Layout: Sendable {
  var positions: Int
  var subjects: Int
  var deleghe: Int

  func subject(_ s: Int) -> String { String(format: "%011d", 10_000_000 + s) }
  func matricola(_ p: Int) -> String { String(format: "%010d", 1_000_000_000 + p) }
  func subjectOf(position p: Int) -> Int { p % subjects }
  func delegatedPosition(_ d: Int) -> Int { d * (positions / deleghe) }
  func isDelegated(_ p: Int) -> Bool {
    let stride = positions / deleghe
    return p % stride == 0 && p / stride < deleghe
  }
}

/// One check to make.
struct Check: Sendable {
  var matricola: String
  var instant: Date
  var expectAllowed: Bool
  var worker = 0
}

/// Random checks: half on a delegated position, half on any position; the instant is
/// uniform over [2023-07-01, 2026-07-01), so a sixth precede the deleghe's effective date.
struct Workload: Sendable {
  var layout: Layout
  static let windowStart = 1_688_169_600.0  // 2023-07-01T00:00:00Z
  static let windowLength = 3 * 365.25 * 86_400
  static let effective = 1_704_063_600.0  // 2024-01-01T00:00:00+01:00 (Europe/Rome)

  func check(_ random: UInt64) -> Check {
    let onDelegated = random & 1 == 0
    let pick = Int((random >> 1) % UInt64(onDelegated ? layout.deleghe : layout.positions))
    let position = onDelegated ? layout.delegatedPosition(pick) : pick
    let fraction = Double((random >> 32) & 0xFFFFF) / Double(0x100000)
    let instant = Self.windowStart + fraction * Self.windowLength
    let expect = layout.isDelegated(position) && instant >= Self.effective
    return Check(
      matricola: layout.matricola(position), instant: Date(timeIntervalSince1970: instant),
      expectAllowed: expect)
  }

  func request(_ check: Check) -> Cassetto_Deleghe_V1_CheckAccessRequest {
    var request = Cassetto_Deleghe_V1_CheckAccessRequest()
    request.function = .readPosition
    request.matricola = check.matricola
    var time = Google_Protobuf_Timestamp()
    let seconds = check.instant.timeIntervalSince1970
    time.seconds = Int64(seconds.rounded(.down))
    time.nanos = Int32((seconds - seconds.rounded(.down)) * 1e9)
    request.time = time
    return request
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
  var allowed = 0
  var unexpected = 0
}

struct PhaseResult {
  var checks: Int
  var allowed: Int
  var unexpected: Int
  var wallSeconds: Double
  var latencies: [UInt64]

  var rate: Double { Double(checks) / wallSeconds }
  func quantile(_ q: Double) -> Double {
    guard !latencies.isEmpty else { return 0 }
    let rank = max(0, min(latencies.count - 1, Int((q * Double(latencies.count)).rounded(.up)) - 1))
    return Double(latencies[rank]) / 1_000
  }

  var dictionary: [String: Any] {
    [
      "checks": checks, "allowed": allowed, "unexpected": unexpected,
      "checks_per_s": (rate * 10).rounded() / 10,
      "p50_us": quantile(0.5), "p99_us": quantile(0.99), "p999_us": quantile(0.999),
      "max_us": Double(latencies.last ?? 0) / 1_000,
    ]
  }

  func line(_ label: String) -> String {
    String(
      format: "%@: %d checks in %.1f s = %.0f checks/s; p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs; allowed %d (%.0f%%), unexpected decisions %d",
      label, checks, wallSeconds, rate, quantile(0.5), quantile(0.99), quantile(0.999),
      Double(latencies.last ?? 0) / 1_000, allowed,
      checks == 0 ? 0 : 100 * Double(allowed) / Double(checks), unexpected)
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
