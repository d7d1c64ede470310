import Access
import Contracts
import Foundation
import RPC
import Storage
import Validation

// Appointments: built on the richieste of RichiesteService (pending).
extension AgendaService {
  func bookAppointment(
    request: Cassetto_Ticketing_V1_BookAppointmentRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Appointment {
    throw TicketingError.unimplemented("bookAppointment")
  }

  func cancelAppointment(
    request: Cassetto_Ticketing_V1_CancelAppointmentRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_Appointment {
    throw TicketingError.unimplemented("cancelAppointment")
  }

  func listAppointments(
    request: Cassetto_Ticketing_V1_ListAppointmentsRequest, context: ServerContext
  ) async throws -> Cassetto_Ticketing_V1_ListAppointmentsResponse {
    throw TicketingError.unimplemented("listAppointments")
  }

  /// The richiesta `id` as the agenda needs it, if the caller may see it (pending).
  func visibleRichiesta(_ id: String) async throws -> (sedeCode: String, matricola: String) {
    throw TicketingError.unimplemented("listing slots by richiesta")
  }
}
