/// A client's connection to one server, over h2c or TLS. Calls are multiplexed as HTTP/2
/// streams on one connection.
///
/// The channel connects lazily, on its first call, and reconnects on the next call after the
/// connection failed or the server sent GOAWAY; calls that were running on a connection that
/// fails end with `UNAVAILABLE`. Each channel owns one I/O thread (``ClientEventLoop``) that
/// runs the sockets, TLS and nghttp2; calls hand it work through a queue and get their
/// results back by resumed continuations, so nothing blocks the cooperative pool.
///
/// Call ``close()`` when done: it fails the calls still running with `UNAVAILABLE` and
/// stops the I/O thread (dropping the last reference does the same).
public final class Channel: Sendable {
  public let host: String
  public let port: Int
  /// TLS settings; `nil` for plaintext HTTP/2 (h2c).
  public let tls: TLSClientConfiguration?
  private let loop: ClientEventLoop

  /// A channel to `host:port`, with TLS when `tls` is given (ALPN `h2`).
  public init(host: String, port: Int, tls: TLSClientConfiguration? = nil) {
    self.host = host
    self.port = port
    self.tls = tls
    self.loop = ClientEventLoop(
      configuration: ClientChannelConfiguration(host: host, port: port, tls: tls))
  }

  /// A channel with every transport setting spelled out (tests shorten timeouts with it).
  init(configuration: ClientChannelConfiguration) {
    self.host = configuration.host
    self.port = configuration.port
    self.tls = configuration.tls
    self.loop = ClientEventLoop(configuration: configuration)
  }

  deinit {
    loop.execute { core in core.stop() }
  }

  /// Closes the connection; running calls fail with `UNAVAILABLE` and new ones are refused.
  public func close() {
    loop.execute { core in core.stop() }
  }

  /// Opens an HTTP/2 stream for `method` and sends the request headers.
  package func startCall(
    _ method: MethodDescriptor, metadata: Metadata, options: CallOptions
  ) async throws -> any ClientStreamCore {
    let stream = ClientStream(method: method, metadata: metadata, options: options, loop: loop)
    if let timeout = options.timeout { stream.armDeadline(timeout) }
    loop.execute { core in core.start(stream) }
    return stream
  }
}
