import Foundation
import Testing

@testable import RPC

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

extension TLSConfigurationTests {
  @Test func encryptedPrivateKeyIsRefusedWithoutPrompting() throws {
    let certs = try TLSTestCertificates.get()
    let encrypted = certs.path("server-encrypted.key")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "openssl", "pkey", "-in", certs.serverKeyFile, "-aes256", "-passout", "pass:secret",
      "-out", encrypted,
    ]
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0)
    let error = #expect(throws: TLSError.self) {
      try TLSContext(
        server: TLSServerConfiguration(
          certificateChainFile: certs.serverChainFile, privateKeyFile: encrypted))
    }
    #expect(error?.message.contains("privateKeyFile '\(encrypted)'") == true)
  }
}
