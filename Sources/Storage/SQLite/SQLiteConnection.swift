import CSQLite
import Foundation

/// One SQLite connection (`SQLITE_OPEN_NOMUTEX`) with its prepared-statement cache.
///
/// Thread ownership: a connection is created, used and closed by exactly one worker thread of
/// a ``WorkerPool``; it is never shared, which is what makes `NOMUTEX` safe. It is therefore
/// not `Sendable`.
final class SQLiteConnection {
  private(set) var handle: OpaquePointer?
  private var statements: [String: OpaquePointer] = [:]
  private let statementCacheSize: Int

  /// Opens (creating when `create`) the database at `path`.
  init(path: String, create: Bool, statementCacheSize: Int) throws {
    var db: OpaquePointer?
    var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
    if create { flags |= SQLITE_OPEN_CREATE }
    let rc = sqlite3_open_v2(path, &db, flags, nil)
    guard rc == SQLITE_OK, let db else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
      sqlite3_close_v2(db)
      throw StorageError.engine(code: rc, message: "cannot open \(path): \(message)", sql: nil)
    }
    sqlite3_extended_result_codes(db, 1)
    self.handle = db
    self.statementCacheSize = statementCacheSize
  }

  deinit { close() }

  /// Finalizes every cached statement and closes the connection. Idempotent.
  func close() {
    for statement in statements.values { sqlite3_finalize(statement) }
    statements.removeAll()
    if let handle { sqlite3_close_v2(handle) }
    handle = nil
  }

  /// True while a transaction is open on this connection.
  var inTransaction: Bool {
    guard let handle else { return false }
    return sqlite3_get_autocommit(handle) == 0
  }

  var changes: Int { handle.map { Int(sqlite3_changes64($0)) } ?? 0 }
  var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

  /// Runs `;`-separated statements without parameters (`sqlite3_exec`).
  func executeScript(_ sql: String) throws {
    guard let handle else { throw StorageError.closed }
    var errorMessage: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
    if rc != SQLITE_OK {
      let message = errorMessage.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
      sqlite3_free(errorMessage)
      throw Self.error(code: rc, message: message, sql: sql)
    }
  }

  /// Runs one statement with bound `arguments`; returns its rows (empty for statements that
  /// return none).
  func run(_ sql: String, _ arguments: [SQLValue]) throws -> [Row] {
    guard handle != nil else { throw StorageError.closed }
    let statement = try prepared(sql)
    defer {
      sqlite3_reset(statement)
      sqlite3_clear_bindings(statement)
    }
    let expected = Int(sqlite3_bind_parameter_count(statement))
    guard expected == arguments.count else {
      throw StorageError.parameterCount(expected: expected, given: arguments.count, sql: sql)
    }
    for (offset, argument) in arguments.enumerated() {
      let rc = Self.bind(argument, at: Int32(offset + 1), in: statement)
      if rc != SQLITE_OK { throw failure(rc, sql) }
    }
    var rows: [Row] = []
    var columns: [String]?
    while true {
      let rc = sqlite3_step(statement)
      if rc == SQLITE_DONE { break }
      guard rc == SQLITE_ROW else { throw failure(rc, sql) }
      let count = sqlite3_column_count(statement)
      let names =
        columns
        ?? (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) }
      columns = names
      rows.append(
        Row(columns: names, values: (0..<count).map { Self.column($0, of: statement) }))
    }
    return rows
  }

  private func prepared(_ sql: String) throws -> OpaquePointer {
    if let cached = statements[sql] { return cached }
    guard let handle else { throw StorageError.closed }
    var statement: OpaquePointer?
    var onlyOne = true
    let rc = sql.withCString { text -> Int32 in
      var tail: UnsafePointer<CChar>?
      let rc = sqlite3_prepare_v3(
        handle, text, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, &tail)
      if rc == SQLITE_OK, let tail, tail.pointee != 0 {
        let rest = String(cString: tail).trimmingCharacters(in: [" ", "\n", "\t", "\r", ";"])
        onlyOne = rest.isEmpty
      }
      return rc
    }
    guard rc == SQLITE_OK, let statement else {
      if rc == SQLITE_OK {
        throw StorageError.engine(code: rc, message: "empty statement", sql: sql)
      }
      throw failure(rc, sql)
    }
    guard onlyOne else {
      sqlite3_finalize(statement)
      throw StorageError.multipleStatements(sql)
    }
    if statements.count >= statementCacheSize {
      for old in statements.values { sqlite3_finalize(old) }
      statements.removeAll(keepingCapacity: true)
    }
    statements[sql] = statement
    return statement
  }

  private static func bind(_ value: SQLValue, at index: Int32, in statement: OpaquePointer)
    -> Int32
  {
    switch value {
    case .null:
      return sqlite3_bind_null(statement, index)
    case .integer(let value):
      return sqlite3_bind_int64(statement, index, value)
    case .real(let value):
      return sqlite3_bind_double(statement, index, value)
    case .text(var value):
      return value.withUTF8 { utf8 in
        // A NULL pointer would bind SQL NULL; the empty string needs a real one.
        guard let base = utf8.baseAddress, utf8.count > 0 else {
          return sqlite3_bind_text(statement, index, "", 0, cassetto_sqlite_transient())
        }
        return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
          sqlite3_bind_text(statement, index, $0, Int32(utf8.count), cassetto_sqlite_transient())
        }
      }
    case .blob(let value):
      return value.withUnsafeBytes { bytes in
        guard let base = bytes.baseAddress, bytes.count > 0 else {
          return sqlite3_bind_zeroblob(statement, index, 0)
        }
        return sqlite3_bind_blob(
          statement, index, base, Int32(bytes.count), cassetto_sqlite_transient())
      }
    }
  }

  private static func column(_ index: Int32, of statement: OpaquePointer) -> SQLValue {
    switch sqlite3_column_type(statement, index) {
    case SQLITE_INTEGER:
      return .integer(sqlite3_column_int64(statement, index))
    case SQLITE_FLOAT:
      return .real(sqlite3_column_double(statement, index))
    case SQLITE_TEXT:
      guard let text = sqlite3_column_text(statement, index) else { return .text("") }
      let count = Int(sqlite3_column_bytes(statement, index))
      return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
    case SQLITE_BLOB:
      let count = Int(sqlite3_column_bytes(statement, index))
      guard let blob = sqlite3_column_blob(statement, index), count > 0 else { return .blob([]) }
      return .blob(Array(UnsafeRawBufferPointer(start: blob, count: count)))
    default:
      return .null
    }
  }

  private func failure(_ rc: Int32, _ sql: String) -> StorageError {
    let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
    return Self.error(code: rc, message: message, sql: sql)
  }

  private static func error(code: Int32, message: String, sql: String) -> StorageError {
    switch code & 0xff {
    case SQLITE_CONSTRAINT: .constraintViolation(message)
    case SQLITE_BUSY, SQLITE_LOCKED: .busy(message)
    default: .engine(code: code, message: message, sql: sql)
    }
  }
}
