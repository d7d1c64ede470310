import Foundation
import Testing

@testable import RPC

@Suite("TLS sessions over memory BIOs")
struct TLSSessionTests {
  @Test(arguments: [TLSVersion.tlsv13, .tlsv12])
  func handshakeNegotiatesH2AndCarriesDataBothWays(version: TLSVersion) throws {
    let certs = try TLSTestCertificates.get()
    var client = certs.clientConfiguration()
    client.maximumVersion = version
    let pair = try TLSTestPair(server: certs.serverConfiguration(), client: client)
    let (c, s) = pair.handshake()
    #expect(c == .done)
    #expect(s == .done)
    #expect(pair.client.negotiatedALPN == "h2")
    #expect(pair.server.negotiatedALPN == "h2")
    #expect(pair.client.negotiatedVersion == (version == .tlsv13 ? "TLSv1.3" : "TLSv1.2"))
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
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration())
    try pair.client.writePlaintext(Array("early".utf8))
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.drain(pair.server).bytes == Array("early".utf8))
  }

  @Test func mutualTLSShowsTheClientCertificateToTheServer() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(clientCA: certs.caFile, require: true),
      client: certs.clientConfiguration(
        certificate: certs.clientCertificateFile, key: certs.clientKeyFile))
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
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(clientCA: certs.caFile, require: true),
      client: certs.clientConfiguration(
        certificate: certs.otherClientCertificateFile, key: certs.otherClientKeyFile))
    let (_, s) = pair.handshake()
    #expect(s.failureKind == .certificateVerification)
    #expect(pair.server.peerCertificate == nil)
    // TLS 1.3: the client may think it is done; the server's alert breaks its first read.
    if case .failed = pair.drain(pair.client).last {
    } else {
      Issue.record("the client should see the server's alert")
    }
  }

  @Test func missingClientCertificateIsRefusedWhenRequired() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(clientCA: certs.caFile, require: true),
      client: certs.clientConfiguration())
    let (_, s) = pair.handshake()
    #expect(s.failureKind == .certificateVerification)
    if case .failed = pair.drain(pair.client).last {
    } else {
      Issue.record("the client should see the server's alert")
    }
  }

  @Test func missingClientCertificateIsAcceptedWhenOptional() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(clientCA: certs.caFile, require: false),
      client: certs.clientConfiguration())
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.server.peerCertificate == nil)
  }

  @Test(arguments: [["http/1.1"], [], ["spdy/3", "http/1.1"]])
  func clientNotOfferingH2IsRefused(offer: [String]) throws {
    let certs = try TLSTestCertificates.get()
    var client = certs.clientConfiguration()
    client.offeredALPN = offer
    let pair = try TLSTestPair(server: certs.serverConfiguration(), client: client)
    let (c, s) = pair.handshake()
    #expect(s.failureKind == .applicationProtocol, "\(s)")
    #expect(c.failureKind == .applicationProtocol, "\(c)")  // the no_application_protocol alert
  }

  @Test func clientWithoutALPNIsAcceptedWhenTheServerAllowsIt() throws {
    let certs = try TLSTestCertificates.get()
    var server = certs.serverConfiguration()
    server.requireALPN = false
    var client = certs.clientConfiguration()
    client.offeredALPN = []
    let pair = try TLSTestPair(server: server, client: client)
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.server.negotiatedALPN == nil)
  }

  @Test func clientPreferringAnotherProtocolStillGetsH2() throws {
    let certs = try TLSTestCertificates.get()
    var client = certs.clientConfiguration()
    client.offeredALPN = ["http/1.1", "h2"]
    let pair = try TLSTestPair(server: certs.serverConfiguration(), client: client)
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
    #expect(pair.server.negotiatedALPN == "h2")
  }

  @Test(arguments: ["example.com", "10.0.0.1", "localhost.evil"])
  func hostnameMismatchFailsOnTheClient(name: String) throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration(), host: name)
    let (c, _) = pair.handshake()
    #expect(c.failureKind == .certificateVerification)
    if case .failed(let error) = c {
      #expect(
        error.message.contains("hostname mismatch") || error.message.contains("IP address mismatch")
      )
    }
  }

  @Test(arguments: ["localhost", "127.0.0.1", "::1", "[::1]"])
  func namesInTheCertificateVerify(name: String) throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration(), host: name)
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
  }

  @Test func configuredServerNameOverridesTheDialledHost() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(),
      client: certs.clientConfiguration(serverName: "wrong.example"), host: "localhost")
    #expect(pair.handshake().client.failureKind == .certificateVerification)
  }

  @Test func serverFromAnUntrustedCAIsRefused() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(),
      client: TLSClientConfiguration(trustRootsFile: certs.otherCAFile))
    let (c, s) = pair.handshake()
    #expect(c.failureKind == .certificateVerification)
    #expect(s.failureKind != nil)  // the client's alert
  }

  @Test func verificationCanBeTurnedOffForTests() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(),
      client: TLSClientConfiguration(trustRootsFile: certs.otherCAFile, verifyPeer: false),
      host: "example.com")
    let (c, s) = pair.handshake()
    #expect(c == .done && s == .done)
  }

  @Test func closeNotifyEndsTheStreamCleanly() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration())
    _ = pair.handshake()
    try pair.client.writePlaintext(Array("bye".utf8))
    pair.client.shutdown()
    #expect(throws: TLSError.self) { try pair.client.writePlaintext([1]) }
    pair.shuttle()
    let (bytes, last) = pair.drain(pair.server)
    #expect(bytes == Array("bye".utf8))
    #expect(last == .closed)
  }

  @Test func afterShutdownTheClientStillReadsUntilThePeerCloses() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration())
    _ = pair.handshake()
    pair.client.shutdown()
    pair.shuttle()
    #expect(pair.drain(pair.server).last == .closed)
    // The server finishes what it was sending, then closes its side too.
    try pair.server.writePlaintext(Array("last words".utf8))
    pair.server.shutdown()
    pair.shuttle()
    let (bytes, last) = pair.drain(pair.client)
    #expect(bytes == Array("last words".utf8))
    #expect(last == .closed)
  }

  @Test func endOfFileWithoutCloseNotifyIsATruncation() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration())
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
