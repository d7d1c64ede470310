import Access
import Foundation
import Server
import Storage
import Testing

@Suite struct OutboxMetricsTests {
  /// A spool directory that cannot be created: every delivery fails and is counted.
  @Test func failedDeliveriesAreCounted() async throws {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("obs-outbox-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let blocker = directory + "/not-a-directory"
    #expect(FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8)))
    let now = Date()
    let database = try await SQLiteDatabase.open(
      dataDirectory: directory, migrations: Application.migrations, now: now)
    try await database.write { db in
      for index in 0..<2 {
        try Outbox.enqueue(
          OutboxMessage(channel: .pec, recipient: "a\(index)@pec.example.it", body: "hello"),
          at: now, in: db)
      }
    }
    let metrics = Metrics()
    let delivered = try await OutboxWorker.tick(
      database: database, clock: SystemClock(),
      channel: SpoolChannel(directory: blocker + "/spool"),
      expire: false, deliveryFailures: metrics.outboxDeliveryFailures)
    #expect(delivered == 0)
    #expect(metrics.outboxDeliveryFailures.value == 2)
    #expect(metrics.render().contains("\ncassetto_outbox_delivery_failures_total 2\n"))
    await database.close()
  }
}
