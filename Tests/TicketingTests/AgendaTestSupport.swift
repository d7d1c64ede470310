import Access
import Contracts
import Foundation
import RPC
import Storage
import Synchronization
import Testing
import Validation

@testable import Ticketing

// Fixtures of the AgendaService tests (names prefixed `Agenda` so they never collide with
// RichiesteService's tests in the same target).

/// A clock the test moves.
final class AgendaClock: CallClock {
  let instant: Mutex<Date>
  init(_ start: Date) { instant = Mutex(start) }
  func now() -> Date { instant.withLock { $0 } }
  func advance(_ seconds: TimeInterval) { instant.withLock { $0 += seconds } }
}

struct AgendaFakePositions: PositionDirectory {
  var subjects: [String: SubjectInfo]
  var positions: [String: PositionInfo]
  func subject(fiscalCode: String) async throws -> SubjectInfo? { subjects[fiscalCode] }
  func position(matricola: String) async throws -> PositionInfo? { positions[matricola] }
  func positions(ofSubject fiscalCode: String) async throws -> [PositionInfo] {
    positions.values.filter { $0.subjectFiscalCode == fiscalCode }.sorted {
      $0.matricola < $1.matricola
    }
  }
}

struct AgendaFakeEnablements: EnablementDirectory {
  var people: [String: PersonEnablements]
  func enablements(of fiscalCode: String) async throws -> PersonEnablements {
    people[fiscalCode] ?? PersonEnablements()
  }
}

struct AgendaFakeDeleghe: DelegaDirectory {
  var all: [DelegaGrant]
  func deleghe(delegate fiscalCode: String, subject: String) async throws -> [DelegaGrant] {
    all.filter { $0.delegateFiscalCode == fiscalCode && $0.subjectFiscalCode == subject }
  }
  func deleghe(delegate fiscalCode: String) async throws -> [DelegaGrant] {
    all.filter { $0.delegateFiscalCode == fiscalCode }
  }
  func delega(id: String) async throws -> DelegaGrant? { all.first { $0.id == id } }
}

enum AgendaFixture {
  /// Legal representative of `company`.
  static let owner = "RSSMRA80A01H501U"
  /// Holds an ATTIVA delega a dipendente on `matricola`.
  static let employee = "BNCLRA85C41F205P"
  static let stranger = "GLLSRA75E50F839L"
  /// Operator of sede 7000.
  static let operatorCF = "MRNLCU60A01D612B"
  /// Operator of sede 8000.
  static let otherOperator = "VRDGPP70B12L219P"
  /// Operator of both sedi.
  static let twoSediOperator = "NREFNC90D15H501F"
  static let company = "01234560017"
  /// A position of `company` managed by sede 7000.
  static let matricola = "7012345601"
  /// A position of `company` managed by sede 8000.
  static let otherMatricola = "8012345601"
  /// 2026-06-10 10:00 in Rome.
  static let start: Date = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = institutionTimeZone
    return calendar.date(from: DateComponents(year: 2026, month: 6, day: 10, hour: 10))!
  }()

  static func authorizer() -> Authorizer {
    Authorizer(
      positions: AgendaFakePositions(
        subjects: [
          company: SubjectInfo(
            fiscalCode: company, name: "ACME", nature: .privateEmployer,
            legalRepresentative: owner)
        ],
        positions: [
          matricola: PositionInfo(
            matricola: matricola, subjectFiscalCode: company, fund: .privatiUniEmens,
            sedeCode: "7000", state: .attiva),
          otherMatricola: PositionInfo(
            matricola: otherMatricola, subjectFiscalCode: company, fund: .privatiUniEmens,
            sedeCode: "8000", state: .attiva),
        ]),
      enablements: AgendaFakeEnablements(people: [
        employee: PersonEnablements(profileScopes: [.contribuzionePrivati]),
        operatorCF: PersonEnablements(operatorSedi: ["7000"]),
        otherOperator: PersonEnablements(operatorSedi: ["8000"]),
        twoSediOperator: PersonEnablements(operatorSedi: ["7000", "8000"]),
      ]),
      deleghe: AgendaFakeDeleghe(all: [
        DelegaGrant(
          id: "d1", kind: .dipendente, isActive: true, subjectFiscalCode: company,
          matricola: matricola, delegantFiscalCode: owner, delegateFiscalCode: employee,
          effectiveFrom: try? CalendarDate(year: 2025, month: 1, day: 1))
      ]),
      cutover: .circolare34)
  }
}

/// A fresh database with the Ticketing schema and an AgendaService on it; removed afterwards.
func withAgenda(
  start: Date = AgendaFixture.start,
  _ body: (AgendaService, SQLiteDatabase, AgendaClock) async throws -> Void
) async throws {
  let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
    "agenda-tests-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let clock = AgendaClock(start)
  let database = try await SQLiteDatabase.open(
    dataDirectory: directory, migrations: TicketingSchema.migrations, now: start)
  let service = AgendaService(
    database: database, clock: clock, authorizer: AgendaFixture.authorizer())
  do {
    try await body(service, database, clock)
    await database.close()
  } catch {
    await database.close()
    throw error
  }
}

func agendaPerson(_ cf: String) -> Caller {
  .person(Person(codiceFiscale: try! CodiceFiscale(cf)))
}

func agendaService(_ name: String, _ permissions: Set<Permission> = []) -> Caller {
  .service(ServiceIdentity(name: name, permissions: permissions))
}

/// Runs `body` as `caller`.
func agendaAs<T: Sendable>(_ caller: Caller, _ body: () async throws -> T) async throws -> T {
  try await Caller.$current.withValue(caller) { try await body() }
}

func agendaContext() -> ServerContext {
  ServerContext(
    method: Cassetto_Ticketing_V1_Ticketing.Method.listComunicazioni, requestMetadata: [:],
    deadline: nil, peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: false))
}

/// How `body` ended: "ok", the access refusal, "invalid:<fields>", or the TicketingError case
/// with its message.
func agendaOutcome(_ caller: Caller, _ body: () async throws -> Void) async -> String {
  do {
    try await Caller.$current.withValue(caller) { try await body() }
    return "ok"
  } catch let error as AccessError {
    switch error {
    case .notFound: return "notFound"
    case .permissionDenied: return "permissionDenied"
    case .unauthenticated: return "unauthenticated"
    }
  } catch let error as ValidationError {
    return "invalid:" + error.violations.map(\.field).joined(separator: ",")
  } catch let error as TicketingError {
    switch error {
    case .failedPrecondition(let message): return "failedPrecondition: \(message)"
    case .resourceExhausted(let message): return "resourceExhausted: \(message)"
    case .alreadyExists: return "alreadyExists"
    case .unimplemented: return "unimplemented"
    }
  } catch {
    return "unexpected: \(error)"
  }
}

func agendaTimestamp(_ date: Date) -> Google_Protobuf_Timestamp {
  var timestamp = Google_Protobuf_Timestamp()
  timestamp.seconds = Int64(date.timeIntervalSince1970.rounded(.down))
  return timestamp
}

/// Audit events of `action` (an RPC name) with their outcome, in order.
func agendaAudit(_ database: any Database, _ method: String) async throws -> [String] {
  try await database.read { db in
    try db.query(
      "SELECT outcome FROM audit_events WHERE action = ? ORDER BY seq",
      ["/cassetto.ticketing.v1.Ticketing/\(method)"]
    ).map { try $0.string("outcome") }
  }
}
