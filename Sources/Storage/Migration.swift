import Foundation

/// One versioned schema change, contributed by a module and applied once, at start-up.
///
/// Versions are global and applied in ascending order; each module owns a block so modules
/// never collide (see `docs/storage.md`): Storage 1–99, Identity 100–199, Deleghe 200–299,
/// Posizioni 300–399, Ticketing 400–499, Notifications 500–599, Audit 600–699, Server 900–999.
/// A migration is never edited once released: add a new one.
///
/// Write portable SQL (`BIGINT`, `TEXT`, `DOUBLE PRECISION`, integer 0/1 for booleans,
/// `BIGINT` microseconds for instants); where a type or statement differs, use the
/// dialect-taking initializer:
///
/// ```swift
/// Migration(version: 101, name: "persons") { dialect in
///   "CREATE TABLE persons (cf TEXT PRIMARY KEY, photo \(dialect.blobType))"
/// }
/// ```
public struct Migration: Sendable {
  public let version: Int64
  public let name: String
  private let render: @Sendable (SQLDialect) -> String

  /// A migration whose SQL is the same on every engine.
  public init(version: Int64, name: String, sql: String) {
    self.init(version: version, name: name) { _ in sql }
  }

  /// A migration whose SQL depends on the engine.
  public init(version: Int64, name: String, sql: @escaping @Sendable (SQLDialect) -> String) {
    self.version = version
    self.name = name
    self.render = sql
  }

  /// The SQL script for `dialect`.
  public func sql(for dialect: SQLDialect) -> String { render(dialect) }
}

/// Applies migrations to any ``Database``; engines call it when they open.
public enum Migrator {
  /// Brings `database` up to date with `migrations` and returns the versions it applied.
  ///
  /// The `schema_migrations` table records each applied version with its name and `now`.
  /// Each pending migration runs in its own write transaction together with its record, so a
  /// failed migration leaves neither. Pending migrations with a version below the highest
  /// applied one (another module's newer block) are applied too, in order.
  ///
  /// - Throws: ``StorageError/databaseNewerThanCode(databaseVersion:codeVersion:)`` when the
  ///   database records a version the code does not have;
  ///   ``StorageError/migrationMismatch(version:databaseName:codeName:)`` when a version's
  ///   name differs; ``StorageError/invalidMigrations(_:)`` for duplicate or non-positive
  ///   versions. Nothing is applied in these cases.
  @discardableResult
  public static func migrate(_ database: any Database, migrations: [Migration], now: Date)
    async throws -> [Int64]
  {
    let sorted = migrations.sorted { $0.version < $1.version }
    for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.version == next.version {
      throw StorageError.invalidMigrations("version \(next.version) appears twice")
    }
    if let first = sorted.first, first.version <= 0 {
      throw StorageError.invalidMigrations("version \(first.version) is not positive")
    }
    let applied = try await database.write { db in
      try db.executeScript(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
          version BIGINT PRIMARY KEY,
          name TEXT NOT NULL,
          applied_at BIGINT NOT NULL
        )
        """)
      return try db.query("SELECT version, name FROM schema_migrations ORDER BY version").map {
        (try $0.int64("version"), try $0.string("name"))
      }
    }
    let known = Dictionary(uniqueKeysWithValues: sorted.map { ($0.version, $0.name) })
    let codeVersion = sorted.last?.version ?? 0
    for (version, name) in applied {
      guard let codeName = known[version] else {
        throw StorageError.databaseNewerThanCode(
          databaseVersion: applied.last?.0 ?? version, codeVersion: codeVersion)
      }
      guard codeName == name else {
        throw StorageError.migrationMismatch(
          version: version, databaseName: name, codeName: codeName)
      }
    }
    let done = Set(applied.map(\.0))
    var newlyApplied: [Int64] = []
    for migration in sorted where !done.contains(migration.version) {
      let script = migration.sql(for: database.dialect)
      try await database.write { db in
        try db.executeScript(script)
        try db.execute(
          "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
          [migration.version, migration.name, now])
      }
      newlyApplied.append(migration.version)
    }
    return newlyApplied
  }
}
