import ArgumentParser
import Contracts
import Foundation
import RPC

/// `cassetto delega …`: the delega lifecycle on Deleghe.
struct Delega: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Creates, activates, confirms, revokes and lists deleghe.",
    subcommands: [
      DelegaCreate.self, DelegaActivate.self, DelegaConfirmOtp.self, DelegaRevoke.self,
      DelegaList.self, DelegaGet.self,
    ])
}

/// Prints one delega (table or JSON).
func show(_ delega: Cassetto_Deleghe_V1_Delega, json: Bool) {
  if json {
    printJSON(delegaJSON(delega))
    return
  }
  var pairs: [(String, String)] = [
    ("id", delega.id), ("kind", enumName(delega.kind)), ("state", enumName(delega.state)),
    ("subject", delega.subjectFiscalCode), ("scope", scopeText(delega.scope)),
    ("delegant", partyText(delega.delegant)), ("delegate", partyText(delega.delegate)),
  ]
  if !delega.parentId.isEmpty { pairs.append(("parent", delega.parentId)) }
  pairs.append(("decorrenza", text(delega.decorrenza)))
  if delega.endDate != nil { pairs.append(("end date", text(delega.endDate))) }
  if delega.effectiveFrom != nil { pairs.append(("effective from", text(delega.effectiveFrom))) }
  if delega.otpExpireTime != nil {
    pairs.append(("OTP expires", text(delega.otpExpireTime)))
    pairs.append(("OTP failed attempts", String(delega.otpFailedAttempts)))
  }
  if delega.endTime != nil { pairs.append(("ended", text(delega.endTime))) }
  print(keyValues(pairs))
}

func scopeText(_ scope: Cassetto_Deleghe_V1_DelegaScope?) -> String {
  switch scope?.target {
  case .matricola(let matricola): matricola
  case .allPositions: "all positions"
  case nil: ""
  }
}

func partyText(_ party: Cassetto_Deleghe_V1_Party?) -> String {
  guard let party else { return "" }
  let name = "\(party.givenName) \(party.familyName)".trimmingCharacters(in: .whitespaces)
  return name.isEmpty ? party.fiscalCode : "\(party.fiscalCode) (\(name))"
}

func delegaJSON(_ delega: Cassetto_Deleghe_V1_Delega) -> JSONObject {
  func party(_ party: Cassetto_Deleghe_V1_Party?) -> JSONObject {
    var object = JSONObject()
    object["fiscalCode"] = party?.fiscalCode
    object["givenName"] = party?.givenName
    object["familyName"] = party?.familyName
    return object
  }
  var object = JSONObject()
  object["id"] = delega.id
  object["kind"] = enumJSON(delega.kind, "DELEGA_KIND")
  object["state"] = enumJSON(delega.state, "DELEGA_STATE")
  object["subjectFiscalCode"] = delega.subjectFiscalCode
  var scope = JSONObject()
  switch delega.scope?.target {
  case .matricola(let matricola): scope["matricola"] = matricola
  case .allPositions(let all): scope["allPositions"] = all
  case nil: break
  }
  object["scope"] = scope
  object["delegant"] = party(delega.delegant)
  object["delegate"] = party(delega.delegate)
  object["parentId"] = delega.parentId
  object["decorrenza"] = text(delega.decorrenza)
  object["endDate"] = text(delega.endDate)
  object["effectiveFrom"] = text(delega.effectiveFrom)
  object["createTime"] = text(delega.createTime)
  object["activateTime"] = text(delega.activateTime)
  object["endTime"] = text(delega.endTime)
  object["otpExpireTime"] = text(delega.otpExpireTime)
  object["otpFailedAttempts"] = Int(delega.otpFailedAttempts)
  object["otpSentTime"] = text(delega.otpSentTime)
  object["signatureDeclared"] = delega.signatureDeclared
  object["signatureDeclareTime"] = text(delega.signatureDeclareTime)
  object["retentionEndDate"] = text(delega.retentionEndDate)
  object["notifiedMatricola"] = delega.notifiedMatricola
  return object
}

/// A fresh idempotency key, so a command retried by hand is a new request unless the user
/// passes the same `--request-id`.
func newRequestID() -> String { UUID().uuidString.lowercased() }

struct DelegaCreate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create",
    abstract: "Delegates a person (you are the subject's owner) or, with --intermediario, asks the subject for a delega (you are the intermediary).",
    discussion: """
      To an employee: cassetto delega create --subject CF --matricola M --delegate CF \
      [--delegate-name NAME --delegate-surname SURNAME] (state DA_ATTIVARE; then 'delega activate').
      As an intermediary: cassetto delega create --intermediario --subject CF --all \
      --delegant CF (state IN_ATTESA_OTP; the subject receives the OTP by PEC; then 'delega confirm-otp').
      """)

  @Option(help: "Fiscal code of the subject whose positions are delegated.")
  var subject: String

  @Option(help: "Delegate one position (else --all).")
  var matricola: String?

  @Flag(help: "Delegate every position of the subject.")
  var all = false

  @Flag(help: "Request a delega as an intermediary (confirmed by OTP).")
  var intermediario = false

  @Option(help: "Fiscal code of the delegate (to an employee).")
  var delegate: String?

  @Option(help: "Given name of the delegate.")
  var delegateName: String?

  @Option(help: "Family name of the delegate.")
  var delegateSurname: String?

  @Option(help: "Fiscal code of the delegant as on the signed form (with --intermediario).")
  var delegant: String?

  @Option(help: "Given name of the delegant.")
  var delegantName: String?

  @Option(help: "Family name of the delegant.")
  var delegantSurname: String?

  @Option(help: "First day (decorrenza), YYYY-MM-DD; default today.")
  var from: String?

  @Option(help: "Last day in force, YYYY-MM-DD; default open-ended.")
  var to: String?

  @Option(help: "Idempotency key (default: a new one).")
  var requestId: String?

  @OptionGroup var connection: ConnectionOptions

  func validate() throws {
    if (matricola == nil) == !all { throw ValidationError("give exactly one of --matricola and --all") }
    if intermediario {
      guard delegant != nil else { throw ValidationError("--intermediario needs --delegant") }
      if delegate != nil { throw ValidationError("--delegate is for a delega to an employee") }
    } else {
      guard delegate != nil else { throw ValidationError("--delegate is required (or --intermediario)") }
      if delegant != nil { throw ValidationError("--delegant goes with --intermediario") }
    }
    if let from, Google_Type_Date(parsing: from) == nil { throw ValidationError("--from is YYYY-MM-DD") }
    if let to, Google_Type_Date(parsing: to) == nil { throw ValidationError("--to is YYYY-MM-DD") }
  }

  func run() async throws {
    var scope = Cassetto_Deleghe_V1_DelegaScope()
    if let matricola { scope.matricola = matricola } else { scope.allPositions = true }
    let decorrenza = from.flatMap(Google_Type_Date.init(parsing:)) ?? Self.today()
    let endDate = to.flatMap(Google_Type_Date.init(parsing:))
    let requestID = requestId ?? newRequestID()
    let delega: Cassetto_Deleghe_V1_Delega
    if intermediario {
      var request = Cassetto_Deleghe_V1_RequestDelegaIntermediarioRequest()
      request.subjectFiscalCode = subject
      request.scope = scope
      var party = Cassetto_Deleghe_V1_Party()
      party.fiscalCode = delegant ?? ""
      party.givenName = delegantName ?? ""
      party.familyName = delegantSurname ?? ""
      request.delegant = party
      request.decorrenza = decorrenza
      request.endDate = endDate
      request.requestId = requestID
      delega = try await connection.call { context in
        try await Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
          .requestDelegaIntermediario(request, metadata: context.metadata, options: context.options)
          .message
      }
    } else {
      var request = Cassetto_Deleghe_V1_CreateDelegaDipendenteRequest()
      request.subjectFiscalCode = subject
      request.scope = scope
      var party = Cassetto_Deleghe_V1_Party()
      party.fiscalCode = delegate ?? ""
      party.givenName = delegateName ?? ""
      party.familyName = delegateSurname ?? ""
      request.delegate = party
      request.decorrenza = decorrenza
      request.endDate = endDate
      request.requestId = requestID
      delega = try await connection.call { context in
        try await Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
          .createDelegaDipendente(request, metadata: context.metadata, options: context.options)
          .message
      }
    }
    show(delega, json: connection.json)
  }

  /// Today in Europe/Rome (the calendar the deleghe rules use).
  static func today() -> Google_Type_Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "Europe/Rome") ?? .gmt
    let parts = calendar.dateComponents([.year, .month, .day], from: Date())
    var date = Google_Type_Date()
    date.year = Int32(parts.year ?? 1970)
    date.month = Int32(parts.month ?? 1)
    date.day = Int32(parts.day ?? 1)
    return date
  }
}

struct DelegaActivate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "activate", abstract: "Activates a delega you granted (DA_ATTIVARE → ATTIVA).")

  @Argument(help: "The delega id.") var id: String
  @Option(help: "Idempotency key (default: a new one).") var requestId: String?
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Deleghe_V1_ActivateDelegaRequest()
    request.id = id
    request.requestId = requestId ?? newRequestID()
    let delega = try await connection.call { context in
      try await Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
        .activateDelega(request, metadata: context.metadata, options: context.options).message
    }
    show(delega, json: connection.json)
  }
}

struct DelegaConfirmOtp: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "confirm-otp",
    abstract: "Confirms an intermediary's delega with the OTP the subject received (IN_ATTESA_OTP → ATTIVA).")

  @Argument(help: "The delega id.") var id: String

  @Option(help: "The OTP (8 digits) from the subject's PEC.") var otp: String

  @Flag(help: "Declare, under your responsibility, that the delegant signed the form (required).")
  var signatureDeclared = false

  @Option(help: "Idempotency key (default: a new one).") var requestId: String?
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Deleghe_V1_ConfirmDelegaOtpRequest()
    request.id = id
    request.otp = otp
    request.signatureDeclared = signatureDeclared
    request.requestId = requestId ?? newRequestID()
    let delega = try await connection.call { context in
      try await Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
        .confirmDelegaOtp(request, metadata: context.metadata, options: context.options).message
    }
    show(delega, json: connection.json)
  }
}

struct DelegaRevoke: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "revoke",
    abstract: "Ends a delega: revoked by the delegant, renounced by the delegate.")

  @Argument(help: "The delega id.") var id: String
  @Option(help: "Why (kept in the audit log).") var reason: String?
  @Option(help: "Idempotency key (default: a new one).") var requestId: String?
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Deleghe_V1_RevokeDelegaRequest()
    request.id = id
    request.reason = reason ?? ""
    request.requestId = requestId ?? newRequestID()
    let delega = try await connection.call { context in
      try await Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
        .revokeDelega(request, metadata: context.metadata, options: context.options).message
    }
    show(delega, json: connection.json)
  }
}

struct DelegaGet: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "get", abstract: "Shows one delega.")

  @Argument(help: "The delega id.") var id: String
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Deleghe_V1_GetDelegaRequest()
    request.id = id
    let delega = try await connection.call { context in
      try await Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
        .getDelega(request, metadata: context.metadata, options: context.options).message
    }
    show(delega, json: connection.json)
  }
}

struct DelegaList: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "Lists the deleghe you granted, received or (operators) of your sedi.")

  @Option(help: "delegant, delegate or sede-operator.") var role: String = "delegant"
  @Option(help: ArgumentHelp("State: \(enumChoices(Cassetto_Deleghe_V1_DelegaState.self)).", valueName: "state"))
  var state: String?
  @Option(help: "Only deleghe of this subject.") var subject: String?
  @Option(help: "Only deleghe covering this position.") var matricola: String?
  @Option(help: "Results per page.") var pageSize: Int32 = 0
  @Option(help: "Continue from this page token.") var pageToken: String?
  @Flag(help: "Follow every page.") var all = false
  @OptionGroup var connection: ConnectionOptions

  func validate() throws {
    if (parseEnum(role, "LIST_ROLE") as Cassetto_Deleghe_V1_ListRole?) == nil {
      throw ValidationError("--role must be one of \(enumChoices(Cassetto_Deleghe_V1_ListRole.self))")
    }
    if let state, (parseEnum(state, "DELEGA_STATE") as Cassetto_Deleghe_V1_DelegaState?) == nil {
      throw ValidationError("--state must be one of \(enumChoices(Cassetto_Deleghe_V1_DelegaState.self))")
    }
  }

  func run() async throws {
    var request = Cassetto_Deleghe_V1_ListDelegheRequest()
    if let value: Cassetto_Deleghe_V1_ListRole = parseEnum(role, "LIST_ROLE") { request.role = value }
    if let state, let value: Cassetto_Deleghe_V1_DelegaState = parseEnum(state, "DELEGA_STATE") {
      request.state = value
    }
    request.subjectFiscalCode = subject ?? ""
    request.matricola = matricola ?? ""
    request.pageSize = pageSize
    request.pageToken = pageToken ?? ""
    let all = self.all
    let (deleghe, next) = try await connection.call { context in
      let client = Cassetto_Deleghe_V1_DelegheClient(channel: context.channel)
      var found: [Cassetto_Deleghe_V1_Delega] = []
      var request = request
      while true {
        let page = try await client.listDeleghe(
          request, metadata: context.metadata, options: context.options
        ).message
        found += page.deleghe
        guard all, !page.nextPageToken.isEmpty else { return (found, page.nextPageToken) }
        request.pageToken = page.nextPageToken
      }
    }
    if connection.json {
      var object = JSONObject()
      object["deleghe"] = deleghe.map(delegaJSON)
      object["nextPageToken"] = next
      printJSON(object)
      return
    }
    var table = Table("ID", "KIND", "STATE", "SUBJECT", "SCOPE", "DELEGANT", "DELEGATE", "FROM", "TO")
    for delega in deleghe {
      table.add(
        delega.id, enumName(delega.kind), enumName(delega.state), delega.subjectFiscalCode,
        scopeText(delega.scope), delega.delegant?.fiscalCode ?? "",
        delega.delegate?.fiscalCode ?? "", text(delega.effectiveFrom ?? delega.decorrenza),
        text(delega.endDate))
    }
    print(table.render())
    if !next.isEmpty { printError("more: --page-token \(next)") }
  }
}
