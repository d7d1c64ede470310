import Access
import Contracts
import RPC

/// `cassetto.ticketing.v1.Ticketing`. The service is split in two halves that own their own
/// tables and code: ``RichiesteService`` (subject tree, richieste and quesiti, watch,
/// attachments, notices) and ``AgendaService`` (appointment agenda, communications from the
/// institute, instant feedback). This type only forwards each RPC to its half.
public struct TicketingService: Cassetto_Ticketing_V1_TicketingHandler {
  let richieste: RichiesteService
  let agenda: AgendaService

  public init(richieste: RichiesteService, agenda: AgendaService) {
    self.richieste = richieste
    self.agenda = agenda
  }

  public func listSubjects(request: Cassetto_Ticketing_V1_ListSubjectsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListSubjectsResponse {
    try await richieste.listSubjects(request: request, context: context)
  }

  public func createRichiesta(requests: RequestStream<Cassetto_Ticketing_V1_CreateRichiestaRequest>, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    try await richieste.createRichiesta(requests: requests, context: context)
  }

  public func getRichiesta(request: Cassetto_Ticketing_V1_GetRichiestaRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    try await richieste.getRichiesta(request: request, context: context)
  }

  public func searchRichieste(request: Cassetto_Ticketing_V1_SearchRichiesteRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_SearchRichiesteResponse {
    try await richieste.searchRichieste(request: request, context: context)
  }

  public func watchRichiesta(request: Cassetto_Ticketing_V1_WatchRichiestaRequest, responses: ResponseWriter<Cassetto_Ticketing_V1_RichiestaEvent>, context: ServerContext) async throws {
    try await richieste.watchRichiesta(request: request, responses: responses, context: context)
  }

  public func downloadAllegati(request: Cassetto_Ticketing_V1_DownloadAllegatiRequest, responses: ResponseWriter<Cassetto_Ticketing_V1_AllegatiChunk>, context: ServerContext) async throws {
    try await richieste.downloadAllegati(request: request, responses: responses, context: context)
  }

  public func listQuesiti(request: Cassetto_Ticketing_V1_ListQuesitiRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListQuesitiResponse {
    try await richieste.listQuesiti(request: request, context: context)
  }

  public func takeInCharge(request: Cassetto_Ticketing_V1_TakeInChargeRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    try await richieste.takeInCharge(request: request, context: context)
  }

  public func addComment(request: Cassetto_Ticketing_V1_AddCommentRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    try await richieste.addComment(request: request, context: context)
  }

  public func reassignSede(request: Cassetto_Ticketing_V1_ReassignSedeRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    try await richieste.reassignSede(request: request, context: context)
  }

  public func closeRichiesta(request: Cassetto_Ticketing_V1_CloseRichiestaRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Richiesta {
    try await richieste.closeRichiesta(request: request, context: context)
  }

  public func publishSlots(request: Cassetto_Ticketing_V1_PublishSlotsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_PublishSlotsResponse {
    try await agenda.publishSlots(request: request, context: context)
  }

  public func listAvailableSlots(request: Cassetto_Ticketing_V1_ListAvailableSlotsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListAvailableSlotsResponse {
    try await agenda.listAvailableSlots(request: request, context: context)
  }

  public func bookAppointment(request: Cassetto_Ticketing_V1_BookAppointmentRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Appointment {
    try await agenda.bookAppointment(request: request, context: context)
  }

  public func cancelAppointment(request: Cassetto_Ticketing_V1_CancelAppointmentRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Appointment {
    try await agenda.cancelAppointment(request: request, context: context)
  }

  public func listAppointments(request: Cassetto_Ticketing_V1_ListAppointmentsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListAppointmentsResponse {
    try await agenda.listAppointments(request: request, context: context)
  }

  public func sendComunicazione(request: Cassetto_Ticketing_V1_SendComunicazioneRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    try await agenda.sendComunicazione(request: request, context: context)
  }

  public func listComunicazioni(request: Cassetto_Ticketing_V1_ListComunicazioniRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListComunicazioniResponse {
    try await agenda.listComunicazioni(request: request, context: context)
  }

  public func markComunicazioneRead(request: Cassetto_Ticketing_V1_MarkComunicazioneReadRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    try await agenda.markComunicazioneRead(request: request, context: context)
  }

  public func submitFeedback(request: Cassetto_Ticketing_V1_SubmitFeedbackRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Feedback {
    try await agenda.submitFeedback(request: request, context: context)
  }

  public func getFeedbackStats(request: Cassetto_Ticketing_V1_GetFeedbackStatsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_FeedbackStats {
    try await agenda.getFeedbackStats(request: request, context: context)
  }
}
