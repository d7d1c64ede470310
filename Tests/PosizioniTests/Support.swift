import Access
import Contracts
import Foundation
import RPC
import Storage
import Synchronization
import Testing
import Validation

@testable import Posizioni

/// 2026-11-24T09:00:00Z.
let testNow = Date(timeIntervalSince1970: 1_795_510_800)

func context(_ method: MethodDescriptor) -> ServerContext {
  ServerContext(
    method: method, requestMetadata: [:], deadline: nil,
    peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: false))
}

/// A client stream that yields `messages` in order.
func stream<M: ProtoMessage>(_ messages: [M]) -> RequestStream<M> {
  let queue = Mutex(messages.map { $0.serializedBytes() }[...])
  return RequestStream(nextRaw: { queue.withLock { $0.popFirst() } })
}

/// Operator roles given by a table (fiscal code → sedi).
struct FixedOperators: OperatorDirectory {
  var roles: [String: Set<String>]
  func isOperator(fiscalCode: String, sede: String) async throws -> Bool {
    roles[fiscalCode]?.contains(sede) ?? false
  }
  func operatorSedi(fiscalCode: String) async throws -> Set<String> { roles[fiscalCode] ?? [] }
}

/// A 16-character code from its first 15 characters.
func personCF(_ first15: String) -> String {
  first15 + String(CodiceFiscale.checkCharacter(for: first15) ?? "X")
}

func numericCF(_ first10: String) -> String {
  first10 + String(PartitaIVA.checkDigit(for: first10) ?? "0")
}

let marioRossi = personCF("RSSMRA80A01H501")
let francescaRomano = personCF("RMNFNC72L48I726")
let operatorSiena = personCF("VRDLCU75C15I726")
let stranger = personCF("FRRGPP92R03I726")

let ingestor = Caller.service(ServiceIdentity(name: "ledger", permissions: [.posizioniIngest]))
let reader = Caller.service(ServiceIdentity(name: "reports", permissions: [.posizioniRead]))

func person(_ cf: String) -> Caller {
  // Test constants only.
  .person(Person(codiceFiscale: try! CodiceFiscale(person: cf)))
}

/// A fresh database with the Posizioni schema, a service on it (operator 7500 SIENA:
/// `operatorSiena`) and, if asked, the demo data.
func withPosizioni(
  demo: Bool = true, batchSize: Int = 20_000,
  _ body: (PosizioniService, SQLiteDatabase) async throws -> Void
) async throws {
  let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
    "posizioni-tests-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let database = try await SQLiteDatabase.open(
    dataDirectory: directory, migrations: PosizioniSchema.migrations, now: testNow)
  do {
    let service = PosizioniService(
      database: database, clock: FixedClock(testNow),
      access: BasicPositionAccess(operators: FixedOperators(roles: [operatorSiena: ["7500"]])),
      ingestBatchSize: batchSize)
    if demo { #expect(try await service.loadDemoDataIfEmpty()) }
    try await body(service, database)
    await database.close()
  } catch {
    await database.close()
    throw error
  }
}

func date(_ y: Int32, _ m: Int32, _ d: Int32) -> Google_Type_Date {
  var date = Google_Type_Date()
  date.year = y
  date.month = m
  date.day = d
  return date
}

func subjectRecord(_ cf: String, _ name: String, rep: String) -> Cassetto_Posizioni_V1_IngestRecord
{
  var subject = Cassetto_Posizioni_V1_Subject()
  subject.fiscalCode = cf
  subject.name = name
  subject.nature = .private
  subject.legalRepresentative = rep
  var record = Cassetto_Posizioni_V1_IngestRecord()
  record.subject = subject
  return record
}

func positionRecord(_ matricola: String, _ subject: String, sede: String = "7000")
  -> Cassetto_Posizioni_V1_IngestRecord
{
  var position = Cassetto_Posizioni_V1_Posizione()
  position.matricola = matricola
  position.subjectFiscalCode = subject
  position.fund = .privatiUniemens
  position.sede = sede
  position.state = .attiva
  position.startDate = date(2020, 1, 1)
  var record = Cassetto_Posizioni_V1_IngestRecord()
  record.posizione = position
  return record
}

func paymentRecord(
  _ matricola: String, _ reference: String, period: String = "2025-01", cents: Int64 = 10_000
) -> Cassetto_Posizioni_V1_IngestRecord {
  var payment = Cassetto_Posizioni_V1_Versamento()
  payment.matricola = matricola
  payment.channel = .f24
  payment.reference = reference
  payment.period = period
  payment.amountCents = cents
  payment.paidOn = date(2025, 2, 16)
  var record = Cassetto_Posizioni_V1_IngestRecord()
  record.versamento = payment
  return record
}

// A simple visibility rule for Posizioni's own tests (owners, operators of the sede,
// back-ends granted `posizioni.read`; no deleghe): the server wires the full Authorizer.

/// Operator roles per sede (a test double stands in for the Identity tables).
protocol OperatorDirectory: Sendable {
  /// Whether `fiscalCode` holds an active operator role at `sede`.
  func isOperator(fiscalCode: String, sede: String) async throws -> Bool
  /// The sedi where `fiscalCode` holds an active operator role.
  func operatorSedi(fiscalCode: String) async throws -> Set<String>
}

/// Owners, operators of the sede, back-ends granted `posizioni.read`; deny by default.
/// Deleghe are not considered (the deleghe Authorizer extends this rule).
struct BasicPositionAccess: PositionAccess {
  let operators: any OperatorDirectory

  init(operators: any OperatorDirectory) { self.operators = operators }

  func scope(for caller: Caller, at instant: Date) async throws -> PositionScope {
    switch caller {
    case .anonymous: return .none
    case .service(let service):
      return service.has(.posizioniRead) ? PositionScope(all: true) : .none
    case .person(let person):
      let cf = person.codiceFiscale.value
      return PositionScope(owner: cf, sedi: try await operators.operatorSedi(fiscalCode: cf))
    }
  }

  func mayRead(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> Bool {
    switch caller {
    case .anonymous: return false
    case .service(let service): return service.has(.posizioniRead)
    case .person(let person):
      let cf = person.codiceFiscale.value
      if subject.isOwner(cf) { return true }
      return try await operators.isOperator(fiscalCode: cf, sede: position.sedeCode)
    }
  }
}
