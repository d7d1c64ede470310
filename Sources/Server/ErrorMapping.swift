import Access
import Contracts
import Deleghe
import Foundation
import Identity
import RPC
import Storage
import Ticketing
import Validation

/// The one place where errors become gRPC status (STYLE.md, convention 5; API.md, Errors):
/// domain modules throw their own error enums, this maps them.
///
/// | thrown | status |
/// |---|---|
/// | `AccessError.unauthenticated` | `UNAUTHENTICATED` |
/// | `AccessError.permissionDenied` | `PERMISSION_DENIED` |
/// | `AccessError.notFound` | `NOT_FOUND` (no existence leak: same answer for hidden and absent) |
/// | `ValidationError`, `FieldViolation` | `INVALID_ARGUMENT` + `google.rpc.BadRequest` |
/// | `IdentityError.alreadyExists` | `ALREADY_EXISTS` |
/// | `IdentityError.failedPrecondition` | `FAILED_PRECONDITION` |
/// | `DelegheError.failedPrecondition` / `.resourceExhausted` / `.unimplemented` | `FAILED_PRECONDITION` / `RESOURCE_EXHAUSTED` / `UNIMPLEMENTED` |
/// | `TicketingError.failedPrecondition` / `.resourceExhausted` / `.alreadyExists` / `.unimplemented` | the status of the same name |
/// | `StorageError.busy` | `UNAVAILABLE` (retry) |
/// | `CancellationError` | `CANCELLED` |
/// | `RPCError` | itself |
/// | anything else | `INTERNAL`, generic message (details go to the log only) |
public enum StatusMapping {
  /// Type URL of `google.rpc.BadRequest` inside `google.protobuf.Any`.
  public static let badRequestTypeURL = "type.googleapis.com/google.rpc.BadRequest"

  public static func rpcError(for error: any Error) -> RPCError {
    switch error {
    case let error as RPCError:
      return error
    case let error as AccessError:
      switch error {
      case .unauthenticated(let message): return RPCError(.unauthenticated, message)
      case .permissionDenied(let message): return RPCError(.permissionDenied, message)
      case .notFound(let message): return RPCError(.notFound, message)
      }
    case let error as ValidationError:
      return invalidArgument(error.violations)
    case let violation as FieldViolation:
      return invalidArgument([violation])
    case let error as IdentityError:
      switch error {
      case .alreadyExists(let message): return RPCError(.alreadyExists, message)
      case .failedPrecondition(let message): return RPCError(.failedPrecondition, message)
      }
    case let error as DelegheError:
      switch error {
      case .failedPrecondition(let message): return RPCError(.failedPrecondition, message)
      case .resourceExhausted(let message): return RPCError(.resourceExhausted, message)
      case .unimplemented(let message): return RPCError(.unimplemented, message)
      }
    case let error as TicketingError:
      switch error {
      case .failedPrecondition(let message): return RPCError(.failedPrecondition, message)
      case .resourceExhausted(let message): return RPCError(.resourceExhausted, message)
      case .alreadyExists(let message): return RPCError(.alreadyExists, message)
      case .unimplemented(let message): return RPCError(.unimplemented, message)
      }
    case let error as StorageError:
      if case .busy = error { return RPCError(.unavailable, "the database is busy; retry") }
      log("internal error: \(error)")
      return RPCError(.internal, "internal error")
    case is CancellationError:
      return RPCError(.cancelled, "cancelled")
    default:
      log("internal error: \(error)")
      return RPCError(.internal, "internal error")
    }
  }

  /// `INVALID_ARGUMENT` with a `google.rpc.Status` in `grpc-status-details-bin` whose details
  /// hold one `google.rpc.BadRequest` naming every violated field.
  public static func invalidArgument(_ violations: [FieldViolation]) -> RPCError {
    var badRequest = Google_Rpc_BadRequest()
    badRequest.fieldViolations = violations.map {
      var violation = Google_Rpc_BadRequest.FieldViolation()
      violation.field = $0.field
      violation.description = $0.description
      return violation
    }
    var any = Google_Protobuf_Any()
    any.typeUrl = badRequestTypeURL
    any.value = badRequest.serializedBytes()
    let summary = violations.prefix(3).map { "\($0.field): \($0.description)" }
      .joined(separator: "; ")
    let message = violations.isEmpty ? "invalid request" : "invalid request: \(summary)"
    var status = Google_Rpc_Status()
    status.code = Int32(StatusCode.invalidArgument.rawValue)
    status.message = message
    status.details = [any]
    return RPCError(.invalidArgument, message, details: status.serializedBytes())
  }

  static func log(_ line: String) {
    FileHandle.standardError.write(Data("cassetto-server: \(line)\n".utf8))
  }
}

/// Maps whatever the rest of the chain throws with ``StatusMapping/rpcError(for:)``.
/// Outermost interceptor of every domain service.
public struct ErrorMappingInterceptor: ServerInterceptor {
  public init() {}

  public func intercept(context: ServerContext, next: @Sendable () async throws -> Void)
    async throws
  {
    do {
      try await next()
    } catch {
      throw StatusMapping.rpcError(for: error)
    }
  }
}
