import CNGHTTP2  // its shim also exports <sys/eventfd.h>
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The I/O thread of one ``Channel``: a `poll` loop over the channel's sockets and an
/// `eventfd` that wakes it when a caller hands it work.
///
/// Thread ownership: everything the loop runs — the ``ClientChannelCore`` it creates, the
/// connections, nghttp2 sessions and sockets — lives on the loop thread and is touched only
/// there. Other threads talk to it only through ``execute(_:)``: the task queue is behind a
/// `Mutex` and the wake-up is a write to the eventfd, which is safe from any thread.
final class ClientEventLoop: Sendable {
  /// Work for the loop thread; it receives the loop-owned core.
  typealias Task = @Sendable (ClientChannelCore) -> Void

  private let wakeFD: Int32
  private let queue = Mutex(Queue())

  struct Queue: ~Copyable {
    var tasks: [Task] = []
    /// Set when the loop thread has exited: the core it leaves behind is stopped and only
    /// fails calls (``ClientChannelCore/start(_:)`` finishes them with `UNAVAILABLE`; the
    /// other entry points find no connection), which is safe from any thread.
    var stoppedCore: ClientChannelCore?
  }

  init(configuration: ClientChannelConfiguration) {
    wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    let loop = self
    startThread {
      let core = ClientChannelCore(configuration: configuration, loop: loop)
      loop.run(core)
    }
  }

  deinit {
    if wakeFD >= 0 { close(wakeFD) }
  }

  /// Queues `task` for the loop thread and wakes it.
  func execute(_ task: @escaping Task) {
    let stopped = queue.withLock { queue -> ClientChannelCore? in
      if let core = queue.stoppedCore { return core }
      queue.tasks.append(task)
      return nil
    }
    if let stopped {
      task(stopped)
      return
    }
    var one: UInt64 = 1
    _ = write(wakeFD, &one, 8)
  }

  private func run(_ core: ClientChannelCore) {
    var descriptors: [pollfd] = []
    while !core.isStopped {
      descriptors.removeAll(keepingCapacity: true)
      descriptors.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
      let connections = core.pollingConnections()
      for connection in connections {
        descriptors.append(pollfd(fd: connection.fd, events: connection.pollEvents, revents: 0))
      }
      let ready = descriptors.withUnsafeMutableBufferPointer {
        poll($0.baseAddress, nfds_t($0.count), core.pollTimeoutMilliseconds())
      }
      if ready < 0 && errno != EINTR { break }
      if descriptors[0].revents != 0 {
        var value: UInt64 = 0
        _ = read(wakeFD, &value, 8)
      }
      let tasks = queue.withLock { queue -> [Task] in
        let taken = queue.tasks
        queue.tasks.removeAll()
        return taken
      }
      for task in tasks { task(core) }
      for (index, connection) in connections.enumerated() {
        let revents = descriptors[index + 1].revents
        if revents != 0 { connection.handle(revents: revents) }
      }
      core.flushAll()
      core.checkSetupDeadlines()
    }
    core.shutdown()
    // From now on tasks run on their caller's thread against the stopped core; run the ones
    // that arrived meanwhile, so no call waits for a loop that is gone.
    let late = queue.withLock { queue -> [Task] in
      queue.stoppedCore = core
      defer { queue.tasks = [] }
      return queue.tasks
    }
    for task in late { task(core) }
  }
}

/// Starts a detached thread running `body`.
private func startThread(_ body: @escaping @Sendable () -> Void) {
  final class Box: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
  }
  let box = Unmanaged.passRetained(Box(body)).toOpaque()
  var thread = pthread_t()
  let result = pthread_create(
    &thread, nil,
    { argument in
      guard let argument else { return nil }
      let box = Unmanaged<Box>.fromOpaque(argument).takeRetainedValue()
      box.body()
      return nil
    }, box)
  if result == 0 {
    pthread_detach(thread)
  } else {
    // No thread: run nothing; calls will never be answered, so fail loudly in debug.
    Unmanaged<Box>.fromOpaque(box).release()
    assertionFailure("could not start the client I/O thread")
  }
}
