/// One invalid field of a request, as `google.rpc.BadRequest.FieldViolation` carries it:
/// `field` is the path of the field in the request (`contacts.email`), `description` says
/// in English what is wrong with it (front-ends localise). Never echoes secrets.
public struct FieldViolation: Error, Sendable, Hashable, CustomStringConvertible {
  public var field: String
  public var description: String

  public init(field: String, description: String) {
    self.field = field
    self.description = description
  }
}

/// Every field violation found in one request; the RPC boundary maps it to
/// `INVALID_ARGUMENT` with `google.rpc.BadRequest` details.
public struct ValidationError: Error, Sendable, Hashable {
  public var violations: [FieldViolation]

  public init(_ violations: [FieldViolation]) {
    self.violations = violations
  }

  /// One violation: `ValidationError.field("cf", "bad check character")`.
  public static func field(_ field: String, _ description: String) -> ValidationError {
    ValidationError([FieldViolation(field: field, description: description)])
  }
}

/// Collects violations across the fields of a request so the caller hears about all of them
/// at once, then throws them together.
///
/// ```swift
/// var check = ViolationCollector()
/// let cf = try check { try CodiceFiscale(request.cf, field: "cf") }
/// let mail = try check { try EmailAddress(request.email, field: "email") }
/// try check.throwIfAny()
/// ```
public struct ViolationCollector: Sendable {
  public private(set) var violations: [FieldViolation] = []

  public init() {}

  /// Runs one validator; returns its result, or records its ``FieldViolation`` and returns
  /// `nil`. Any other error is passed on.
  public mutating func callAsFunction<T>(_ validator: () throws -> T) rethrows -> T? {
    do {
      return try validator()
    } catch let violation as FieldViolation {
      violations.append(violation)
      return nil
    }
  }

  /// Records a violation found by other means.
  public mutating func add(_ violation: FieldViolation) {
    violations.append(violation)
  }

  /// Records a violation of `field`.
  public mutating func add(field: String, _ description: String) {
    violations.append(FieldViolation(field: field, description: description))
  }

  /// True when nothing was recorded.
  public var isEmpty: Bool { violations.isEmpty }

  /// Throws every recorded violation, if any.
  public func throwIfAny() throws(ValidationError) {
    if !violations.isEmpty { throw ValidationError(violations) }
  }
}

/// Trims ASCII white space at both ends; the validators accept values pasted with spaces.
func trimmed(_ text: String) -> Substring {
  var s = Substring(text)
  while let first = s.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
    s.removeFirst()
  }
  while let last = s.last, last == " " || last == "\t" || last == "\n" || last == "\r" {
    s.removeLast()
  }
  return s
}
