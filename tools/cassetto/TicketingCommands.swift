import ArgumentParser
import Contracts
import Foundation
import RPC

/// `cassetto richiesta …`: requests to the sede (Ticketing).
struct RichiestaCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "richiesta",
    abstract: "Creates, shows and watches requests (richieste / quesiti) to the sede.",
    subcommands: [RichiestaCreate.self, RichiestaGet.self, RichiestaWatch.self])
}

func richiestaJSON(_ r: Cassetto_Ticketing_V1_Richiesta) -> JSONObject {
  var object = JSONObject()
  object["id"] = r.id
  object["protocolNumber"] = r.protocolNumber
  object["matricola"] = r.matricola
  object["subjectCode"] = r.subjectCode
  object["subjectTitle"] = r.subjectTitle
  object["text"] = r.text
  object["attachments"] = r.attachments.map { a in
    var entry = JSONObject()
    entry["fileName"] = a.fileName
    entry["size"] = String(a.size)
    entry["contentType"] = a.contentType
    entry["sha256"] = a.sha256
    return entry
  }
  object["state"] = enumJSON(r.state, "RICHIESTA_STATE")
  if r.esito != .unspecified { object["esito"] = enumJSON(r.esito, "ESITO") }
  if let sede = r.sede {
    var entry = JSONObject()
    entry["code"] = sede.code
    entry["name"] = sede.name
    object["sede"] = entry
  }
  object["requesterFiscalCode"] = r.requesterFiscalCode
  object["assignedOperator"] = r.assignedOperator
  object["openedAt"] = text(r.openedAt)
  object["updatedAt"] = text(r.updatedAt)
  object["closedAt"] = text(r.closedAt)
  object["appointmentEligible"] = r.appointmentEligible
  return object
}

func showRichiesta(_ r: Cassetto_Ticketing_V1_Richiesta, json: Bool) {
  if json {
    printJSON(richiestaJSON(r))
    return
  }
  var pairs: [(String, String)] = [
    ("id", r.id), ("protocol", r.protocolNumber), ("state", enumName(r.state)),
    ("matricola", r.matricola), ("subject", "\(r.subjectCode) \(r.subjectTitle)"),
    ("sede", r.sede.map { "\($0.code) \($0.name)" } ?? ""), ("opened", text(r.openedAt)),
  ]
  if r.esito != .unspecified { pairs.append(("esito", enumName(r.esito))) }
  if !r.assignedOperator.isEmpty { pairs.append(("operator", r.assignedOperator)) }
  for attachment in r.attachments {
    pairs.append(("attachment", "\(attachment.fileName) (\(attachment.size) bytes, \(attachment.contentType))"))
  }
  print(keyValues(pairs))
}

struct RichiestaCreate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "create",
    abstract: "Opens a request on a position, with attachments streamed in chunks.")

  @Option(help: "The position the request is about.") var matricola: String
  @Option(name: .customLong("subject"), help: "The subject code (ListSubjects).") var subjectCode: String
  @Option(help: "The text of the request.") var text: String
  @Option(name: .customLong("attach"), help: "A file to attach; repeatable.") var attachments: [String] = []
  @Option(help: "Contact e-mail.") var email: String?
  @Option(help: "Contact mobile number.") var mobile: String?
  @Flag(help: "Consent to e-mail notifications.") var consentEmail = false
  @Flag(help: "Consent to SMS notifications.") var consentSms = false
  @Option(help: "Idempotency key (default: a new one).") var requestId: String?
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var files: [(String, Data)] = []
    for path in attachments {
      guard let data = FileManager.default.contents(atPath: path) else {
        printError("cassetto: cannot read \(path)")
        throw ExitCode.failure
      }
      files.append(((path as NSString).lastPathComponent, data))
    }
    var header = Cassetto_Ticketing_V1_CreateRichiestaHeader()
    header.requestId = requestId ?? newRequestID()
    header.matricola = matricola
    header.subjectCode = subjectCode
    header.text = text
    var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
    contacts.email = email ?? ""
    contacts.mobile = mobile ?? ""
    contacts.consentEmail = consentEmail
    contacts.consentSms = consentSms
    header.contacts = contacts
    header.attachments = files.map { name, data in
      var info = Cassetto_Ticketing_V1_AttachmentInfo()
      info.fileName = name
      info.size = Int64(data.count)
      return info
    }
    let richiesta = try await connection.call { context in
      let call = try await Cassetto_Ticketing_V1_TicketingClient(channel: context.channel)
        .createRichiesta(metadata: context.metadata, options: context.options)
      var first = Cassetto_Ticketing_V1_CreateRichiestaRequest()
      first.header = header
      try await call.send(first)
      for (index, (_, data)) in files.enumerated() {
        var offset = 0
        repeat {
          let end = min(offset + 64 * 1024, data.count)
          var chunk = Cassetto_Ticketing_V1_AttachmentChunk()
          chunk.index = Int32(index)
          chunk.data = [UInt8](data[offset..<end])
          var message = Cassetto_Ticketing_V1_CreateRichiestaRequest()
          message.chunk = chunk
          try await call.send(message)
          offset = end
        } while offset < data.count
      }
      return try await call.closeAndReceive().message
    }
    showRichiesta(richiesta, json: connection.json)
  }
}

struct RichiestaGet: AsyncParsableCommand {
  static let configuration = CommandConfiguration(commandName: "get", abstract: "Shows one request.")

  @Argument(help: "The request id.") var id: String
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Ticketing_V1_GetRichiestaRequest()
    request.id = id
    let richiesta = try await connection.call { context in
      try await Cassetto_Ticketing_V1_TicketingClient(channel: context.channel)
        .getRichiesta(request, metadata: context.metadata, options: context.options).message
    }
    showRichiesta(richiesta, json: connection.json)
  }
}

struct RichiestaWatch: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "watch",
    abstract: "Prints the request's current state, then every change as it happens.",
    discussion: "One line per event (one JSON object per line with --json). Ends when the server ends the stream, after --max-events events, or after --for seconds (exit 0).")

  @Argument(help: "The request id.") var id: String
  @Option(help: "Stop after this many events.") var maxEvents: Int?
  @Option(name: .customLong("for"), help: "Stop after this many seconds.") var seconds: Double?
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Ticketing_V1_WatchRichiestaRequest()
    request.id = id
    let json = connection.json
    let maxEvents = self.maxEvents
    let seconds = self.seconds
    try await connection.call { context in
      var options = context.options
      options.timeout = nil  // a watch lasts; --for bounds it
      let call = try await Cassetto_Ticketing_V1_TicketingClient(channel: context.channel)
        .watchRichiesta(request, metadata: context.metadata, options: options)
      let stopper = seconds.map { limit in
        Task {
          try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
          call.cancel()
        }
      }
      defer { stopper?.cancel() }
      var count = 0
      do {
        for try await event in call.responses {
          Self.show(event, json: json)
          count += 1
          if let maxEvents, count >= maxEvents {
            call.cancel()
            break
          }
        }
      } catch let error as RPCError where error.code == .cancelled && seconds != nil {
        // --for elapsed.
      }
    }
  }

  static func show(_ event: Cassetto_Ticketing_V1_RichiestaEvent, json: Bool) {
    if json {
      var object = JSONObject()
      object["sequence"] = String(event.sequence)
      object["kind"] = enumJSON(event.kind, "RICHIESTA_EVENT_KIND")
      object["at"] = text(event.at)
      object["actor"] = event.actor
      object["comment"] = event.comment
      object["internal"] = event.internal
      if event.state != .unspecified { object["state"] = enumJSON(event.state, "RICHIESTA_STATE") }
      if event.esito != .unspecified { object["esito"] = enumJSON(event.esito, "ESITO") }
      object["fromSede"] = event.fromSede?.code
      object["toSede"] = event.toSede?.code
      if let richiesta = event.richiesta { object["richiesta"] = richiestaJSON(richiesta) }
      let data =
        (try? JSONSerialization.data(withJSONObject: object.fields, options: [.sortedKeys]))
        ?? Data("{}".utf8)
      print(String(decoding: data, as: UTF8.self))
    } else {
      var line = "\(event.sequence)  \(text(event.at))  \(enumName(event.kind))"
      if event.state != .unspecified { line += "  state=\(enumName(event.state))" }
      if event.esito != .unspecified { line += "  esito=\(enumName(event.esito))" }
      if !event.actor.isEmpty { line += "  by \(event.actor)" }
      if let to = event.toSede { line += "  to sede \(to.code)" }
      if !event.comment.isEmpty { line += "  \"\(event.comment)\"" }
      print(line)
    }
    fflush(nil)
  }
}

/// `cassetto slots` and `cassetto book`: the appointment agenda.
struct Slots: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Lists the free appointment slots for a request (or of a sede).")

  @Option(help: "The request the appointment is for.") var richiesta: String?
  @Option(help: "The sede whose slots to list.") var sede: String?
  @Option(help: "Results per page.") var pageSize: Int32 = 0
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Ticketing_V1_ListAvailableSlotsRequest()
    request.richiestaId = richiesta ?? ""
    request.sedeCode = sede ?? ""
    request.pageSize = pageSize
    let response = try await connection.call { context in
      try await Cassetto_Ticketing_V1_TicketingClient(channel: context.channel)
        .listAvailableSlots(request, metadata: context.metadata, options: context.options).message
    }
    if connection.json {
      var object = JSONObject()
      object["slots"] = response.slots.map(slotJSON)
      object["nextPageToken"] = response.nextPageToken
      printJSON(object)
      return
    }
    var table = Table("SLOT", "SEDE", "START", "MINUTES", "CHANNEL", "FREE")
    for slot in response.slots {
      table.add(
        slot.id, slot.sede?.code ?? "", text(slot.start), String(slot.lengthMinutes),
        enumName(slot.channel), String(slot.capacity - slot.booked))
    }
    print(table.render())
  }
}

func slotJSON(_ slot: Cassetto_Ticketing_V1_Slot) -> JSONObject {
  var object = JSONObject()
  object["id"] = slot.id
  if let sede = slot.sede {
    var entry = JSONObject()
    entry["code"] = sede.code
    entry["name"] = sede.name
    object["sede"] = entry
  }
  object["start"] = text(slot.start)
  object["lengthMinutes"] = Int(slot.lengthMinutes)
  object["channel"] = enumJSON(slot.channel, "CHANNEL")
  object["capacity"] = Int(slot.capacity)
  object["booked"] = Int(slot.booked)
  return object
}

struct Book: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Books an appointment with the sede for a request.")

  @Option(help: "The request the appointment is for.") var richiesta: String
  @Option(help: "The slot (cassetto slots --richiesta ID).") var slot: String
  @Option(help: "Idempotency key (default: a new one).") var requestId: String?
  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    var request = Cassetto_Ticketing_V1_BookAppointmentRequest()
    request.richiestaId = richiesta
    request.slotId = slot
    request.requestId = requestId ?? newRequestID()
    let appointment = try await connection.call { context in
      try await Cassetto_Ticketing_V1_TicketingClient(channel: context.channel)
        .bookAppointment(request, metadata: context.metadata, options: context.options).message
    }
    if connection.json {
      var object = JSONObject()
      object["id"] = appointment.id
      object["richiestaId"] = appointment.richiestaId
      if let slot = appointment.slot { object["slot"] = slotJSON(slot) }
      object["state"] = enumJSON(appointment.state, "APPOINTMENT_STATE")
      object["bookedBy"] = appointment.bookedBy
      object["bookedAt"] = text(appointment.bookedAt)
      printJSON(object)
      return
    }
    print(
      keyValues([
        ("appointment", appointment.id), ("richiesta", appointment.richiestaId),
        ("state", enumName(appointment.state)),
        ("when", text(appointment.slot?.start)),
        ("sede", appointment.slot?.sede.map { "\($0.code) \($0.name)" } ?? ""),
        ("channel", appointment.slot.map { enumName($0.channel) } ?? ""),
      ]))
  }
}
