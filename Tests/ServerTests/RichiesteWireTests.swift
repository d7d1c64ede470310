import Contracts
import Foundation
import Identity
import RPC
import Synchronization
import Testing

/// Issue 6 over the wire on the real composition root: the whole life of a richiesta from
/// both sides, and its refusals.
@Suite(.serialized) struct RichiesteWireTests {
  typealias T = Cassetto_Ticketing_V1_CreateRichiestaRequest
  static func persona(_ key: String) -> Identity.DemoData.Persona { Identity.DemoData.persona(key)! }
  let owner = Self.persona("legal-representative")
  let operatorRoma = Self.persona("operator-roma")  // sede 7000, ACME's 7012345601
  let operatorSiena = Self.persona("operator")
  let citizen = Self.persona("citizen")
  static let matricola = "7012345601"
  static let pdf = Array("%PDF-1.4\n% cassetto test\n".utf8) + [UInt8](repeating: 0x20, count: 70_000)
  static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 5000)

  func header(
    attachments: [(String, Int)], email: String = "mario@example.it", mobile: String = "+393331234567",
    requestID: String = ""
  ) -> T {
    var header = Cassetto_Ticketing_V1_CreateRichiestaHeader()
    header.requestId = requestID
    header.matricola = Self.matricola
    header.subjectCode = "P01.02"
    header.text = "Chiediamo chiarimenti sulla nota di rettifica di marzo."
    var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
    contacts.email = email
    contacts.mobile = mobile
    contacts.consentEmail = !email.isEmpty
    contacts.consentSms = !mobile.isEmpty
    header.contacts = contacts
    header.attachments = attachments.map { name, size in
      var info = Cassetto_Ticketing_V1_AttachmentInfo()
      info.fileName = name
      info.size = Int64(size)
      return info
    }
    var message = T()
    message.header = header
    return message
  }

  func create(
    _ wire: WireHarness.Context, as persona: Identity.DemoData.Persona, _ first: T,
    files: [[UInt8]]
  ) async throws -> Cassetto_Ticketing_V1_Richiesta {
    let call = try await wire.ticketing.createRichiesta(metadata: try wire.auth(persona))
    try await call.send(first)
    for (index, file) in files.enumerated() {
      var offset = 0
      while offset < file.count {
        let end = min(file.count, offset + 32 * 1024)
        var chunk = Cassetto_Ticketing_V1_AttachmentChunk()
        chunk.index = Int32(index)
        chunk.data = Array(file[offset..<end])
        var message = T()
        message.chunk = chunk
        try await call.send(message)
        offset = end
      }
    }
    return try await call.closeAndReceive().message
  }

  func code(_ body: () async throws -> Void) async -> StatusCode? {
    do {
      try await body()
      return .ok
    } catch let error as RPCError {
      return error.code
    } catch {
      return nil
    }
  }

  @Test func theLifeOfARichiestaFromBothSides() async throws {
    try await WireHarness().withServer { wire in
      let created = try await create(
        wire, as: owner, header(attachments: [("nota.pdf", Self.pdf.count), ("schermata.png", Self.png.count)]),
        files: [Self.pdf, Self.png])
      #expect(created.state == .aperta)
      #expect(created.sede?.code == "7000")
      let year = Calendar(identifier: .gregorian).component(.year, from: Date())
      #expect(created.protocolNumber == "7000-\(year)-000001")
      #expect(created.attachments.map(\.contentType) == ["application/pdf", "image/png"])
      #expect(created.history.map(\.kind) == [.created])
      #expect(created.appointmentEligible == false)

      // The watcher (the requester) sees every step from here on.
      let seen = Mutex<[Cassetto_Ticketing_V1_RichiestaEventKind]>([])
      var watch = Cassetto_Ticketing_V1_WatchRichiestaRequest()
      watch.id = created.id
      let stream = try await wire.ticketing.watchRichiesta(watch, metadata: try wire.auth(owner))
      let watcher = Task {
        for try await event in stream.responses {
          seen.withLock { $0.append(event.kind) }
          if event.kind == .closed { return }
        }
      }
      try await Task.sleep(for: .milliseconds(200))

      // Back office: another sede's operator does not even see it; take, comment, close.
      var take = Cassetto_Ticketing_V1_TakeInChargeRequest()
      take.id = created.id
      #expect(await code { _ = try await wire.ticketing.takeInCharge(take, metadata: try wire.auth(operatorSiena)) } == .notFound)
      var close = Cassetto_Ticketing_V1_CloseRichiestaRequest()
      close.id = created.id
      close.esito = .nonAccolta
      close.comment = "Documentazione insufficiente."
      #expect(await code { _ = try await wire.ticketing.closeRichiesta(close, metadata: try wire.auth(operatorRoma)) } == .failedPrecondition)
      let taken = try await wire.ticketing.takeInCharge(take, metadata: try wire.auth(operatorRoma)).message
      #expect(taken.state == .inCarico && taken.assignedOperator == operatorRoma.codiceFiscale.value)
      var comment = Cassetto_Ticketing_V1_AddCommentRequest()
      comment.id = created.id
      comment.text = "Serve l'estratto conto."
      _ = try await wire.ticketing.addComment(comment, metadata: try wire.auth(operatorRoma))
      comment.text = "nota interna"
      comment.`internal` = true
      _ = try await wire.ticketing.addComment(comment, metadata: try wire.auth(operatorRoma))
      let closed = try await wire.ticketing.closeRichiesta(close, metadata: try wire.auth(operatorRoma)).message
      #expect(closed.state == .chiusa && closed.esito == .nonAccolta)
      try await watcher.value
      #expect(seen.withLock { $0 } == [.snapshot, .takenInCharge, .comment, .closed])

      // The requester's view hides the internal comment; the office's shows it.
      var get = Cassetto_Ticketing_V1_GetRichiestaRequest()
      get.id = created.id
      let mine = try await wire.ticketing.getRichiesta(get, metadata: try wire.auth(owner)).message
      #expect(mine.history.map(\.kind) == [.created, .takenInCharge, .comment, .closed])
      #expect(mine.appointmentEligible)
      let office = try await wire.ticketing.getRichiesta(get, metadata: try wire.auth(operatorRoma)).message
      #expect(office.history.count == 5)
      #expect(await code { _ = try await wire.ticketing.getRichiesta(get, metadata: try wire.auth(citizen)) } == .notFound)

      // Notices: registration and closure, by e-mail and SMS, in the spool.
      var spooled: [String] = []
      for _ in 0..<100 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: wire.configuration.spoolDirectory)) ?? []
        spooled = files.compactMap {
          try? String(contentsOfFile: wire.configuration.spoolDirectory + "/" + $0, encoding: .utf8)
        }.filter { $0.contains(created.protocolNumber) }
        if spooled.count >= 4 { break }
        try await Task.sleep(for: .milliseconds(50))
      }
      #expect(spooled.count == 4)
      #expect(!spooled.contains { $0.contains("cassetto test") })  // never attachment contents

      // The attachments come back as one zip that unzip accepts.
      var download = Cassetto_Ticketing_V1_DownloadAllegatiRequest()
      download.id = created.id
      var zip: [UInt8] = []
      for try await chunk in try await wire.ticketing.downloadAllegati(download, metadata: try wire.auth(owner)).responses {
        zip += chunk.data
      }
      let path = NSTemporaryDirectory() + "/allegati-\(created.id).zip"
      FileManager.default.createFile(atPath: path, contents: Data(zip))
      defer { try? FileManager.default.removeItem(atPath: path) }
      let unzip = Process()
      unzip.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
      unzip.arguments = ["-tq", path]
      unzip.standardOutput = FileHandle.nullDevice
      try unzip.run()
      unzip.waitUntilExit()
      #expect(unzip.terminationStatus == 0)

      // Closed NON_ACCOLTA: the requester books an appointment at the sede.
      var publish = Cassetto_Ticketing_V1_PublishSlotsRequest()
      publish.sedeCode = "7000"
      var slot = Cassetto_Ticketing_V1_SlotSpec()
      var start = Google_Protobuf_Timestamp()
      start.seconds = Int64(wire.clock.now().timeIntervalSince1970) + 3 * 86_400
      slot.start = start
      slot.lengthMinutes = 30
      slot.channel = .sportello
      slot.capacity = 1
      publish.slots = [slot]
      let slots = try await wire.ticketing.publishSlots(publish, metadata: try wire.auth(operatorRoma)).message
      var book = Cassetto_Ticketing_V1_BookAppointmentRequest()
      book.richiestaId = created.id
      book.slotId = slots.slots[0].id
      let appointment = try await wire.ticketing.bookAppointment(book, metadata: try wire.auth(owner)).message
      #expect(appointment.state == .prenotato)
      let after = try await wire.ticketing.getRichiesta(get, metadata: try wire.auth(owner)).message
      #expect(after.history.last?.kind == .appointmentBooked)
    }
  }

  @Test func refusalsChangeNothing() async throws {
    try await WireHarness().withServer { wire in
      let big = [UInt8](repeating: 0x25, count: 3 * 1024 * 1024 + 1)
      let cases: [(String, Identity.DemoData.Persona, T, [[UInt8]], StatusCode)] = [
        ("stranger", citizen, header(attachments: []), [], .notFound),
        ("operator of another sede", operatorSiena, header(attachments: []), [], .notFound),
        ("four attachments", owner,
         header(attachments: [("a.pdf", 10), ("b.pdf", 10), ("c.pdf", 10), ("d.pdf", 10)]), [],
         .resourceExhausted),
        ("3 MiB + 1 declared", owner, header(attachments: [("a.pdf", big.count)]), [], .resourceExhausted),
        ("3 MiB + 1 sent", owner, header(attachments: [("a.pdf", 3 * 1024 * 1024)]), [big], .resourceExhausted),
        ("more than declared", owner, header(attachments: [("a.pdf", 100)]), [big], .invalidArgument),
        ("missing contacts", owner, header(attachments: [], email: "", mobile: ""), [], .invalidArgument),
        ("not a PDF", owner, header(attachments: [("a.pdf", 5)]), [Array("hello".utf8)], .invalidArgument),
      ]
      for (name, persona, first, files, expected) in cases {
        let got = await code { _ = try await create(wire, as: persona, first, files: files) }
        #expect(got == expected, "\(name)")
      }
      var search = Cassetto_Ticketing_V1_SearchRichiesteRequest()
      search.matricola = Self.matricola
      let stored = try await wire.ticketing.searchRichieste(search, metadata: try wire.auth(owner)).message
      #expect(stored.richieste.isEmpty)
      // And a retry with the same request_id returns the same richiesta.
      let first = try await create(wire, as: owner, header(attachments: [], requestID: "r-1"), files: [])
      let again = try await create(wire, as: owner, header(attachments: [], requestID: "r-1"), files: [])
      #expect(first.id == again.id && first.protocolNumber == again.protocolNumber)
      var subjects = Cassetto_Ticketing_V1_ListSubjectsRequest()
      subjects.fund = .pubbliciGdp
      let tree = try await wire.ticketing.listSubjects(subjects, metadata: try wire.auth(owner)).message
      #expect(tree.classes.map(\.title).contains("Gestione del credito"))
      #expect(tree.classes.first { $0.title.hasPrefix("Durc") }?.selectable == true)
    }
  }

  @Test func reassignmentMovesTheQuesitoToTheOtherSede() async throws {
    try await WireHarness().withServer { wire in
      let created = try await create(wire, as: owner, header(attachments: []), files: [])
      var reassign = Cassetto_Ticketing_V1_ReassignSedeRequest()
      reassign.id = created.id
      reassign.toSedeCode = "7500"
      reassign.reason = "Competenza della sede di Siena."
      #expect(await code { _ = try await wire.ticketing.reassignSede(reassign, metadata: try wire.auth(operatorSiena)) } == .notFound)
      let moved = try await wire.ticketing.reassignSede(reassign, metadata: try wire.auth(operatorRoma)).message
      #expect(moved.sede?.code == "7500" && moved.state == .aperta)
      #expect(moved.history.last?.kind == .reassigned)
      #expect(moved.history.last?.fromSede?.code == "7000" && moved.history.last?.toSede?.code == "7500")
      var take = Cassetto_Ticketing_V1_TakeInChargeRequest()
      take.id = created.id
      #expect(await code { _ = try await wire.ticketing.takeInCharge(take, metadata: try wire.auth(operatorRoma)) } == .notFound)
      let taken = try await wire.ticketing.takeInCharge(take, metadata: try wire.auth(operatorSiena)).message
      #expect(taken.state == .inCarico)
      #expect(await code { _ = try await wire.ticketing.reassignSede(reassign, metadata: try wire.auth(operatorSiena)) } == .failedPrecondition)
      var queue = Cassetto_Ticketing_V1_ListQuesitiRequest()
      queue.sedeCode = "7500"
      let siena = try await wire.ticketing.listQuesiti(queue, metadata: try wire.auth(operatorSiena)).message
      #expect(siena.quesiti.map(\.id) == [created.id])
      #expect(await code { _ = try await wire.ticketing.listQuesiti(queue, metadata: try wire.auth(owner)) } == .permissionDenied)
    }
  }
}
