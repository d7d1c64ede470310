import Storage

/// The tables of the Posizioni module (migration versions 300–399, see `Migration`; 310–329
/// the GDP data of issue 5 part A, 330–349 reserved for part B).
///
/// Portable SQL for SQLite and PostgreSQL: instants are `BIGINT` microseconds, enum values
/// their proto numbers, calendar dates `YYYY-MM-DD` text (empty when absent), periods
/// `YYYY-MM` text, amounts `BIGINT` euro cents. `seq` columns order rows for page tokens and
/// never change on an upsert.
public enum PosizioniSchema {
  /// Every migration of the module, in order.
  public static let migrations: [Migration] = [
    subjects, positions, versamenti, noteRettifica, pianiAmmortamento, denunce, noteDebito,
    evidenze, contestAttachments,
  ]

  /// The attachments of a debit note's contestation (`ContestNotaDebito`), at most three.
  static let contestAttachments = Migration(
    version: 330, name: "posizioni_contest_attachments"
  ) { dialect in
    """
    CREATE TABLE posizioni_contest_attachments (
      nota_id TEXT NOT NULL,
      number INTEGER NOT NULL,
      file_name TEXT NOT NULL,
      content_type TEXT NOT NULL,
      size BIGINT NOT NULL,
      sha256 TEXT NOT NULL,
      data \(dialect.blobType) NOT NULL,
      PRIMARY KEY (nota_id, number)
    );
    """
  }

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

  /// Correction notes (note di rettifica), natural key `id` (the originating system's).
  static let noteRettifica = Migration(version: 310, name: "posizioni_note_rettifica") {
    dialect in
    """
    CREATE TABLE posizioni_note_rettifica (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      period TEXT NOT NULL,
      amount_cents BIGINT NOT NULL,
      reason TEXT NOT NULL DEFAULT '',
      issued_on TEXT NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX posizioni_note_rettifica_position
      ON posizioni_note_rettifica (matricola, period, seq);
    """
  }

  /// Amortisation plans (pension and TFS benefits), natural key `id`, and their instalments
  /// (key plan + number; replaced as a whole when a plan's instalments change).
  static let pianiAmmortamento = Migration(version: 311, name: "posizioni_piani_ammortamento") {
    dialect in
    """
    CREATE TABLE posizioni_piani (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      benefit INTEGER NOT NULL,
      total_cents BIGINT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      granted_on TEXT NOT NULL DEFAULT '',
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX posizioni_piani_position ON posizioni_piani (matricola, seq);
    CREATE TABLE posizioni_piani_rate (
      piano_id TEXT NOT NULL,
      number INTEGER NOT NULL,
      due_on TEXT NOT NULL,
      amount_cents BIGINT NOT NULL,
      paid INTEGER NOT NULL,
      paid_on TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (piano_id, number)
    );
    """
  }

  /// Monthly declarations (UniEmens / DMA ListaPosPA), natural key `id`, with their lines and
  /// errors (each replaced as a whole when they change). `errors_count` serves the "with
  /// errors" filter and the summary; totals are the sums over the lines (or the back-end's
  /// figures when it sends no lines).
  static let denunce = Migration(version: 312, name: "posizioni_denunce") { dialect in
    """
    CREATE TABLE posizioni_denunce (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      period TEXT NOT NULL,
      kind INTEGER NOT NULL,
      source INTEGER NOT NULL,
      submitted_on TEXT NOT NULL,
      lines_count INTEGER NOT NULL,
      total_taxable_cents BIGINT NOT NULL,
      total_contribution_cents BIGINT NOT NULL,
      errors_count INTEGER NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX posizioni_denunce_position ON posizioni_denunce (matricola, period, seq);
    CREATE TABLE posizioni_denuncia_lines (
      denuncia_id TEXT NOT NULL,
      number INTEGER NOT NULL,
      employee_fiscal_code TEXT NOT NULL,
      fund_code TEXT NOT NULL,
      taxable_cents BIGINT NOT NULL,
      contribution_cents BIGINT NOT NULL,
      PRIMARY KEY (denuncia_id, number)
    );
    CREATE TABLE posizioni_denuncia_errors (
      denuncia_id TEXT NOT NULL,
      number INTEGER NOT NULL,
      line INTEGER NOT NULL,
      code TEXT NOT NULL,
      message TEXT NOT NULL,
      PRIMARY KEY (denuncia_id, number)
    );
    """
  }

  /// Debit notes (adjustments, regularisations, ECA), natural key `id`, with their periods.
  /// `state` is the back-end's administrative state; the contest columns (`contested_at`
  /// microseconds, 0 = not contested) are written by `ContestNotaDebito` only, never by Ingest.
  static let noteDebito = Migration(version: 313, name: "posizioni_note_debito") { dialect in
    """
    CREATE TABLE posizioni_note_debito (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      kind INTEGER NOT NULL,
      state INTEGER NOT NULL,
      period TEXT NOT NULL,
      amount_cents BIGINT NOT NULL,
      issued_on TEXT NOT NULL,
      due_on TEXT NOT NULL,
      contested_at BIGINT NOT NULL DEFAULT 0,
      contest_reason TEXT NOT NULL DEFAULT '',
      contest_richiesta_id TEXT NOT NULL DEFAULT '',
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX posizioni_note_debito_position ON posizioni_note_debito (matricola, period, seq);
    CREATE TABLE posizioni_nota_debito_periodi (
      nota_id TEXT NOT NULL,
      period TEXT NOT NULL,
      contribution_cents BIGINT NOT NULL,
      due_on TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (nota_id, period)
    );
    """
  }

  /// Alerts (evidenze), natural key `id`.
  static let evidenze = Migration(version: 314, name: "posizioni_evidenze") { dialect in
    """
    CREATE TABLE posizioni_evidenze (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      matricola TEXT NOT NULL,
      code TEXT NOT NULL,
      description TEXT NOT NULL,
      opened_on TEXT NOT NULL,
      closed_on TEXT NOT NULL DEFAULT '',
      is_open INTEGER NOT NULL,
      updated_at BIGINT NOT NULL
    );
    CREATE INDEX posizioni_evidenze_position ON posizioni_evidenze (matricola, seq);
    """
  }
}
