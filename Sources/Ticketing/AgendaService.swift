import Access
import Contracts
import Foundation
import RPC
import Storage

/// Appointment agenda, communications from the institute and instant feedback of
/// `cassetto.ticketing.v1.Ticketing`. Its tables use migrations 450–499.
public struct AgendaService: Sendable {
  let database: any Database
  let clock: any CallClock
  let authorizer: Authorizer

  public init(database: any Database, clock: any CallClock, authorizer: Authorizer) {
    self.database = database
    self.clock = clock
    self.authorizer = authorizer
  }

  func publishSlots(request: Cassetto_Ticketing_V1_PublishSlotsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_PublishSlotsResponse {
    throw TicketingError.unimplemented("publishSlots")
  }

  func listAvailableSlots(request: Cassetto_Ticketing_V1_ListAvailableSlotsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListAvailableSlotsResponse {
    throw TicketingError.unimplemented("listAvailableSlots")
  }

  func bookAppointment(request: Cassetto_Ticketing_V1_BookAppointmentRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Appointment {
    throw TicketingError.unimplemented("bookAppointment")
  }

  func cancelAppointment(request: Cassetto_Ticketing_V1_CancelAppointmentRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Appointment {
    throw TicketingError.unimplemented("cancelAppointment")
  }

  func listAppointments(request: Cassetto_Ticketing_V1_ListAppointmentsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListAppointmentsResponse {
    throw TicketingError.unimplemented("listAppointments")
  }

  func sendComunicazione(request: Cassetto_Ticketing_V1_SendComunicazioneRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    throw TicketingError.unimplemented("sendComunicazione")
  }

  func listComunicazioni(request: Cassetto_Ticketing_V1_ListComunicazioniRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_ListComunicazioniResponse {
    throw TicketingError.unimplemented("listComunicazioni")
  }

  func markComunicazioneRead(request: Cassetto_Ticketing_V1_MarkComunicazioneReadRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Comunicazione {
    throw TicketingError.unimplemented("markComunicazioneRead")
  }

  func submitFeedback(request: Cassetto_Ticketing_V1_SubmitFeedbackRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_Feedback {
    throw TicketingError.unimplemented("submitFeedback")
  }

  func getFeedbackStats(request: Cassetto_Ticketing_V1_GetFeedbackStatsRequest, context: ServerContext) async throws -> Cassetto_Ticketing_V1_FeedbackStats {
    throw TicketingError.unimplemented("getFeedbackStats")
  }
}
