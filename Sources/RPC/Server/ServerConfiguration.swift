/// Everything a ``Server`` needs to know to listen and to protect itself: address, TLS,
/// threads, and the limits applied to every connection and call.
///
/// The defaults are safe for a public endpoint; `Server/init(configuration:services:)`
/// rejects values that make no sense (negative sizes, zero streams).
public struct ServerConfiguration: Sendable {
  /// Address to bind: `0.0.0.0`, `::`, `127.0.0.1`, a host name, …
  public var host: String
  /// TCP port; 0 picks a free one (read it from ``Server/localPort`` after `start()`).
  public var port: Int
  /// TLS with ALPN `h2`; `nil` serves cleartext HTTP/2 (h2c, prior knowledge).
  public var tls: TLSServerConfiguration?
  /// Event-loop threads, each with its own epoll and `SO_REUSEPORT` listener.
  public var eventLoopCount: Int
  /// SETTINGS_MAX_CONCURRENT_STREAMS advertised to (and enforced on) each client.
  public var maxConcurrentStreams: Int
  /// Largest request message accepted, after decompression; larger ones fail the call with
  /// `RESOURCE_EXHAUSTED`. `ServerMethod.maxReceiveMessageSize` overrides it per method.
  public var maxReceiveMessageSize: Int
  /// SETTINGS_MAX_HEADER_LIST_SIZE; a request whose header block is larger is reset.
  public var maxHeaderListSize: Int
  /// Rapid-reset defence (CVE-2023-44487): a token bucket of the stream resets a client may
  /// cause — `streamResetBurst` at once, refilled by `streamResetRatePerSecond`; past it the
  /// connection gets GOAWAY.
  public var streamResetBurst = 1000
  public var streamResetRatePerSecond = 33
  /// A connection with no open stream for this long is closed (GOAWAY). `nil`: never.
  public var idleTimeout: Duration?
  /// Connections older than this are drained (GOAWAY) and closed after
  /// ``shutdownGracePeriod``, spreading long-lived clients across replicas. `nil`: never.
  public var maxConnectionAge: Duration?
  /// How long in-flight calls may run after a graceful shutdown or max-age GOAWAY.
  public var shutdownGracePeriod: Duration
  /// A PING is sent after this long without any frame from the client; `nil` disables it.
  public var keepaliveInterval: Duration?
  /// The connection is closed when a keepalive PING is not answered within this time.
  public var keepaliveTimeout: Duration
  /// Compress responses (gzip) when the client accepts it and the handler did not decide
  /// through `ServerContext.compressResponses`.
  public var compressResponsesByDefault: Bool

  public init(
    host: String = "0.0.0.0",
    port: Int = 0,
    tls: TLSServerConfiguration? = nil,
    eventLoopCount: Int = ServerConfiguration.processorCount,
    maxConcurrentStreams: Int = 100,
    maxReceiveMessageSize: Int = 4 * 1024 * 1024,
    maxHeaderListSize: Int = 16 * 1024,
    idleTimeout: Duration? = .seconds(300),
    maxConnectionAge: Duration? = nil,
    shutdownGracePeriod: Duration = .seconds(10),
    keepaliveInterval: Duration? = .seconds(120),
    keepaliveTimeout: Duration = .seconds(20),
    compressResponsesByDefault: Bool = false
  ) {
    self.host = host
    self.port = port
    self.tls = tls
    self.eventLoopCount = eventLoopCount
    self.maxConcurrentStreams = maxConcurrentStreams
    self.maxReceiveMessageSize = maxReceiveMessageSize
    self.maxHeaderListSize = maxHeaderListSize
    self.idleTimeout = idleTimeout
    self.maxConnectionAge = maxConnectionAge
    self.shutdownGracePeriod = shutdownGracePeriod
    self.keepaliveInterval = keepaliveInterval
    self.keepaliveTimeout = keepaliveTimeout
    self.compressResponsesByDefault = compressResponsesByDefault
  }

  /// Run service handlers as tasks on the event loop of their connection (a task executor
  /// preference) instead of the global cooperative pool: a call that does not suspend then
  /// costs no thread hop at all, the largest per-call cost on a loaded core (see
  /// docs/performance.md). Only for services whose handlers never block (no synchronous
  /// disk or database work): a blocking handler stalls every connection of its loop.
  /// Handlers that `await` other executors still hop back to the loop to continue.
  public var runsHandlersOnEventLoops = false

  /// The number of processors this process may run on (at least 1): on Linux the CPUs of
  /// its affinity mask (`sched_getaffinity`), so `taskset -c 0 cassetto-server` gets one
  /// event loop; elsewhere, or if the mask cannot be read, the online processors.
  public static var processorCount: Int {
    #if os(Linux)
      // Glibc declares sched_getaffinity only under _GNU_SOURCE, which Swift's Glibc module
      // does not define: look the symbol up instead.
      typealias GetAffinity = @convention(c) (Int32, Int, UnsafeMutableRawPointer) -> Int32
      if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity") {
        let getAffinity = unsafeBitCast(symbol, to: GetAffinity.self)
        var mask = [UInt64](repeating: 0, count: 16)  // 1024 CPUs, glibc's cpu_set_t
        let rc = mask.withUnsafeMutableBytes { getAffinity(0, $0.count, $0.baseAddress!) }
        let count = mask.reduce(0) { $0 + $1.nonzeroBitCount }
        if rc == 0 && count > 0 { return count }
      }
    #endif
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
  }

  /// Throws `ServerConfigurationError` for values that cannot work.
  func validate() throws {
    func fail(_ text: String) throws { throw ServerConfigurationError(message: text) }
    if port < 0 || port > 65535 { try fail("port \(port) is not in 0...65535") }
    if eventLoopCount < 1 { try fail("eventLoopCount must be at least 1") }
    if maxConcurrentStreams < 1 { try fail("maxConcurrentStreams must be at least 1") }
    if maxReceiveMessageSize < 0 { try fail("maxReceiveMessageSize must not be negative") }
    if maxHeaderListSize < 1024 { try fail("maxHeaderListSize must be at least 1024") }
    if shutdownGracePeriod < .zero { try fail("shutdownGracePeriod must not be negative") }
  }
}

/// A ``ServerConfiguration`` or service list that cannot be served.
public struct ServerConfigurationError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public var description: String { message }
}

#if canImport(Glibc)
  import Glibc
#endif
