import COpenSSL
import Foundation
import Testing

@testable import RPC

@Suite("TLS protocol policy")
struct TLSPolicyTests {
  @Test func clientRefusesAServerThatIgnoresALPN() throws {
    let certs = try TLSTestCertificates.get()
    var server = certs.serverConfiguration()
    server.selectsALPN = false
    let pair = try TLSTestPair(server: server, client: certs.clientConfiguration())
    let (c, _) = pair.handshake()
    #expect(c.failureKind == .applicationProtocol)
    #expect(throws: TLSError.self) { try pair.client.writePlaintext([1]) }
    // The client said goodbye (close_notify) rather than leaving the server hanging.
    #expect(pair.drain(pair.server).last == .closed)
  }

  @Test(arguments: [TLS1_VERSION, TLS1_1_VERSION])
  func versionsBeforeTLS12AreRefused(version: Int32) throws {
    let certs = try TLSTestCertificates.get()
    let server = try TLSSession(context: TLSContext(server: certs.serverConfiguration()))
    let hello = try rawClientHello(maximumVersion: version)
    server.feedCiphertext(hello)
    let status = server.handshake()
    #expect(status.failureKind == .handshake)
    if case .failed(let error) = status {
      #expect(error.message.contains("unsupported protocol"))
    }
    var alert: [UInt8] = []
    server.takeCiphertext(into: &alert)
    #expect(alert.first == 0x15)  // an alert record goes back
  }

  @Test func serverRequiringTLS13RefusesTLS12() throws {
    let certs = try TLSTestCertificates.get()
    var server = certs.serverConfiguration()
    server.minimumVersion = .tlsv13
    var client = certs.clientConfiguration()
    client.maximumVersion = .tlsv12
    let pair = try TLSTestPair(server: server, client: client)
    let (c, s) = pair.handshake()
    #expect(s.failureKind == .handshake)
    #expect(c.failureKind == .handshake)
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
