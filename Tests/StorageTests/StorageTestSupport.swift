import Foundation
import Storage

/// A fixed instant for tests: 2026-11-24T09:00:00Z.
let testNow = Date(timeIntervalSince1970: 1_795_510_800)

/// A fresh directory under the system temporary directory, removed by `body`'s caller.
func makeTemporaryDirectory() throws -> String {
  let path = (NSTemporaryDirectory() as NSString).appendingPathComponent(
    "storage-tests-\(UUID().uuidString)")
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

/// Opens a database in a fresh directory with `migrations`, runs `body`, closes it and removes
/// the directory.
func withDatabase(
  migrations: [Migration] = [], _ body: (SQLiteDatabase, String) async throws -> Void
) async throws {
  let directory = try makeTemporaryDirectory()
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let database = try await SQLiteDatabase.open(
    dataDirectory: directory, migrations: migrations, now: testNow)
  do {
    try await body(database, directory)
    await database.close()
  } catch {
    await database.close()
    throw error
  }
}

/// A table for tests that need one of their own.
let itemsMigration = Migration(version: 100, name: "items") { dialect in
  """
  CREATE TABLE items (
    id \(dialect.autoIncrementPrimaryKey),
    name TEXT NOT NULL UNIQUE,
    quantity BIGINT NOT NULL DEFAULT 0
  )
  """
}

func countItems(_ database: any Database) async throws -> Int64 {
  try await database.read { db in try db.query("SELECT count(*) AS n FROM items")[0].int64("n") }
}
