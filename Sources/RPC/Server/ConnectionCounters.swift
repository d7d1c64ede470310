import Synchronization

/// Process-wide connection counters, for metrics (the admin listener's `/metrics`).
///
/// The hook: `Server`'s accept path calls ``opened()`` once per accepted connection it keeps,
/// and its close path calls ``closed()`` once when it forgets one (two lines in Server.swift).
/// Both are one relaxed atomic add on the event-loop thread; nothing else on the connection
/// path reads or writes them. All servers in the process share the counters.
public enum ConnectionCounters {
  private static let openCount = Atomic<Int>(0)
  private static let acceptedCount = Atomic<Int>(0)

  /// Connections currently open.
  public static var open: Int { openCount.load(ordering: .relaxed) }
  /// Connections accepted since the process started.
  public static var accepted: Int { acceptedCount.load(ordering: .relaxed) }

  package static func opened() {
    openCount.add(1, ordering: .relaxed)
    acceptedCount.add(1, ordering: .relaxed)
  }

  package static func closed() {
    openCount.subtract(1, ordering: .relaxed)
  }
}
