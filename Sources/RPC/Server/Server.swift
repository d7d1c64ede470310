import CNGHTTP2
import Glibc
import Synchronization

/// A gRPC server: listens on one address (h2c or TLS), runs the registered services'
/// handlers, and shuts down gracefully.
///
/// ```swift
/// let server = try Server(
///   configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
///   services: [myHandler.serviceDefinition])
/// try server.start()
/// print("listening on", server.localPort)
/// // …
/// await server.shutdown(gracePeriod: .seconds(5))
/// ```
///
/// I/O runs on ``ServerConfiguration/eventLoopCount`` threads, each with its own epoll and
/// `SO_REUSEPORT` listener; a connection stays on the loop that accepted it. Handlers run as
/// Swift tasks on the cooperative pool.
public final class Server: Sendable {
  public let configuration: ServerConfiguration
  private let router: ServerRouter
  private let tlsContext: TLSContext?

  private enum Phase { case idle, running, stopping, stopped }
  private struct State {
    var phase = Phase.idle
    var port = 0
    var loops: [ServerLoop] = []
    var runningLoops = 0
    var waiters: [CheckedContinuation<Void, Never>] = []
  }
  private let state = Mutex(State())

  /// Validates the configuration, loads the TLS certificate and key, and indexes the
  /// methods (a path registered twice is an error). Does not bind yet.
  public init(configuration: ServerConfiguration, services: [ServiceDefinition]) throws {
    try configuration.validate()
    self.configuration = configuration
    self.router = try ServerRouter(services: services)
    self.tlsContext = try configuration.tls.map { try TLSContext(server: $0) }
  }

  /// The bound port; valid after ``start()`` (the chosen one when the configuration says 0).
  public var localPort: Int { state.withLock { $0.port } }

  /// Binds the listeners and starts the event loops. Throws if the address cannot be bound.
  public func start() throws {
    try state.withLock { s in
      guard s.phase == .idle else {
        throw ServerConfigurationError(message: "the server was already started")
      }
      var loops: [ServerLoop] = []
      var startedCount = 0
      var port = configuration.port
      do {
        for index in 0..<configuration.eventLoopCount {
          let listener = try Socket.listen(host: configuration.host, port: port)
          port = listener.port  // the other loops share the port the first one got
          let loop = try EventLoop(index: index)
          loops.append(
            ServerLoop(
              loop: loop, listener: listener.fd, router: router, configuration: configuration,
              tls: tlsContext))
        }
        for serverLoop in loops {
          try serverLoop.start()
          startedCount += 1
        }
      } catch {
        for (index, serverLoop) in loops.enumerated() {
          serverLoop.abandon(started: index < startedCount)
        }
        throw error
      }
      for serverLoop in loops { serverLoop.loop.onStop { [self] in loopStopped() } }
      s.loops = loops
      s.port = port
      s.runningLoops = loops.count
      s.phase = .running
    }
  }

  /// Stops gracefully: stops accepting, sends GOAWAY on every connection, lets in-flight
  /// calls finish for up to `gracePeriod` (default ``ServerConfiguration/shutdownGracePeriod``),
  /// then cancels what is left and closes. Returns when everything is closed.
  public func shutdown(gracePeriod: Duration? = nil) async {
    let loops = state.withLock { s -> [ServerLoop] in
      switch s.phase {
      case .idle:
        s.phase = .stopped
        return []
      case .running:
        s.phase = .stopping
        return s.loops
      case .stopping, .stopped:
        return []
      }
    }
    let deadline = ContinuousClock.now + (gracePeriod ?? configuration.shutdownGracePeriod)
    for serverLoop in loops {
      serverLoop.loop.execute { serverLoop.beginShutdown(deadline: deadline) }
    }
    await waitUntilStopped()
  }

  /// Returns once the server has stopped (after ``shutdown(gracePeriod:)``), or at once if
  /// it never started.
  public func waitUntilStopped() async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let done = state.withLock { s -> Bool in
        if s.phase == .stopped || s.phase == .idle { return true }
        s.waiters.append(continuation)
        return false
      }
      if done { continuation.resume() }
    }
  }

  private func loopStopped() {
    let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
      s.runningLoops -= 1
      guard s.runningLoops == 0 else { return [] }
      s.phase = .stopped
      s.loops = []
      let w = s.waiters
      s.waiters = []
      return w
    }
    for waiter in waiters { waiter.resume() }
  }
}

/// The server's share of one event loop: its listener and the connections it accepted.
///
/// Thread ownership: after `start`, everything runs on `loop`'s thread (the server reaches
/// it through `loop.execute`); hence `@unchecked Sendable`.
final class ServerLoop: EventLoopHandler, EventLoopClosable, @unchecked Sendable {
  let loop: EventLoop
  let router: ServerRouter
  let configuration: ServerConfiguration
  private let tls: TLSContext?
  private var listener: Int32
  private var connections: [ObjectIdentifier: ServerSocketConnection] = [:]
  private var shuttingDown = false
  private var sweepTimer: EventLoopTimer?

  init(
    loop: EventLoop, listener: Int32, router: ServerRouter, configuration: ServerConfiguration,
    tls: TLSContext?
  ) {
    self.loop = loop
    self.listener = listener
    self.router = router
    self.configuration = configuration
    self.tls = tls
  }

  func start() throws {
    try loop.start()
    loop.execute { [self] in
      do {
        try loop.register(listener, events: EPOLLIN.rawValue, handler: self)
      } catch {
        closeListener()
      }
      scheduleSweep()
    }
  }

  /// Undoes `init`/`start` when the server fails to start: closes the listener and stops the
  /// loop's thread if it runs.
  func abandon(started: Bool) {
    if started {
      loop.execute { [self] in
        closeListener()
        loop.stop()
      }
    } else {
      if listener >= 0 { close(listener) }
      listener = -1
    }
  }

  func handleEvents(_ events: UInt32) {
    // Accept everything pending; the kernel spreads connections across the loops' sockets.
    while !shuttingDown, let accepted = Socket.accept(listener) {
      do {
        let connection = try ServerSocketConnection(
          fd: accepted.fd, peer: accepted.peer, loop: loop, owner: self, tls: tls)
        connections[ObjectIdentifier(connection)] = connection
        ConnectionCounters.opened()  // metrics hook (ConnectionCounters.swift)
        try connection.start()
      } catch {
        close(accepted.fd)
      }
    }
  }

  func closeNow() {
    closeListener()
    for (_, connection) in connections { connection.closeNow() }
  }

  func connectionClosed(_ connection: ServerSocketConnection) {
    if connections.removeValue(forKey: ObjectIdentifier(connection)) != nil {
      ConnectionCounters.closed()  // metrics hook (ConnectionCounters.swift)
    }
    if shuttingDown && connections.isEmpty { loop.stop() }
  }

  private func closeListener() {
    guard listener >= 0 else { return }
    loop.unregister(listener)
    close(listener)
    listener = -1
  }

  func beginShutdown(deadline: ContinuousClock.Instant) {
    guard !shuttingDown else { return }
    shuttingDown = true
    closeListener()
    sweepTimer?.cancel()
    if connections.isEmpty {
      loop.stop()
      return
    }
    for (_, connection) in connections {
      connection.drainingSince = .now
      connection.connection?.beginDraining()
    }
    // Connections whose calls are all done already close as their output drains.
    for (_, connection) in connections { connection.flush() }
    loop.schedule(at: deadline) { [self] in
      for (_, connection) in connections {
        connection.connection?.cancelAll(RPCError(.unavailable, "server shutting down"))
        connection.flush()
        connection.closeNow()
      }
    }
  }

  /// Once a second: idle timeout, max connection age, keepalive.
  private func scheduleSweep() {
    sweepTimer = loop.schedule(at: .now + .seconds(1)) { [self] in
      sweep()
      if !shuttingDown { scheduleSweep() }
    }
  }

  private func sweep() {
    let now = ContinuousClock.now
    for (_, socket) in connections {
      if let since = socket.drainingSince {
        if since + configuration.shutdownGracePeriod <= now {
          socket.connection?.cancelAll(RPCError(.unavailable, "connection drained"))
          socket.closeNow()
        }
        continue
      }
      guard let connection = socket.connection else {
        // TLS handshake still running: bound it by the keepalive timeout.
        if socket.createdAt + configuration.keepaliveTimeout <= now { socket.closeNow() }
        continue
      }
      if let age = configuration.maxConnectionAge, socket.createdAt + age <= now {
        socket.drainingSince = now
        connection.beginDraining()
        continue
      }
      if let idle = configuration.idleTimeout, connection.activeStreamCount == 0,
        connection.lastStreamActivity + idle <= now
      {
        socket.drainingSince = now
        connection.beginDraining()
        continue
      }
      if let interval = configuration.keepaliveInterval {
        if let sent = connection.pingOutstandingSince {
          if sent + configuration.keepaliveTimeout <= now { socket.closeNow() }
        } else if socket.lastRead + interval <= now {
          connection.sendPing()
        }
      }
    }
  }
}
