import Access
import Contracts
import Foundation
import RPC
import Storage

/// Subject tree, richieste (requester side) and quesiti (back office), watch, attachments
/// and notices of `cassetto.ticketing.v1.Ticketing`. Its tables use migrations 400–449.
public struct RichiesteService: Sendable {
  let database: any Database
  let clock: any CallClock
  let authorizer: Authorizer

  public init(database: any Database, clock: any CallClock, authorizer: Authorizer) {
    self.database = database
    self.clock = clock
    self.authorizer = authorizer
  }

  func listSubjects(request: Cassetto_Ticketing_V1_ListSubjectsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListSubjectsResponse {
    throw TicketingError.unimplemented("listSubjects")
  }

  func createRichiesta(requests: RequestStream<Cassetto_Ticketing_V1_CreateRichiestaRequest>, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    throw TicketingError.unimplemented("createRichiesta")
  }

  func getRichiesta(request: Cassetto_Ticketing_V1_GetRichiestaRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    throw TicketingError.unimplemented("getRichiesta")
  }

  func searchRichieste(request: Cassetto_Ticketing_V1_SearchRichiesteRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_SearchRichiesteResponse {
    throw TicketingError.unimplemented("searchRichieste")
  }

  func watchRichiesta(request: Cassetto_Ticketing_V1_WatchRichiestaRequest, responses: ResponseWriter<Cassetto_Ticketing_V1_RichiestaEvent>, context: ServerContext) async throws {
    throw TicketingError.unimplemented("watchRichiesta")
  }

  func downloadAllegati(request: Cassetto_Ticketing_V1_DownloadAllegatiRequest, responses: ResponseWriter<Cassetto_Ticketing_V1_AllegatiChunk>, context: ServerContext) async throws {
    throw TicketingError.unimplemented("downloadAllegati")
  }

  func listQuesiti(request: Cassetto_Ticketing_V1_ListQuesitiRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListQuesitiResponse {
    throw TicketingError.unimplemented("listQuesiti")
  }

  func takeInCharge(request: Cassetto_Ticketing_V1_TakeInChargeRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    throw TicketingError.unimplemented("takeInCharge")
  }

  func addComment(request: Cassetto_Ticketing_V1_AddCommentRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    throw TicketingError.unimplemented("addComment")
  }

  func reassignSede(request: Cassetto_Ticketing_V1_ReassignSedeRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    throw TicketingError.unimplemented("reassignSede")
  }

  func closeRichiesta(request: Cassetto_Ticketing_V1_CloseRichiestaRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    throw TicketingError.unimplemented("closeRichiesta")
  }
}
