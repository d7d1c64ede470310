/// A gRPC status code, as listed in grpc/grpc `doc/statuscodes.md`.
public enum StatusCode: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
  case ok = 0
  case cancelled = 1
  case unknown = 2
  case invalidArgument = 3
  case deadlineExceeded = 4
  case notFound = 5
  case alreadyExists = 6
  case permissionDenied = 7
  case resourceExhausted = 8
  case failedPrecondition = 9
  case aborted = 10
  case outOfRange = 11
  case unimplemented = 12
  case `internal` = 13
  case unavailable = 14
  case dataLoss = 15
  case unauthenticated = 16

  /// The code for a `grpc-status` value; values outside 0...16 are `unknown`, as the spec says.
  public init(wireValue: Int) {
    self = StatusCode(rawValue: wireValue) ?? .unknown
  }

  public var description: String {
    switch self {
    case .ok: "OK"
    case .cancelled: "CANCELLED"
    case .unknown: "UNKNOWN"
    case .invalidArgument: "INVALID_ARGUMENT"
    case .deadlineExceeded: "DEADLINE_EXCEEDED"
    case .notFound: "NOT_FOUND"
    case .alreadyExists: "ALREADY_EXISTS"
    case .permissionDenied: "PERMISSION_DENIED"
    case .resourceExhausted: "RESOURCE_EXHAUSTED"
    case .failedPrecondition: "FAILED_PRECONDITION"
    case .aborted: "ABORTED"
    case .outOfRange: "OUT_OF_RANGE"
    case .unimplemented: "UNIMPLEMENTED"
    case .internal: "INTERNAL"
    case .unavailable: "UNAVAILABLE"
    case .dataLoss: "DATA_LOSS"
    case .unauthenticated: "UNAUTHENTICATED"
    }
  }
}

/// An error that ends a call with a gRPC status other than OK.
///
/// Handlers throw it to choose the status a client sees; clients receive it when a call fails.
/// Any other error thrown by a handler reaches the client as `UNKNOWN` with a generic message,
/// so internals never leak.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
  public var code: StatusCode
  public var message: String
  /// Serialized `google.rpc.Status` carried in `grpc-status-details-bin`, if any.
  public var details: [UInt8]?
  /// Trailing metadata sent (server) or received (client) with the status.
  public var trailingMetadata: Metadata

  public init(
    _ code: StatusCode, _ message: String = "", details: [UInt8]? = nil,
    trailingMetadata: Metadata = [:]
  ) {
    self.code = code
    self.message = message
    self.details = details
    self.trailingMetadata = trailingMetadata
  }

  public var description: String { "\(code): \(message)" }
}
