#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import RPC

/// Monotonic nanoseconds.
@inline(__always) func nowNanos() -> UInt64 {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Process CPU time (user + system) in nanoseconds: how much of the client's own CPU the run
/// took (the channels' I/O threads included).
func processCPUNanos() -> UInt64 {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1_000 }
  return ns(usage.ru_utime) + ns(usage.ru_stime)
}

struct LoadPlan: Sendable {
  var connections: Int
  var streamsPerConnection: Int
  var warmupNanos: UInt64
  var durationNanos: UInt64
  /// Calls per second over all workers (open loop); `nil` for a closed loop.
  var rate: Double?
}

/// Latency and outcomes of one RPC of a mixed scenario.
struct LabelStats: Sendable {
  var histogram = LatencyHistogram()
  var ok = 0
  var errors: [String: Int] = [:]

  mutating func merge(_ other: LabelStats) {
    histogram.merge(other.histogram)
    ok += other.ok
    for (key, value) in other.errors { errors[key, default: 0] += value }
  }
}

/// What one worker saw in the measured window.
struct WorkerStats: Sendable {
  var histogram = LatencyHistogram()
  var ok = 0
  var errors: [String: Int] = [:]
  var messages = 0
  var bytes = 0
  /// Open loop: calls that started later than scheduled (the generator could not keep up).
  var late = 0
  /// Per RPC, for scenarios whose calls carry a label (``CallResult/label``, ``LabeledError``).
  var byLabel: [String: LabelStats] = [:]

  mutating func merge(_ other: WorkerStats) {
    histogram.merge(other.histogram)
    ok += other.ok
    for (key, value) in other.errors { errors[key, default: 0] += value }
    messages += other.messages
    bytes += other.bytes
    late += other.late
    for (key, value) in other.byLabel { byLabel[key, default: LabelStats()].merge(value) }
  }
}

/// Runs the plan: `connections` channels, `streamsPerConnection` workers on each. A closed
/// loop worker starts its next call as soon as the previous one ends; an open loop worker
/// starts calls on a fixed schedule (rate ÷ workers each, staggered) and measures each
/// call's latency from its *scheduled* start, so a server that falls behind is charged for
/// the queueing it causes (no coordinated omission). Only calls that start inside the
/// measured window (after the warm-up, before the end) are recorded.
func runLoad(
  scenario: any LoadScenario, plan: LoadPlan, host: String, port: Int,
  tls: TLSClientConfiguration?
) async -> (stats: WorkerStats, measuredNanos: UInt64, cpuNanos: UInt64) {
  let channels = (0..<plan.connections).map { _ in Channel(host: host, port: port, tls: tls) }
  defer { for channel in channels { channel.close() } }
  let workers = plan.connections * plan.streamsPerConnection
  let start = nowNanos()
  let measureStart = start + plan.warmupNanos
  let end = measureStart + plan.durationNanos
  var cpuAtMeasureStart: UInt64 = 0
  var total = WorkerStats()
  await withTaskGroup(of: WorkerStats.self) { group in
    for index in 0..<workers {
      let call = scenario.makeCall(channel: channels[index % plan.connections])
      if let rate = plan.rate {
        let interval = UInt64(Double(workers) / rate * 1e9)
        let offset = interval * UInt64(index) / UInt64(workers)
        group.addTask {
          await openLoopWorker(
            call, first: start + offset, interval: interval, measureStart: measureStart, end: end)
        }
      } else {
        group.addTask { await closedLoopWorker(call, measureStart: measureStart, end: end) }
      }
    }
    // Sample CPU time at the start of the measured window.
    let wait = measureStart > nowNanos() ? measureStart - nowNanos() : 0
    try? await Task.sleep(for: .nanoseconds(Int64(wait)))
    cpuAtMeasureStart = processCPUNanos()
    for await stats in group { total.merge(stats) }
  }
  let cpu = processCPUNanos() - cpuAtMeasureStart
  return (total, end - measureStart, cpu)
}

private func record(_ result: Result<CallResult, any Error>, latency: UInt64, into stats: inout WorkerStats) {
  stats.histogram.record(latency)
  var label: String? = nil
  var outcome: String? = nil
  switch result {
  case .success(let value):
    stats.ok += 1
    stats.messages += value.messages
    stats.bytes += value.bytes
    label = value.label
  case .failure(let error):
    var underlying: any Error = error
    if let labeled = error as? LabeledError {
      label = labeled.label
      underlying = labeled.error
    }
    let code = (underlying as? RPCError)?.code.description ?? "TRANSPORT"
    stats.errors[code, default: 0] += 1
    outcome = code
  }
  if let label {
    var entry = stats.byLabel[label] ?? LabelStats()
    entry.histogram.record(latency)
    if let outcome { entry.errors[outcome, default: 0] += 1 } else { entry.ok += 1 }
    stats.byLabel[label] = entry
  }
}

private func perform(_ call: LoadCall) async -> Result<CallResult, any Error> {
  do { return .success(try await call.invoke()) } catch { return .failure(error) }
}

private func closedLoopWorker(_ call: LoadCall, measureStart: UInt64, end: UInt64) async -> WorkerStats {
  var stats = WorkerStats()
  while true {
    let t0 = nowNanos()
    if t0 >= end || Task.isCancelled { break }
    let result = await perform(call)
    if t0 >= measureStart { record(result, latency: nowNanos() - t0, into: &stats) }
  }
  return stats
}

private func openLoopWorker(
  _ call: LoadCall, first: UInt64, interval: UInt64, measureStart: UInt64, end: UInt64
) async -> WorkerStats {
  var stats = WorkerStats()
  var scheduled = first
  while scheduled < end && !Task.isCancelled {
    let now = nowNanos()
    if scheduled > now {
      try? await Task.sleep(for: .nanoseconds(Int64(scheduled - now)))
    } else if now - scheduled > interval, scheduled >= measureStart {
      stats.late += 1
    }
    let result = await perform(call)
    if scheduled >= measureStart { record(result, latency: nowNanos() - scheduled, into: &stats) }
    scheduled += interval
  }
  return stats
}
