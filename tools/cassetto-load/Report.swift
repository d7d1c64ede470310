/// The result of a run, as text or JSON (no Foundation: the JSON is written by hand).
struct LoadReport {
  var scenario: String
  var messageUnit: String
  var target: String
  var plan: LoadPlan
  var stats: WorkerStats
  var measuredNanos: UInt64
  var cpuNanos: UInt64

  var seconds: Double { Double(measuredNanos) / 1e9 }
  var calls: Int { stats.ok + stats.errors.values.reduce(0, +) }
  var callsPerSecond: Double { Double(calls) / seconds }
  var okPerSecond: Double { Double(stats.ok) / seconds }
  var messagesPerSecond: Double { Double(stats.messages) / seconds }
  /// The generator's own CPU (all threads) over the measured window, in % of one core.
  var cpuPercent: Double { Double(cpuNanos) / Double(measuredNanos) * 100 }

  static let quantiles: [(String, Double)] = [
    ("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999),
  ]

  func micros(_ nanos: UInt64) -> Double { Double(nanos) / 1000 }
  func micros(_ nanos: Double) -> Double { nanos / 1000 }

  func fmt(_ value: Double, _ digits: Int = 1) -> String {
    if !value.isFinite { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if text.hasSuffix(".0") && digits == 0 { text.removeLast(2) }
    return text
  }

  func text() -> String {
    let h = stats.histogram
    var lines: [String] = []
    let mode = plan.rate.map { "open loop at \(fmt($0, 0)) calls/s" } ?? "closed loop"
    lines.append(
      "cassetto-load \(scenario) → \(target): \(plan.connections) connection(s) × \(plan.streamsPerConnection) stream(s), \(mode), \(fmt(seconds, 2)) s measured"
    )
    lines.append(
      "calls: \(calls) (\(fmt(callsPerSecond)) /s), ok \(stats.ok) (\(fmt(okPerSecond)) /s), \(messageUnit) \(stats.messages) (\(fmt(messagesPerSecond)) /s)"
    )
    var latency = "latency µs: mean \(fmt(micros(h.mean)))"
    for (name, q) in Self.quantiles { latency += " \(name) \(fmt(micros(h.value(atQuantile: q))))" }
    latency += " max \(fmt(micros(h.max)))"
    lines.append(latency)
    if stats.errors.isEmpty {
      lines.append("errors: none")
    } else {
      lines.append(
        "errors: " + stats.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
    }
    if plan.rate != nil { lines.append("late starts (generator behind schedule): \(stats.late)") }
    lines.append("generator CPU: \(fmt(cpuPercent))% of one core (\(fmt(Double(cpuNanos) / Double(max(calls, 1)) / 1000, 2)) µs per call)")
    return lines.joined(separator: "\n")
  }

  func json() -> String {
    let h = stats.histogram
    var latency: [String] = ["\"mean\": \(fmt(micros(h.mean), 2))", "\"min\": \(fmt(micros(h.count == 0 ? 0 : h.min), 2))"]
    for (name, q) in Self.quantiles { latency.append("\"\(name)\": \(fmt(micros(h.value(atQuantile: q)), 2))") }
    latency.append("\"max\": \(fmt(micros(h.max), 2))")
    let errors = stats.errors.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }
    var fields: [String] = [
      "\"scenario\": \"\(scenario)\"",
      "\"target\": \"\(target)\"",
      "\"mode\": \"\(plan.rate == nil ? "closed" : "open")\"",
      "\"rate\": \(plan.rate.map { fmt($0, 2) } ?? "null")",
      "\"connections\": \(plan.connections)",
      "\"streams_per_connection\": \(plan.streamsPerConnection)",
      "\"warmup_s\": \(fmt(Double(plan.warmupNanos) / 1e9, 3))",
      "\"duration_s\": \(fmt(seconds, 3))",
      "\"calls\": \(calls)",
      "\"ok\": \(stats.ok)",
      "\"calls_per_s\": \(fmt(callsPerSecond, 1))",
      "\"ok_per_s\": \(fmt(okPerSecond, 1))",
      "\"message_unit\": \"\(messageUnit)\"",
      "\"messages\": \(stats.messages)",
      "\"messages_per_s\": \(fmt(messagesPerSecond, 1))",
      "\"bytes\": \(stats.bytes)",
      "\"latency_us\": {\(latency.joined(separator: ", "))}",
      "\"errors\": {\(errors.joined(separator: ", "))}",
      "\"late\": \(stats.late)",
      "\"cpu_percent\": \(fmt(cpuPercent, 1))",
    ]
    fields = fields.map { "  " + $0 }
    return "{\n" + fields.joined(separator: ",\n") + "\n}"
  }
}
