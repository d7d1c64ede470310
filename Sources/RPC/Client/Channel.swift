/// A client's connection to one server, over h2c or TLS. Calls are multiplexed as HTTP/2
/// streams on it; it connects lazily and reconnects after a failure.
///
/// PLACEHOLDER: the transport is being built; `startCall` fails until it lands.
public final class Channel: Sendable {
  public let host: String
  public let port: Int

  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Opens an HTTP/2 stream for `method` and sends the request headers.
  package func startCall(
    _ method: MethodDescriptor, metadata: Metadata, options: CallOptions
  ) async throws -> any ClientStreamCore {
    throw RPCError(.unavailable, "client transport not built yet")
  }
}
