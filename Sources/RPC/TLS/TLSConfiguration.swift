/// A TLS protocol version Cassetto accepts. Only TLS 1.2 and 1.3 are ever negotiated
/// (HTTP/2 requires at least TLS 1.2, RFC 9113 §9.2).
public enum TLSVersion: Sendable, Hashable {
  case tlsv12
  case tlsv13
}

/// How a server terminates TLS: its certificate, and whether (and against which CA) it
/// verifies client certificates for mutual TLS.
///
/// Build a ``TLSContext`` from it once at start-up; a bad file or setting fails there with a
/// ``TLSError`` of kind ``TLSError/Kind/configuration`` that names it.
public struct TLSServerConfiguration: Sendable, Hashable {
  /// PEM file with the server certificate first, then any intermediates.
  public var certificateChainFile: String
  /// PEM file with the private key of the certificate (unencrypted).
  public var privateKeyFile: String
  /// PEM file of the CA certificates trusted to sign client certificates. When set, the
  /// server asks every client for a certificate and verifies the one it gets; a verified
  /// certificate shows up as ``TLSSession/peerCertificate``.
  public var clientCAFile: String?
  /// Whether a client without a certificate is refused during the handshake. Requires
  /// ``clientCAFile``.
  public var requireClientCertificate: Bool
  /// The oldest version accepted; the newest is always TLS 1.3.
  public var minimumVersion: TLSVersion
  /// Whether a client that offers no ALPN at all is refused (with a `no_application_protocol`
  /// alert). A client that offers ALPN without `h2` is always refused: gRPC runs only on
  /// HTTP/2, which over TLS is selected by ALPN (RFC 9113 §3.2, RFC 7301 §3.2). Default
  /// `true`; set `false` only for old clients that speak HTTP/2 over TLS without ALPN.
  public var requireALPN: Bool
  /// Whether the server answers ALPN at all. Only tests turn it off, to play a server that
  /// ignores ALPN and check that the client refuses it.
  var selectsALPN = true

  public init(
    certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil,
    requireClientCertificate: Bool = false, minimumVersion: TLSVersion = .tlsv12,
    requireALPN: Bool = true
  ) {
    self.certificateChainFile = certificateChainFile
    self.privateKeyFile = privateKeyFile
    self.clientCAFile = clientCAFile
    self.requireClientCertificate = requireClientCertificate
    self.minimumVersion = minimumVersion
    self.requireALPN = requireALPN
  }
}

/// How a client dials a TLS server: which roots it trusts, which name it expects, and
/// optionally its own certificate for mutual TLS.
///
/// The client always offers ALPN `h2` and fails the handshake if the server does not
/// select it.
public struct TLSClientConfiguration: Sendable, Hashable {
  /// PEM file of trusted root certificates; `nil` uses the system's default trust store.
  public var trustRootsFile: String?
  /// PEM file with this client's certificate (and intermediates), for mutual TLS.
  public var certificateChainFile: String?
  /// PEM file with the private key of ``certificateChainFile``.
  public var privateKeyFile: String?
  /// The name sent as SNI and checked against the server certificate (DNS name or IP
  /// address). `nil` uses the host the channel dials (see ``TLSSession/init(context:serverHostname:)``).
  public var serverName: String?
  /// Whether the server certificate is verified (chain and name). Default `true`; turning
  /// it off is for tests against self-signed servers only.
  public var verifyPeer: Bool
  /// The oldest version accepted; the newest is always TLS 1.3.
  public var minimumVersion: TLSVersion
  /// The ALPN list offered. Always `["h2"]` in production; tests change it to play a
  /// non-gRPC client. The handshake fails unless the server selects `h2`, when offered.
  var offeredALPN: [String] = ["h2"]
  /// The newest version offered; tests lower it to exercise TLS 1.2.
  var maximumVersion: TLSVersion = .tlsv13

  public init(
    trustRootsFile: String? = nil, certificateChainFile: String? = nil,
    privateKeyFile: String? = nil, serverName: String? = nil, verifyPeer: Bool = true,
    minimumVersion: TLSVersion = .tlsv12
  ) {
    self.trustRootsFile = trustRootsFile
    self.certificateChainFile = certificateChainFile
    self.privateKeyFile = privateKeyFile
    self.serverName = serverName
    self.verifyPeer = verifyPeer
    self.minimumVersion = minimumVersion
  }
}
