import Foundation
import Storage
import Testing

@Suite("Idempotency keys")
struct IdempotencyTests {
  /// A mutation guarded the way the domain is meant to guard one.
  static func addItem(_ name: String, requestID: String, database: any Database) async throws
    -> [UInt8]
  {
    try await database.write { db in
      if let first = try Idempotency.lookup(
        caller: "TINIT-RSSMRA80A01H501U", method: "AddItem", requestID: requestID, in: db)
      {
        return first
      }
      let id = try db.query("INSERT INTO items (name) VALUES (?) RETURNING id", [name])[0].int64(
        "id")
      let response = Array("created \(id)".utf8)
      try Idempotency.store(
        caller: "TINIT-RSSMRA80A01H501U", method: "AddItem", requestID: requestID,
        response: response, at: testNow, in: db)
      return response
    }
  }

  @Test func retryReturnsTheFirstResponseAndChangesNothing() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      let first = try await Self.addItem("a", requestID: "r-1", database: database)
      let retry = try await Self.addItem("b", requestID: "r-1", database: database)
      #expect(retry == first)
      #expect(try await countItems(database) == 1)
      let other = try await Self.addItem("b", requestID: "r-2", database: database)
      #expect(other != first)
      #expect(try await countItems(database) == 2)
    }
  }

  @Test func performRunsTheBodyOnlyForANewKey() async throws {
    try await withDatabase(migrations: [itemsMigration]) { (database, _) async throws in
      for (attempt, name) in ["first", "second"].enumerated() {
        let (response, replayed) = try await database.write { db in
          try Idempotency.perform(
            caller: "svc", method: "AddItem", requestID: "r-9", at: testNow, in: db
          ) {
            try db.execute("INSERT INTO items (name) VALUES (?)", [name])
            return Array(name.utf8)
          }
        }
        #expect(response == Array("first".utf8))
        #expect(replayed == (attempt == 1))
      }
      #expect(try await countItems(database) == 1)
    }
  }

  @Test func keysAreScopedByCallerAndMethod() async throws {
    try await withDatabase { (database, _) async throws in
      try await database.write { db in
        try Idempotency.store(
          caller: "A", method: "M", requestID: "1", response: [1], at: testNow, in: db)
      }
      let lookups = try await database.read { db in
        [
          try Idempotency.lookup(caller: "A", method: "M", requestID: "1", in: db),
          try Idempotency.lookup(caller: "B", method: "M", requestID: "1", in: db),
          try Idempotency.lookup(caller: "A", method: "N", requestID: "1", in: db),
        ]
      }
      #expect(lookups == [[1], nil, nil])
    }
  }

  @Test func storingTheSameKeyTwiceIsAConstraintViolation() async throws {
    try await withDatabase { (database, _) async throws in
      try await database.write { db in
        try Idempotency.store(
          caller: "A", method: "M", requestID: "1", response: [1], at: testNow, in: db)
      }
      await #expect {
        try await database.write { db in
          try Idempotency.store(
            caller: "A", method: "M", requestID: "1", response: [2], at: testNow, in: db)
        }
      } throws: { error in
        if case StorageError.constraintViolation = error { return true }
        return false
      }
    }
  }

  @Test func purgeForgetsOldKeys() async throws {
    try await withDatabase { (database, _) async throws in
      let purged = try await database.write { db in
        try Idempotency.store(
          caller: "A", method: "M", requestID: "old", response: [], at: testNow, in: db)
        try Idempotency.store(
          caller: "A", method: "M", requestID: "new", response: [],
          at: testNow.addingTimeInterval(3600), in: db)
        return try Idempotency.purge(before: testNow.addingTimeInterval(60), in: db)
      }
      #expect(purged == 1)
      let remaining = try await database.read { db in
        try Idempotency.lookup(caller: "A", method: "M", requestID: "new", in: db)
      }
      #expect(remaining == [], "an empty response is stored as an empty blob, not lost")
    }
  }
}
