// Test helper for StorageTests' durability test (not shipped): opens the SQLite database at
// the path given as the only argument and commits, in a loop until killed, one row plus its
// audit event plus an outbox message per transaction, printing "ack <n>" after each commit
// returned. The test SIGKILLs it and checks every acknowledged row survived.
import Foundation
import Storage

/// Must match `CrashProbe.migration` in Tests/StorageTests.
let probe = Migration(
  version: 9001, name: "crash_probe",
  sql: "CREATE TABLE crash_probe (n BIGINT PRIMARY KEY, payload TEXT NOT NULL)")

guard CommandLine.arguments.count == 2 else {
  FileHandle.standardError.write(Data("usage: storage-crash-helper <database path>\n".utf8))
  exit(2)
}
let path = CommandLine.arguments[1]
do {
  let database = try await SQLiteDatabase.open(path: path, migrations: [probe], now: Date())
  var n: Int64 = 1
  while true {
    let current = n
    let now = Date()
    try await database.write { db in
      try db.execute(
        "INSERT INTO crash_probe (n, payload) VALUES (?, ?)",
        [current, String(repeating: "x", count: 200)])
      try AuditLog.append(
        AuditEvent(
          time: now, actor: "storage-crash-helper", action: "probe", subject: "probe/\(current)",
          outcome: .success),
        in: db)
      try Outbox.enqueue(
        OutboxMessage(channel: .email, recipient: "probe@example.org", body: "\(current)"),
        at: now, in: db)
    }
    // Unbuffered: the line reaches the pipe before the next write starts.
    FileHandle.standardOutput.write(Data("ack \(current)\n".utf8))
    n += 1
  }
} catch {
  FileHandle.standardError.write(Data("storage-crash-helper: \(error)\n".utf8))
  exit(1)
}
