import COpenSSL

/// An OpenSSL `SSL_CTX` configured once from a ``TLSServerConfiguration`` or
/// ``TLSClientConfiguration``; it makes one ``TLSSession`` per connection.
///
/// Policy shared by both roles: TLS 1.2 and 1.3 only; for TLS 1.2, ECDHE key exchange with
/// AEAD ciphers only (the HTTP/2 profile, RFC 9113 §9.2.2); no renegotiation (RFC 9113
/// §9.2.1); no TLS compression. ALPN is `h2`, and only `h2`.
///
/// Thread safety: `@unchecked Sendable` because the `SSL_CTX` is fully configured in `init`
/// and never mutated afterwards; OpenSSL allows `SSL_new` on one context from many threads
/// concurrently. Share one context among all event loops.
public final class TLSContext: @unchecked Sendable {
  /// Which end of the connection sessions made from this context play.
  public enum Role: Sendable, Hashable {
    case server
    case client
  }

  public let role: Role
  let context: OpaquePointer
  /// Client role: the configured SNI / expected name, and whether the peer is verified.
  let serverName: String?
  let verifyPeer: Bool
  /// Client role: whether the handshake fails unless the server selects `h2`.
  let requiresH2: Bool

  /// TLS 1.2 suites allowed for HTTP/2 (TLS 1.3 suites are all AEAD and left at default).
  private static let tls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

  /// Creates a server context: loads the certificate chain and key (and checks they match),
  /// the client CA when mutual TLS is on, and installs the `h2`-only ALPN selection.
  public init(server configuration: TLSServerConfiguration) throws {
    role = .server
    serverName = nil
    verifyPeer = configuration.clientCAFile != nil
    requiresH2 = false
    guard let ctx = SSL_CTX_new(TLS_server_method()) else {
      throw TLSError.fromQueue(.configuration, "cannot create an OpenSSL server context")
    }
    context = ctx
    // Every stored property is set: from here on a throw runs deinit, which frees `ctx`.
    try Self.applyCommonPolicy(ctx, minimumVersion: configuration.minimumVersion)
    try Self.loadCertificate(
      ctx, chain: configuration.certificateChainFile, key: configuration.privateKeyFile,
      what: "server")

    if let caFile = configuration.clientCAFile {
      ERR_clear_error()
      guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
        throw TLSError.fromQueue(.configuration, "cannot load clientCAFile '\(caFile)'")
      }
      // Tell clients which CAs we accept (the certificate_authorities list).
      if let names = SSL_load_client_CA_file(caFile) {
        SSL_CTX_set_client_CA_list(ctx, names)
      }
      var mode = SSL_VERIFY_PEER
      if configuration.requireClientCertificate { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
      SSL_CTX_set_verify(ctx, mode, nil)
    } else if configuration.requireClientCertificate {
      throw TLSError(
        kind: .configuration,
        message: "requireClientCertificate is set but clientCAFile is not: "
          + "there is nothing to verify client certificates against")
    }
    // Required for session resumption when client certificates are verified.
    let sessionContext: [UInt8] = Array("cassetto".utf8)
    SSL_CTX_set_session_id_context(ctx, sessionContext, UInt32(sessionContext.count))

    if configuration.selectsALPN {
      SSL_CTX_set_alpn_select_cb(ctx, selectH2, nil)
    }
    if configuration.requireALPN && configuration.selectsALPN {
      SSL_CTX_set_client_hello_cb(ctx, rejectClientHelloWithoutALPN, nil)
    }
  }

  /// Creates a client context: trust roots (or the system's), an optional client
  /// certificate, peer verification, and ALPN `h2`.
  public init(client configuration: TLSClientConfiguration) throws {
    role = .client
    serverName = configuration.serverName
    verifyPeer = configuration.verifyPeer
    requiresH2 = configuration.offeredALPN.contains("h2")
    guard let ctx = SSL_CTX_new(TLS_client_method()) else {
      throw TLSError.fromQueue(.configuration, "cannot create an OpenSSL client context")
    }
    context = ctx
    // Every stored property is set: from here on a throw runs deinit, which frees `ctx`.
    try Self.applyCommonPolicy(
      ctx, minimumVersion: configuration.minimumVersion,
      maximumVersion: configuration.maximumVersion)

    ERR_clear_error()
    if let roots = configuration.trustRootsFile {
      guard SSL_CTX_load_verify_locations(ctx, roots, nil) == 1 else {
        throw TLSError.fromQueue(.configuration, "cannot load trustRootsFile '\(roots)'")
      }
    } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
      throw TLSError.fromQueue(.configuration, "cannot load the system trust store")
    }
    SSL_CTX_set_verify(ctx, configuration.verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)

    switch (configuration.certificateChainFile, configuration.privateKeyFile) {
    case (let chain?, let key?):
      try Self.loadCertificate(ctx, chain: chain, key: key, what: "client")
    case (nil, nil):
      break
    default:
      throw TLSError(
        kind: .configuration,
        message: "certificateChainFile and privateKeyFile must be set together for mutual TLS")
    }

    if !configuration.offeredALPN.isEmpty {
      let wire = configuration.offeredALPN.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
      // Note: SSL_CTX_set_alpn_protos returns 0 on success.
      let rc = wire.withUnsafeBufferPointer {
        SSL_CTX_set_alpn_protos(ctx, $0.baseAddress, UInt32($0.count))
      }
      guard rc == 0 else { throw TLSError.fromQueue(.configuration, "cannot set ALPN") }
    }
  }

  deinit {
    SSL_CTX_free(context)
  }

  private static func applyCommonPolicy(
    _ ctx: OpaquePointer, minimumVersion: TLSVersion, maximumVersion: TLSVersion = .tlsv13
  ) throws {
    ERR_clear_error()
    func wire(_ version: TLSVersion) -> Int32 {
      version == .tlsv13 ? TLS1_3_VERSION : TLS1_2_VERSION
    }
    guard cassetto_SSL_CTX_set_min_proto_version(ctx, wire(minimumVersion)) == 1,
      cassetto_SSL_CTX_set_max_proto_version(ctx, wire(maximumVersion)) == 1
    else {
      throw TLSError.fromQueue(.configuration, "cannot set the TLS version range")
    }
    guard SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1 else {
      throw TLSError.fromQueue(.configuration, "cannot set the TLS 1.2 cipher list")
    }
    _ = SSL_CTX_set_options(
      ctx,
      cassetto_SSL_OP_NO_RENEGOTIATION() | cassetto_SSL_OP_NO_COMPRESSION()
        | cassetto_SSL_OP_CIPHER_SERVER_PREFERENCE())
    // Idle connections give their 34 KiB of read/write buffers back.
    _ = cassetto_SSL_CTX_set_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS))
  }

  private static func loadCertificate(
    _ ctx: OpaquePointer, chain: String, key: String, what: String
  ) throws {
    ERR_clear_error()
    // An encrypted key must fail to load, not make OpenSSL prompt on the terminal.
    SSL_CTX_set_default_passwd_cb(ctx, refusePassphrase)
    guard SSL_CTX_use_certificate_chain_file(ctx, chain) == 1 else {
      throw TLSError.fromQueue(
        .configuration, "cannot load the \(what) certificateChainFile '\(chain)'")
    }
    guard SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 else {
      let errors = OpenSSLErrorQueue.drain()
      let problem: String
      if errors.reasons.contains(X509_R_KEY_VALUES_MISMATCH) {
        problem = "the \(what) privateKeyFile '\(key)' does not match the certificate in '\(chain)'"
      } else {
        problem = "cannot load the \(what) privateKeyFile '\(key)' (PEM, unencrypted)"
      }
      throw TLSError(kind: .configuration, message: "\(problem): \(errors.text)")
    }
    guard SSL_CTX_check_private_key(ctx) == 1 else {
      throw TLSError.fromQueue(
        .configuration,
        "the \(what) privateKeyFile '\(key)' does not match the certificate in '\(chain)'")
    }
  }
}

/// Passphrase callback that supplies none: encrypted private keys are not supported.
private func refusePassphrase(
  _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ rwflag: Int32,
  _ argument: UnsafeMutableRawPointer?
) -> Int32 {
  0
}

/// ALPN selection on the server: `h2` if the client offers it, otherwise a fatal
/// `no_application_protocol` alert (RFC 7301 §3.2).
private func selectH2(
  _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
  _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
  _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
  guard let offered, let out, let outLength else { return SSL_TLSEXT_ERR_ALERT_FATAL }
  var index = 0
  let end = Int(offeredLength)
  while index < end {
    let length = Int(offered[index])
    let start = index + 1
    guard start + length <= end else { break }  // malformed list
    if length == 2 && offered[start] == UInt8(ascii: "h") && offered[start + 1] == UInt8(ascii: "2")
    {
      out.pointee = offered + start
      outLength.pointee = 2
      return SSL_TLSEXT_ERR_OK
    }
    index = start + length
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL
}

/// Refuses a ClientHello that carries no ALPN extension (installed when
/// ``TLSServerConfiguration/requireALPN`` is on).
private func rejectClientHelloWithoutALPN(
  _ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
  var data: UnsafePointer<UInt8>? = nil
  var length = 0
  if SSL_client_hello_get0_ext(
    ssl, UInt32(TLSEXT_TYPE_application_layer_protocol_negotiation), &data, &length) == 1
  {
    return SSL_CLIENT_HELLO_SUCCESS
  }
  alert?.pointee = SSL_AD_NO_APPLICATION_PROTOCOL
  cassetto_ERR_raise_no_application_protocol()  // so the session's error names the cause
  return SSL_CLIENT_HELLO_ERROR
}
