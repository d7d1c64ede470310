import Storage

/// The tables of ``RichiesteService`` (versions 400–449). Instants are stored as the engine's
/// `Date` encoding (as the agenda's), enums as their proto numbers; `seq` orders rows and keys
/// the page tokens. The agenda reads `ticketing_richieste` (id, matricola, sede_code, state,
/// esito, opened_at, threshold_days) and appends to `ticketing_richieste_history` through
/// ``AgendaRichiesteTables``.
extension TicketingSchema {
  /// Versions 400–449.
  static var richiesteMigrations: [Migration] {
    [richieste, history, protocolCounters, searchIndexes]
  }

  /// `SearchRichieste` by matricola with a state or subject filter, newest first, reads only
  /// matching rows (measured with `bench-ticketing` over 1,000,000 richieste).
  static let searchIndexes = Migration(version: 403, name: "ticketing_richieste_search") { _ in
    """
    CREATE INDEX ticketing_richieste_matricola_state ON ticketing_richieste (matricola, state, seq);
    CREATE INDEX ticketing_richieste_matricola_subject
      ON ticketing_richieste (matricola, subject_code, seq);
    """
  }

  /// One row per richiesta (and its quesito): routing, state, contacts, the attachments' zip.
  static let richieste = Migration(version: 400, name: "ticketing_richieste") { dialect in
    """
    CREATE TABLE ticketing_richieste (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      protocol_number TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      subject_fiscal_code TEXT NOT NULL,
      subject_code TEXT NOT NULL,
      threshold_days INTEGER NOT NULL,
      text TEXT NOT NULL,
      email TEXT NOT NULL DEFAULT '',
      mobile TEXT NOT NULL DEFAULT '',
      landline TEXT NOT NULL DEFAULT '',
      fax TEXT NOT NULL DEFAULT '',
      consent_email INTEGER NOT NULL,
      consent_sms INTEGER NOT NULL,
      attachments TEXT NOT NULL DEFAULT '',
      zip \(dialect.blobType),
      state INTEGER NOT NULL,
      esito INTEGER NOT NULL DEFAULT 0,
      sede_code TEXT NOT NULL,
      requester TEXT NOT NULL,
      assigned_operator TEXT NOT NULL DEFAULT '',
      opened_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      closed_at BIGINT
    );
    CREATE INDEX ticketing_richieste_sede ON ticketing_richieste (sede_code, state, seq);
    CREATE INDEX ticketing_richieste_matricola ON ticketing_richieste (matricola, seq);
    CREATE INDEX ticketing_richieste_requester ON ticketing_richieste (requester, seq);
    """
  }

  /// Every change of a richiesta (storicizzazione): who, when, what.
  static let history = Migration(version: 401, name: "ticketing_richieste_history") { dialect in
    """
    CREATE TABLE ticketing_richieste_history (
      seq \(dialect.autoIncrementPrimaryKey),
      richiesta_id TEXT NOT NULL,
      kind INTEGER NOT NULL,
      at BIGINT NOT NULL,
      actor TEXT NOT NULL,
      comment TEXT NOT NULL DEFAULT '',
      internal INTEGER NOT NULL DEFAULT 0,
      state INTEGER NOT NULL,
      esito INTEGER NOT NULL DEFAULT 0,
      from_sede TEXT NOT NULL DEFAULT '',
      to_sede TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX ticketing_richieste_history_id ON ticketing_richieste_history (richiesta_id, seq);
    """
  }

  /// Gap-free protocol numbers per sede and year: the counter row is bumped in the write
  /// transaction that registers the richiesta.
  static let protocolCounters = Migration(version: 402, name: "ticketing_protocol_counters") { _ in
    """
    CREATE TABLE ticketing_protocol_counters (
      sede_code TEXT NOT NULL,
      year INTEGER NOT NULL,
      last INTEGER NOT NULL,
      PRIMARY KEY (sede_code, year)
    );
    """
  }
}
