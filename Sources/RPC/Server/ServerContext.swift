import Synchronization

/// Who is at the other end of a connection.
public struct PeerInfo: Sendable, Hashable {
  /// `ipv4:127.0.0.1:5000` / `ipv6:[::1]:5000`, as gRPC names peers.
  public var address: String
  /// Whether the connection is TLS.
  public var isSecure: Bool
  /// The verified client certificate, when mutual TLS is on and the client sent one.
  public var clientCertificate: PeerCertificate?

  public init(address: String, isSecure: Bool, clientCertificate: PeerCertificate? = nil) {
    self.address = address
    self.isSecure = isSecure
    self.clientCertificate = clientCertificate
  }
}

/// A client certificate that OpenSSL verified against the configured CA.
public struct PeerCertificate: Sendable, Hashable {
  /// The subject as a one-line RFC 2253 string.
  public var subject: String
  public var commonName: String?
  /// Lowercase hex SHA-256 of the DER certificate.
  public var sha256Fingerprint: String

  public init(subject: String, commonName: String?, sha256Fingerprint: String) {
    self.subject = subject
    self.commonName = commonName
    self.sha256Fingerprint = sha256Fingerprint
  }
}

/// Everything a handler knows about its call besides the messages, and what it may set on
/// the response: initial metadata, trailing metadata, compression.
public final class ServerContext: Sendable {
  public let method: MethodDescriptor
  /// Custom metadata the client sent (reserved `grpc-*` and HTTP/2 pseudo-headers removed).
  public let requestMetadata: Metadata
  /// When the call must end, from `grpc-timeout`; the handler's task is cancelled then.
  public let deadline: ContinuousClock.Instant?
  public let peer: PeerInfo

  private struct State {
    var initialMetadata: Metadata = [:]
    var trailingMetadata: Metadata = [:]
    var compressResponses: Bool? = nil
    var headersSent = false
    var lastRequestWasCompressed = false
  }
  private let state = Mutex(State())

  public init(
    method: MethodDescriptor, requestMetadata: Metadata, deadline: ContinuousClock.Instant?,
    peer: PeerInfo
  ) {
    self.method = method
    self.requestMetadata = requestMetadata
    self.deadline = deadline
    self.peer = peer
  }

  /// Adds initial metadata (response headers). Ignored once the headers have been sent, which
  /// happens with the first response message or the end of the call.
  public func addInitialMetadata(_ metadata: Metadata) {
    state.withLock { s in
      if !s.headersSent { s.initialMetadata.append(contentsOf: metadata) }
    }
  }

  /// Adds trailing metadata, sent with the status at the end of the call.
  public func addTrailingMetadata(_ metadata: Metadata) {
    state.withLock { $0.trailingMetadata.append(contentsOf: metadata) }
  }

  /// Whether response messages are compressed with the encoding the client accepts; `nil`
  /// leaves it to the server's configuration.
  public var compressResponses: Bool? {
    get { state.withLock { $0.compressResponses } }
    set { state.withLock { $0.compressResponses = newValue } }
  }

  /// Whether the request message most recently handed to the handler arrived compressed
  /// (its gRPC frame's compressed flag was set). The interop cases check it.
  public var lastRequestWasCompressed: Bool {
    state.withLock { $0.lastRequestWasCompressed }
  }

  package func setLastRequestWasCompressed(_ value: Bool) {
    state.withLock { $0.lastRequestWasCompressed = value }
  }

  /// Marks the headers as sent and returns the initial metadata to send with them.
  package func takeInitialMetadataForSending() -> Metadata {
    state.withLock { s in
      s.headersSent = true
      return s.initialMetadata
    }
  }

  package var trailingMetadata: Metadata { state.withLock { $0.trailingMetadata } }
}
