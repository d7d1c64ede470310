import Storage

/// The tables of ``AgendaService`` (versions 450–499): communications from the institute,
/// instant feedback, agenda slots and appointments.
///
/// Instants are `BIGINT` microseconds, enum values their proto numbers, fiscal codes without
/// `TINIT-`; `seq` orders rows and keys the page tokens.
extension TicketingSchema {
  /// Versions 450–499.
  static var agendaMigrations: [Migration] { [comunicazioni, feedback, slots, appointments] }

  /// Institute → position messages; `read_at`/`read_by` set once, by the first reader.
  static let comunicazioni = Migration(version: 450, name: "ticketing_comunicazioni") { dialect in
    """
    CREATE TABLE ticketing_comunicazioni (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      sede_code TEXT NOT NULL,
      kind INTEGER NOT NULL,
      title TEXT NOT NULL,
      body TEXT NOT NULL,
      sender TEXT NOT NULL,
      sent_at BIGINT NOT NULL,
      read_at BIGINT,
      read_by TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX ticketing_comunicazioni_matricola ON ticketing_comunicazioni (matricola, seq);
    """
  }

  /// One row per caller per interaction (the unique key makes a second one ALREADY_EXISTS).
  static let feedback = Migration(version: 451, name: "ticketing_feedback") { dialect in
    """
    CREATE TABLE ticketing_feedback (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      caller TEXT NOT NULL,
      service TEXT NOT NULL,
      interaction_id TEXT NOT NULL,
      rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
      comment TEXT NOT NULL DEFAULT '',
      submitted_at BIGINT NOT NULL,
      UNIQUE (caller, interaction_id)
    );
    CREATE INDEX ticketing_feedback_service ON ticketing_feedback (service, submitted_at);
    CREATE INDEX ticketing_feedback_time ON ticketing_feedback (submitted_at);
    """
  }

  /// Published appointment slots. `booked` never exceeds `capacity` (CHECK), and bookings
  /// take a seat only with `UPDATE … SET booked = booked + 1 WHERE booked < capacity`.
  static let slots = Migration(version: 452, name: "ticketing_slots") { dialect in
    """
    CREATE TABLE ticketing_slots (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      sede_code TEXT NOT NULL,
      start_at BIGINT NOT NULL,
      length_minutes INTEGER NOT NULL,
      channel INTEGER NOT NULL,
      capacity INTEGER NOT NULL CHECK (capacity >= 1),
      booked INTEGER NOT NULL DEFAULT 0 CHECK (booked >= 0 AND booked <= capacity),
      published_by TEXT NOT NULL,
      published_at BIGINT NOT NULL
    );
    CREATE INDEX ticketing_slots_sede_start ON ticketing_slots (sede_code, start_at, seq);
    """
  }

  /// Appointments; at most one PRENOTATO (state 1) per richiesta (partial unique index).
  static let appointments = Migration(version: 453, name: "ticketing_appointments") { dialect in
    """
    CREATE TABLE ticketing_appointments (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      richiesta_id TEXT NOT NULL,
      slot_id TEXT NOT NULL,
      sede_code TEXT NOT NULL,
      slot_start BIGINT NOT NULL,
      state INTEGER NOT NULL,
      booked_by TEXT NOT NULL,
      booked_at BIGINT NOT NULL,
      cancelled_at BIGINT,
      cancelled_by TEXT NOT NULL DEFAULT '',
      cancel_reason TEXT NOT NULL DEFAULT ''
    );
    CREATE UNIQUE INDEX ticketing_appointments_active ON ticketing_appointments (richiesta_id)
      WHERE state = 1;
    CREATE INDEX ticketing_appointments_richiesta ON ticketing_appointments (richiesta_id, seq);
    CREATE INDEX ticketing_appointments_sede ON ticketing_appointments (sede_code, slot_start, seq);
    CREATE INDEX ticketing_appointments_slot ON ticketing_appointments (slot_id);
    """
  }
}
