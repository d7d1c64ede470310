import Storage

/// The Ticketing module's migrations: 400–449 belong to ``RichiesteService``'s tables,
/// 450–499 to ``AgendaService``'s.
public enum TicketingSchema {
  public static var migrations: [Migration] { richiesteMigrations + agendaMigrations }
}
