import Access
import Contracts
import Foundation
import Identity
import Posizioni
import RPC
import Security
import Server
import Synchronization
import Testing
import Validation

/// A clock the test moves; the whole application (authentication, deleghe, outbox worker)
/// reads it.
final class SteppedClock: CallClock, Sendable {
  private let instant: Mutex<Date>
  init(_ start: Date) { instant = Mutex(start) }
  func now() -> Date { instant.withLock { $0 } }
  func advance(by seconds: TimeInterval) { instant.withLock { $0 += seconds } }
}

/// Issue 4 over the wire with an injected clock: the OTP of a delega a intermediario (and the
/// pending delega with it) expires after the configured validity (default 7 days). The real
/// composition root (`Application.start` with the demo data set) serves a loopback
/// `RPC.Server`; the OTP is read from the PEC the outbox worker spools; person tokens are
/// signed with the data directory's development key at the clock's instant.
@Suite(.serialized) struct DelegaOtpExpiryWireTests {
  let consultant = Identity.DemoData.persona("labour-consultant")!
  let rossi = Identity.DemoData.persona("legal-representative")

  func withServer(
    _ body: (Cassetto_Deleghe_V1_DelegheClient, SteppedClock, Configuration, JWTSigner)
      async throws -> Void
  ) async throws {
    let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
      "otp-expiry-\(UUID().uuidString)")
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
        Cassetto_Deleghe_V1_DelegheClient(channel: channel), clock, configuration, signer)
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

  func auth(_ persona: Identity.DemoData.Persona, _ clock: SteppedClock, _ signer: JWTSigner) throws -> Metadata {
    let token = try signer.sign(
      PersonToken(
        codiceFiscale: persona.codiceFiscale.value, level: .level2, method: .spid,
        givenName: persona.givenName, familyName: persona.familyName,
        issuer: DevelopmentKey.issuer, audience: Configuration.defaultAudience,
        issuedAt: clock.now(), lifetime: 3600))
    return ["authorization": "Bearer \(token)"]
  }

  /// The OTP in the newest spooled PEC about `delegaID` (waits for the outbox worker).
  func spooledOTP(_ configuration: Configuration, delegaID: String) async throws -> String {
    for _ in 0..<200 {
      let files = (try? FileManager.default.contentsOfDirectory(
        atPath: configuration.spoolDirectory)) ?? []
      for file in files.sorted().reversed() where file.hasSuffix(".eml") {
        let text = (try? String(
          contentsOfFile: (configuration.spoolDirectory as NSString)
            .appendingPathComponent(file), encoding: .utf8)) ?? ""
        if text.contains(delegaID), let range = text.range(of: #"Codice OTP: \d{8}"#,
          options: .regularExpression)
        {
          return String(text[range].suffix(8))
        }
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("no spooled PEC for \(delegaID)")
    return ""
  }

  func request(
    _ client: Cassetto_Deleghe_V1_DelegheClient, _ metadata: Metadata, requestID: String
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    var request = Cassetto_Deleghe_V1_RequestDelegaIntermediarioRequest()
    request.subjectFiscalCode = PosizioniDemoData.acme
    var scope = Cassetto_Deleghe_V1_DelegaScope()
    scope.allPositions = true
    request.scope = scope
    var delegant = Cassetto_Deleghe_V1_Party()
    delegant.fiscalCode = rossi!.codiceFiscale.value
    delegant.givenName = rossi!.givenName
    delegant.familyName = rossi!.familyName
    request.delegant = delegant
    let today = CalendarDate.of(Date())
    var decorrenza = Google_Type_Date()
    decorrenza.year = Int32(today.year)
    decorrenza.month = Int32(today.month)
    decorrenza.day = Int32(today.day)
    request.decorrenza = decorrenza
    request.requestId = requestID
    return try await client.requestDelegaIntermediario(request, metadata: metadata).message
  }

  func confirm(
    _ client: Cassetto_Deleghe_V1_DelegheClient, _ metadata: Metadata, id: String, otp: String
  ) async throws -> Cassetto_Deleghe_V1_Delega {
    var confirm = Cassetto_Deleghe_V1_ConfirmDelegaOtpRequest()
    confirm.id = id
    confirm.otp = otp
    confirm.signatureDeclared = true
    return try await client.confirmDelegaOtp(confirm, metadata: metadata).message
  }

  @Test func theRightOTPWorksUpToItsExpiryAndNotAfter() async throws {
    try await withServer { client, clock, configuration, signer in
      #expect(rossi != nil)
      let first = try await request(client, try auth(consultant, clock, signer), requestID: "a")
      #expect(first.state == .inAttesaOtp)
      let firstOTP = try await spooledOTP(configuration, delegaID: first.id)

      // One minute before the 7 days end, the right OTP activates the delega.
      clock.advance(by: 7 * 24 * 3600 - 60)
      let active = try await confirm(
        client, try auth(consultant, clock, signer), id: first.id, otp: firstOTP)
      #expect(active.state == .attiva)
    }
  }

  @Test func anExpiredOTPIsRefusedAndThePendingDelegaExpires() async throws {
    try await withServer { client, clock, configuration, signer in
      let pending = try await request(client, try auth(consultant, clock, signer), requestID: "b")
      let otp = try await spooledOTP(configuration, delegaID: pending.id)

      // One minute after: the right OTP no longer works and the delega is SCADUTA.
      clock.advance(by: 7 * 24 * 3600 + 60)
      let metadata = try auth(consultant, clock, signer)
      let error = await #expect(throws: RPCError.self) {
        try await confirm(client, metadata, id: pending.id, otp: otp)
      }
      #expect(error?.code == .failedPrecondition)
      var get = Cassetto_Deleghe_V1_GetDelegaRequest()
      get.id = pending.id
      let after = try await client.getDelega(get, metadata: metadata).message
      #expect(after.state == .scaduta)
      // Nothing came alive: a second try is refused the same way.
      let again = await #expect(throws: RPCError.self) {
        try await confirm(client, metadata, id: pending.id, otp: otp)
      }
      #expect(again?.code == .failedPrecondition)
    }
  }
}
