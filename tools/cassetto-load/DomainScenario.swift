import Contracts
import Foundation
import RPC
import Security

/// `domain` (issue 8 item 6): the everyday RPCs of Cassetto's users in realistic proportions,
/// over whatever data the server holds. At start it asks, as an operator, for the positions of
/// the operator's sedi (up to `positionsSample`), takes their subjects' legal
/// representatives as the callers (up to `owners`, tokens signed with the development key of
/// the server's data directory) and then repeats, per call, one draw of the mix:
///
/// | share | call (as an owner, on one of the owner's positions) |
/// |--:|---|
/// | 20% | SearchPosizioni (the owner's positions) |
/// | 10% | GetPosizione |
/// | 15% | GetMenu |
/// | 10% | GetDatiSintetici |
/// | 10% | ListVersamenti (page of 12) |
/// | 15% | CheckAccess (READ_POSITION) |
/// | 5% | ListDeleghe (as delegant) |
/// | 5% | WhoAmI |
/// | 5% | SearchPosizioni as the operator, by the subject's fiscal code |
/// | 5% | delega lifecycle: CreateDelegaDipendente → ActivateDelega → RevokeDelega (3 writes) |
///
/// Ticketing (request creation with attachments, watches) joins the mix when its service
/// answers; until then it is left out rather than counted as errors.
struct DomainScenario: LoadScenario {
  static let name = "domain"
  let messageUnit = "responses"

  struct Owner: Sendable {
    var fiscalCode: String
    var metadata: Metadata
    var subject: String
    var matricole: [String]
    /// A ticketing subject of each matricola's fund ("" when its fund has no subject tree).
    var subjectCodes: [String]
  }

  let owners: [Owner]
  let operatorMetadata: Metadata
  let delegate: String
  let options: CallOptions

  /// (weight, operation), cumulative weights out of 100.
  enum Operation: String, CaseIterable, Sendable {
    case search = "SearchPosizioni"
    case get = "GetPosizione"
    case menu = "GetMenu"
    case summary = "GetDatiSintetici"
    case payments = "ListVersamenti"
    case checkAccess = "CheckAccess"
    case listDeleghe = "ListDeleghe"
    case whoAmI = "WhoAmI"
    case operatorSearch = "SearchPosizioni(operator)"
    case lifecycle = "Delega create+activate+revoke"
    case richiesta = "CreateRichiesta(+100 KB PDF)"
    case searchRichieste = "SearchRichieste"
    case watch = "WatchRichiesta(snapshot)"

    var weight: Int {
      switch self {
      case .search: 16
      case .get, .summary, .payments: 10
      case .menu, .checkAccess: 15
      case .listDeleghe, .whoAmI, .operatorSearch, .lifecycle: 5
      case .richiesta: 2
      case .searchRichieste, .watch: 1
      }
    }
  }

  static let table: [Operation] = Operation.allCases.flatMap {
    [Operation](repeating: $0, count: $0.weight)
  }

  struct SetupError: Error, CustomStringConvertible {
    var description: String
  }

  /// Discovers the workload on the server at `channel`.
  static func prepare(
    channel: Channel, dataDir: String, operatorCF: String, delegate: String, owners limit: Int,
    positionsSample: Int, audience: String, timeout: Duration?
  ) async throws -> DomainScenario {
    let keyPath = (dataDir as NSString).appendingPathComponent(DevelopmentKey.fileName)
    guard FileManager.default.fileExists(atPath: keyPath) else {
      throw SetupError(
        description: "no \(keyPath): give --data-dir of a server started with --dev")
    }
    let signer = try DevelopmentKey.loadOrCreate(at: keyPath)
    func metadata(_ cf: String) throws -> Metadata {
      let token = try signer.sign(
        PersonToken(
          codiceFiscale: cf, issuer: DevelopmentKey.issuer, audience: audience,
          issuedAt: Date(), lifetime: 8 * 3600))
      return ["authorization": "Bearer \(token)"]
    }
    let operatorMetadata = try metadata(operatorCF)
    let client = Cassetto_Posizioni_V1_PosizioniClient(channel: channel)
    var request = Cassetto_Posizioni_V1_SearchPosizioniRequest()
    request.pageSize = 100
    var bySubject: [String: (owner: String, matricole: [String], codes: [String])] = [:]
    var order: [String] = []
    var seen = 0
    while seen < positionsSample {
      let page = try await client.searchPosizioni(
        request, metadata: operatorMetadata, options: CallOptions(timeout: timeout)
      ).message
      for position in page.posizioni {
        seen += 1
        guard let owner = position.subject?.legalRepresentative, !owner.isEmpty else { continue }
        if bySubject[position.subjectFiscalCode] == nil {
          order.append(position.subjectFiscalCode)
          bySubject[position.subjectFiscalCode] = (owner, [], [])
        }
        bySubject[position.subjectFiscalCode]?.matricole.append(position.matricola)
        bySubject[position.subjectFiscalCode]?.codes.append(Self.subjectCode(position.fund))
      }
      if page.nextPageToken.isEmpty { break }
      request.pageToken = page.nextPageToken
    }
    var owners: [Owner] = []
    for subject in order.prefix(limit) {
      guard let entry = bySubject[subject] else { continue }
      owners.append(
        Owner(
          fiscalCode: entry.owner, metadata: try metadata(entry.owner), subject: subject,
          matricole: entry.matricole, subjectCodes: entry.codes))
    }
    guard !owners.isEmpty else {
      throw SetupError(
        description: "operator \(operatorCF) sees no position with a legal representative; give --operator")
    }
    return DomainScenario(
      owners: owners, operatorMetadata: operatorMetadata, delegate: delegate,
      options: CallOptions(timeout: timeout))
  }

  /// A ticketing subject of the fund's tree (Allegato 1 / Circ. 34 / provisional GS list).
  static func subjectCode(_ fund: Cassetto_Common_V1_Fund) -> String {
    switch fund {
    case .privatiUniemens: "P06.02"
    case .pubbliciGdp: "G03.01"
    case .gestioneSeparata: "S02.01"
    default: ""
    }
  }

  static let pdf = Array("%PDF-1.4\n".utf8) + [UInt8](repeating: 0x20, count: 100 * 1024)

  var ownerCount: Int { owners.count }
  var positionCount: Int { owners.reduce(0) { $0 + $1.matricole.count } }

  func makeCall(channel: Channel) -> LoadCall {
    let posizioni = Cassetto_Posizioni_V1_PosizioniClient(channel: channel)
    let deleghe = Cassetto_Deleghe_V1_DelegheClient(channel: channel)
    let identity = Cassetto_Identity_V1_IdentityClient(channel: channel)
    let ticketing = Cassetto_Ticketing_V1_TicketingClient(channel: channel)
    let owners = self.owners
    let operatorMetadata = self.operatorMetadata
    let delegate = self.delegate
    let options = self.options
    return LoadCall {
      let operation = Self.table[Int.random(in: 0..<Self.table.count)]
      let owner = owners[Int.random(in: 0..<owners.count)]
      let pick = Int.random(in: 0..<owner.matricole.count)
      let matricola = owner.matricole[pick]
      let subjectCode = owner.subjectCodes[pick]
      let metadata = owner.metadata
      do {
        switch operation {
        case .search:
          _ = try await posizioni.searchPosizioni(
            .init(), metadata: metadata, options: options)
        case .operatorSearch:
          var request = Cassetto_Posizioni_V1_SearchPosizioniRequest()
          request.fiscalCode = owner.subject
          _ = try await posizioni.searchPosizioni(
            request, metadata: operatorMetadata, options: options)
        case .get:
          var request = Cassetto_Posizioni_V1_GetPosizioneRequest()
          request.matricola = matricola
          _ = try await posizioni.getPosizione(request, metadata: metadata, options: options)
        case .menu:
          var request = Cassetto_Posizioni_V1_GetMenuRequest()
          request.matricola = matricola
          _ = try await posizioni.getMenu(request, metadata: metadata, options: options)
        case .summary:
          var request = Cassetto_Posizioni_V1_GetDatiSinteticiRequest()
          request.matricola = matricola
          _ = try await posizioni.getDatiSintetici(request, metadata: metadata, options: options)
        case .payments:
          var request = Cassetto_Posizioni_V1_ListVersamentiRequest()
          request.matricola = matricola
          request.pageSize = 12
          _ = try await posizioni.listVersamenti(request, metadata: metadata, options: options)
        case .checkAccess:
          var request = Cassetto_Deleghe_V1_CheckAccessRequest()
          request.matricola = matricola
          request.function = .readPosition
          let answer = try await deleghe.checkAccess(request, metadata: metadata, options: options)
          if !answer.message.allowed {
            throw RPCError(.permissionDenied, "CheckAccess denied an owner: \(answer.message.reason)")
          }
        case .listDeleghe:
          var request = Cassetto_Deleghe_V1_ListDelegheRequest()
          request.role = .delegant
          _ = try await deleghe.listDeleghe(request, metadata: metadata, options: options)
        case .whoAmI:
          _ = try await identity.whoAmI(.init(), metadata: metadata, options: options)
        case .richiesta where !subjectCode.isEmpty:
          let call = try await ticketing.createRichiesta(metadata: metadata, options: options)
          var header = Cassetto_Ticketing_V1_CreateRichiestaHeader()
          header.matricola = matricola
          header.subjectCode = subjectCode
          header.text = "cassetto-load: richiesta di verifica"
          var contacts = Cassetto_Ticketing_V1_RichiestaContacts()
          contacts.email = "load@example.it"
          header.contacts = contacts
          var info = Cassetto_Ticketing_V1_AttachmentInfo()
          info.fileName = "documento.pdf"
          info.size = Int64(Self.pdf.count)
          header.attachments = [info]
          var first = Cassetto_Ticketing_V1_CreateRichiestaRequest()
          first.header = header
          try await call.send(first)
          var chunk = Cassetto_Ticketing_V1_AttachmentChunk()
          chunk.data = Self.pdf
          var second = Cassetto_Ticketing_V1_CreateRichiestaRequest()
          second.chunk = chunk
          try await call.send(second)
          _ = try await call.closeAndReceive()
        case .richiesta, .searchRichieste:
          var request = Cassetto_Ticketing_V1_SearchRichiesteRequest()
          request.matricola = matricola
          request.pageSize = 20
          _ = try await ticketing.searchRichieste(request, metadata: metadata, options: options)
        case .watch:
          var search = Cassetto_Ticketing_V1_SearchRichiesteRequest()
          search.matricola = matricola
          search.pageSize = 1
          let found = try await ticketing.searchRichieste(
            search, metadata: metadata, options: options
          ).message
          if let first = found.richieste.first {
            var request = Cassetto_Ticketing_V1_WatchRichiestaRequest()
            request.id = first.id
            let stream = try await ticketing.watchRichiesta(
              request, metadata: metadata, options: options)
            var iterator = stream.responses.makeAsyncIterator()
            _ = try await iterator.next()  // the snapshot; then the call is cancelled
            stream.cancel()
          }
        case .lifecycle:
          var create = Cassetto_Deleghe_V1_CreateDelegaDipendenteRequest()
          create.subjectFiscalCode = owner.subject
          var scope = Cassetto_Deleghe_V1_DelegaScope()
          scope.matricola = matricola
          create.scope = scope
          var party = Cassetto_Deleghe_V1_Party()
          party.fiscalCode = delegate
          create.delegate = party
          var date = Google_Type_Date()
          date.year = 2026
          date.month = 1
          date.day = 1
          create.decorrenza = date
          create.requestId = UUID().uuidString
          let created = try await deleghe.createDelegaDipendente(
            create, metadata: metadata, options: options
          ).message
          var activate = Cassetto_Deleghe_V1_ActivateDelegaRequest()
          activate.id = created.id
          activate.requestId = UUID().uuidString
          _ = try await deleghe.activateDelega(activate, metadata: metadata, options: options)
          var revoke = Cassetto_Deleghe_V1_RevokeDelegaRequest()
          revoke.id = created.id
          revoke.reason = "cassetto-load"
          revoke.requestId = UUID().uuidString
          _ = try await deleghe.revokeDelega(revoke, metadata: metadata, options: options)
        }
      } catch {
        throw LabeledError(label: operation.rawValue, error: error)
      }
      return CallResult(messages: 1, bytes: 0, label: operation.rawValue)
    }
  }
}
