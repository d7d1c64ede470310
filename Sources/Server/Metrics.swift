import Foundation
import RPC
import Synchronization

/// The server's metrics, rendered in the Prometheus text exposition format (version 0.0.4) by
/// the admin listener's `GET /metrics`.
///
/// | metric | type | labels |
/// |---|---|---|
/// | `grpc_server_started_total` | counter | `grpc_service`, `grpc_method` |
/// | `grpc_server_handled_total` | counter | `grpc_service`, `grpc_method`, `grpc_code` |
/// | `grpc_server_handling_seconds` | histogram | `grpc_service`, `grpc_method` |
/// | `grpc_server_in_flight` | gauge | `grpc_service`, `grpc_method` |
/// | `cassetto_connections_open` / `cassetto_connections_accepted_total` | gauge / counter | — |
/// | `cassetto_outbox_backlog` | gauge | — (undelivered outbox messages, sampled) |
/// | `cassetto_outbox_delivery_failures_total` | counter | — |
/// | `cassetto_database_query_seconds` | histogram | — (the sampler's probe read) |
///
/// Cost per call: one dictionary lookup under a mutex (method → its statistics, created on the
/// first call), then one short critical section on that method's own mutex at the start and
/// one at the end. Rendering copies each method's state under its lock.
public final class Metrics: Sendable {
  /// Latency buckets in seconds (upper bounds), Prometheus' defaults widened down to 0.5 ms.
  public static let latencyBuckets: [Double] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  ]

  private let methods = Mutex<[String: MethodStatistics]>([:])
  /// Undelivered outbox messages (set by a sampler).
  public let outboxBacklog = Gauge()
  /// Failed outbox delivery attempts.
  public let outboxDeliveryFailures = Gauge()
  /// Database latency: the outbox backlog sampler's read, every 5 s (statement-level timing
  /// would need a hook in Storage).
  public let databaseLatency = Histogram(buckets: Metrics.latencyBuckets)
  /// Open connections, read when rendering (default: the RPC server's process-wide counters).
  let connections: @Sendable () -> (open: Int, accepted: Int)

  public init(
    connections: @escaping @Sendable () -> (open: Int, accepted: Int) = {
      (ConnectionCounters.open, ConnectionCounters.accepted)
    }
  ) {
    self.connections = connections
  }

  /// The statistics of `method`, created on first use.
  public func statistics(for method: MethodDescriptor) -> MethodStatistics {
    let path = method.path
    return methods.withLock { table in
      if let existing = table[path] { return existing }
      let created = MethodStatistics(service: method.service, method: method.method)
      table[path] = created
      return created
    }
  }

  /// The Prometheus text format, version 0.0.4.
  public func render() -> String {
    let all = methods.withLock { Array($0.values) }.sorted {
      ($0.service, $0.method) < ($1.service, $1.method)
    }
    let snapshots = all.map { ($0, $0.snapshot()) }
    var out = PrometheusText()
    out.header("grpc_server_started_total", "RPCs started on the server.", type: "counter")
    for (m, s) in snapshots {
      out.sample("grpc_server_started_total", labels: m.labels, value: Double(s.started))
    }
    out.header("grpc_server_handled_total", "RPCs completed, by status code.", type: "counter")
    for (m, s) in snapshots {
      for code in StatusCode.allCases where s.handled[code.rawValue] > 0 {
        out.sample(
          "grpc_server_handled_total", labels: m.labels + [("grpc_code", code.description)],
          value: Double(s.handled[code.rawValue]))
      }
    }
    out.header(
      "grpc_server_handling_seconds", "RPC latency until the status is decided.",
      type: "histogram")
    for (m, s) in snapshots {
      out.histogram("grpc_server_handling_seconds", labels: m.labels, s.latency)
    }
    out.header("grpc_server_in_flight", "RPCs currently being handled.", type: "gauge")
    for (m, s) in snapshots {
      out.sample("grpc_server_in_flight", labels: m.labels, value: Double(s.inFlight))
    }
    let connections = connections()
    out.header("cassetto_connections_open", "HTTP/2 connections currently open.", type: "gauge")
    out.sample("cassetto_connections_open", value: Double(connections.open))
    out.header(
      "cassetto_connections_accepted_total", "HTTP/2 connections accepted.", type: "counter")
    out.sample("cassetto_connections_accepted_total", value: Double(connections.accepted))
    out.header("cassetto_outbox_backlog", "Undelivered outbox messages.", type: "gauge")
    out.sample("cassetto_outbox_backlog", value: outboxBacklog.value)
    out.header(
      "cassetto_outbox_delivery_failures_total", "Failed outbox delivery attempts.",
      type: "counter")
    out.sample("cassetto_outbox_delivery_failures_total", value: outboxDeliveryFailures.value)
    out.header(
      "cassetto_database_query_seconds", "Database read latency (periodic probe read).",
      type: "histogram")
    out.histogram("cassetto_database_query_seconds", labels: [], databaseLatency.snapshot())
    return out.text
  }
}

/// One method's counters; its own mutex, so methods never contend with each other.
public final class MethodStatistics: Sendable {
  public let service: String
  public let method: String
  let labels: [(String, String)]

  struct State {
    var started: UInt64 = 0
    var inFlight: Int = 0
    var handled = [UInt64](repeating: 0, count: StatusCode.allCases.count)
    var latency = HistogramState(bucketCount: Metrics.latencyBuckets.count)
  }
  private let state = Mutex(State())

  init(service: String, method: String) {
    self.service = service
    self.method = method
    self.labels = [("grpc_service", service), ("grpc_method", method)]
  }

  public func callStarted() {
    state.withLock {
      $0.started &+= 1
      $0.inFlight += 1
    }
  }

  public func callEnded(_ code: StatusCode, seconds: Double) {
    let bucket = HistogramState.bucketIndex(seconds, in: Metrics.latencyBuckets)
    state.withLock {
      $0.inFlight -= 1
      $0.handled[code.rawValue] &+= 1
      $0.latency.observe(seconds, bucket: bucket)
    }
  }

  struct Snapshot {
    var started: UInt64
    var inFlight: Int
    var handled: [UInt64]
    var latency: HistogramSnapshot
  }

  func snapshot() -> Snapshot {
    state.withLock {
      Snapshot(
        started: $0.started, inFlight: $0.inFlight, handled: $0.handled,
        latency: $0.latency.snapshot(buckets: Metrics.latencyBuckets))
    }
  }
}

/// A value that goes up and down (or a counter someone else keeps), set from anywhere.
public final class Gauge: Sendable {
  private let bits = Atomic<UInt64>(0.0.bitPattern)

  public init() {}

  public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }

  public func set(_ value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }

  public func add(_ delta: Double) {
    var current = bits.load(ordering: .relaxed)
    while true {
      let next = (Double(bitPattern: current) + delta).bitPattern
      let (exchanged, original) = bits.compareExchange(
        expected: current, desired: next, ordering: .relaxed)
      if exchanged { return }
      current = original
    }
  }

  public func increment() { add(1) }
}

/// A histogram with fixed buckets, observed from anywhere.
public final class Histogram: Sendable {
  public let buckets: [Double]
  private let state: Mutex<HistogramState>

  public init(buckets: [Double]) {
    self.buckets = buckets.sorted()
    self.state = Mutex(HistogramState(bucketCount: buckets.count))
  }

  public func observe(_ value: Double) {
    let bucket = HistogramState.bucketIndex(value, in: buckets)
    state.withLock { $0.observe(value, bucket: bucket) }
  }

  func snapshot() -> HistogramSnapshot {
    state.withLock { $0.snapshot(buckets: buckets) }
  }
}

struct HistogramState {
  /// Non-cumulative counts; the last slot is +Inf.
  var counts: [UInt64]
  var sum: Double = 0

  init(bucketCount: Int) { counts = [UInt64](repeating: 0, count: bucketCount + 1) }

  /// The first bucket whose upper bound is ≥ `value` (`buckets.count` for +Inf).
  static func bucketIndex(_ value: Double, in buckets: [Double]) -> Int {
    var low = 0
    var high = buckets.count
    while low < high {
      let mid = (low + high) / 2
      if value <= buckets[mid] { high = mid } else { low = mid + 1 }
    }
    return low
  }

  mutating func observe(_ value: Double, bucket: Int) {
    counts[bucket] &+= 1
    sum += value
  }

  func snapshot(buckets: [Double]) -> HistogramSnapshot {
    var cumulative: [UInt64] = []
    cumulative.reserveCapacity(counts.count)
    var total: UInt64 = 0
    for count in counts {
      total &+= count
      cumulative.append(total)
    }
    return HistogramSnapshot(upperBounds: buckets, cumulativeCounts: cumulative, sum: sum)
  }
}

/// Cumulative bucket counts (the last one is +Inf, i.e. the total count) and the sum.
public struct HistogramSnapshot: Sendable, Equatable {
  public var upperBounds: [Double]
  public var cumulativeCounts: [UInt64]
  public var sum: Double
  public var count: UInt64 { cumulativeCounts.last ?? 0 }

  public init(upperBounds: [Double], cumulativeCounts: [UInt64], sum: Double) {
    self.upperBounds = upperBounds
    self.cumulativeCounts = cumulativeCounts
    self.sum = sum
  }
}

/// Writes the Prometheus text exposition format, version 0.0.4.
public struct PrometheusText: Sendable {
  public private(set) var text = ""

  public init() {}

  public mutating func header(_ name: String, _ help: String, type: String) {
    text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
  }

  public mutating func sample(_ name: String, labels: [(String, String)] = [], value: Double) {
    text += name
    if !labels.isEmpty {
      text += "{"
      text += labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",")
      text += "}"
    }
    text += " \(Self.format(value))\n"
  }

  public mutating func histogram(
    _ name: String, labels: [(String, String)], _ snapshot: HistogramSnapshot
  ) {
    for (index, bound) in snapshot.upperBounds.enumerated() {
      sample(
        name + "_bucket", labels: labels + [("le", Self.format(bound))],
        value: Double(snapshot.cumulativeCounts[index]))
    }
    sample(name + "_bucket", labels: labels + [("le", "+Inf")], value: Double(snapshot.count))
    sample(name + "_sum", labels: labels, value: snapshot.sum)
    sample(name + "_count", labels: labels, value: Double(snapshot.count))
  }

  /// Label values escape `\`, `"` and newline.
  public static func escapeLabelValue(_ value: String) -> String {
    var out = ""
    for character in value {
      switch character {
      case "\\": out += "\\\\"
      case "\"": out += "\\\""
      case "\n": out += "\\n"
      default: out.append(character)
      }
    }
    return out
  }

  /// HELP text escapes `\` and newline.
  public static func escapeHelp(_ value: String) -> String {
    value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
  }

  /// Integers without a fraction, `+Inf`/`-Inf`/`NaN` spelled as Prometheus reads them.
  public static func format(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
  }
}
