import Foundation
import Storage
import Testing

@Suite("Audit log")
struct AuditLogTests {
  static func event(_ index: Int) -> AuditEvent {
    AuditEvent(
      id: "event-\(index)", time: testNow.addingTimeInterval(Double(index)),
      actor: "TINIT-RSSMRA80A01H501U", action: "/cassetto.identity.v1.Identity/UpdateContacts",
      subject: index.isMultiple(of: 2) ? "posizione/\(index)" : nil,
      delegaChain: index == 3 ? "TINIT-RSSMRA80A01H501U>TINIT-VRDLGI70B02F205X" : nil,
      outcome: .success, details: AuditEvent.json(["n": "\(index)"]))
  }

  static func appendEvents(_ count: Int, to database: any Database) async throws {
    for index in 1...count {
      try await database.write { db in try AuditLog.append(Self.event(index), in: db) }
    }
  }

  /// A second connection to the same file, for tampering "behind the application's back".
  static func tamper(_ directory: String, _ script: String) async throws {
    let raw = try await SQLiteDatabase.open(dataDirectory: directory, migrations: [], now: testNow)
    try await raw.write { db in try db.executeScript(script) }
    await raw.close()
  }

  @Test func appendedEventsFormAVerifiableChain() async throws {
    try await withDatabase { (database, _) async throws in
      #expect(
        try await AuditLog.verify(database) == .intact(count: 0, lastHash: AuditLog.genesisHash))
      try await Self.appendEvents(5, to: database)
      let records = try await database.read { db in try AuditLog.records(in: db) }
      #expect(records.map(\.sequence) == [1, 2, 3, 4, 5])
      #expect(records[0].previousHash == AuditLog.genesisHash)
      for (previous, next) in zip(records, records.dropFirst()) {
        #expect(next.previousHash == previous.hash)
      }
      #expect(records.map(\.event) == (1...5).map(Self.event))
      #expect(try await AuditLog.verify(database) == .intact(count: 5, lastHash: records[4].hash))
    }
  }

  @Test func appendCommitsOrRollsBackWithItsTransaction() async throws {
    struct Abort: Error {}
    try await withDatabase { (database, _) async throws in
      try await Self.appendEvents(1, to: database)
      await #expect(throws: Abort.self) {
        try await database.write { db in
          try AuditLog.append(Self.event(2), in: db)
          throw Abort()
        }
      }
      try await database.write { db in try AuditLog.append(Self.event(3), in: db) }
      let records = try await database.read { db in try AuditLog.records(in: db) }
      #expect(records.map(\.event.id) == ["event-1", "event-3"])
      #expect(try await AuditLog.verify(database).isIntact)
    }
  }

  @Test func updateAndDeleteAreRefused() async throws {
    try await withDatabase { (database, _) async throws in
      try await Self.appendEvents(2, to: database)
      for statement in [
        "UPDATE audit_events SET actor = 'someone else' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 2",
      ] {
        await #expect {
          try await database.write { db in try db.execute(statement) }
        } throws: { error in
          guard case StorageError.constraintViolation(let message) = error else { return false }
          return message.contains("append-only")
        }
      }
      #expect(
        try await AuditLog.verify(database)
          == .intact(
            count: 2,
            lastHash: try await database.read { db in try AuditLog.records(in: db)[1].hash }))
    }
  }

  @Test func alteredEventIsNamed() async throws {
    try await withDatabase { (database, directory) async throws in
      try await Self.appendEvents(5, to: database)
      try await Self.tamper(
        directory,
        """
        DROP TRIGGER audit_events_no_update;
        UPDATE audit_events SET outcome = 'denied' WHERE seq = 3;
        """)
      #expect(
        try await AuditLog.verify(database)
          == .broken(sequence: 3, id: "event-3", reason: .hashMismatch))
    }
  }

  @Test func rehashedEventIsCaughtByItsSuccessor() async throws {
    try await withDatabase { (database, directory) async throws in
      try await Self.appendEvents(4, to: database)
      // The forger alters event 2 and stores the hash the altered event would have had (computed
      // by replaying the chain in a scratch database): event 2 checks out, event 3 does not.
      var altered = Self.event(2)
      altered.outcome = .denied
      let forged = altered
      let scratchDirectory = try makeTemporaryDirectory()
      defer { try? FileManager.default.removeItem(atPath: scratchDirectory) }
      let scratch = try await SQLiteDatabase.open(
        dataDirectory: scratchDirectory, migrations: [], now: testNow)
      let forgedHash = try await scratch.write { db in
        try AuditLog.append(Self.event(1), in: db)
        return try AuditLog.append(forged, in: db).hash
      }
      await scratch.close()
      let hex = forgedHash.map { String(format: "%02x", $0) }.joined()
      try await Self.tamper(
        directory,
        """
        DROP TRIGGER audit_events_no_update;
        UPDATE audit_events SET outcome = 'denied', hash = x'\(hex)' WHERE seq = 2;
        """)
      let result = try await AuditLog.verify(database)
      #expect(result == .broken(sequence: 3, id: "event-3", reason: .previousHashMismatch))
    }
  }

  @Test func replacedHashIsNamed() async throws {
    try await withDatabase { (database, directory) async throws in
      try await Self.appendEvents(3, to: database)
      try await Self.tamper(
        directory,
        """
        DROP TRIGGER audit_events_no_update;
        UPDATE audit_events SET hash = 'not a hash' WHERE seq = 2;
        """)
      #expect(
        try await AuditLog.verify(database)
          == .broken(sequence: 2, id: "event-2", reason: .unreadable))
    }
  }

  @Test func removedEventIsNamed() async throws {
    try await withDatabase { (database, directory) async throws in
      try await Self.appendEvents(4, to: database)
      try await Self.tamper(
        directory,
        """
        DROP TRIGGER audit_events_no_delete;
        DELETE FROM audit_events WHERE seq = 2;
        """)
      #expect(
        try await AuditLog.verify(database)
          == .broken(sequence: 3, id: "event-3", reason: .sequenceGap(expected: 2)))
    }
  }

  @Test func canonicalEncodingSeparatesFields() {
    var a = Self.event(1)
    var b = Self.event(1)
    a.actor = "ab"
    a.action = "c"
    b.actor = "a"
    b.action = "bc"
    #expect(
      AuditLog.canonicalEncoding(sequence: 1, event: a)
        != AuditLog.canonicalEncoding(sequence: 1, event: b))
    var absent = Self.event(1)
    var empty = Self.event(1)
    absent.subject = nil
    empty.subject = ""
    #expect(
      AuditLog.canonicalEncoding(sequence: 1, event: absent)
        != AuditLog.canonicalEncoding(sequence: 1, event: empty))
  }

  @Test func recordsFilterBySubjectAndActor() async throws {
    try await withDatabase { (database, _) async throws in
      try await Self.appendEvents(6, to: database)
      let subjects = try await database.read { db in
        try AuditLog.records(subject: "posizione/4", in: db).map(\.event.id)
      }
      #expect(subjects == ["event-4"])
      let page = try await database.read { db in
        try AuditLog.records(after: 2, actor: "TINIT-RSSMRA80A01H501U", limit: 2, in: db).map(
          \.sequence)
      }
      #expect(page == [3, 4])
    }
  }
}
