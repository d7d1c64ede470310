import CSQLite
import Foundation

/// The embedded engine: one SQLite file, one writer thread, a few reader threads.
///
/// - Every connection: `journal_mode=WAL`, `synchronous=FULL` (an acknowledged commit is on
///   disk before ``write(_:)`` returns, and survives power loss, which `NORMAL` does not
///   promise under WAL), `foreign_keys=ON`, a busy timeout; `SQLITE_OPEN_NOMUTEX`, each owned
///   by one thread; a prepared-statement cache each.
/// - One writer connection on its own thread: writes queue there in order; each is
///   `BEGIN IMMEDIATE` … `COMMIT`, rolled back if the body throws.
/// - Reader connections (`query_only`) on a small pool: each read is a `BEGIN` … `COMMIT`
///   snapshot, and WAL lets it run while a write is in progress.
/// - Migrations (built-in ones first, see ``StorageSchema``) run at ``open(path:migrations:configuration:now:)``.
public final class SQLiteDatabase: Database {
  /// Tunables with safe defaults.
  public struct Configuration: Sendable {
    /// Reader connections (and threads).
    public var readers: Int
    /// How long a statement waits for a lock held by another process before failing.
    public var busyTimeoutMilliseconds: Int32
    /// Prepared statements kept per connection.
    public var statementCacheSize: Int

    public init(
      readers: Int = 3, busyTimeoutMilliseconds: Int32 = 5_000, statementCacheSize: Int = 128
    ) {
      self.readers = max(1, readers)
      self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
      self.statementCacheSize = max(1, statementCacheSize)
    }
  }

  /// The file name used by ``open(dataDirectory:migrations:configuration:now:)``.
  public static let fileName = "cassetto.sqlite"

  /// Path of the database file.
  public let path: String
  public var dialect: SQLDialect { .sqlite }

  private let writer: WorkerPool
  private let readers: WorkerPool

  private init(path: String, writer: WorkerPool, readers: WorkerPool) {
    self.path = path
    self.writer = writer
    self.readers = readers
  }

  /// Opens (creating if needed) `cassetto.sqlite` in `dataDirectory` (created if missing).
  public static func open(
    dataDirectory: String, migrations: [Migration], configuration: Configuration = .init(),
    now: Date
  ) async throws -> SQLiteDatabase {
    try FileManager.default.createDirectory(
      atPath: dataDirectory, withIntermediateDirectories: true,
      attributes: [.posixPermissions: 0o700])
    let path = (dataDirectory as NSString).appendingPathComponent(fileName)
    return try await open(
      path: path, migrations: migrations, configuration: configuration, now: now)
  }

  /// Opens (creating if needed) the database file at `path` and brings its schema up to date:
  /// the built-in tables (``StorageSchema/migrations``) plus `migrations`, in version order,
  /// each in its own transaction. `now` is recorded as the time each migration was applied.
  ///
  /// - Throws: ``StorageError/databaseNewerThanCode(databaseVersion:codeVersion:)`` when the
  ///   file was migrated by newer code; nothing is changed then.
  public static func open(
    path: String, migrations: [Migration], configuration: Configuration = .init(), now: Date
  ) async throws -> SQLiteDatabase {
    let cacheSize = configuration.statementCacheSize
    let timeout = configuration.busyTimeoutMilliseconds
    let writer = try await WorkerPool.start(name: "sqlite-writer", count: 1) {
      let isNew = !FileManager.default.fileExists(atPath: path)
      let connection = try SQLiteConnection(path: path, create: true, statementCacheSize: cacheSize)
      // Personal data: a new file is readable by its owner only; SQLite gives the -wal and
      // -shm files the same permissions.
      if isNew { chmod(path, 0o600) }
      try configure(connection, busyTimeoutMilliseconds: timeout, readOnly: false)
      return connection
    }
    let readers: WorkerPool
    do {
      readers = try await WorkerPool.start(name: "sqlite-reader", count: configuration.readers) {
        let connection = try SQLiteConnection(
          path: path, create: false, statementCacheSize: cacheSize)
        try configure(connection, busyTimeoutMilliseconds: timeout, readOnly: true)
        return connection
      }
    } catch {
      await writer.shutdown()
      throw error
    }
    let database = SQLiteDatabase(path: path, writer: writer, readers: readers)
    do {
      try await Migrator.migrate(
        database, migrations: StorageSchema.migrations + migrations, now: now)
    } catch {
      await database.close()
      throw error
    }
    return database
  }

  private static func configure(
    _ connection: SQLiteConnection, busyTimeoutMilliseconds: Int32, readOnly: Bool
  ) throws {
    if let handle = connection.handle { sqlite3_busy_timeout(handle, busyTimeoutMilliseconds) }
    if !readOnly {
      let mode = try connection.run("PRAGMA journal_mode=WAL", [])
      guard (try? mode.first?.string("journal_mode"))?.lowercased() == "wal" else {
        throw StorageError.engine(code: 0, message: "cannot switch to WAL mode", sql: nil)
      }
    }
    try connection.executeScript(
      """
      PRAGMA synchronous=FULL;
      PRAGMA foreign_keys=ON;
      PRAGMA trusted_schema=OFF;
      \(readOnly ? "PRAGMA query_only=ON;" : "")
      """)
  }

  @discardableResult
  public func read<T: Sendable>(_ body: @escaping @Sendable (any ReadContext) throws -> T)
    async throws -> T
  {
    try await readers.run { connection in
      try Self.transaction(on: connection, begin: "BEGIN") { try body(SQLiteContext(connection)) }
    }
  }

  @discardableResult
  public func write<T: Sendable>(_ body: @escaping @Sendable (any WriteContext) throws -> T)
    async throws -> T
  {
    try await writer.run { connection in
      try Self.transaction(on: connection, begin: "BEGIN IMMEDIATE") {
        try body(SQLiteContext(connection))
      }
    }
  }

  /// Finishes the queued work, then closes every connection. Later calls throw
  /// ``StorageError/closed``.
  /// Without ``close()``, the threads are told to finish their queued work and exit.
  deinit {
    readers.requestShutdown()
    writer.requestShutdown()
  }

  public func close() async {
    await readers.shutdown()
    await writer.shutdown()
  }

  private static func transaction<T>(
    on connection: SQLiteConnection, begin: String, _ body: () throws -> T
  ) throws -> T {
    try connection.executeScript(begin)
    do {
      let result = try body()
      try connection.executeScript("COMMIT")
      return result
    } catch {
      // A failed COMMIT may already have rolled back; only roll back what is still open.
      if connection.inTransaction { try? connection.executeScript("ROLLBACK") }
      throw error
    }
  }
}

/// ``ReadContext`` / ``WriteContext`` over one SQLite connection, for the duration of one body
/// on the connection's own thread.
struct SQLiteContext: WriteContext {
  let connection: SQLiteConnection

  init(_ connection: SQLiteConnection) { self.connection = connection }

  var dialect: SQLDialect { .sqlite }

  func query(_ sql: String, _ arguments: [any SQLConvertible]) throws -> [Row] {
    try connection.run(sql, arguments.map(\.sqlValue))
  }

  func execute(_ sql: String, _ arguments: [any SQLConvertible]) throws -> Int {
    _ = try connection.run(sql, arguments.map(\.sqlValue))
    return connection.changes
  }

  func executeScript(_ sql: String) throws { try connection.executeScript(sql) }

  var changes: Int { connection.changes }
  var lastInsertID: Int64 { connection.lastInsertRowID }
}
