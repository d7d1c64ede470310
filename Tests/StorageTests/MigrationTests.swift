import Foundation
import Storage
import Testing

@Suite("Migrations")
struct MigrationTests {
  /// Migrations that log their own order into a table the first one creates.
  static let logged: [Migration] = [
    Migration(
      version: 100, name: "log",
      sql: "CREATE TABLE log (n BIGINT NOT NULL); INSERT INTO log (n) VALUES (100);"),
    Migration(version: 105, name: "second", sql: "INSERT INTO log (n) VALUES (105)"),
    Migration(version: 110, name: "third", sql: "INSERT INTO log (n) VALUES (110)"),
  ]

  static func log(_ database: any Database) async throws -> [Int64] {
    try await database.read { db in
      try db.query("SELECT n FROM log ORDER BY rowid").map { try $0.int64("n") }
    }
  }

  static func appliedVersions(_ database: any Database) async throws -> [Int64] {
    try await database.read { db in
      try db.query("SELECT version FROM schema_migrations ORDER BY version").map {
        try $0.int64("version")
      }
    }
  }

  @Test func appliedInVersionOrderRegardlessOfListOrder() async throws {
    try await withDatabase(migrations: Self.logged.reversed()) { (database, _) async throws in
      #expect(try await Self.log(database) == [100, 105, 110])
      #expect(try await Self.appliedVersions(database) == [1, 2, 3, 100, 105, 110])
    }
  }

  @Test func appliedOnlyOnceAcrossReopens() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for _ in 0..<3 {
      let database = try await SQLiteDatabase.open(
        dataDirectory: directory, migrations: Self.logged, now: testNow)
      #expect(try await Self.log(database) == [100, 105, 110])
      await database.close()
    }
  }

  @Test func newMigrationsApplyOnReopenIncludingLowerVersions() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: [Self.logged[0], Self.logged[2]], now: testNow)
    await database.close()
    let late = Migration(version: 120, name: "late", sql: "INSERT INTO log (n) VALUES (120)")
    database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: Self.logged + [late], now: testNow)
    #expect(try await Self.log(database) == [100, 110, 105, 120])
    await database.close()
  }

  @Test func refusesADatabaseNewerThanTheCode() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: Self.logged, now: testNow)
    await database.close()
    await #expect(
      throws: StorageError.databaseNewerThanCode(databaseVersion: 110, codeVersion: 105)
    ) {
      _ = try await SQLiteDatabase.open(
        dataDirectory: directory, migrations: Array(Self.logged.prefix(2)), now: testNow)
    }
  }

  @Test func refusesARenamedMigration() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: Self.logged, now: testNow)
    await database.close()
    var renamed = Self.logged
    renamed[1] = Migration(version: 105, name: "other", sql: "SELECT 1")
    await #expect(
      throws: StorageError.migrationMismatch(
        version: 105, databaseName: "second", codeName: "other")
    ) {
      _ = try await SQLiteDatabase.open(dataDirectory: directory, migrations: renamed, now: testNow)
    }
  }

  @Test func failingMigrationLeavesNoTraceAndStopsStartUp() async throws {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let broken = Migration(
      version: 120, name: "broken",
      sql: "INSERT INTO log (n) VALUES (120); INSERT INTO no_such_table VALUES (1);")
    await #expect(throws: StorageError.self) {
      _ = try await SQLiteDatabase.open(
        dataDirectory: directory, migrations: Self.logged + [broken], now: testNow)
    }
    let database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: Self.logged, now: testNow)
    #expect(try await Self.log(database) == [100, 105, 110], "120's insert was rolled back")
    #expect(try await Self.appliedVersions(database).last == 110)
    await database.close()
  }

  @Test func refusesDuplicateVersions() async throws {
    await #expect(throws: StorageError.invalidMigrations("version 105 appears twice")) {
      try await withDatabase(migrations: Self.logged + [Self.logged[1]]) { _, _ in }
    }
    await #expect(throws: StorageError.invalidMigrations("version 3 appears twice")) {
      try await withDatabase(migrations: [Migration(version: 3, name: "clash", sql: "SELECT 1")]) {
        _, _ in
      }
    }
  }

  @Test func recordsTheInjectedTime() async throws {
    try await withDatabase { (database, _) async throws in
      let times = try await database.read { db in
        try db.query("SELECT applied_at FROM schema_migrations").map { try $0.date("applied_at") }
      }
      #expect(times == [testNow, testNow, testNow])
    }
  }
}
