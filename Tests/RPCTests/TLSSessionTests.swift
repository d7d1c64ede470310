import COpenSSL
import Foundation
import Testing

@testable import RPC

/// A client and a server ``TLSSession`` wired back to back in memory.
private struct Pair {
  let client: TLSSession
  let server: TLSSession

  init(
    server serverConfiguration: TLSServerConfiguration,
    client clientConfiguration: TLSClientConfiguration, host: String? = "localhost"
  ) throws {
    server = try TLSSession(context: TLSContext(server: serverConfiguration))
    client = try TLSSession(context: TLSContext(client: clientConfiguration), serverHostname: host)
  }

  /// Moves ciphertext both ways once; returns how many bytes moved.
  @discardableResult
  func shuttle() -> Int {
    var bytes: [UInt8] = []
    client.takeCiphertext(into: &bytes)
    server.feedCiphertext(bytes)
    let toServer = bytes.count
    bytes.removeAll()
    server.takeCiphertext(into: &bytes)
    client.feedCiphertext(bytes)
    return toServer + bytes.count
  }

  /// Runs both handshakes until both are done, one failed, or nothing moves.
  func handshake() -> (client: TLSSession.HandshakeStatus, server: TLSSession.HandshakeStatus) {
    var c = client.handshake()
    var s = server.handshake()
    for _ in 0..<20 {
      let moved = shuttle()
      c = client.handshake()
      s = server.handshake()
      if case .failed = c, moved == 0 { break }
      if case .failed = s, moved == 0 { break }
      if c == .done && s == .done && moved == 0 { break }
    }
    shuttle()
    return (c, s)
  }

  /// Everything `reader` can decrypt right now.
  func drain(_ reader: TLSSession) -> (bytes: [UInt8], last: TLSSession.ReadResult) {
    var bytes: [UInt8] = []
    var last = reader.readPlaintext(into: &bytes)
    if case .bytes = last { last = reader.readPlaintext(into: &bytes) }
    return (bytes, last)
  }
}

private func serverConfiguration(
  _ certs: TLSTestCertificates, clientCA: String? = nil, require: Bool = false
) -> TLSServerConfiguration {
  TLSServerConfiguration(
    certificateChainFile: certs.serverChainFile, privateKeyFile: certs.serverKeyFile,
    clientCAFile: clientCA, requireClientCertificate: require)
}

private func clientConfiguration(
  _ certs: TLSTestCertificates, certificate: String? = nil, key: String? = nil,
  serverName: String? = nil
) -> TLSClientConfiguration {
  TLSClientConfiguration(
    trustRootsFile: certs.caFile, certificateChainFile: certificate, privateKeyFile: key,
    serverName: serverName)
}

private func kind(_ status: TLSSession.HandshakeStatus) -> TLSError.Kind? {
  if case .failed(let error) = status { return error.kind }
  return nil
}

@Suite("TLS sessions over memory BIOs")
struct TLSSessionTests {
  @Test(arguments: [TLSVersion.v1_3, .v1_2])
  func handshakeNegotiatesH2AndCarriesDataBothWays(version: TLSVersion) throws {
    let certs = try TLSTestCertificates.get()
    var client = clientConfiguration(certs)
    client.maximumVersion = version
    let pair = try Pair(server: serverConfiguration(certs), client: client)
    let (c, s) = pair.handshake()
    #expect(c == .done)
    #expect(s == .done)
    #expect(pair.client.negotiatedALPN == "h2")
    #expect(pair.server.negotiatedALPN == "h2")
    #expect(pair.client.negotiatedVersion == (version == .v1_3 ? "TLSv1.3" : "TLSv1.2"))
    #expect(pair.client.peerCertificate?.commonName == "localhost")
    #expect(pair.server.peerCertificate == nil)  // no client certificate asked for

    try pair.client.writePlaintext(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
    pair.shuttle()
    let (request, _) = pair.drain(pair.server)
    #expect(request == Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))

    let big = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    try pair.server.writePlaintext(big)
    #expect(pair.server.pendingCiphertextCount > big.count)
    pair.shuttle()
    let (response, last) = pair.drain(pair.client)
    #expect(response == big)
    #expect(last == .wantsMoreInput)
  }

  @Test func plaintextWrittenBeforeTheHandshakeIsSentAfterIt() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(server: serverConfiguration(certs), client: clientConfiguration(certs))
    try pair.client.writePlaintext(Array("early".utf8))
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.drain(pair.server).bytes == Array("early".utf8))
  }

  @Test func mutualTLSShowsTheClientCertificateToTheServer() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs, clientCA: certs.caFile, require: true),
      client: clientConfiguration(
        certs, certificate: certs.clientCertificateFile, key: certs.clientKeyFile))
    let (c, s) = pair.handshake()
    #expect(c == .done)
    #expect(s == .done)
    let peer = try #require(pair.server.peerCertificate)
    #expect(peer.commonName == TLSTestCertificates.clientCommonName)
    #expect(peer.subject == "CN=\(TLSTestCertificates.clientCommonName),O=Cassetto Test")
    #expect(peer.sha256Fingerprint == (try opensslFingerprint(certs.clientCertificateFile)))
  }

  @Test func clientCertificateFromAnUnknownCAIsRefused() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs, clientCA: certs.caFile, require: true),
      client: clientConfiguration(
        certs, certificate: certs.otherClientCertificateFile, key: certs.otherClientKeyFile))
    let (_, s) = pair.handshake()
    #expect(kind(s) == .certificateVerification)
    #expect(pair.server.peerCertificate == nil)
    // TLS 1.3: the client may think it is done; the server's alert breaks its first read.
    if case .failed = pair.drain(pair.client).last {} else {
      Issue.record("the client should see the server's alert")
    }
  }

  @Test func missingClientCertificateIsRefusedWhenRequired() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs, clientCA: certs.caFile, require: true),
      client: clientConfiguration(certs))
    let (_, s) = pair.handshake()
    #expect(kind(s) == .certificateVerification)
    if case .failed = pair.drain(pair.client).last {} else {
      Issue.record("the client should see the server's alert")
    }
  }

  @Test func missingClientCertificateIsAcceptedWhenOptional() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs, clientCA: certs.caFile, require: false),
      client: clientConfiguration(certs))
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.server.peerCertificate == nil)
  }

  @Test(arguments: [["http/1.1"], [], ["spdy/3", "http/1.1"]])
  func clientNotOfferingH2IsRefused(offer: [String]) throws {
    let certs = try TLSTestCertificates.get()
    var client = clientConfiguration(certs)
    client.offeredALPN = offer
    let pair = try Pair(server: serverConfiguration(certs), client: client)
    let (c, s) = pair.handshake()
    #expect(kind(s) == .applicationProtocol, "\(s)")
    #expect(kind(c) == .applicationProtocol, "\(c)")  // the no_application_protocol alert
  }

  @Test func clientWithoutALPNIsAcceptedWhenTheServerAllowsIt() throws {
    let certs = try TLSTestCertificates.get()
    var server = serverConfiguration(certs)
    server.requireALPN = false
    var client = clientConfiguration(certs)
    client.offeredALPN = []
    let pair = try Pair(server: server, client: client)
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.server.negotiatedALPN == nil)
  }

  @Test func clientPreferringAnotherProtocolStillGetsH2() throws {
    let certs = try TLSTestCertificates.get()
    var client = clientConfiguration(certs)
    client.offeredALPN = ["http/1.1", "h2"]
    let pair = try Pair(server: serverConfiguration(certs), client: client)
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.server.negotiatedALPN == "h2")
  }

  @Test(arguments: [
    Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8),
    Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
    [0x16, 0x03, 0x01, 0xff, 0xff] + [UInt8](repeating: 0x41, count: 300),
    [UInt8](repeating: 0, count: 5000),
  ])
  func garbageFedToTheServerFailsCleanly(garbage: [UInt8]) throws {
    let certs = try TLSTestCertificates.get()
    let server = try TLSSession(context: TLSContext(server: serverConfiguration(certs)))
    server.feedCiphertext(garbage)
    let status = server.handshake()
    #expect(kind(status) == .handshake)
    #expect(server.handshake() == status)  // sticky
    var bytes: [UInt8] = []
    if case .failed = server.readPlaintext(into: &bytes) {} else {
      Issue.record("reads after a failed handshake must fail")
    }
    #expect(throws: TLSError.self) { try server.writePlaintext([1]) }
  }

  @Test func garbageAfterTheHandshakeBreaksTheConnection() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(server: serverConfiguration(certs), client: clientConfiguration(certs))
    _ = pair.handshake()
    pair.server.feedCiphertext([0x17, 0x03, 0x03, 0x00, 0x20] + [UInt8](repeating: 7, count: 32))
    var bytes: [UInt8] = []
    let result = pair.server.readPlaintext(into: &bytes)
    guard case .failed(let error) = result else {
      Issue.record("expected a failure, got \(result)")
      return
    }
    #expect(error.kind == .connection)
  }

  @Test(arguments: ["example.com", "10.0.0.1", "localhost.evil"])
  func hostnameMismatchFailsOnTheClient(name: String) throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs), client: clientConfiguration(certs), host: name)
    let (c, _) = pair.handshake()
    #expect(kind(c) == .certificateVerification)
    if case .failed(let error) = c { #expect(error.message.contains("hostname mismatch") || error.message.contains("IP address mismatch")) }
  }

  @Test(arguments: ["localhost", "127.0.0.1", "::1", "[::1]"])
  func namesInTheCertificateVerify(name: String) throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs), client: clientConfiguration(certs), host: name)
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
  }

  @Test func configuredServerNameOverridesTheDialledHost() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs),
      client: clientConfiguration(certs, serverName: "wrong.example"), host: "localhost")
    #expect(kind(pair.handshake().client) == .certificateVerification)
  }

  @Test func serverFromAnUntrustedCAIsRefused() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs),
      client: TLSClientConfiguration(trustRootsFile: certs.otherCAFile))
    let (c, s) = pair.handshake()
    #expect(kind(c) == .certificateVerification)
    #expect(kind(s) != nil)  // the client's alert
  }

  @Test func verificationCanBeTurnedOffForTests() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(
      server: serverConfiguration(certs),
      client: TLSClientConfiguration(trustRootsFile: certs.otherCAFile, verifyPeer: false),
      host: "example.com")
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
  }

  @Test func closeNotifyEndsTheStreamCleanly() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(server: serverConfiguration(certs), client: clientConfiguration(certs))
    _ = pair.handshake()
    try pair.client.writePlaintext(Array("bye".utf8))
    pair.client.shutdown()
    #expect(throws: TLSError.self) { try pair.client.writePlaintext([1]) }
    pair.shuttle()
    let (bytes, last) = pair.drain(pair.server)
    #expect(bytes == Array("bye".utf8))
    #expect(last == .closed)
  }

  @Test func endOfFileWithoutCloseNotifyIsATruncation() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try Pair(server: serverConfiguration(certs), client: clientConfiguration(certs))
    _ = pair.handshake()
    pair.server.feedEndOfInput()
    var bytes: [UInt8] = []
    let result = pair.server.readPlaintext(into: &bytes)
    guard case .failed(let error) = result else {
      Issue.record("expected a failure, got \(result)")
      return
    }
    #expect(error.kind == .connection)
  }
}

@Suite("TLS configuration errors")
struct TLSConfigurationTests {
  @Test func missingCertificateFileIsNamed() throws {
    let certs = try TLSTestCertificates.get()
    let error = #expect(throws: TLSError.self) {
      try TLSContext(
        server: TLSServerConfiguration(
          certificateChainFile: "/nonexistent/cert.pem", privateKeyFile: certs.serverKeyFile))
    }
    #expect(error?.kind == .configuration)
    #expect(error?.message.contains("certificateChainFile '/nonexistent/cert.pem'") == true)
  }

  @Test func keyNotMatchingTheCertificateIsRefused() throws {
    let certs = try TLSTestCertificates.get()
    let error = #expect(throws: TLSError.self) {
      try TLSContext(
        server: TLSServerConfiguration(
          certificateChainFile: certs.serverChainFile, privateKeyFile: certs.clientKeyFile))
    }
    #expect(error?.message.contains("does not match") == true, "\(String(describing: error))")
    #expect(error?.message.contains("BEGIN") == false)  // never key material
  }

  @Test func requiringClientCertificatesNeedsACA() throws {
    let certs = try TLSTestCertificates.get()
    #expect(throws: TLSError.self) {
      try TLSContext(
        server: TLSServerConfiguration(
          certificateChainFile: certs.serverChainFile, privateKeyFile: certs.serverKeyFile,
          requireClientCertificate: true))
    }
  }

  @Test func missingTrustRootsAreNamed() throws {
    let error = #expect(throws: TLSError.self) {
      try TLSContext(client: TLSClientConfiguration(trustRootsFile: "/nonexistent/ca.pem"))
    }
    #expect(error?.message.contains("trustRootsFile '/nonexistent/ca.pem'") == true)
  }

  @Test func halfAClientIdentityIsRefused() throws {
    let certs = try TLSTestCertificates.get()
    #expect(throws: TLSError.self) {
      try TLSContext(
        client: TLSClientConfiguration(
          trustRootsFile: certs.caFile, certificateChainFile: certs.clientCertificateFile))
    }
  }

  @Test func systemTrustStoreLoads() throws {
    _ = try TLSContext(client: TLSClientConfiguration())
  }
}

/// `openssl x509 -fingerprint -sha256` as lowercase hex without colons.
private func opensslFingerprint(_ file: String) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = ["openssl", "x509", "-in", file, "-noout", "-fingerprint", "-sha256"]
  let output = Pipe()
  process.standardOutput = output
  try process.run()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let line = String(decoding: data, as: UTF8.self)
  let hex = line.split(separator: "=").last ?? ""
  return hex.filter { $0 != ":" && !$0.isWhitespace }.lowercased()
}

@Suite("TLS sessions under hostile or awkward input")
struct TLSRobustnessTests {
  @Test func ciphertextFedOneByteAtATimeStillWorks() throws {
    let certs = try TLSTestCertificates.get()
    let server = try TLSSession(context: TLSContext(server: serverConfiguration(certs)))
    let client = try TLSSession(
      context: TLSContext(client: clientConfiguration(certs)), serverHostname: "localhost")
    try client.writePlaintext(Array("hello in pieces".utf8))
    var received: [UInt8] = []
    for _ in 0..<20 {
      var bytes: [UInt8] = []
      _ = client.handshake()
      client.takeCiphertext(into: &bytes)
      for byte in bytes {
        server.feedCiphertext([byte])
        _ = server.readPlaintext(into: &received)
      }
      bytes.removeAll()
      server.takeCiphertext(into: &bytes)
      for byte in bytes { client.feedCiphertext([byte]) }
    }
    #expect(client.isHandshakeComplete && server.isHandshakeComplete)
    #expect(received == Array("hello in pieces".utf8))
  }

  @Test func mutatedClientHellosNeverCrashTheServer() throws {
    let certs = try TLSTestCertificates.get()
    let serverContext = try TLSContext(server: serverConfiguration(certs))
    let clientContext = try TLSContext(client: clientConfiguration(certs))
    let client = try TLSSession(context: clientContext, serverHostname: "localhost")
    _ = client.handshake()
    var hello: [UInt8] = []
    client.takeCiphertext(into: &hello)
    #expect(hello.count > 100)
    var generator = SystemRandomNumberGenerator()
    var failures = 0
    for _ in 0..<300 {
      var mutated = hello
      for _ in 0..<Int.random(in: 1...4, using: &generator) {
        mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(
          in: 0...255, using: &generator)
      }
      if Bool.random(using: &generator) {
        mutated.removeLast(Int.random(in: 0..<mutated.count, using: &generator))
      }
      let server = try TLSSession(context: serverContext)
      server.feedCiphertext(mutated)
      server.feedEndOfInput()
      var out: [UInt8] = []
      switch server.readPlaintext(into: &out) {
      case .failed: failures += 1
      case .wantsMoreInput, .closed, .bytes: break
      }
      server.takeCiphertext(into: &out)
    }
    #expect(failures > 0)
  }
}

@Suite("TLS protocol policy")
struct TLSPolicyTests {
  @Test func clientRefusesAServerThatIgnoresALPN() throws {
    let certs = try TLSTestCertificates.get()
    var server = serverConfiguration(certs)
    server.selectsALPN = false
    let pair = try Pair(server: server, client: clientConfiguration(certs))
    let (c, _) = pair.handshake()
    #expect(kind(c) == .applicationProtocol)
    #expect(throws: TLSError.self) { try pair.client.writePlaintext([1]) }
    // The client said goodbye (close_notify) rather than leaving the server hanging.
    #expect(pair.drain(pair.server).last == .closed)
  }

  @Test(arguments: [TLS1_VERSION, TLS1_1_VERSION])
  func versionsBeforeTLS12AreRefused(version: Int32) throws {
    let certs = try TLSTestCertificates.get()
    let server = try TLSSession(context: TLSContext(server: serverConfiguration(certs)))
    let hello = try rawClientHello(maximumVersion: version)
    server.feedCiphertext(hello)
    let status = server.handshake()
    #expect(kind(status) == .handshake)
    if case .failed(let error) = status {
      #expect(error.message.contains("unsupported protocol"))
    }
    var alert: [UInt8] = []
    server.takeCiphertext(into: &alert)
    #expect(alert.first == 0x15)  // an alert record goes back
  }

  @Test func serverRequiringTLS13RefusesTLS12() throws {
    let certs = try TLSTestCertificates.get()
    var server = serverConfiguration(certs)
    server.minimumVersion = .v1_3
    var client = clientConfiguration(certs)
    client.maximumVersion = .v1_2
    let pair = try Pair(server: server, client: client)
    let (c, s) = pair.handshake()
    #expect(kind(s) == .handshake)
    #expect(kind(c) == .handshake)
  }
}

/// A ClientHello from a plain OpenSSL client limited to `maximumVersion`, as bytes.
private func rawClientHello(maximumVersion: Int32) throws -> [UInt8] {
  let ctx = try #require(SSL_CTX_new(TLS_client_method()))
  defer { SSL_CTX_free(ctx) }
  _ = cassetto_SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION)
  _ = cassetto_SSL_CTX_set_max_proto_version(ctx, maximumVersion)
  _ = SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0")
  let alpn: [UInt8] = [2, 0x68, 0x32]  // "h2": only the version is wrong
  _ = SSL_CTX_set_alpn_protos(ctx, alpn, UInt32(alpn.count))
  let ssl = try #require(SSL_new(ctx))
  defer { SSL_free(ssl) }
  let input = BIO_new(BIO_s_mem())
  let output = BIO_new(BIO_s_mem())
  SSL_set_bio(ssl, input, output)
  SSL_set_connect_state(ssl)
  _ = SSL_do_handshake(ssl)
  ERR_clear_error()
  let pending = Int(BIO_ctrl_pending(output))
  var bytes = [UInt8](repeating: 0, count: pending)
  _ = BIO_read(output, &bytes, Int32(pending))
  return bytes
}
