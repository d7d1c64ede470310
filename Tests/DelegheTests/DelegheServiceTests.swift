import Access
import Contracts
import Deleghe
import Foundation
import RPC
import Storage
import Synchronization
import Testing
import Validation

// DelegheService in process on a fresh SQLite database with a clock the test moves: the OTP
// kept only as a keyed hash, the resend limits (60 s, 5 a day), the pending request expiring
// with its OTP (SCADUTA), the next-day activation around midnight in Europe/Rome, and the
// outbox message written in the same transaction as the request.

final class MovableClock: CallClock {
  let instant: Mutex<Date>
  init(_ start: Date) { instant = Mutex(start) }
  func now() -> Date { instant.withLock { $0 } }
  func advance(_ seconds: TimeInterval) { instant.withLock { $0 += seconds } }
  func set(_ date: Date) { instant.withLock { $0 = date } }
}

let companyPEC = "acme@pec.example.it"

func withService(
  start: Date, _ body: (DelegheService, SQLiteDatabase, MovableClock) async throws -> Void
) async throws {
  let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
    "deleghe-tests-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let clock = MovableClock(start)
  let database = try await SQLiteDatabase.open(
    dataDirectory: directory, migrations: DelegheSchema.migrations, now: start)
  var base = authorizer(deleghe: [])
  var subjects = (base.positions as! FakePositions).subjects
  subjects[company]?.pec = companyPEC
  let counter = Mutex(0)
  base = Authorizer(
    positions: FakePositions(
      subjects: subjects, positions: (base.positions as! FakePositions).positions),
    enablements: base.enablements, deleghe: DelegheDirectory(database: database),
    cutover: .circolare34)
  let service = DelegheService(
    database: database, clock: clock, authorizer: base, otpKey: Array(repeating: 7, count: 32),
    newOTP: { digits in
      let n = counter.withLock { value -> Int in
        value += 1
        return value
      }
      return String(repeating: String(n % 10), count: digits)
    })
  do {
    try await body(service, database, clock)
    await database.close()
  } catch {
    await database.close()
    throw error
  }
}

func ctx() -> ServerContext {
  ServerContext(
    method: Cassetto_Deleghe_V1_Deleghe.Method.getDelega, requestMetadata: [:], deadline: nil,
    peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: false))
}

func asPerson<T>(_ cf: String, _ body: () async throws -> T) async throws -> T {
  try await Caller.$current.withValue(.person(Person(codiceFiscale: try CodiceFiscale(cf)))) {
    try await body()
  }
}

func protoDate(_ y: Int32, _ m: Int32, _ d: Int32) -> Google_Type_Date {
  var date = Google_Type_Date()
  (date.year, date.month, date.day) = (y, m, d)
  return date
}

func request(_ service: DelegheService) async throws -> Cassetto_Deleghe_V1_Delega {
  var req = Cassetto_Deleghe_V1_RequestDelegaIntermediarioRequest()
  req.subjectFiscalCode = company
  var scope = Cassetto_Deleghe_V1_DelegaScope()
  scope.allPositions = true
  req.scope = scope
  var delegant = Cassetto_Deleghe_V1_Party()
  delegant.fiscalCode = owner
  req.delegant = delegant
  req.decorrenza = protoDate(2025, 1, 1)
  return try await asPerson(intermediary) {
    try await service.requestDelegaIntermediario(request: req, context: ctx())
  }
}

func code(_ body: () async throws -> Void) async -> String {
  do {
    try await body()
    return "ok"
  } catch let error as DelegheError {
    switch error {
    case .failedPrecondition: return "failedPrecondition"
    case .resourceExhausted: return "resourceExhausted"
    case .unimplemented: return "unimplemented"
    }
  } catch {
    return "\(error)"
  }
}

@Suite struct DelegheServiceTests {
  @Test func otpIsStoredOnlyAsAKeyedHashAndMailedInTheSameTransaction() async throws {
    try await withService(start: rome(2025, 6, 10, 10)) { service, database, _ in
      let d = try await request(service)
      #expect(d.state == .inAttesaOtp)
      let (stored, messages) = try await database.read { db in
        (
          try db.queryFirst("SELECT otp_hash FROM deleghe_deleghe WHERE id = ?", [d.id])?
            .optionalBytes("otp_hash"),
          try db.query("SELECT recipient, subject, body FROM outbox_messages")
        )
      }
      #expect(stored?.count == 32)
      #expect(stored != Array("11111111".utf8))
      #expect(messages.count == 1)
      #expect(try messages[0].string("recipient") == companyPEC)
      #expect(
        try messages[0].string("subject")
          == "Comunicazione inserimento richiesta nuova delega per la posizione 7012345601")
      #expect(try messages[0].string("body").contains("Codice OTP: 11111111"))
    }
  }

  @Test func resendIsRateLimitedAndKillsTheOldOTP() async throws {
    try await withService(start: rome(2025, 6, 10, 8)) { service, database, clock in
      let d = try await request(service)
      var resend = Cassetto_Deleghe_V1_ResendDelegaOtpRequest()
      resend.id = d.id
      let send = {
        _ = try await asPerson(intermediary) {
          try await service.resendDelegaOtp(request: resend, context: ctx())
        }
      }
      #expect(await code(send) == "resourceExhausted")  // < 60 s
      clock.advance(61)
      #expect(await code(send) == "ok")  // OTP 22222222
      for _ in 0..<3 {
        clock.advance(61)
        #expect(await code(send) == "ok")
      }
      clock.advance(61)
      #expect(await code(send) == "resourceExhausted")  // 5 a day, the first included
      // The old OTP is dead, the newest works.
      var confirm = Cassetto_Deleghe_V1_ConfirmDelegaOtpRequest()
      confirm.id = d.id
      confirm.otp = "11111111"
      confirm.signatureDeclared = true
      let confirmOld = {
        _ = try await asPerson(intermediary) {
          try await service.confirmDelegaOtp(request: confirm, context: ctx())
        }
      }
      #expect(await code(confirmOld) == "failedPrecondition")
      confirm.otp = "66666666"  // refused calls draw an OTP too
      let active = try await asPerson(intermediary) {
        try await service.confirmDelegaOtp(request: confirm, context: ctx())
      }
      #expect(active.state == .attiva)
      #expect(
        active.effectiveFrom.map { ($0.year, $0.month, $0.day) } ?? (0, 0, 0) == (2025, 6, 10))
      let mails = try await database.read { db in
        try db.queryFirst("SELECT COUNT(*) AS n FROM outbox_messages")?.int("n")
      }
      #expect(mails == 5)
    }
  }

  @Test func pendingRequestExpiresWithItsOTP() async throws {
    try await withService(start: rome(2025, 6, 10, 8)) { service, database, clock in
      let d = try await request(service)
      clock.advance(7 * 24 * 3600 + 1)
      var confirm = Cassetto_Deleghe_V1_ConfirmDelegaOtpRequest()
      confirm.id = d.id
      confirm.otp = "11111111"
      confirm.signatureDeclared = true
      #expect(
        await code {
          _ = try await asPerson(intermediary) {
            try await service.confirmDelegaOtp(request: confirm, context: ctx())
          }
        } == "failedPrecondition")
      var get = Cassetto_Deleghe_V1_GetDelegaRequest()
      get.id = d.id
      let expired = try await asPerson(intermediary) {
        try await service.getDelega(request: get, context: ctx())
      }
      #expect(expired.state == .scaduta)
      #expect(expired.retentionEndDate?.year == 2030)
      // The worker's sweep expires another one without any call.
      let other = try await request(service)
      clock.advance(7 * 24 * 3600 + 1)
      let swept = try await DelegheExpiry.run(database: database, now: clock.now())
      #expect(swept == [other.id])
    }
  }

  @Test func activationIsEffectiveFromTheNextDayInRome() async throws {
    // 23:30 UTC on 10 June is 01:30 on 11 June in Rome: effective from 12 June.
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    let lateUTC = utc.date(
      from: DateComponents(year: 2025, month: 6, day: 10, hour: 23, minute: 30))!
    try await withService(start: lateUTC) { service, _, _ in
      var create = Cassetto_Deleghe_V1_CreateDelegaDipendenteRequest()
      create.subjectFiscalCode = company
      var scope = Cassetto_Deleghe_V1_DelegaScope()
      scope.matricola = privata.matricola
      create.scope = scope
      var delegate = Cassetto_Deleghe_V1_Party()
      delegate.fiscalCode = employee
      create.delegate = delegate
      create.decorrenza = protoDate(2025, 1, 1)
      let d = try await asPerson(owner) {
        try await service.createDelegaDipendente(request: create, context: ctx())
      }
      var activate = Cassetto_Deleghe_V1_ActivateDelegaRequest()
      activate.id = d.id
      let active = try await asPerson(owner) {
        try await service.activateDelega(request: activate, context: ctx())
      }
      #expect(
        active.effectiveFrom.map { ($0.year, $0.month, $0.day) } ?? (0, 0, 0) == (2025, 6, 12))
      // The decorrenza wins when it is later.
      create.decorrenza = protoDate(2025, 9, 1)
      let later = try await asPerson(owner) {
        try await service.createDelegaDipendente(request: create, context: ctx())
      }
      activate.id = later.id
      let laterActive = try await asPerson(owner) {
        try await service.activateDelega(request: activate, context: ctx())
      }
      #expect(
        laterActive.effectiveFrom.map { ($0.year, $0.month, $0.day) } ?? (0, 0, 0) == (2025, 9, 1))
    }
  }
}
