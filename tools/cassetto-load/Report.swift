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
    if !stats.byLabel.isEmpty {
      lines.append("")
      lines.append(perLabelTable())
    }
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
      "\"per_rpc\": {\(perLabelJSON())}",
      "\"late\": \(stats.late)",
      "\"cpu_percent\": \(fmt(cpuPercent, 1))",
    ]
    fields = fields.map { "  " + $0 }
    return "{\n" + fields.joined(separator: ",\n") + "\n}"
  }

  /// Per-RPC rows of a mixed scenario: share of the calls, rate, latency quantiles, errors.
  func perLabelTable() -> String {
    var rows: [[String]] = [["rpc", "calls", "share", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"]]
    let total = max(calls, 1)
    for (label, entry) in stats.byLabel.sorted(by: { $0.key < $1.key }) {
      let h = entry.histogram
      let count = entry.ok + entry.errors.values.reduce(0, +)
      let errors = entry.errors.isEmpty
        ? "0" : entry.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
      rows.append([
        label, String(count), fmt(Double(count) * 100 / Double(total)) + "%",
        fmt(Double(count) / seconds), fmt(Double(h.value(atQuantile: 0.5)) / 1e6, 2),
        fmt(Double(h.value(atQuantile: 0.9)) / 1e6, 2), fmt(Double(h.value(atQuantile: 0.99)) / 1e6, 2),
        fmt(Double(h.max) / 1e6, 2), errors,
      ])
    }
    var widths = [Int](repeating: 0, count: rows[0].count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
      row.enumerated().map { i, cell in
        i == 0 || i == row.count - 1
          ? cell + String(repeating: " ", count: widths[i] - cell.count)
          : String(repeating: " ", count: widths[i] - cell.count) + cell
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }

  func perLabelJSON() -> String {
    stats.byLabel.sorted(by: { $0.key < $1.key }).map { label, entry in
      let h = entry.histogram
      var quantiles = Self.quantiles.map { "\"\($0.0)_us\": \(fmt(micros(h.value(atQuantile: $0.1)), 1))" }
      quantiles.append("\"max_us\": \(fmt(micros(h.max), 1))")
      let errors = entry.errors.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }
      return "\"\(label)\": {\"ok\": \(entry.ok), \(quantiles.joined(separator: ", ")), \"errors\": {\(errors.joined(separator: ", "))}}"
    }.joined(separator: ", ")
  }
}
