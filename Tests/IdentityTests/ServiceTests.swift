import Access
import Contracts
import Foundation
import Identity
import RPC
import Storage
import Testing
import Validation

typealias M = Cassetto_Identity_V1_Identity.Method

@Suite struct IdentityServiceTests {
  func submit(
    _ service: IdentityService, as caller: Caller, sede: String = "7500", requestID: String = ""
  )
    async throws -> Cassetto_Identity_V1_AbilitazioneRequest
  {
    var request = Cassetto_Identity_V1_SubmitAbilitazioneRequestRequest()
    request.form = .sc65
    request.scopes = [.contribuzionePubblici]
    request.sedeCode = sede
    request.requestId = requestID
    return try await Caller.$current.withValue(caller) {
      try await service.submitAbilitazioneRequest(
        request: request, context: context(M.submitAbilitazioneRequest))
    }
  }

  func decide(_ service: IdentityService, _ id: String, as caller: Caller, requestID: String = "")
    async throws -> Cassetto_Identity_V1_AbilitazioneRequest
  {
    var request = Cassetto_Identity_V1_DecideAbilitazioneRequestRequest()
    request.abilitazioneRequestId = id
    request.approve = true
    request.requestId = requestID
    return try await Caller.$current.withValue(caller) {
      try await service.decideAbilitazioneRequest(
        request: request, context: context(M.decideAbilitazioneRequest))
    }
  }

  func auditCount(_ database: SQLiteDatabase) async throws -> Int64 {
    guard case .intact(let count, _) = try await AuditLog.verify(database) else {
      Issue.record("audit chain broken")
      return -1
    }
    return count
  }

  @Test func approvalGrantsTheScopesWithOneAuditEvent() async throws {
    try await withIdentityService { service, database in
      let submitted = try await submit(service, as: person("citizen"))
      #expect(submitted.state == .pending)
      #expect(submitted.submittedAt?.seconds == 1_795_510_800)
      let before = try await auditCount(database)
      let decided = try await decide(service, submitted.id, as: person("operator"))
      #expect(decided.state == .approved)
      #expect(!decided.abilitazioneId.isEmpty)
      #expect(try await auditCount(database) == before + 1)
      let list = try await Caller.$current.withValue(person("citizen")) {
        try await service.listAbilitazioni(
          request: Cassetto_Identity_V1_ListAbilitazioniRequest(),
          context: context(M.listAbilitazioni))
      }
      #expect(list.abilitazioni.map(\.id) == [decided.abilitazioneId])
      #expect(list.abilitazioni.first?.scopes == [.contribuzionePubblici])
    }
  }

  @Test func retryWithTheSameKeyReturnsTheFirstResultAndChangesNothing() async throws {
    try await withIdentityService { service, database in
      let first = try await submit(service, as: person("citizen"), requestID: "k1")
      let events = try await auditCount(database)
      let again = try await submit(service, as: person("citizen"), sede: "7000", requestID: "k1")
      #expect(again == first)
      #expect(try await auditCount(database) == events)
    }
  }

  @Test func anOperatorOfAnotherSedeDoesNotSeeTheRequest() async throws {
    try await withIdentityService { service, _ in
      let submitted = try await submit(service, as: person("citizen"))
      await #expect(throws: AccessError.notFound("abilitazione request \(submitted.id) not found"))
      {
        _ = try await decide(service, submitted.id, as: person("operator-roma"))
      }
    }
  }

  @Test func theRequesterMayNotDecide() async throws {
    try await withIdentityService { service, _ in
      let submitted = try await submit(service, as: person("operator"))
      await #expect(throws: AccessError.self) {
        _ = try await decide(service, submitted.id, as: person("operator"))
      }
    }
  }

  @Test func aDecidedRequestCannotBeDecidedAgain() async throws {
    try await withIdentityService { service, _ in
      let submitted = try await submit(service, as: person("citizen"))
      _ = try await decide(service, submitted.id, as: person("operator"))
      await #expect(throws: IdentityError.failedPrecondition("the request was already decided")) {
        _ = try await decide(service, submitted.id, as: person("operator"))
      }
    }
  }

  @Test func aFailedMutationLeavesNoAuditEvent() async throws {
    try await withIdentityService { service, database in
      _ = try await submit(service, as: person("citizen"))
      let events = try await auditCount(database)
      await #expect(throws: IdentityError.self) {
        _ = try await submit(service, as: person("citizen"))
      }
      #expect(try await auditCount(database) == events)
    }
  }

  @Test func anonymousCallersAreRefused() async throws {
    try await withIdentityService { service, _ in
      await #expect(throws: AccessError.self) {
        _ = try await service.whoAmI(request: .init(), context: context(M.whoAmI))
      }
    }
  }

  @Test func aLapsedRegistrationIsNotAnIntermediary() async throws {
    try await withIdentityService { _, database in
      let lawyer = DemoData.persona("lapsed-lawyer")!.codiceFiscale.value
      let consultant = DemoData.persona("labour-consultant")!.codiceFiscale.value
      let lawyerIsIntermediary = try await database.read {
        try IdentityStore.isIntermediary(lawyer, in: $0)
      }
      let consultantIsIntermediary = try await database.read {
        try IdentityStore.isIntermediary(consultant, in: $0)
      }
      #expect(!lawyerIsIntermediary)
      #expect(consultantIsIntermediary)
    }
  }
}

@Suite struct IdentityBootstrapTests {
  @Test func configurationBootstrapsOnlySediWithoutAnIDMManager() async throws {
    try await withIdentityService { _, database in
      let newcomer = DemoData.persona("citizen")!.codiceFiscale
      let idm = DemoData.persona("idm-manager")!.codiceFiscale
      // 7500 has its demo IDM manager: left alone. 8100 has none: bootstrapped, both listed.
      let granted = try await IdentityBootstrap.ensureIDMManagers(
        [
          (newcomer, try SedeCode("7500")), (newcomer, try SedeCode("8100")),
          (idm, try SedeCode("8100")),
        ],
        in: database, now: testNow)
      #expect(granted == 2)
      let again = try await IdentityBootstrap.ensureIDMManagers(
        [(newcomer, try SedeCode("8100"))], in: database, now: testNow)
      #expect(again == 0)
      let holds7500 = try await database.read {
        try IdentityStore.holds(newcomer.value, .idmManager, at: "7500", in: $0)
      }
      #expect(!holds7500)
    }
  }
}
