import Foundation
import Storage
import Testing

/// Must match `probe` in Sources/storage-crash-helper/main.swift.
enum CrashProbe {
  static let migration = Migration(
    version: 9001, name: "crash_probe",
    sql: "CREATE TABLE crash_probe (n BIGINT PRIMARY KEY, payload TEXT NOT NULL)")

  /// The helper executable, built beside the test bundle.
  static var helperPath: String {
    let me =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    var directory = (me as NSString).deletingLastPathComponent
    // macOS runs tests from inside an .xctest bundle: step out of it.
    while directory.contains(".xctest") {
      directory = (directory as NSString).deletingLastPathComponent
    }
    return (directory as NSString).appendingPathComponent("storage-crash-helper")
  }
}

@Suite("Durability")
struct DurabilityTests {
  @Test(.timeLimit(.minutes(2)))
  func everyAcknowledgedWriteSurvivesSIGKILL() async throws {
    let helper = CrashProbe.helperPath
    try #require(
      FileManager.default.isExecutableFile(atPath: helper),
      "build the helper first (swift build --product storage-crash-helper): \(helper)")
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let path = (directory as NSString).appendingPathComponent("crash.sqlite")

    var committed: Int64 = 0
    for round in 0..<3 {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: helper)
      process.arguments = [path]
      let output = Pipe()
      process.standardOutput = output
      try process.run()
      // Read acknowledgements until enough have arrived, then kill mid-loop.
      let target = 150
      let acknowledged = try await Task.detached {
        try Self.readAcknowledgements(from: output.fileHandleForReading, until: target)
      }.value
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      #expect(process.terminationReason == .uncaughtSignal)
      // Lines written after the last one read are acknowledged too: take them as well.
      let rest = output.fileHandleForReading.readDataToEndOfFile()
      let all = acknowledged + Self.parse(String(decoding: rest, as: UTF8.self))
      #expect(all.count >= target, "round \(round)")

      let database = try await SQLiteDatabase.open(
        path: path, migrations: [CrashProbe.migration], now: testNow)
      let stored = try await database.read { db in
        Set(try db.query("SELECT n FROM crash_probe").map { try $0.int64("n") })
      }
      committed += Int64(stored.count)
      let missing = all.filter { !stored.contains($0) }
      #expect(missing.isEmpty, "acknowledged but lost: \(missing)")
      let verification = try await AuditLog.verify(database)
      #expect(verification == .intact(count: committed, lastHash: verification.lastHash))
      let outboxCount = try await database.read { db in
        try db.query("SELECT count(*) AS n FROM outbox_messages")[0].int64("n")
      }
      #expect(outboxCount == committed, "row, audit event and outbox message commit together")
      // The next round continues the same chain after another crash.
      try await database.write { db in try db.execute("DELETE FROM crash_probe") }
      await database.close()
    }
  }

  private static func readAcknowledgements(from handle: FileHandle, until target: Int) throws
    -> [Int64]
  {
    var buffer = ""
    var acknowledged: [Int64] = []
    while acknowledged.count < target {
      let chunk = handle.availableData
      if chunk.isEmpty { break }  // the helper exited early
      buffer += String(decoding: chunk, as: UTF8.self)
      guard let lastNewline = buffer.lastIndex(of: "\n") else { continue }
      acknowledged += parse(String(buffer[..<lastNewline]))
      buffer = String(buffer[buffer.index(after: lastNewline)...])
    }
    return acknowledged
  }

  private static func parse(_ text: String) -> [Int64] {
    text.split(separator: "\n").compactMap { line in
      line.hasPrefix("ack ") ? Int64(line.dropFirst(4)) : nil
    }
  }
}

extension AuditVerification {
  fileprivate var lastHash: [UInt8] {
    if case .intact(_, let hash) = self { return hash }
    return []
  }
}
