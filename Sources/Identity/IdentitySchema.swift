import Storage

/// The tables of the Identity module (migration versions 100–199, see `Migration`).
///
/// Portable SQL for SQLite and PostgreSQL: instants are `BIGINT` microseconds, booleans 0/1,
/// enum values their proto numbers, lists of enum values comma-separated numbers (`"1,3"`).
/// Codes of persons are stored without `TINIT-`.
public enum IdentitySchema {
  /// Every migration of the module, in order.
  public static let migrations: [Migration] = [persons, requests, abilitazioni, roles, albo, sedi]

  /// Persons Cassetto knows: contacts they set, names from their last token.
  static let persons = Migration(
    version: 100, name: "identity_persons",
    sql: """
      CREATE TABLE identity_persons (
        fiscal_code TEXT PRIMARY KEY,
        given_name TEXT NOT NULL DEFAULT '',
        family_name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        pec TEXT NOT NULL DEFAULT '',
        mobile TEXT NOT NULL DEFAULT '',
        updated_at BIGINT NOT NULL
      )
      """)

  /// Enablement requests (forms SC65, SC62, RA012). `seq` orders them for page tokens.
  static let requests = Migration(version: 101, name: "identity_abilitazione_requests") {
    dialect in
    """
    CREATE TABLE identity_abilitazione_requests (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      requester_fiscal_code TEXT NOT NULL,
      form INTEGER NOT NULL,
      scopes TEXT NOT NULL,
      ra012_services TEXT NOT NULL,
      sede_code TEXT NOT NULL,
      employer_fiscal_code TEXT NOT NULL,
      state INTEGER NOT NULL,
      submitted_at BIGINT NOT NULL,
      decided_at BIGINT,
      decided_by TEXT NOT NULL DEFAULT '',
      decision_reason TEXT NOT NULL DEFAULT '',
      abilitazione_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX identity_requests_requester ON identity_abilitazione_requests
      (requester_fiscal_code, seq);
    CREATE INDEX identity_requests_sede ON identity_abilitazione_requests (sede_code, seq);
    """
  }

  /// Enablements granted by an approval or imported from the old system (`legacy_id`).
  static let abilitazioni = Migration(version: 102, name: "identity_abilitazioni") { dialect in
    """
    CREATE TABLE identity_abilitazioni (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      holder_fiscal_code TEXT NOT NULL,
      form INTEGER NOT NULL,
      scopes TEXT NOT NULL,
      ra012_services TEXT NOT NULL,
      sede_code TEXT NOT NULL,
      employer_fiscal_code TEXT NOT NULL,
      state INTEGER NOT NULL,
      granted_at BIGINT NOT NULL,
      revoked_at BIGINT,
      revoked_by TEXT NOT NULL DEFAULT '',
      revoke_reason TEXT NOT NULL DEFAULT '',
      legacy INTEGER NOT NULL DEFAULT 0,
      legacy_id TEXT UNIQUE,
      source_request_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX identity_abilitazioni_holder ON identity_abilitazioni (holder_fiscal_code, seq);
    """
  }

  /// Operator and IDM-manager roles per sede; a revoked role keeps its row (`active` 0).
  static let roles = Migration(
    version: 103, name: "identity_operator_roles",
    sql: """
      CREATE TABLE identity_operator_roles (
        fiscal_code TEXT NOT NULL,
        sede_code TEXT NOT NULL,
        role INTEGER NOT NULL,
        active INTEGER NOT NULL,
        granted_by TEXT NOT NULL,
        granted_at BIGINT NOT NULL,
        revoked_at BIGINT,
        PRIMARY KEY (fiscal_code, sede_code, role)
      );
      CREATE INDEX identity_roles_sede ON identity_operator_roles (sede_code, role);
      """)

  /// Professional-register entries (albi), one per person, register and ordine.
  static let albo = Migration(
    version: 104, name: "identity_albo_registrations",
    sql: """
      CREATE TABLE identity_albo_registrations (
        fiscal_code TEXT NOT NULL,
        albo INTEGER NOT NULL,
        ordine TEXT NOT NULL,
        registration_number TEXT NOT NULL,
        state INTEGER NOT NULL,
        registered_on TEXT NOT NULL,
        given_name TEXT NOT NULL,
        family_name TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (fiscal_code, albo, ordine)
      )
      """)

  /// Names of the territorial offices (sedi) known to this installation.
  static let sedi = Migration(
    version: 105, name: "identity_sedi",
    sql: """
      CREATE TABLE identity_sedi (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL
      )
      """)
}
