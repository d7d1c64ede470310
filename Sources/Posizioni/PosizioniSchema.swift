import Storage

/// The tables of the Posizioni module (migration versions 300–399, see `Migration`).
///
/// Portable SQL for SQLite and PostgreSQL: instants are `BIGINT` microseconds, enum values
/// their proto numbers, calendar dates `YYYY-MM-DD` text (empty when absent), periods
/// `YYYY-MM` text, amounts `BIGINT` euro cents. `seq` columns order rows for page tokens and
/// never change on an upsert.
public enum PosizioniSchema {
  /// Every migration of the module, in order.
  public static let migrations: [Migration] = [subjects, positions, versamenti]

  /// Subjects (soggetti contribuenti) and their "altro responsabile" persons.
  /// `name_folded` is the name lowercased without accents, for prefix search.
  static let subjects = Migration(
    version: 300, name: "posizioni_subjects",
    sql: """
      CREATE TABLE posizioni_subjects (
        fiscal_code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        name_folded TEXT NOT NULL,
        nature INTEGER NOT NULL,
        legal_representative TEXT NOT NULL DEFAULT '',
        pec TEXT NOT NULL DEFAULT '',
        sede_code TEXT NOT NULL DEFAULT '',
        updated_at BIGINT NOT NULL
      );
      CREATE INDEX posizioni_subjects_name ON posizioni_subjects (name_folded);
      CREATE INDEX posizioni_subjects_legal_rep ON posizioni_subjects (legal_representative);
      CREATE TABLE posizioni_subject_responsabili (
        subject_fiscal_code TEXT NOT NULL,
        fiscal_code TEXT NOT NULL,
        PRIMARY KEY (subject_fiscal_code, fiscal_code)
      );
      CREATE INDEX posizioni_responsabili_person ON posizioni_subject_responsabili (fiscal_code);
      """)

  /// Positions (posizioni contributive), natural key `matricola`.
  static let positions = Migration(version: 301, name: "posizioni_positions") { dialect in
    """
    CREATE TABLE posizioni_positions (
      seq \(dialect.autoIncrementPrimaryKey),
      matricola TEXT NOT NULL UNIQUE,
      subject_fiscal_code TEXT NOT NULL,
      fund INTEGER NOT NULL,
      sede_code TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      state INTEGER NOT NULL,
      start_date TEXT NOT NULL DEFAULT '',
      end_date TEXT NOT NULL DEFAULT '',
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX posizioni_positions_subject ON posizioni_positions (subject_fiscal_code, seq);
    CREATE INDEX posizioni_positions_sede ON posizioni_positions (sede_code, seq);
    """
  }

  /// Payments (versamenti), natural key (channel, reference).
  static let versamenti = Migration(version: 302, name: "posizioni_versamenti") { dialect in
    """
    CREATE TABLE posizioni_versamenti (
      seq \(dialect.autoIncrementPrimaryKey),
      matricola TEXT NOT NULL,
      channel INTEGER NOT NULL,
      reference TEXT NOT NULL,
      period TEXT NOT NULL,
      amount_cents BIGINT NOT NULL,
      paid_on TEXT NOT NULL,
      UNIQUE (channel, reference)
    );
    CREATE INDEX posizioni_versamenti_position ON posizioni_versamenti (matricola, period, seq);
    """
  }
}
