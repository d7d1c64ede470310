import Foundation

/// Idempotency keys (table `idempotency_keys`): the first response to each
/// (caller, method, `request_id`), so a retry returns it and changes nothing.
///
/// Use both calls in the one write transaction of the mutation:
///
/// ```swift
/// try await database.write { db in
///   if let first = try Idempotency.lookup(caller: cf, method: method, requestID: id, in: db) {
///     return first                      // the retry: same answer, no second change
///   }
///   let response = try perform(db)      // the mutation, its audit event, its outbox rows
///   try Idempotency.store(caller: cf, method: method, requestID: id, response: response,
///                         at: now, in: db)
///   return response
/// }
/// ```
public enum Idempotency {
  /// The serialized first response recorded for this key, or `nil`.
  public static func lookup(
    caller: String, method: String, requestID: String, in db: any ReadContext
  ) throws -> [UInt8]? {
    try db.queryFirst(
      "SELECT response FROM idempotency_keys WHERE caller = ? AND method = ? AND request_id = ?",
      [caller, method, requestID]
    ).map { try $0.bytes("response") }
  }

  /// Records the first response for this key.
  ///
  /// - Throws: ``StorageError/constraintViolation(_:)`` if the key is already recorded (a
  ///   concurrent first attempt on another replica won: retry the whole transaction).
  public static func store(
    caller: String, method: String, requestID: String, response: [UInt8], at now: Date,
    in db: any WriteContext
  ) throws {
    try db.execute(
      """
      INSERT INTO idempotency_keys (caller, method, request_id, response, created_at)
      VALUES (?, ?, ?, ?, ?)
      """,
      [caller, method, requestID, response, now])
  }

  /// `lookup`, then — only when the key is new — `body` and `store` of its result, all in the
  /// caller's write transaction. Returns the response and whether it is a replay of the first.
  public static func perform(
    caller: String, method: String, requestID: String, at now: Date, in db: any WriteContext,
    _ body: () throws -> [UInt8]
  ) throws -> (response: [UInt8], replayed: Bool) {
    if let first = try lookup(caller: caller, method: method, requestID: requestID, in: db) {
      return (first, true)
    }
    let response = try body()
    try store(
      caller: caller, method: method, requestID: requestID, response: response, at: now, in: db)
    return (response, false)
  }

  /// Forgets keys recorded before `cutoff`; returns how many.
  @discardableResult
  public static func purge(before cutoff: Date, in db: any WriteContext) throws -> Int {
    try db.execute("DELETE FROM idempotency_keys WHERE created_at < ?", [cutoff])
  }
}
