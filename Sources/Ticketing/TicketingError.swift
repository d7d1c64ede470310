/// Refusals of the Ticketing module that are neither about the caller's rights (`AccessError`)
/// nor about the shape of a field (`ValidationError`); the composition root maps them.
public enum TicketingError: Error, Sendable, Hashable {
  /// The state machine or a booking rule does not allow it (`FAILED_PRECONDITION`).
  case failedPrecondition(String)
  /// A limit: attachment count or size, rate (`RESOURCE_EXHAUSTED`).
  case resourceExhausted(String)
  /// A second feedback for the same interaction, a duplicate (`ALREADY_EXISTS`).
  case alreadyExists(String)
  /// Not implemented in this version (`UNIMPLEMENTED`).
  case unimplemented(String)
}
