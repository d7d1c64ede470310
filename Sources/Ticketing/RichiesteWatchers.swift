import Synchronization

/// Who is watching which richiesta, in this process: after a write commits, its events are
/// published to every `WatchRichiesta` stream of that richiesta. Behind this small type so a
/// cross-replica feed (PostgreSQL LISTEN/NOTIFY) can drive the same streams later.
final class RichiesteWatchers: Sendable {
  private struct State {
    var next = 0
    var watchers: [String: [Int: AsyncStream<String>.Continuation]] = [:]
  }
  private let state = Mutex(State())

  /// A stream of "something changed" signals for `richiesta`: after each change committed in
  /// this process, and once per `tick` in any case (changes made inside another transaction
  /// or by another replica); ends when the caller stops.
  func watch(_ richiesta: String, tick: Duration = .seconds(1)) -> AsyncStream<String> {
    let (stream, continuation) = AsyncStream.makeStream(
      of: String.self, bufferingPolicy: .bufferingNewest(64))
    let token = state.withLock { s -> Int in
      s.next += 1
      s.watchers[richiesta, default: [:]][s.next] = continuation
      return s.next
    }
    let ticker = Task {
      while !Task.isCancelled {
        try? await Task.sleep(for: tick)
        continuation.yield(richiesta)
      }
    }
    continuation.onTermination = { [weak self] _ in
      ticker.cancel()
      self?.state.withLock { s in
        s.watchers[richiesta]?[token] = nil
        if s.watchers[richiesta]?.isEmpty == true { s.watchers[richiesta] = nil }
      }
    }
    return stream
  }

  /// Signals every watcher of `richiesta` (after the change committed).
  func changed(_ richiesta: String) {
    let continuations = state.withLock { Array(($0.watchers[richiesta] ?? [:]).values) }
    for continuation in continuations { continuation.yield(richiesta) }
  }

  var count: Int { state.withLock { $0.watchers.values.reduce(0) { $0 + $1.count } } }
}
