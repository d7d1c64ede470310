import Storage

extension TicketingSchema {
  /// Versions 400–449.
  static var richiesteMigrations: [Migration] { [] }
}
