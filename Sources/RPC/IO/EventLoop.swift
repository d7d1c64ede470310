import CNGHTTP2
import Glibc
import Synchronization

/// Something registered with an ``EventLoop`` for readiness events on one file descriptor.
/// Called on the loop's thread only.
package protocol EventLoopHandler: AnyObject {
  /// `events` is the epoll event mask (`EPOLLIN`, `EPOLLOUT`, `EPOLLERR`, `EPOLLHUP`).
  func handleEvents(_ events: UInt32)
}

/// A cancellable timer of an ``EventLoop``. Loop-thread only.
package final class EventLoopTimer {
  fileprivate let deadline: ContinuousClock.Instant
  fileprivate var work: (() -> Void)?
  fileprivate unowned let loop: EventLoop
  fileprivate init(deadline: ContinuousClock.Instant, loop: EventLoop, work: @escaping () -> Void) {
    self.deadline = deadline
    self.loop = loop
    self.work = work
  }
  /// Stops the timer from firing; harmless after it fired.
  package func cancel() {
    guard work != nil else { return }
    work = nil
    loop.timerCancelled()
  }
}

/// One thread with its own epoll instance: it waits for readiness, runs the handlers of ready
/// descriptors, fires due timers and runs work submitted from other threads.
///
/// Thread ownership: everything but ``execute(_:)`` (and ``stop()``, which uses it) must be
/// called on the loop's thread. Work from other threads (handler tasks handing results back)
/// goes through a mutex-protected queue and an `eventfd` wake-up; the queue is the only state
/// touched by two threads, hence `@unchecked Sendable`.
package final class EventLoop: @unchecked Sendable {
  package let index: Int
  private let epollFD: Int32
  private let wakeFD: Int32
  private let queue = Mutex<[@Sendable () -> Void]>([])
  /// `pthread_self()` of the loop's thread once it runs (0 before): work submitted from the
  /// loop itself needs no eventfd wake-up, the loop drains its queue before it sleeps.
  private let loopThread = Atomic<UInt>(0)
  private var handlers: [Int32: EventLoopHandler] = [:]
  private var timers: [EventLoopTimer] = []  // binary min-heap on deadline
  /// Cancelled timers still in the heap (most call deadlines are cancelled long before they
  /// are due; without compaction they would pile up for the length of the deadline).
  private var cancelledTimers = 0
  private var running = true
  private var flushes: [() -> Void] = []
  /// Scratch buffer for socket reads, shared by every connection of this loop.
  package let readBuffer: UnsafeMutableRawBufferPointer
  /// Callbacks for when the loop has stopped; `nil` once it has (callbacks then run at once).
  private let stopCallbacks = Mutex<[@Sendable () -> Void]?>([])

  package init(index: Int) throws {
    self.index = index
    epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
    guard epollFD >= 0 else { throw IOError.system("epoll_create1", errno) }
    wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    guard wakeFD >= 0 else {
      close(epollFD)
      throw IOError.system("eventfd", errno)
    }
    readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    var event = epoll_event()
    event.events = EPOLLIN.rawValue
    event.data.fd = wakeFD
    epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
  }

  deinit {
    close(epollFD)
    close(wakeFD)
    readBuffer.deallocate()
  }

  /// Starts the loop's thread.
  package func start() throws {
    let box = Unmanaged.passRetained(self)
    var thread = pthread_t()
    let rc = pthread_create(
      &thread, nil,
      { raw in
        let loop = Unmanaged<EventLoop>.fromOpaque(raw!).takeRetainedValue()
        loop.run()
        return nil
      }, box.toOpaque())
    guard rc == 0 else {
      box.release()
      throw IOError.system("pthread_create", rc)
    }
    pthread_detach(thread)
  }

  /// Runs `work` on the loop's thread, soon. Callable from any thread.
  package func execute(_ work: @escaping @Sendable () -> Void) {
    let wasEmpty = queue.withLock { q in
      q.append(work)
      return q.count == 1
    }
    if wasEmpty && !isLoopThread {
      var one: UInt64 = 1
      _ = write(wakeFD, &one, 8)
    }
  }

  /// Whether the caller runs on this loop's thread.
  package var isLoopThread: Bool {
    loopThread.load(ordering: .relaxed) == UInt(pthread_self())
  }

  /// Registers `callback` to run (on the loop thread) once the loop has stopped.
  package func onStop(_ callback: @escaping @Sendable () -> Void) {
    let registered = stopCallbacks.withLock { callbacks -> Bool in
      guard callbacks != nil else { return false }
      callbacks!.append(callback)
      return true
    }
    if !registered { callback() }
  }

  /// Asks the loop to exit after the current iteration. Callable from any thread.
  package func stop() {
    execute { [self] in running = false }
  }

  // MARK: Loop-thread API

  package func register(_ fd: Int32, events: UInt32, handler: EventLoopHandler) throws {
    var event = epoll_event()
    event.events = events
    event.data.fd = fd
    guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
      throw IOError.system("epoll_ctl(ADD)", errno)
    }
    handlers[fd] = handler
  }

  package func modify(_ fd: Int32, events: UInt32) {
    var event = epoll_event()
    event.events = events
    event.data.fd = fd
    epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
  }

  package func unregister(_ fd: Int32) {
    epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    handlers[fd] = nil
  }

  /// Calls `work` on the loop thread at `deadline` unless cancelled.
  @discardableResult
  package func schedule(at deadline: ContinuousClock.Instant, _ work: @escaping () -> Void)
    -> EventLoopTimer
  {
    let timer = EventLoopTimer(deadline: deadline, loop: self, work: work)
    timers.append(timer)
    siftUp(timers.count - 1)
    return timer
  }

  /// Runs `work` once the current batch of events, timers and submitted work is done, so
  /// output produced by many of them goes out in one write.
  package func flushAtEndOfIteration(_ work: @escaping () -> Void) {
    flushes.append(work)
  }

  fileprivate func timerCancelled() {
    cancelledTimers += 1
    if cancelledTimers > 256 && cancelledTimers * 2 > timers.count {
      timers.removeAll { $0.work == nil }
      cancelledTimers = 0
      if timers.count > 1 {
        for index in stride(from: timers.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
      }
    }
  }

  // MARK: The loop

  private func run() {
    loopThread.store(UInt(pthread_self()), ordering: .relaxed)
    var events = [epoll_event](repeating: epoll_event(), count: 256)
    while running {
      let timeout = nextTimeoutMilliseconds()
      let n = events.withUnsafeMutableBufferPointer {
        epoll_wait(epollFD, $0.baseAddress, Int32($0.count), timeout)
      }
      if n < 0 && errno != EINTR { break }
      if n > 0 {
        for i in 0..<Int(n) {
          let fd = events[i].data.fd
          if fd == wakeFD {
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
            continue
          }
          handlers[fd]?.handleEvents(events[i].events)
        }
      }
      runTimers()
      runQueue()
      runFlushes()
    }
    // Drain work submitted during shutdown so continuations are not leaked.
    runQueue()
    for (_, handler) in handlers { (handler as? EventLoopClosable)?.closeNow() }
    handlers.removeAll()
    timers.removeAll()
    let callbacks = stopCallbacks.withLock { callbacks in
      let c = callbacks ?? []
      callbacks = nil
      return c
    }
    for callback in callbacks { callback() }
  }

  private func runQueue() {
    // Bounded rounds so a flood of submissions cannot starve I/O.
    for _ in 0..<4 {
      let work = queue.withLock { q -> [@Sendable () -> Void] in
        let w = q
        q.removeAll(keepingCapacity: true)
        return w
      }
      if work.isEmpty { return }
      for item in work { item() }
    }
    if queue.withLock({ !$0.isEmpty }) {
      var one: UInt64 = 1
      _ = write(wakeFD, &one, 8)
    }
  }

  private func runFlushes() {
    while !flushes.isEmpty {
      let work = flushes
      flushes.removeAll(keepingCapacity: true)
      for item in work { item() }
    }
  }

  private func nextTimeoutMilliseconds() -> Int32 {
    if queue.withLock({ !$0.isEmpty }) { return 0 }
    guard let first = timers.first else { return -1 }
    let remaining = ContinuousClock.now.duration(to: first.deadline)
    if remaining <= .zero { return 0 }
    let (seconds, attoseconds) = remaining.components
    let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: ms)
  }

  private func runTimers() {
    guard !timers.isEmpty else { return }
    let now = ContinuousClock.now
    while let first = timers.first, first.deadline <= now {
      popFirst()
      if let work = first.work {
        first.work = nil
        work()
      } else if cancelledTimers > 0 {
        cancelledTimers -= 1
      }
    }
  }

  private func popFirst() {
    let last = timers.removeLast()
    if !timers.isEmpty {
      timers[0] = last
      siftDown(0)
    }
  }

  private func siftUp(_ index: Int) {
    var child = index
    while child > 0 {
      let parent = (child - 1) / 2
      if timers[child].deadline < timers[parent].deadline {
        timers.swapAt(child, parent)
        child = parent
      } else {
        return
      }
    }
  }

  private func siftDown(_ index: Int) {
    var parent = index
    let count = timers.count
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var smallest = parent
      if left < count && timers[left].deadline < timers[smallest].deadline { smallest = left }
      if right < count && timers[right].deadline < timers[smallest].deadline { smallest = right }
      if smallest == parent { return }
      timers.swapAt(parent, smallest)
      parent = smallest
    }
  }
}

/// A handler that owns its descriptor and closes it when its loop stops.
package protocol EventLoopClosable: AnyObject {
  func closeNow()
}

/// A failed system call.
package enum IOError: Error, CustomStringConvertible {
  case system(String, Int32)
  case address(String)

  package var description: String {
    switch self {
    case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
    case .address(let text): "cannot resolve address \(text)"
    }
  }
}

/// The loop as a task executor: tasks created with `Task(executorPreference: loop)` run their
/// jobs on the loop's thread, between I/O events, instead of on the cooperative pool — no
/// thread hop to start a handler or to hand its result back (``ServerConfiguration``'s
/// `runsHandlersOnEventLoops`). A job that blocks blocks the loop's connections.
extension EventLoop: TaskExecutor {
  package func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    execute { [self] in job.runSynchronously(on: asUnownedTaskExecutor()) }
  }
}
