import ArgumentParser
import Foundation
import Identity
import Security
import Server
import Storage
import Validation

/// `cassetto`: the command-line client of `cassetto-server` — everyday calls on the generated
/// clients (whoami, search, delega, export), development tokens, demo tokens, audit-chain
/// verification.
@main
struct Cassetto: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cassetto",
    abstract: "Cassetto command-line client: everyday calls, development tokens, audit verification.",
    discussion: """
      Client commands call the server at --server (or $CASSETTO_SERVER) with the token of \
      --token (or $CASSETTO_TOKEN); --json prints proto3 JSON instead of a table. A failed \
      call prints 'cassetto: STATUS: message' (and the field violations) on standard error \
      and exits with the gRPC status code (e.g. 5 for NOT_FOUND, 14 for UNAVAILABLE).
      """,
    subcommands: [
      WhoAmI.self, Search.self, Delega.self, Export.self, RichiestaCommand.self, Slots.self,
      Book.self, DevToken.self, Demo.self, AuditVerify.self,
    ]
  )
}

/// Options shared by the token commands.
struct TokenOptions: ParsableArguments {
  @Option(help: "The server's data directory (holds dev-signing-key.pem, created if missing).")
  var dataDir: String = "./data"

  @Option(help: "The 'aud' claim; must match the server's --token-audience.")
  var audience: String = Server.Configuration.defaultAudience

  @Option(help: "Token lifetime in seconds.")
  var lifetime: Int = 8 * 3600

  func signer() throws -> JWTSigner {
    let path = (dataDir as NSString).appendingPathComponent(DevelopmentKey.fileName)
    return try DevelopmentKey.loadOrCreate(at: path)
  }

  func token(
    for codiceFiscale: String, level: SPIDLevel = .level2, method: AuthenticationMethod = .spid,
    givenName: String?, familyName: String?, signer: JWTSigner
  ) throws -> String {
    try signer.sign(
      PersonToken(
        codiceFiscale: codiceFiscale, level: level, method: method, givenName: givenName,
        familyName: familyName, issuer: DevelopmentKey.issuer, audience: audience,
        issuedAt: Date(), lifetime: TimeInterval(lifetime)))
  }
}

struct DevToken: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dev-token",
    abstract: "Prints a person token signed with the data directory's development key.",
    discussion: """
      Only a server started with --dev on the same data directory accepts it. Level 1 can be \
      minted to see it refused.
      """)

  @Option(help: "Codice fiscale of the person (16 characters).")
  var cf: String

  @Option(help: "SPID level: 1, 2 or 3.")
  var level: Int = 2

  @Option(help: "Login method: spid, cie or cns.")
  var method: String = "spid"

  @Option(help: "Given name (given_name claim).")
  var name: String?

  @Option(help: "Family name (family_name claim).")
  var surname: String?

  @OptionGroup var options: TokenOptions

  func validate() throws {
    guard (try? CodiceFiscale(person: cf)) != nil else {
      throw ValidationError("--cf must be a valid 16-character codice fiscale")
    }
    guard SPIDLevel(rawValue: level) != nil else { throw ValidationError("--level is 1, 2 or 3") }
    guard AuthenticationMethod(rawValue: method) != nil else {
      throw ValidationError("--method is spid, cie or cns")
    }
  }

  func run() throws {
    let code = try CodiceFiscale(person: cf).value
    let token = try options.token(
      for: code, level: SPIDLevel(rawValue: level) ?? .level2,
      method: AuthenticationMethod(rawValue: method) ?? .spid, givenName: name,
      familyName: surname, signer: try options.signer())
    print(token)
  }
}

struct Demo: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Prints a ready-to-use token for each role of the demo data set.",
    discussion: """
      The demo data set is loaded by 'cassetto-server --dev' (or tools/run) into an empty \
      database. Use a token as: grpcurl -plaintext -H "authorization: Bearer TOKEN" \
      127.0.0.1:50051 cassetto.identity.v1.Identity/WhoAmI
      """)

  @Flag(help: "Print JSON: [{key, role, fiscal_code, given_name, family_name, token}].")
  var json = false

  @OptionGroup var options: TokenOptions

  func run() throws {
    let signer = try options.signer()
    var entries: [[String: String]] = []
    for persona in DemoData.personas {
      let token = try options.token(
        for: persona.codiceFiscale.value, givenName: persona.givenName,
        familyName: persona.familyName, signer: signer)
      entries.append([
        "key": persona.key, "role": persona.role, "fiscal_code": persona.codiceFiscale.value,
        "given_name": persona.givenName, "family_name": persona.familyName, "token": token,
      ])
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      print(String(decoding: try encoder.encode(entries), as: UTF8.self))
      return
    }
    print("Demo roles (sede 7500 SIENA unless noted). Organizations:")
    for organization in DemoData.organizations {
      print("  \(organization.fiscalCode.value)  \(organization.name)")
    }
    print("")
    for entry in entries {
      print(
        "# \(entry["key"] ?? ""): \(entry["given_name"] ?? "") \(entry["family_name"] ?? ""), \(entry["fiscal_code"] ?? "") — \(entry["role"] ?? "")"
      )
      print(
        "export TOKEN_\((entry["key"] ?? "").uppercased().replacingOccurrences(of: "-", with: "_"))='\(entry["token"] ?? "")'"
      )
    }
    print("")
    print(
      "Example: grpcurl -plaintext -H \"authorization: Bearer $TOKEN_OPERATOR\" 127.0.0.1:50051 cassetto.identity.v1.Identity/WhoAmI"
    )
  }
}

struct AuditVerify: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit-verify",
    abstract: "Walks the hash-chained audit log and reports the first broken event.",
    discussion: "Exit status 0 when the chain is intact, 1 when it is broken.")

  @Option(help: "The server's data directory.")
  var dataDir: String = "./data"

  @Option(help: "SQLite database file (default: DATA_DIR/cassetto.sqlite).")
  var database: String?

  func run() async throws {
    let configuration = Server.Configuration(dataDirectory: dataDir, databasePath: database)
    let db = try await SQLiteDatabase.open(
      path: configuration.resolvedDatabasePath, migrations: Application.migrations, now: Date())
    let result = try await AuditLog.verify(db)
    await db.close()
    switch result {
    case .intact(let count, let lastHash):
      let hex = lastHash.map { String(format: "%02x", $0) }.joined()
      print("audit chain intact: \(count) events, last hash \(hex)")
    case .broken(let sequence, let id, let reason):
      print("audit chain BROKEN at event \(sequence) (\(id)): \(reason)")
      throw ExitCode(1)
    }
  }
}
