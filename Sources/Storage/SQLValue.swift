import Foundation

/// One value as it crosses the storage boundary, in either direction: a bound parameter or a
/// column of a result ``Row``.
///
/// The five cases are the storage classes both engines share. Portable schema conventions
/// (see `docs/storage.md`): booleans are integer columns holding 0 or 1, instants are `BIGINT`
/// microseconds since the Unix epoch (UTC), binary data is ``SQLDialect/blobType``.
public enum SQLValue: Sendable, Hashable {
  case null
  case integer(Int64)
  case real(Double)
  case text(String)
  case blob([UInt8])
}

extension SQLValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral,
  ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(stringLiteral value: String) { self = .text(value) }
  public init(floatLiteral value: Double) { self = .real(value) }
  public init(booleanLiteral value: Bool) { self = .integer(value ? 1 : 0) }
  public init(nilLiteral: ()) { self = .null }
}

extension SQLValue: CustomStringConvertible {
  public var description: String {
    switch self {
    case .null: "NULL"
    case .integer(let value): String(value)
    case .real(let value): String(value)
    case .text(let value): "'\(value)'"
    case .blob(let value): "blob(\(value.count) bytes)"
    }
  }

  /// The name of the storage class, for error messages.
  var kindName: String {
    switch self {
    case .null: "NULL"
    case .integer: "INTEGER"
    case .real: "REAL"
    case .text: "TEXT"
    case .blob: "BLOB"
    }
  }
}

/// A Swift type that can be bound as a parameter and decoded from a column.
///
/// Conforming: `Int`, `Int64`, `Int32`, `Double`, `Bool` (0/1), `String`, `[UInt8]` (blob),
/// `Date` (microseconds since the Unix epoch), ``SQLValue`` itself, and `Optional` of any of
/// them (`nil` is SQL `NULL`). Pass `SQLValue.null` where a bare `nil` literal has no type.
public protocol SQLConvertible: Sendable {
  /// The value to bind.
  var sqlValue: SQLValue { get }
  /// Decodes a column value; `nil` when the storage class does not fit the type.
  init?(sqlValue: SQLValue)
}

extension SQLValue: SQLConvertible {
  public var sqlValue: SQLValue { self }
  public init?(sqlValue: SQLValue) { self = sqlValue }
}

extension Int64: SQLConvertible {
  public var sqlValue: SQLValue { .integer(self) }
  public init?(sqlValue: SQLValue) {
    guard case .integer(let value) = sqlValue else { return nil }
    self = value
  }
}

extension Int: SQLConvertible {
  public var sqlValue: SQLValue { .integer(Int64(self)) }
  public init?(sqlValue: SQLValue) {
    guard case .integer(let value) = sqlValue, let narrow = Int(exactly: value) else { return nil }
    self = narrow
  }
}

extension Int32: SQLConvertible {
  public var sqlValue: SQLValue { .integer(Int64(self)) }
  public init?(sqlValue: SQLValue) {
    guard case .integer(let value) = sqlValue, let narrow = Int32(exactly: value) else {
      return nil
    }
    self = narrow
  }
}

extension Double: SQLConvertible {
  public var sqlValue: SQLValue { .real(self) }
  public init?(sqlValue: SQLValue) {
    switch sqlValue {
    case .real(let value): self = value
    case .integer(let value): self = Double(value)
    default: return nil
    }
  }
}

/// Booleans are integer columns holding 0 or 1 on every engine.
extension Bool: SQLConvertible {
  public var sqlValue: SQLValue { .integer(self ? 1 : 0) }
  public init?(sqlValue: SQLValue) {
    guard case .integer(let value) = sqlValue, value == 0 || value == 1 else { return nil }
    self = value == 1
  }
}

extension String: SQLConvertible {
  public var sqlValue: SQLValue { .text(self) }
  public init?(sqlValue: SQLValue) {
    guard case .text(let value) = sqlValue else { return nil }
    self = value
  }
}

extension Array: SQLConvertible where Element == UInt8 {
  public var sqlValue: SQLValue { .blob(self) }
  public init?(sqlValue: SQLValue) {
    guard case .blob(let value) = sqlValue else { return nil }
    self = value
  }
}

/// Instants are stored as `BIGINT` microseconds since the Unix epoch (UTC), so they sort,
/// compare and hash exactly on every engine.
extension Date: SQLConvertible {
  public var sqlValue: SQLValue { .integer(microsecondsSinceEpoch) }
  public init?(sqlValue: SQLValue) {
    guard case .integer(let value) = sqlValue else { return nil }
    self.init(microsecondsSinceEpoch: value)
  }

  /// The instant as whole microseconds since the Unix epoch (nearest; exact for values read back).
  public var microsecondsSinceEpoch: Int64 {
    Int64((timeIntervalSince1970 * 1_000_000).rounded())
  }

  /// The instant `microseconds` after the Unix epoch.
  public init(microsecondsSinceEpoch microseconds: Int64) {
    self.init(timeIntervalSince1970: Double(microseconds) / 1_000_000)
  }
}

extension Optional: SQLConvertible where Wrapped: SQLConvertible {
  public var sqlValue: SQLValue {
    switch self {
    case .none: .null
    case .some(let value): value.sqlValue
    }
  }

  public init?(sqlValue: SQLValue) {
    if case .null = sqlValue {
      self = .none
    } else if let value = Wrapped(sqlValue: sqlValue) {
      self = .some(value)
    } else {
      return nil
    }
  }
}
