/// The tables every module relies on, created by the engines before the modules' own
/// migrations (versions 1–99 belong to Storage).
public enum StorageSchema {
  /// Built-in migrations: the audit log, the outbox, idempotency keys.
  public static let migrations: [Migration] = [auditLog, outbox, idempotency]

  /// Append-only, hash-chained audit events; triggers refuse `UPDATE` and `DELETE`.
  static let auditLog = Migration(version: 1, name: "audit_events") { dialect in
    let table = """
      CREATE TABLE audit_events (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        occurred_at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT,
        delega_chain TEXT,
        outcome TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash \(dialect.blobType) NOT NULL,
        hash \(dialect.blobType) NOT NULL
      );
      CREATE INDEX audit_events_subject ON audit_events (subject, seq);
      CREATE INDEX audit_events_actor ON audit_events (actor, seq);
      """
    switch dialect {
    case .sqlite:
      return table + """
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
        """
    case .postgres:
      return table + """
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = '23000'; END $$;
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
        """
    }
  }

  /// The transactional outbox of PEC / e-mail / SMS messages.
  static let outbox = Migration(version: 2, name: "outbox_messages") { dialect in
    """
    CREATE TABLE outbox_messages (
      id \(dialect.autoIncrementPrimaryKey),
      channel TEXT NOT NULL,
      recipient TEXT NOT NULL,
      subject TEXT NOT NULL,
      body TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      attempts BIGINT NOT NULL DEFAULT 0,
      next_attempt_at BIGINT NOT NULL,
      delivered_at BIGINT,
      last_error TEXT
    );
    CREATE INDEX outbox_messages_due ON outbox_messages (delivered_at, next_attempt_at);
    """
  }

  /// The first response to each (caller, method, request_id).
  static let idempotency = Migration(version: 3, name: "idempotency_keys") { dialect in
    """
    CREATE TABLE idempotency_keys (
      caller TEXT NOT NULL,
      method TEXT NOT NULL,
      request_id TEXT NOT NULL,
      response \(dialect.blobType) NOT NULL,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (caller, method, request_id)
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
    """
  }
}
