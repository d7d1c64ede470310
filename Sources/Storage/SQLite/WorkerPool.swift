import Foundation
import Synchronization

/// A few dedicated threads, each owning one ``SQLiteConnection``, serving a shared job queue.
///
/// This is how SQLite's blocking calls (and their `fsync`s) stay off Swift's cooperative
/// pool: an `async` caller enqueues a job and suspends on a continuation; a worker thread runs
/// the job with its own connection and resumes the caller. The writer is a pool of one thread,
/// so writes are serialised in submission order; readers are a pool of a few.
///
/// Thread-safety invariant (why `@unchecked Sendable`): `queue`, `head`, `stopping`, `alive`
/// and `exitWaiters` are only touched with `condition` locked; each connection lives in the
/// local state of its own thread and is never handed to another.
final class WorkerPool: @unchecked Sendable {
  typealias Job = @Sendable (SQLiteConnection) -> Void

  private let condition = NSCondition()
  private var queue: [Job] = []
  private var head = 0
  private var stopping = false
  private var alive = 0
  private var exitWaiters: [CheckedContinuation<Void, Never>] = []

  private init() {}

  /// Starts `count` threads named `name`; each opens its connection with `open` on its own
  /// thread. Returns once every connection is open, or throws the first opening error (after
  /// stopping the threads that did open).
  static func start(
    name: String, count: Int, open: @escaping @Sendable () throws -> SQLiteConnection
  ) async throws -> WorkerPool {
    let pool = WorkerPool()
    let opened = OpenBarrier(expected: count)
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Void, any Error>) in
      opened.onComplete = { result in continuation.resume(with: result) }
      pool.condition.lock()
      pool.alive = count
      pool.condition.unlock()
      for index in 0..<count {
        let thread = Thread { pool.threadMain(open: open, opened: opened) }
        thread.name = count == 1 ? name : "\(name)-\(index)"
        thread.start()
      }
    }
    return pool
  }

  /// Runs `body` on a worker with its connection and returns its result to the caller.
  ///
  /// If the calling task is cancelled before a worker picks the job up, `body` never runs and
  /// the call throws `CancellationError`; once started, `body` runs to completion (a write
  /// commits or rolls back as usual).
  func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws
    -> T
  {
    try Task.checkCancellation()
    let cancelled = CancellationFlag()
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { continuation in
        let accepted = submit { connection in
          if cancelled.isSet {
            continuation.resume(throwing: CancellationError())
          } else {
            continuation.resume(with: Result { try body(connection) })
          }
        }
        if !accepted { continuation.resume(throwing: StorageError.closed) }
      }
    } onCancel: {
      cancelled.set()
    }
  }

  /// Stops accepting jobs, lets the workers finish the queued ones, closes their connections
  /// and returns when every thread has exited.
  func shutdown() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      condition.lock()
      stopping = true
      if alive == 0 {
        condition.unlock()
        continuation.resume()
        return
      }
      exitWaiters.append(continuation)
      condition.broadcast()
      condition.unlock()
    }
  }

  /// Stops accepting jobs and lets the threads exit after the queued ones, without waiting.
  func requestShutdown() {
    condition.lock()
    stopping = true
    condition.broadcast()
    condition.unlock()
  }

  private func submit(_ job: @escaping Job) -> Bool {
    condition.lock()
    defer { condition.unlock() }
    guard !stopping else { return false }
    queue.append(job)
    condition.signal()
    return true
  }

  private func nextJob() -> Job? {
    condition.lock()
    defer { condition.unlock() }
    while head == queue.count && !stopping { condition.wait() }
    guard head < queue.count else { return nil }
    let job = queue[head]
    head += 1
    if head == queue.count || head > 1024 {
      queue.removeFirst(head)
      head = 0
    }
    return job
  }

  private func threadMain(open: () throws -> SQLiteConnection, opened: OpenBarrier) {
    var connection: SQLiteConnection?
    do {
      connection = try open()
      opened.report(.success(()))
    } catch {
      condition.lock()
      stopping = true
      condition.broadcast()
      condition.unlock()
      opened.report(.failure(error))
    }
    if let connection {
      while let job = nextJob() { job(connection) }
      connection.close()
    }
    condition.lock()
    alive -= 1
    let waiters = alive == 0 ? exitWaiters : []
    if alive == 0 { exitWaiters.removeAll() }
    condition.unlock()
    for waiter in waiters { waiter.resume() }
  }
}

/// Collects the opening results of a pool's threads and completes once with the first error
/// or with success. Invariant: every field is guarded by `lock`.
private final class OpenBarrier: @unchecked Sendable {
  private let lock = NSLock()
  private var remaining: Int
  private var firstError: (any Error)?
  private var completion: ((Result<Void, any Error>) -> Void)?

  init(expected: Int) { remaining = expected }

  var onComplete: ((Result<Void, any Error>) -> Void)? {
    get { lock.withLock { completion } }
    set { lock.withLock { completion = newValue } }
  }

  func report(_ result: Result<Void, any Error>) {
    lock.lock()
    if case .failure(let error) = result, firstError == nil { firstError = error }
    remaining -= 1
    let done = remaining == 0
    let completion = self.completion
    let error = firstError
    lock.unlock()
    guard done, let completion else { return }
    completion(error.map { .failure($0) } ?? .success(()))
  }
}

/// Set when the task awaiting a queued job is cancelled.
private final class CancellationFlag: Sendable {
  private let value = Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .acquiring) }
  func set() { value.store(true, ordering: .releasing) }
}
