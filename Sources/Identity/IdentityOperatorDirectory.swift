import Access
import Contracts
import Storage

/// Identity's operator roles for the position visibility rule (`OperatorDirectory`): read on
/// every call, so a revoked role counts at once.
public struct IdentityOperatorDirectory: OperatorDirectory {
  let database: any Database

  public init(database: any Database) { self.database = database }

  public func isOperator(fiscalCode: String, sede: String) async throws -> Bool {
    try await database.read { db in try IdentityStore.holds(fiscalCode, .operator, at: sede, in: db)
    }
  }

  public func operatorSedi(fiscalCode: String) async throws -> Set<String> {
    try await database.read { db in
      try IdentityStore.sedi(where: fiscalCode, holds: .operator, in: db)
    }
  }
}
