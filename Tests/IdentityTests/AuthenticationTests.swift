import Access
import Contracts
import Foundation
import RPC
import Security
import Server
import Testing
import Validation

@Suite struct AuthenticationTests {
  let signer = try! JWTSigner.generate(.es256, kid: "k1")

  func interceptor(now: Date = testNow) -> AuthenticationInterceptor {
    AuthenticationInterceptor(
      verifiers: [
        JWTVerifier(trustedKeys: [signer.trustedKey], issuer: "gw", audience: "cassetto")
      ],
      serviceIdentities: [
        try! ServiceIdentityRule(parsing: "cn:ledger=ledger:identity.upsert-albo-registrations")
      ],
      clock: FixedClock(now))
  }

  func token(level: SPIDLevel = .level2, audience: String = "cassetto") throws -> String {
    try signer.sign(
      PersonToken(
        codiceFiscale: "RSSMRA80A01H501U", level: level, issuer: "gw", audience: audience,
        issuedAt: testNow))
  }

  @Test func aValidTokenMakesThePersonTheCaller() throws {
    let caller = try interceptor().resolve(authorization: ["Bearer " + token()], certificate: nil)
    #expect(caller.person?.codiceFiscale.value == "RSSMRA80A01H501U")
  }

  @Test func refusalsAreUnauthenticatedAndNeverEchoTheToken() throws {
    for bad in [try token(level: .level1), try token(audience: "other")] {
      do {
        _ = try interceptor().resolve(authorization: ["Bearer " + bad], certificate: nil)
        Issue.record("token accepted")
      } catch {
        #expect(error.code == .unauthenticated)
        #expect(!error.message.contains(bad.prefix(20)))
      }
    }
  }

  @Test func anExpiredTokenIsRefused() throws {
    let later = testNow.addingTimeInterval(3600 + 61)
    #expect(throws: RPCError.self) {
      _ = try interceptor(now: later).resolve(
        authorization: ["Bearer " + token()], certificate: nil)
    }
  }

  @Test func aMappedCertificateIsTheServiceAndAnUnmappedOneIsAnonymous() throws {
    let mapped = PeerCertificate(
      subject: "CN=ledger", commonName: "ledger", sha256Fingerprint: "00")
    let other = PeerCertificate(subject: "CN=x", commonName: "x", sha256Fingerprint: "01")
    let service = try interceptor().resolve(authorization: [], certificate: mapped)
    #expect(service.service?.has(.upsertAlboRegistrations) == true)
    #expect(try interceptor().resolve(authorization: [], certificate: other) == .anonymous)
  }

  @Test func unknownPermissionsAreRefusedAtStartUp() {
    #expect(throws: ConfigurationError.self) {
      _ = try ServiceIdentityRule(parsing: "cn:ledger=ledger:identity.everything")
    }
  }

  @Test func validationErrorsCarryBadRequestDetails() throws {
    let error = StatusMapping.rpcError(for: ValidationError.field("contacts.email", "bad"))
    #expect(error.code == .invalidArgument)
    let status = try Google_Rpc_Status(serializedBytes: error.details ?? [])
    #expect(status.details.first?.typeUrl == "type.googleapis.com/google.rpc.BadRequest")
    let badRequest = try Google_Rpc_BadRequest(serializedBytes: status.details.first?.value ?? [])
    #expect(badRequest.fieldViolations.map(\.field) == ["contacts.email"])
  }
}
