import Contracts
import RPC
import Testing

@testable import Ticketing

@Suite struct TicketingServiceDefinitionTests {
  /// The service keeps API.md's names: every RPC of cassetto.ticketing.v1.Ticketing is routed.
  @Test func everyRPCOfAPIMdIsRouted() {
    typealias M = Cassetto_Ticketing_V1_Ticketing.Method
    let methods = [
      M.listSubjects, M.createRichiesta, M.getRichiesta, M.searchRichieste, M.watchRichiesta,
      M.downloadAllegati, M.listQuesiti, M.takeInCharge, M.addComment, M.reassignSede,
      M.closeRichiesta, M.publishSlots, M.listAvailableSlots, M.bookAppointment,
      M.cancelAppointment, M.listAppointments, M.sendComunicazione, M.listComunicazioni,
      M.markComunicazioneRead, M.submitFeedback, M.getFeedbackStats,
    ]
    let names = Set(methods.map(\.path))
    let expected = [
      "ListSubjects", "CreateRichiesta", "GetRichiesta", "SearchRichieste", "WatchRichiesta",
      "DownloadAllegati", "ListQuesiti", "TakeInCharge", "AddComment", "ReassignSede",
      "CloseRichiesta", "PublishSlots", "ListAvailableSlots", "BookAppointment",
      "CancelAppointment", "ListAppointments", "SendComunicazione", "ListComunicazioni",
      "MarkComunicazioneRead", "SubmitFeedback", "GetFeedbackStats",
    ].map { "/cassetto.ticketing.v1.Ticketing/\($0)" }
    #expect(names == Set(expected))
  }
}
