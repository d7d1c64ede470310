/// Refusals of the Identity module that are neither about the caller's rights
/// (`AccessError`) nor about the shape of a field (`ValidationError`). The composition root
/// maps every error to a gRPC status in one function.
public enum IdentityError: Error, Sendable, Hashable {
  /// The thing to create exists already (`ALREADY_EXISTS`): an active role, a pending
  /// request for the same form, sede and employer.
  case alreadyExists(String)
  /// The state machine does not allow it (`FAILED_PRECONDITION`): deciding a request that was
  /// decided, revoking a revoked enablement.
  case failedPrecondition(String)
}
