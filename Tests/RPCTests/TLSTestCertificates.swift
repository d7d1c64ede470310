import Foundation

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
