import Storage

/// Samples the outbox backlog (undelivered messages, read through the
/// `outbox_messages_due` index) into ``Metrics/outboxBacklog`` every `interval`, until its
/// task is cancelled, and times that read into ``Metrics/databaseLatency`` (a probe of the
/// database's read latency, queueing included). One read per interval, never on a call's
/// path.
enum OutboxBacklogSampler {
  static func run(database: any Database, metrics: Metrics, interval: Duration = .seconds(5))
    async
  {
    while !Task.isCancelled {
      let started = ContinuousClock.now
      if let count = try? await database.read({ db in
        try db.queryFirst(
          "SELECT count(*) AS n FROM outbox_messages WHERE delivered_at IS NULL", []
        )?.int64("n")
      }) {
        metrics.outboxBacklog.set(Double(count))
      }
      let elapsed = ContinuousClock.now - started
      metrics.databaseLatency.observe(
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
      try? await Task.sleep(for: interval)
    }
  }
}
