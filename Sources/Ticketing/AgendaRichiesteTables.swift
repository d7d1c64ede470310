import Contracts
import Foundation
import Storage

/// ``AgendaRichieste`` over RichiesteService's tables.
struct AgendaRichiesteTables: AgendaRichieste {
  func richiesta(id: String, in db: any ReadContext) throws -> AgendaRichiesta? {
    throw TicketingError.unimplemented("appointments wait for the richieste of RichiesteService")
  }

  func appendHistory(
    richiesta id: String, kind: Cassetto_Ticketing_V1_RichiestaEventKind, actor: String,
    comment: String, at now: Date, in db: any WriteContext
  ) throws {
    throw TicketingError.unimplemented("appointments wait for the richieste of RichiesteService")
  }
}
