/// Refusals of the Deleghe module that are neither about the caller's rights (`AccessError`)
/// nor about the shape of a field (`ValidationError`); the composition root maps them.
public enum DelegheError: Error, Sendable, Hashable {
  /// The state machine does not allow it (`FAILED_PRECONDITION`).
  case failedPrecondition(String)
  /// A limit: OTP attempts exhausted, resend too soon or too often (`RESOURCE_EXHAUSTED`).
  case resourceExhausted(String)
  /// Not implemented in this version (`UNIMPLEMENTED`).
  case unimplemented(String)
}
