import Access
import Contracts
import Foundation
import Identity
import Posizioni
import RPC
import Security
import Server
import Testing
import Validation

/// Issue 4 over the wire with an injected clock: the OTP of a delega a intermediario (and the
/// pending delega with it) expires after the configured validity (default 7 days). The real
/// composition root (`Application.start` with the demo data set) serves a loopback
/// `RPC.Server`; the OTP is read from the PEC the outbox worker spools; person tokens are
/// signed with the data directory's development key at the clock's instant.
@Suite(.serialized) struct DelegaOtpExpiryWireTests {
  let harness = WireHarness()
  let consultant = Identity.DemoData.persona("labour-consultant")!
  let rossi = Identity.DemoData.persona("legal-representative")

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
    try await harness.withServer { wire in
      let client = wire.deleghe, clock = wire.clock
      #expect(rossi != nil)
      let first = try await request(client, try wire.auth(consultant), requestID: "a")
      #expect(first.state == .inAttesaOtp)
      let firstOTP = try await wire.spooledOTP(delegaID: first.id)

      // One minute before the 7 days end, the right OTP activates the delega.
      clock.advance(by: 7 * 24 * 3600 - 60)
      let active = try await confirm(
        client, try wire.auth(consultant), id: first.id, otp: firstOTP)
      #expect(active.state == .attiva)
    }
  }

  @Test func anExpiredOTPIsRefusedAndThePendingDelegaExpires() async throws {
    try await harness.withServer { wire in
      let client = wire.deleghe, clock = wire.clock
      let pending = try await request(client, try wire.auth(consultant), requestID: "b")
      let otp = try await wire.spooledOTP(delegaID: pending.id)

      // One minute after: the right OTP no longer works and the delega is SCADUTA.
      clock.advance(by: 7 * 24 * 3600 + 60)
      let metadata = try wire.auth(consultant)
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
