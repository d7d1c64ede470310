import Foundation

/// One result row: column names (as the statement names them) and values, with typed
/// accessors by column name.
///
/// Name lookup is exact first, then ASCII case-insensitive (PostgreSQL folds unquoted names
/// to lower case; write lower-case `snake_case` names in SQL and they match on both engines).
/// Accessors throw ``StorageError/missingColumn(_:)`` or ``StorageError/typeMismatch(column:expected:found:)``
/// rather than trap.
public struct Row: Sendable, Hashable {
  /// Column names in statement order.
  public let columns: [String]
  /// Values in statement order.
  public let values: [SQLValue]

  public init(columns: [String], values: [SQLValue]) {
    precondition(columns.count == values.count, "Row: one value per column")
    self.columns = columns
    self.values = values
  }

  /// The raw value of `column`, or `nil` when the row has no such column.
  public subscript(column: String) -> SQLValue? {
    index(of: column).map { values[$0] }
  }

  /// The value of `column` decoded as `T`. Use an `Optional` type for nullable columns.
  public func decode<T: SQLConvertible>(_ column: String, as type: T.Type = T.self) throws -> T {
    guard let index = index(of: column) else { throw StorageError.missingColumn(column) }
    let value = values[index]
    guard let decoded = T(sqlValue: value) else {
      throw StorageError.typeMismatch(
        column: column, expected: String(describing: T.self), found: value.kindName)
    }
    return decoded
  }

  public func int64(_ column: String) throws -> Int64 { try decode(column) }
  public func int(_ column: String) throws -> Int { try decode(column) }
  public func double(_ column: String) throws -> Double { try decode(column) }
  public func bool(_ column: String) throws -> Bool { try decode(column) }
  public func string(_ column: String) throws -> String { try decode(column) }
  public func bytes(_ column: String) throws -> [UInt8] { try decode(column) }
  public func date(_ column: String) throws -> Date { try decode(column) }
  public func optionalInt64(_ column: String) throws -> Int64? { try decode(column) }
  public func optionalString(_ column: String) throws -> String? { try decode(column) }
  public func optionalBytes(_ column: String) throws -> [UInt8]? { try decode(column) }
  public func optionalDate(_ column: String) throws -> Date? { try decode(column) }

  private func index(of column: String) -> Int? {
    if let exact = columns.firstIndex(of: column) { return exact }
    let folded = column.lowercased()
    return columns.firstIndex { $0.lowercased() == folded }
  }
}
