import Storage

/// The tables of the Deleghe module (migration versions 200–299, see `Migration`).
///
/// Instants are `BIGINT` microseconds, calendar dates `YYYY-MM-DD` text, enum values their
/// proto numbers, booleans 0/1. Fiscal codes without `TINIT-`. `matricola` is empty for a
/// delega on every position of the subject. The OTP is stored only as its HMAC-SHA-256 under
/// the server's OTP key (`otp_hash`), never in clear.
public enum DelegheSchema {
  public static let migrations: [Migration] = [deleghe]

  static let deleghe = Migration(version: 200, name: "deleghe_deleghe") { dialect in
    """
    CREATE TABLE deleghe_deleghe (
      seq \(dialect.autoIncrementPrimaryKey),
      id TEXT NOT NULL UNIQUE,
      kind INTEGER NOT NULL,
      state INTEGER NOT NULL,
      subject_fiscal_code TEXT NOT NULL,
      matricola TEXT NOT NULL,
      delegant_fiscal_code TEXT NOT NULL,
      delegant_given_name TEXT NOT NULL DEFAULT '',
      delegant_family_name TEXT NOT NULL DEFAULT '',
      delegate_fiscal_code TEXT NOT NULL,
      delegate_given_name TEXT NOT NULL DEFAULT '',
      delegate_family_name TEXT NOT NULL DEFAULT '',
      parent_id TEXT NOT NULL DEFAULT '',
      decorrenza TEXT NOT NULL,
      end_date TEXT,
      effective_from TEXT,
      created_by TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      activated_at BIGINT,
      ended_at BIGINT,
      ended_by TEXT NOT NULL DEFAULT '',
      end_reason TEXT NOT NULL DEFAULT '',
      otp_hash \(dialect.blobType),
      otp_expires_at BIGINT,
      otp_failed_attempts INTEGER NOT NULL DEFAULT 0,
      otp_sent_at BIGINT,
      otp_sends_day TEXT NOT NULL DEFAULT '',
      otp_sends_count INTEGER NOT NULL DEFAULT 0,
      signature_declared INTEGER NOT NULL DEFAULT 0,
      signature_declared_at BIGINT,
      retention_end TEXT,
      notified_matricola TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX deleghe_delegate ON deleghe_deleghe (delegate_fiscal_code, subject_fiscal_code);
    CREATE INDEX deleghe_delegant ON deleghe_deleghe (delegant_fiscal_code, seq);
    CREATE INDEX deleghe_parent ON deleghe_deleghe (parent_id);
    CREATE INDEX deleghe_subject ON deleghe_deleghe (subject_fiscal_code, seq);
    """
  }
}
