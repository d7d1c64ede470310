/// What a ``Channel`` dials: the address, `:authority`, `:scheme` and the TLS settings.
struct ClientChannelConfiguration: Sendable {
  var host: String
  var port: Int
  var tls: TLSClientConfiguration?
  var userAgent: String = "grpc-swift-cassetto/0.1"
  /// How long dialing (TCP connect plus TLS handshake) may take before the calls waiting on
  /// it fail with `UNAVAILABLE`.
  var setupTimeout: Duration = .seconds(20)

  /// `host:port` as HTTP/2 `:authority` (IPv6 literals in brackets).
  var authority: String {
    let name = tls?.serverName ?? host
    let shown = name.contains(":") && !name.hasPrefix("[") ? "[\(name)]" : name
    return "\(shown):\(port)"
  }
  var scheme: String { tls == nil ? "http" : "https" }
}

/// The loop-thread side of a ``Channel``: its live connection (at most one takes new calls)
/// and the older ones still draining after a GOAWAY.
///
/// Thread ownership: created on and used only by the channel's ``ClientEventLoop`` thread.
/// Once stopped, the core is handed to callers' threads (see ``ClientEventLoop``): then it only
/// reads `isStopped` and finishes streams, which are thread-safe.
final class ClientChannelCore: @unchecked Sendable {
  let configuration: ClientChannelConfiguration
  unowned let loop: ClientEventLoop
  /// The connection new calls go to; `nil` until the first call and after a failure.
  private var current: ClientConnection?
  /// Every open connection, `current` included.
  private var connections: [ClientConnection] = []
  private(set) var isStopped = false
  private var tlsContext: ClientTLSContextCache

  init(configuration: ClientChannelConfiguration, loop: ClientEventLoop) {
    self.configuration = configuration
    self.loop = loop
    self.tlsContext = ClientTLSContextCache(configuration: configuration.tls)
  }

  /// Starts `stream` on the current connection, dialing one if there is none.
  func start(_ stream: ClientStream) {
    guard !stream.isFinished else { return }
    if isStopped {
      stream.finish(.failure(RPCError(.unavailable, "channel closed")))
      return
    }
    if current == nil || current?.acceptsNewStreams == false {
      do {
        let connection = try ClientConnection(
          configuration: configuration, tls: tlsContext.resolved(), core: self)
        connections.append(connection)
        current = connection
      } catch let error as RPCError {
        stream.finish(.failure(error))
        return
      } catch {
        stream.finish(.failure(RPCError(.unavailable, "\(error)")))
        return
      }
    }
    current?.submit(stream)
  }

  /// Resets `stream` (RST_STREAM with `errorCode`) if it reached the wire.
  func reset(_ stream: ClientStream, errorCode: UInt32) {
    guard !isStopped else { return }
    stream.io?.connection?.reset(stream, errorCode: errorCode)
  }

  /// New outbound bytes or the end of the request stream for `stream`.
  func resumeSending(_ stream: ClientStream) {
    guard !isStopped else { return }
    stream.io?.connection?.resumeData(stream)
  }

  /// The reader took messages: give back flow-control window held for `stream`.
  func releaseWindow(_ stream: ClientStream) {
    guard !isStopped else { return }
    stream.io?.connection?.releaseWindow(stream)
  }

  func pollingConnections() -> [ClientConnection] { connections }

  /// `poll`'s timeout: until the nearest dialing deadline, or forever (-1).
  func pollTimeoutMilliseconds() -> Int32 {
    let deadlines = connections.compactMap(\.setupDeadline)
    guard let nearest = deadlines.min() else { return -1 }
    let remaining = ContinuousClock.now.duration(to: nearest)
    if remaining <= .zero { return 0 }
    let (seconds, attoseconds) = remaining.components
    return Int32(clamping: seconds * 1_000 + attoseconds / 1_000_000_000_000_000 + 1)
  }

  func checkSetupDeadlines() {
    let now = ContinuousClock.now
    for connection in connections { connection.checkSetupDeadline(now: now) }
  }

  func flushAll() {
    for connection in connections { connection.flush() }
  }

  /// A connection closed or failed: forget it.
  func connectionClosed(_ connection: ClientConnection) {
    connections.removeAll { $0 === connection }
    if current === connection { current = nil }
  }

  /// Stops the loop after failing every call with `UNAVAILABLE`.
  func stop() { isStopped = true }

  func shutdown() {
    for connection in connections {
      connection.fail(RPCError(.unavailable, "channel closed"))
    }
    connections.removeAll()
    current = nil
  }
}
