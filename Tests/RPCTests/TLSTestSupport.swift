import Foundation

@testable import RPC

/// Throw-away TLS material for tests, generated once per test process by
/// `tools/make-test-certs` into a temporary directory (keys are never committed).
///
/// Files: `ca.pem`, `server.pem` / `server-chain.pem` / `server.key` (localhost, 127.0.0.1,
/// ::1), `client.pem` / `client.key` (CN = ``clientCommonName``, signed by the CA),
/// `other-ca.pem`, `other-client.pem` / `other-client.key` (an unrelated CA).
struct TLSTestCertificates: Sendable {
  static let clientCommonName = "cassetto-test-backend"

  let directory: String

  var caFile: String { path("ca.pem") }
  var serverChainFile: String { path("server-chain.pem") }
  var serverKeyFile: String { path("server.key") }
  var clientCertificateFile: String { path("client.pem") }
  var clientKeyFile: String { path("client.key") }
  var otherCAFile: String { path("other-ca.pem") }
  var otherClientCertificateFile: String { path("other-client.pem") }
  var otherClientKeyFile: String { path("other-client.key") }

  func path(_ name: String) -> String { directory + "/" + name }

  /// Generated on first use; `nil` (with the reason in `generationError`) if `openssl` or the
  /// script failed.
  static let shared: Result<TLSTestCertificates, CertificateGenerationFailed> = generate()

  static func get() throws -> TLSTestCertificates { try shared.get() }

  private static func generate() -> Result<TLSTestCertificates, CertificateGenerationFailed> {
    let script = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("tools/make-test-certs").path
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("cassetto-test-certs-\(getpid())-\(UUID().uuidString)").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [script, directory, clientCommonName]
    let errors = Pipe()
    process.standardError = errors
    do {
      try process.run()
    } catch {
      return .failure(CertificateGenerationFailed(reason: "cannot run \(script): \(error)"))
    }
    let stderr = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      return .failure(
        CertificateGenerationFailed(
          reason: "\(script) failed: \(String(decoding: stderr, as: UTF8.self))"))
    }
    return .success(TLSTestCertificates(directory: directory))
  }
}

struct CertificateGenerationFailed: Error, Sendable {
  var reason: String
}

/// A client and a server ``TLSSession`` wired back to back in memory.
struct TLSTestPair {
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

extension TLSTestCertificates {
  /// The test server: `localhost` certificate, optionally asking for client certificates.
  func serverConfiguration(clientCA: String? = nil, require: Bool = false)
    -> TLSServerConfiguration
  {
    TLSServerConfiguration(
      certificateChainFile: serverChainFile, privateKeyFile: serverKeyFile,
      clientCAFile: clientCA, requireClientCertificate: require)
  }

  /// A client trusting the test CA, optionally presenting a certificate.
  func clientConfiguration(
    certificate: String? = nil, key: String? = nil, serverName: String? = nil
  ) -> TLSClientConfiguration {
    TLSClientConfiguration(
      trustRootsFile: caFile, certificateChainFile: certificate, privateKeyFile: key,
      serverName: serverName)
  }
}

extension TLSSession.HandshakeStatus {
  /// The error kind when failed, `nil` otherwise.
  var failureKind: TLSError.Kind? {
    if case .failed(let error) = self { return error.kind }
    return nil
  }
}
