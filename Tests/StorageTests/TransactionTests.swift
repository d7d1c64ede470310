import Foundation
import Storage
import Synchronization
import Testing

@Suite("Transactions")
struct TransactionTests {
  @Test func committedWriteIsVisibleToLaterReads() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      let id = try await database.write { db in
        try db.query("INSERT INTO items (name, quantity) VALUES (?, ?) RETURNING id", ["a", 3])[0]
          .int64("id")
      }
      let row = try await database.read { db in
        try db.queryFirst("SELECT name, quantity FROM items WHERE id = ?", [id])
      }
      #expect(try row?.string("name") == "a")
      #expect(try row?.int64("quantity") == 3)
    }
  }

  @Test func throwingBodyLeavesNothing() async throws {
    struct Abort: Error {}
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      await #expect(throws: Abort.self) {
        try await database.write { db in
          try db.execute("INSERT INTO items (name) VALUES (?)", ["first"])
          try db.execute("INSERT INTO items (name) VALUES (?)", ["second"])
          throw Abort()
        }
      }
      #expect(try await countItems(database) == 0)
      // The writer is usable afterwards: the transaction was rolled back, not left open.
      try await database.write { db in try db.execute("INSERT INTO items (name) VALUES ('x')") }
      #expect(try await countItems(database) == 1)
    }
  }

  @Test func constraintViolationRollsBackTheWholeTransaction() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      await #expect {
        try await database.write { db in
          try db.execute("INSERT INTO items (name) VALUES ('dup')")
          try db.execute("INSERT INTO items (name) VALUES ('dup')")
        }
      } throws: { error in
        guard case StorageError.constraintViolation = error else { return false }
        return true
      }
      #expect(try await countItems(database) == 0)
    }
  }

  @Test func readsCannotWrite() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      await #expect(throws: StorageError.self) {
        try await database.read { db in
          _ = try db.query("INSERT INTO items (name) VALUES ('sneaky')")
        }
      }
      #expect(try await countItems(database) == 0)
    }
  }

  @Test func changesAndLastInsertID() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      let (first, second, changed) = try await database.write { db in
        try db.execute("INSERT INTO items (name) VALUES ('a')")
        let first = db.lastInsertID
        try db.execute("INSERT INTO items (name) VALUES ('b')")
        let second = db.lastInsertID
        let changed = try db.execute("UPDATE items SET quantity = 7")
        #expect(db.changes == 2)
        return (first, second, changed)
      }
      #expect(second == first + 1)
      #expect(changed == 2)
    }
  }

  @Test func readersRunWhileALongWriteIsInProgress() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      try await database.write { db in try db.execute("INSERT INTO items (name) VALUES ('old')") }
      let writeStarted = Atomic<Bool>(false)
      let writeFinished = Atomic<Bool>(false)
      let longWrite = Task {
        try await database.write { db in
          try db.execute("INSERT INTO items (name) VALUES ('new')")
          writeStarted.store(true, ordering: .sequentiallyConsistent)
          Thread.sleep(forTimeInterval: 1.0)
          writeFinished.store(true, ordering: .sequentiallyConsistent)
        }
      }
      while !writeStarted.load(ordering: .sequentiallyConsistent) {
        try await Task.sleep(for: .milliseconds(5))
      }
      // Several reads, concurrently, all while the writer holds its transaction open.
      let counts = try await withThrowingTaskGroup(of: Int64.self) { group in
        for _ in 0..<6 { group.addTask { try await countItems(database) } }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      let finishedBeforeReads = writeFinished.load(ordering: .sequentiallyConsistent)
      #expect(!finishedBeforeReads, "reads waited for the writer")
      #expect(counts == Array(repeating: 1, count: 6), "reads saw only committed data")
      try await longWrite.value
      #expect(try await countItems(database) == 2)
    }
  }

  @Test func writeCancelledWhileQueuedNeverRuns() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      let blockerStarted = Atomic<Bool>(false)
      let blocker = Task {
        try await database.write { db in
          blockerStarted.store(true, ordering: .sequentiallyConsistent)
          Thread.sleep(forTimeInterval: 0.5)
          return try db.execute("INSERT INTO items (name) VALUES ('blocker')")
        }
      }
      while !blockerStarted.load(ordering: .sequentiallyConsistent) {
        try await Task.sleep(for: .milliseconds(5))
      }
      let queued = Task {
        try await database.write { db in
          try db.execute("INSERT INTO items (name) VALUES ('queued')")
        }
      }
      try await Task.sleep(for: .milliseconds(50))
      queued.cancel()
      await #expect(throws: CancellationError.self) { try await queued.value }
      _ = try await blocker.value
      let names = try await database.read { db in
        try db.query("SELECT name FROM items").map { try $0.string("name") }
      }
      #expect(names == ["blocker"])
    }
  }

  @Test func writesAreSerialisedAndAllCommit() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<50 {
          group.addTask {
            try await database.write { db in
              _ = try db.execute("INSERT INTO items (name) VALUES (?)", ["item-\(index)"])
            }
          }
        }
        try await group.waitForAll()
      }
      #expect(try await countItems(database) == 50)
    }
  }

  @Test func valuesRoundTrip() async throws {
    let table = Migration(version: 100, name: "kinds") { dialect in
      "CREATE TABLE kinds (i BIGINT, r DOUBLE PRECISION, t TEXT, b \(dialect.blobType), f BIGINT)"
    }
    try await withDatabase(migrations: [table]) { (database, _) async throws in
      let instant = Date(microsecondsSinceEpoch: 1_795_510_800_123_456)
      let row = try await database.write { db in
        try db.execute(
          "INSERT INTO kinds VALUES (?, ?, ?, ?, ?)",
          [Int64.min, 2.5, "è€\u{0}z", [0, 255, 7] as [UInt8], true])
        try db.execute(
          "INSERT INTO kinds VALUES (?, ?, ?, ?, ?)",
          [instant, [] as [UInt8], "", SQLValue.null, String?.none])
        return try db.query("SELECT * FROM kinds ORDER BY rowid")
      }
      #expect(try row[0].int64("i") == Int64.min)
      #expect(try row[0].double("r") == 2.5)
      #expect(try row[0].string("t") == "è€\u{0}z")
      #expect(try row[0].bytes("b") == [0, 255, 7])
      #expect(try row[0].bool("f") == true)
      #expect(row[1]["t"] == .text(""), "an empty string is not NULL")
      #expect(row[1]["r"] == .blob([]), "an empty blob is not NULL")
      #expect(try row[1].date("i") == instant)
      #expect(try row[1].optionalBytes("b") == nil)
      #expect(try row[1].optionalString("F") == nil, "names match case-insensitively")
      #expect(throws: StorageError.typeMismatch(column: "i", expected: "String", found: "INTEGER"))
      {
        try row[1].string("i")
      }
      #expect(throws: StorageError.missingColumn("nope")) { try row[0].string("nope") }
    }
  }

  @Test func statementErrorsAreReported() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      await #expect(throws: StorageError.parameterCount(expected: 2, given: 1, sql: "SELECT ?, ?"))
      {
        try await database.read { db in _ = try db.query("SELECT ?, ?", [1]) }
      }
      await #expect(throws: StorageError.multipleStatements("SELECT 1; SELECT 2")) {
        try await database.read { db in _ = try db.query("SELECT 1; SELECT 2") }
      }
    }
  }

  @Test func closedDatabaseRefusesWork() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: [], now: testNow)
    await database.close()
    await #expect(throws: StorageError.closed) { try await database.read { _ in 1 } }
    await #expect(throws: StorageError.closed) { try await database.write { _ in 1 } }
  }

  @Test func newFilesAreReadableByTheOwnerOnly() async throws {
    let parent = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: parent) }
    let directory = (parent as NSString).appendingPathComponent("data")
    let database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: [], now: testNow)
    try await database.write { db in try db.execute("CREATE TABLE t (x BIGINT)") }
    for name in ["", "-wal"] {
      let attributes = try FileManager.default.attributesOfItem(atPath: database.path + name)
      #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(name)")
    }
    let directoryAttributes = try FileManager.default.attributesOfItem(atPath: directory)
    #expect((directoryAttributes[.posixPermissions] as? Int) == 0o700)
    await database.close()
  }

  @Test func pragmasAreSet() async throws {
    try await withDatabase { (database, _) async throws in
      let (mode, synchronous, foreignKeys) = try await database.write { db in
        (
          try db.query("PRAGMA journal_mode")[0].string("journal_mode"),
          try db.query("PRAGMA synchronous")[0].int64("synchronous"),
          try db.query("PRAGMA foreign_keys")[0].int64("foreign_keys")
        )
      }
      #expect(mode == "wal")
      #expect(synchronous == 2, "synchronous=FULL")
      #expect(foreignKeys == 1)
      let readerSynchronous = try await database.read { db in
        try db.query("PRAGMA synchronous")[0].int64("synchronous")
      }
      #expect(readerSynchronous == 2)
    }
  }
}
