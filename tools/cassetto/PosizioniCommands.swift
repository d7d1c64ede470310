import ArgumentParser
import Contracts
import Foundation
import RPC

/// `cassetto search`: Posizioni/SearchPosizioni over the positions the caller may see.
struct Search: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Searches the contribution positions you may see.",
    discussion: "Filters combine with AND. Without --all, one page is printed and the next page's token, if any, on standard error.")

  @Option(name: .customLong("cf"), help: "Fiscal code of the subject (company or public body).")
  var fiscalCode: String?

  @Option(help: "Position number.")
  var matricola: String?

  @Option(help: "Prefix of the subject's name (at least 2 characters).")
  var name: String?

  @Option(help: ArgumentHelp("Fund: \(enumChoices(Cassetto_Common_V1_Fund.self)).", valueName: "fund"))
  var fund: String?

  @Option(help: ArgumentHelp("State: \(enumChoices(Cassetto_Posizioni_V1_PosizioneState.self)).", valueName: "state"))
  var state: String?

  @Option(help: "Results per page (1–100; default 10).")
  var pageSize: Int32 = 0

  @Option(help: "Continue from this page token.")
  var pageToken: String?

  @Flag(help: "Follow every page.")
  var all = false

  @OptionGroup var connection: ConnectionOptions

  func validate() throws {
    if let fund, (parseEnum(fund, "FUND") as Cassetto_Common_V1_Fund?) == nil {
      throw ValidationError("--fund must be one of \(enumChoices(Cassetto_Common_V1_Fund.self))")
    }
    if let state, (parseEnum(state, "POSIZIONE_STATE") as Cassetto_Posizioni_V1_PosizioneState?) == nil {
      throw ValidationError(
        "--state must be one of \(enumChoices(Cassetto_Posizioni_V1_PosizioneState.self))")
    }
  }

  func run() async throws {
    var request = Cassetto_Posizioni_V1_SearchPosizioniRequest()
    request.fiscalCode = fiscalCode ?? ""
    request.matricola = matricola ?? ""
    request.namePrefix = name ?? ""
    if let fund, let value: Cassetto_Common_V1_Fund = parseEnum(fund, "FUND") { request.fund = value }
    if let state, let value: Cassetto_Posizioni_V1_PosizioneState = parseEnum(state, "POSIZIONE_STATE") {
      request.state = value
    }
    request.pageSize = pageSize
    request.pageToken = pageToken ?? ""
    let all = self.all
    let (positions, next) = try await connection.call { context in
      let client = Cassetto_Posizioni_V1_PosizioniClient(channel: context.channel)
      var found: [Cassetto_Posizioni_V1_Posizione] = []
      var request = request
      while true {
        let page = try await client.searchPosizioni(
          request, metadata: context.metadata, options: context.options
        ).message
        found += page.posizioni
        guard all, !page.nextPageToken.isEmpty else { return (found, page.nextPageToken) }
        request.pageToken = page.nextPageToken
      }
    }
    if connection.json {
      var object = JSONObject()
      object["posizioni"] = positions.map(Self.json)
      object["nextPageToken"] = next
      printJSON(object)
      return
    }
    var table = Table("MATRICOLA", "SUBJECT", "NAME", "FUND", "SEDE", "STATE", "DESCRIPTION")
    for position in positions {
      table.add(
        position.matricola, position.subjectFiscalCode, position.subject?.name ?? "",
        enumName(position.fund), position.sede, enumName(position.state), position.description)
    }
    print(table.render())
    if !next.isEmpty { printError("more: --page-token \(next)") }
  }

  static func json(_ position: Cassetto_Posizioni_V1_Posizione) -> JSONObject {
    var object = JSONObject()
    object["matricola"] = position.matricola
    object["subjectFiscalCode"] = position.subjectFiscalCode
    object["fund"] = enumJSON(position.fund, "FUND")
    object["sede"] = position.sede
    object["description"] = position.description
    object["state"] = enumJSON(position.state, "POSIZIONE_STATE")
    object["startDate"] = text(position.startDate)
    object["endDate"] = text(position.endDate)
    if let subject = position.subject {
      var entry = JSONObject()
      entry["fiscalCode"] = subject.fiscalCode
      entry["name"] = subject.name
      entry["nature"] = enumJSON(subject.nature, "NATURE")
      entry["legalRepresentative"] = subject.legalRepresentative
      entry["altriResponsabili"] = subject.altriResponsabili
      entry["pec"] = subject.pec
      entry["sede"] = subject.sede
      object["subject"] = entry
    }
    return object
  }
}

/// `cassetto export`: Posizioni/ExportFascicolo, the company dossier as PDF, to a file.
struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Saves the company dossier (fascicolo aziendale) as a PDF file.",
    discussion: "Give the subject (--cf) or one of its positions (--matricola). The file is written only when the whole dossier arrived.")

  @Option(name: .customLong("cf"), help: "Fiscal code of the subject.")
  var fiscalCode: String?

  @Option(help: "A position of the subject.")
  var matricola: String?

  @Option(name: [.short, .customLong("output")], help: "The PDF file to write ('-' for standard output).")
  var output: String

  @OptionGroup var connection: ConnectionOptions

  func validate() throws {
    if (fiscalCode == nil) == (matricola == nil) {
      throw ValidationError("give exactly one of --cf and --matricola")
    }
  }

  func run() async throws {
    var request = Cassetto_Posizioni_V1_ExportFascicoloRequest()
    request.subjectFiscalCode = fiscalCode ?? ""
    request.matricola = matricola ?? ""
    let bytes = try await connection.call { context in
      let call = try await Cassetto_Posizioni_V1_PosizioniClient(channel: context.channel)
        .exportFascicolo(request, metadata: context.metadata, options: context.options)
      var data: [UInt8] = []
      for try await chunk in call.responses { data += chunk.data }
      return data
    }
    if output == "-" {
      FileHandle.standardOutput.write(Data(bytes))
      return
    }
    do {
      try Data(bytes).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      printError("cassetto: cannot write \(output): \(error.localizedDescription)")
      throw ExitCode.failure
    }
    if connection.json {
      var object = JSONObject()
      object["file"] = output
      object["bytes"] = bytes.count
      printJSON(object)
    } else {
      print("wrote \(output) (\(bytes.count) bytes)")
    }
  }
}
