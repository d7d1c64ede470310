import Foundation
import Storage
import Testing

@Suite("Outbox")
struct OutboxTests {
  static let pec = OutboxMessage(
    channel: .pec, recipient: "studio@pec.example.it", subject: "Codice OTP", body: "123456")
  static let sms = OutboxMessage(channel: .sms, recipient: "+393331234567", body: "654321")

  @Test func enqueuedMessagesAreClaimedOnceThenDelivered() async throws {
    try await withDatabase { (database, _) async throws in
      let ids = try await database.write { db in
        [
          try Outbox.enqueue(Self.pec, at: testNow, in: db),
          try Outbox.enqueue(Self.sms, at: testNow, in: db),
        ]
      }
      let claimed = try await database.write { db in
        try Outbox.claimDue(now: testNow, limit: 10, in: db)
      }
      #expect(claimed.map(\.id) == ids)
      #expect(claimed.map(\.message) == [Self.pec, Self.sms])
      #expect(claimed.allSatisfy { $0.attempts == 1 && $0.createdAt == testNow })
      // Claimed messages are leased: not claimed again before the lease expires.
      let again = try await database.write { db in
        try Outbox.claimDue(now: testNow.addingTimeInterval(10), limit: 10, in: db)
      }
      #expect(again.isEmpty)
      try await database.write { db in
        try Outbox.markDelivered(id: ids[0], at: testNow.addingTimeInterval(1), in: db)
      }
      // After the lease, only the undelivered one comes back.
      let afterLease = try await database.write { db in
        try Outbox.claimDue(now: testNow.addingTimeInterval(301), limit: 10, in: db)
      }
      #expect(afterLease.map(\.id) == [ids[1]])
      #expect(afterLease.first?.attempts == 2)
      let delivered = try await database.read { db in try Outbox.entry(id: ids[0], in: db) }
      #expect(delivered?.deliveredAt == testNow.addingTimeInterval(1))
    }
  }

  @Test func failedMessageIsRetriedAtTheGivenTime() async throws {
    try await withDatabase { (database, _) async throws in
      let id = try await database.write { db in try Outbox.enqueue(Self.pec, at: testNow, in: db) }
      _ = try await database.write { db in try Outbox.claimDue(now: testNow, limit: 1, in: db) }
      let retryAt = testNow.addingTimeInterval(60)
      try await database.write { db in
        try Outbox.markFailed(id: id, error: "SMTP 451", retryAt: retryAt, in: db)
      }
      let early = try await database.write { db in
        try Outbox.claimDue(now: retryAt.addingTimeInterval(-1), limit: 10, in: db)
      }
      #expect(early.isEmpty)
      let due = try await database.write { db in
        try Outbox.claimDue(now: retryAt, limit: 10, in: db)
      }
      #expect(due.map(\.id) == [id])
      #expect(due.first?.lastError == "SMTP 451")
      #expect(due.first?.attempts == 2)
    }
  }

  @Test func claimRespectsLimitAndDueOrder() async throws {
    try await withDatabase { (database, _) async throws in
      let ids = try await database.write { db in
        [
          try Outbox.enqueue(
            Self.pec, at: testNow, notBefore: testNow.addingTimeInterval(30), in: db),
          try Outbox.enqueue(Self.sms, at: testNow, in: db),
          try Outbox.enqueue(
            Self.pec, at: testNow, notBefore: testNow.addingTimeInterval(10), in: db),
        ]
      }
      let first = try await database.write { db in
        try Outbox.claimDue(now: testNow.addingTimeInterval(60), limit: 2, in: db)
      }
      #expect(first.map(\.id) == [ids[1], ids[2]])
      let notYet = try await database.write { db in
        try Outbox.claimDue(now: testNow.addingTimeInterval(20), limit: 5, in: db)
      }
      #expect(notYet.isEmpty, "the third is not due before its notBefore")
    }
  }

  @Test func messageEnqueuedInAFailedTransactionDoesNotExist() async throws {
    struct Abort: Error {}
    try await withDatabase { (database, _) async throws in
      await #expect(throws: Abort.self) {
        try await database.write { db in
          try Outbox.enqueue(Self.pec, at: testNow, in: db)
          throw Abort()
        }
      }
      let claimed = try await database.write { db in
        try Outbox.claimDue(now: testNow, limit: 10, in: db)
      }
      #expect(claimed.isEmpty)
    }
  }
}
