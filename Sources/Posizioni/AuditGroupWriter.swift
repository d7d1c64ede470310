import Foundation
import Storage

/// Appends read-audit events with group commit: the events of concurrent reads go to the
/// hash-chained log in one write transaction, and each caller resumes only once the
/// transaction holding its event has committed — the same guarantee as one transaction per
/// event (a read is answered after its audit event is durable), at one fsync per group instead
/// of one per read. Events keep their arrival order in the chain. If the transaction fails,
/// every caller of the group gets the error (and answers with it, as before).
actor AuditGroupWriter {
  let database: any Database
  private var pending: [(event: AuditEvent, done: CheckedContinuation<Void, any Error>)] = []
  private var flushing = false

  init(database: any Database) { self.database = database }

  func append(_ event: AuditEvent) async throws {
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
      pending.append((event, done))
      if !flushing {
        flushing = true
        Task { await self.flush() }
      }
    }
  }

  /// Writes groups until nothing is pending; events arriving meanwhile form the next group.
  private func flush() async {
    while !pending.isEmpty {
      let group = pending
      pending = []
      let events = group.map(\.event)
      do {
        try await database.write { db in
          for event in events { try AuditLog.append(event, in: db) }
        }
        for entry in group { entry.done.resume() }
      } catch {
        for entry in group { entry.done.resume(throwing: error) }
      }
    }
    flushing = false
  }
}
