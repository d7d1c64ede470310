import Contracts
import Foundation
import Storage
import Validation

/// The Identity module's statements, each run inside a caller's read or write context so a
/// mutation, its audit event and its idempotency record share one transaction.
public enum IdentityStore {
  // MARK: Roles

  /// Sedi where `person` holds `role`, active.
  public static func sedi(
    where person: String, holds role: Cassetto_Identity_V1_Role, in db: any ReadContext
  ) throws -> Set<String> {
    Set(
      try db.query(
        "SELECT sede_code FROM identity_operator_roles WHERE fiscal_code = ? AND role = ? AND active = 1",
        [person, role.rawValue]
      ).map { try $0.string("sede_code") })
  }

  /// Whether `person` holds `role` at `sede`, active.
  public static func holds(
    _ person: String, _ role: Cassetto_Identity_V1_Role, at sede: String, in db: any ReadContext
  ) throws -> Bool {
    try db.queryFirst(
      """
      SELECT 1 AS found FROM identity_operator_roles
      WHERE fiscal_code = ? AND sede_code = ? AND role = ? AND active = 1
      """, [person, sede, role.rawValue]) != nil
  }

  static func role(
    _ person: String, _ role: Cassetto_Identity_V1_Role, at sede: String, in db: any ReadContext
  ) throws -> Row? {
    try db.queryFirst(
      "SELECT * FROM identity_operator_roles WHERE fiscal_code = ? AND sede_code = ? AND role = ?",
      [person, sede, role.rawValue])
  }

  /// Active roles of `person`.
  static func roles(of person: String, in db: any ReadContext) throws
    -> [Cassetto_Identity_V1_OperatorRole]
  {
    try db.query(
      """
      SELECT * FROM identity_operator_roles WHERE fiscal_code = ? AND active = 1
      ORDER BY sede_code, role
      """, [person]
    ).map(Records.role)
  }

  /// Grants (or re-activates) `role` at `sede`; returns the stored role.
  static func grant(
    _ person: String, _ role: Cassetto_Identity_V1_Role, at sede: String, by grantor: String,
    now: Date, in db: any WriteContext
  ) throws -> Cassetto_Identity_V1_OperatorRole {
    if try self.role(person, role, at: sede, in: db) != nil {
      try db.execute(
        """
        UPDATE identity_operator_roles SET active = 1, granted_by = ?, granted_at = ?,
          revoked_at = NULL WHERE fiscal_code = ? AND sede_code = ? AND role = ?
        """, [grantor, now, person, sede, role.rawValue])
    } else {
      try db.execute(
        """
        INSERT INTO identity_operator_roles (fiscal_code, sede_code, role, active, granted_by,
          granted_at) VALUES (?, ?, ?, 1, ?, ?)
        """, [person, sede, role.rawValue, grantor, now])
    }
    guard let row = try self.role(person, role, at: sede, in: db) else {
      throw StorageError.corrupt("operator role vanished after it was written")
    }
    return try Records.role(row)
  }

  // MARK: Requests

  static func request(id: String, in db: any ReadContext) throws -> Row? {
    try db.queryFirst("SELECT * FROM identity_abilitazione_requests WHERE id = ?", [id])
  }

  // MARK: Abilitazioni

  static func abilitazione(id: String, in db: any ReadContext) throws -> Row? {
    try db.queryFirst("SELECT * FROM identity_abilitazioni WHERE id = ?", [id])
  }

  /// Active enablements of `person` (profiles and scopes, for the authorization rule).
  public static func activeAbilitazioni(of person: String, in db: any ReadContext) throws
    -> [Cassetto_Identity_V1_Abilitazione]
  {
    try db.query(
      "SELECT * FROM identity_abilitazioni WHERE holder_fiscal_code = ? AND state = ? ORDER BY seq",
      [person, Cassetto_Identity_V1_AbilitazioneState.active.rawValue]
    ).map(Records.abilitazione)
  }

  /// Inserts an active enablement and returns it.
  static func insertAbilitazione(
    id: String, holder: String, form: Cassetto_Identity_V1_Form,
    scopes: [Cassetto_Common_V1_Scope], services: [Cassetto_Identity_V1_Ra012Service],
    sede: String, employer: String, grantedAt: Date, legacyID: String?, sourceRequestID: String,
    in db: any WriteContext
  ) throws -> Cassetto_Identity_V1_Abilitazione {
    try db.execute(
      """
      INSERT INTO identity_abilitazioni (id, holder_fiscal_code, form, scopes, ra012_services,
        sede_code, employer_fiscal_code, state, granted_at, legacy, legacy_id, source_request_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """,
      [
        id, holder, form.rawValue, EnumList.encode(scopes), EnumList.encode(services), sede,
        employer, Cassetto_Identity_V1_AbilitazioneState.active.rawValue, grantedAt,
        legacyID != nil, legacyID, sourceRequestID,
      ])
    guard let row = try abilitazione(id: id, in: db) else {
      throw StorageError.corrupt("abilitazione vanished after it was written")
    }
    return try Records.abilitazione(row)
  }

  // MARK: Persons and registers

  /// Stored contacts of `person` (empty when none were set).
  static func contacts(of person: String, in db: any ReadContext) throws
    -> Cassetto_Common_V1_Contacts
  {
    var contacts = Cassetto_Common_V1_Contacts()
    if let row = try db.queryFirst(
      "SELECT email, pec, mobile FROM identity_persons WHERE fiscal_code = ?", [person])
    {
      contacts.email = try row.string("email")
      contacts.pec = try row.string("pec")
      contacts.mobile = try row.string("mobile")
    }
    return contacts
  }

  /// Active professional-register entries of `person`: a person is an intermediary
  /// (L. 12/1979 art. 1) while at least one is active; a lapsed entry no longer counts.
  public static func activeAlboRegistrations(of person: String, in db: any ReadContext) throws
    -> [Cassetto_Identity_V1_AlboRegistration]
  {
    try db.query(
      """
      SELECT * FROM identity_albo_registrations WHERE fiscal_code = ? AND state = ?
      ORDER BY albo, ordine
      """, [person, Cassetto_Identity_V1_AlboState.active.rawValue]
    ).map(Records.albo)
  }

  /// Whether `person` may act as an intermediary now: an active register entry.
  public static func isIntermediary(_ person: String, in db: any ReadContext) throws -> Bool {
    try !activeAlboRegistrations(of: person, in: db).isEmpty
  }

  /// Records the name of a sede (demo data, configuration).
  public static func upsertSede(code: String, name: String, in db: any WriteContext) throws {
    try db.execute(
      """
      INSERT INTO identity_sedi (code, name) VALUES (?, ?)
      ON CONFLICT (code) DO UPDATE SET name = excluded.name
      """, [code, name])
  }
}
