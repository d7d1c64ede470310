/// A log-linear latency histogram in nanoseconds (HDR-style): values below 128 ns have a
/// bucket each; above, every power of two is split into 64 linear sub-buckets, so a
/// recorded value is off by at most 1/64 (1.6%) of itself. Fixed size (~2,300 counters,
/// up to ~18 minutes), no allocation per record; one per worker, merged at the end.
struct LatencyHistogram: Sendable {
  static let subBucketBits = 6
  static let subBuckets = 1 << subBucketBits  // 64
  static let maxShift = 34
  static let bucketCount = 2 * subBuckets + maxShift * subBuckets

  private(set) var counts: [UInt64]
  private(set) var count: UInt64 = 0
  private(set) var sum: UInt64 = 0
  private(set) var min: UInt64 = .max
  private(set) var max: UInt64 = 0

  init() { counts = [UInt64](repeating: 0, count: Self.bucketCount) }

  static func index(of value: UInt64) -> Int {
    if value < UInt64(2 * subBuckets) { return Int(value) }
    let msb = 63 - value.leadingZeroBitCount
    let shift = Swift.min(msb - subBucketBits, maxShift)
    let sub = Swift.min(Int(value >> UInt64(shift)), 2 * subBuckets - 1) - subBuckets
    return 2 * subBuckets + (shift - 1) * subBuckets + sub
  }

  /// The highest value that falls in bucket `index`.
  static func upperBound(of index: Int) -> UInt64 {
    if index < 2 * subBuckets { return UInt64(index) }
    let shift = (index - 2 * subBuckets) / subBuckets + 1
    let sub = UInt64((index - 2 * subBuckets) % subBuckets + subBuckets)
    return ((sub + 1) << UInt64(shift)) - 1
  }

  mutating func record(_ nanoseconds: UInt64) {
    counts[Self.index(of: nanoseconds)] &+= 1
    count &+= 1
    sum &+= nanoseconds
    if nanoseconds < min { min = nanoseconds }
    if nanoseconds > max { max = nanoseconds }
  }

  mutating func merge(_ other: LatencyHistogram) {
    for i in 0..<counts.count { counts[i] &+= other.counts[i] }
    count &+= other.count
    sum &+= other.sum
    min = Swift.min(min, other.min)
    max = Swift.max(max, other.max)
  }

  var mean: Double { count == 0 ? 0 : Double(sum) / Double(count) }

  /// The value at quantile `q` (0...1): the upper bound of the bucket holding it, capped by
  /// the largest value recorded.
  func value(atQuantile q: Double) -> UInt64 {
    if count == 0 { return 0 }
    let rank = Swift.max(1, UInt64((q * Double(count)).rounded(.up)))
    var seen: UInt64 = 0
    for (i, c) in counts.enumerated() where c > 0 {
      seen += c
      if seen >= rank { return Swift.min(Self.upperBound(of: i), max) }
    }
    return max
  }
}
