import Access
import Contracts
import Foundation
import Identity
import RPC
import Storage
import Validation

/// 2026-11-24T09:00:00Z.
let testNow = Date(timeIntervalSince1970: 1_795_510_800)

func date(_ year: Int, _ month: Int, _ day: Int) -> CalendarDate {
  // Test constants only.
  try! CalendarDate(year: year, month: month, day: day)
}

func person(_ key: String) -> Caller {
  guard let persona = DemoData.persona(key) else { fatalError("no demo persona \(key)") }
  return .person(Person(codiceFiscale: persona.codiceFiscale))
}

func context(_ method: MethodDescriptor) -> ServerContext {
  ServerContext(
    method: method, requestMetadata: [:], deadline: nil,
    peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: false))
}

/// A fresh database with the Identity schema and the demo data, an Identity service on it with
/// a fixed clock; removed afterwards.
func withIdentityService(
  _ body: (IdentityService, SQLiteDatabase) async throws -> Void
) async throws {
  let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
    "identity-tests-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(atPath: directory) }
  let database = try await SQLiteDatabase.open(
    dataDirectory: directory, migrations: IdentitySchema.migrations, now: testNow)
  do {
    try await DemoData.loadIfEmpty(into: database, now: testNow)
    let service = IdentityService(
      database: database, clock: FixedClock(testNow), cutover: .circolare34)
    try await body(service, database)
    await database.close()
  } catch {
    await database.close()
    throw error
  }
}

/// The fields named by a validation error thrown by `body`, or `[]` if it did not throw one.
func violatedFields(_ body: () throws -> Void) -> [String] {
  do {
    try body()
    return []
  } catch let error as ValidationError {
    return error.violations.map(\.field)
  } catch {
    return ["unexpected: \(error)"]
  }
}
