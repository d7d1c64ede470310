import Access
import Contracts
import Foundation
import Identity
import RPC
import Security
import Server
import Synchronization
import Testing

/// A clock the test moves; the whole application (authentication, deleghe, outbox worker)
/// reads it.
final class SteppedClock: CallClock, Sendable {
  private let instant: Mutex<Date>
  init(_ start: Date) { instant = Mutex(start) }
  func now() -> Date { instant.withLock { $0 } }
  func advance(by seconds: TimeInterval) { instant.withLock { $0 += seconds } }
}

/// The real composition root (`Application.start`, demo data set, an injected clock) behind a
/// loopback `RPC.Server`, for wire tests that need to move time; person tokens are signed
/// with the data directory's development key at the clock's instant.
struct WireHarness {
  /// What a test body gets: a client channel to the server, the clock, the configuration
  /// (data and spool directories) and the development signer.
  struct Context {
    let channel: Channel
    let clock: SteppedClock
    let configuration: Configuration
    let signer: JWTSigner
    var deleghe: Cassetto_Deleghe_V1_DelegheClient { .init(channel: channel) }
    var posizioni: Cassetto_Posizioni_V1_PosizioniClient { .init(channel: channel) }
    var ticketing: Cassetto_Ticketing_V1_TicketingClient { .init(channel: channel) }
    var audit: Cassetto_Audit_V1_AuditClient { .init(channel: channel) }

    /// `authorization` metadata for `persona`, a token issued at the clock's instant.
    func auth(_ persona: Identity.DemoData.Persona) throws -> Metadata {
      let token = try signer.sign(
        PersonToken(
          codiceFiscale: persona.codiceFiscale.value, level: .level2, method: .spid,
          givenName: persona.givenName, familyName: persona.familyName,
          issuer: DevelopmentKey.issuer, audience: Configuration.defaultAudience,
          issuedAt: clock.now(), lifetime: 3600))
      return ["authorization": "Bearer \(token)"]
    }

    /// The OTP in the newest spooled PEC about `delegaID` (waits for the outbox worker).
    func spooledOTP(delegaID: String) async throws -> String {
      let spool = configuration.spoolDirectory
      for _ in 0..<200 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []
        for file in files.sorted().reversed() where file.hasSuffix(".eml") {
          let path = (spool as NSString).appendingPathComponent(file)
          let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
          if text.contains(delegaID),
            let range = text.range(of: #"Codice OTP: \d{8}"#, options: .regularExpression)
          {
            return String(text[range].suffix(8))
          }
        }
        try await Task.sleep(for: .milliseconds(50))
      }
      Issue.record("no spooled PEC for \(delegaID)")
      return ""
    }
  }

  func withServer(_ body: (Context) async throws -> Void) async throws {
    let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
      "wire-harness-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let configuration = Configuration(
      dataDirectory: directory, developmentMode: true, loadDemoData: true)
    let clock = SteppedClock(Date())
    let application = try await Application.start(configuration, clock: clock)
    let server = try RPC.Server(
      configuration: ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1),
      services: application.services)
    try server.start()
    let channel = Channel(host: "127.0.0.1", port: server.localPort)
    let signer = try DevelopmentKey.loadOrCreate(at: configuration.developmentKeyPath)
    do {
      try await body(
        Context(channel: channel, clock: clock, configuration: configuration, signer: signer))
    } catch {
      channel.close()
      await server.shutdown(gracePeriod: .seconds(1))
      await application.close()
      throw error
    }
    channel.close()
    await server.shutdown(gracePeriod: .seconds(1))
    await application.close()
  }
}
