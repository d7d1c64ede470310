/// The `grpc-timeout` header: `TimeoutValue TimeoutUnit`, at most 8 ASCII digits followed by
/// one of `H M S m u n` (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
package enum GRPCTimeout {
  /// Parses a `grpc-timeout` value; `nil` when it is malformed (empty, more than 8 digits,
  /// non-digit, unknown unit).
  package static func parse(_ value: some StringProtocol) -> Duration? {
    let utf8 = value.utf8
    guard utf8.count >= 2, utf8.count <= 9 else { return nil }
    var amount: Int64 = 0
    var digits = 0
    var unit: UInt8 = 0
    for (offset, byte) in utf8.enumerated() {
      if offset == utf8.count - 1 {
        unit = byte
      } else {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        amount = amount * 10 + Int64(byte - UInt8(ascii: "0"))
        digits += 1
      }
    }
    guard digits >= 1 else { return nil }
    switch unit {
    case UInt8(ascii: "H"): return .seconds(amount * 3600)
    case UInt8(ascii: "M"): return .seconds(amount * 60)
    case UInt8(ascii: "S"): return .seconds(amount)
    case UInt8(ascii: "m"): return .milliseconds(amount)
    case UInt8(ascii: "u"): return .microseconds(amount)
    case UInt8(ascii: "n"): return .nanoseconds(amount)
    default: return nil
    }
  }

  /// Encodes `duration` in the finest unit whose value fits in 8 digits, rounding up so the
  /// peer never sees a shorter deadline than ours. Non-positive durations encode as `1n`, so
  /// the peer treats the call as already expired rather than unbounded.
  package static func encode(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return "1n" }
    let maxValue: Int64 = 99_999_999
    // Nanoseconds, rounded up; saturate for absurdly long durations.
    let nanosFromSeconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    var nanos: Int64
    if nanosFromSeconds.overflow {
      nanos = .max
    } else {
      let extra = (attoseconds + 999_999_999) / 1_000_000_000
      let sum = nanosFromSeconds.partialValue.addingReportingOverflow(extra)
      nanos = sum.overflow ? .max : sum.partialValue
    }
    if nanos <= maxValue { return "\(nanos)n" }
    let units: [(divisor: Int64, symbol: String)] = [
      (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"), (60_000_000_000, "M"),
      (3_600_000_000_000, "H"),
    ]
    for (divisor, symbol) in units {
      let value = nanos / divisor + (nanos % divisor == 0 ? 0 : 1)
      if value <= maxValue { return "\(value)\(symbol)" }
    }
    return "\(maxValue)H"
  }
}
