import Storage

extension TicketingSchema {
  /// Versions 450–499.
  static var agendaMigrations: [Migration] { [] }
}
