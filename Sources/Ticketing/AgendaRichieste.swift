import Access
import Contracts
import Foundation
import Storage

/// A richiesta as the agenda needs it: where it is routed, its state and outcome, when it was
/// opened and its subject's answer threshold.
struct AgendaRichiesta: Sendable, Hashable {
  var id: String
  var matricola: String
  /// The sede the request is routed to (where its appointment is held).
  var sedeCode: String
  var state: Cassetto_Ticketing_V1_RichiestaState
  var esito: Cassetto_Ticketing_V1_Esito
  var openedAt: Date
  /// Days after opening, with no answer, before an appointment may be booked.
  var answerThresholdDays: Int
}

/// The richieste of ``RichiesteService`` as the agenda reads them and records appointments in
/// their history, inside the agenda's own transactions (so the booking, its history event and
/// its audit event commit together).
protocol AgendaRichieste: Sendable {
  func richiesta(id: String, in db: any ReadContext) throws -> AgendaRichiesta?
  /// Appends an APPOINTMENT_BOOKED / APPOINTMENT_CANCELLED event to the request's history, so
  /// watchers see it.
  func appendHistory(
    richiesta id: String, kind: Cassetto_Ticketing_V1_RichiestaEventKind, actor: String,
    comment: String, at now: Date, in db: any WriteContext) throws
}

/// When an appointment may be booked for a request (DOMAIN.md, Agenda appuntamenti; Circolare
/// 34 §3.1: "risposta non pervenuta nei tempi soglia individuati dall'Istituto o risposta con
/// esito non accolta"):
///
/// - closed (CHIUSA) with esito NON_ACCOLTA: eligible;
/// - closed with any other esito: not eligible (an answer came);
/// - not closed (APERTA, IN_CARICO): eligible once `opened_at` + the subject's threshold, in
///   calendar days in Europe/Rome (same wall-clock time), is not after `now`.
///
/// RichiesteService may use it to fill `Richiesta.appointment_eligible` and its reason.
public enum AppointmentEligibility {
  /// `nil` when an appointment may be booked at `now`; otherwise why not, in English.
  public static func refusal(
    state: Cassetto_Ticketing_V1_RichiestaState, esito: Cassetto_Ticketing_V1_Esito,
    openedAt: Date, answerThresholdDays: Int, now: Date
  ) -> String? {
    switch state {
    case .chiusa:
      if esito == .nonAccolta { return nil }
      return "the request was closed with an answer (esito \(name(esito))): an appointment may "
        + "be booked only when no answer came within the threshold or the esito is NON_ACCOLTA"
    case .aperta, .inCarico:
      let from = eligibleFrom(openedAt: openedAt, answerThresholdDays: answerThresholdDays)
      if from <= now { return nil }
      return "the answer threshold of \(answerThresholdDays) days has not passed yet: an "
        + "appointment may be booked from \(from.formatted(.iso8601)) if no "
        + "answer comes before"
    default:
      return "the request is in no state that allows an appointment"
    }
  }

  /// `openedAt` plus `answerThresholdDays` calendar days in Europe/Rome.
  public static func eligibleFrom(openedAt: Date, answerThresholdDays: Int) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = institutionTimeZone
    return calendar.date(byAdding: .day, value: max(0, answerThresholdDays), to: openedAt)
      ?? openedAt.addingTimeInterval(Double(max(0, answerThresholdDays)) * 86_400)
  }

  static func name(_ esito: Cassetto_Ticketing_V1_Esito) -> String {
    switch esito {
    case .accolta: "ACCOLTA"
    case .parzialmenteAccolta: "PARZIALMENTE_ACCOLTA"
    case .nonAccolta: "NON_ACCOLTA"
    case .archiviata: "ARCHIVIATA"
    default: "UNSPECIFIED"
    }
  }
}
