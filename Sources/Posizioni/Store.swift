import Access
import Contracts
import Foundation
import Storage
import Validation

/// Reads of subjects and positions. Columns as ``PosizioniSchema`` defines them.
enum PosizioniStore {
  static let positionColumns = """
    p.seq, p.matricola, p.subject_fiscal_code, p.fund, p.sede_code, p.description, p.state,
    p.start_date, p.end_date, s.name, s.nature, s.legal_representative, s.pec,
    s.sede_code AS subject_sede
    """

  static func subject(_ fiscalCode: String, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_Subject?
  {
    guard
      let row = try db.queryFirst(
        """
        SELECT fiscal_code, name, nature, legal_representative, pec, sede_code
        FROM posizioni_subjects WHERE fiscal_code = ?
        """, [fiscalCode])
    else { return nil }
    var subject = Cassetto_Posizioni_V1_Subject()
    subject.fiscalCode = try row.string("fiscal_code")
    subject.name = try row.string("name")
    subject.nature = .init(rawValue: try row.decode("nature", as: Int32.self))
    subject.legalRepresentative = try row.string("legal_representative")
    subject.pec = try row.string("pec")
    subject.sede = try row.string("sede_code")
    subject.altriResponsabili = try altriResponsabili(of: fiscalCode, in: db)
    return subject
  }

  static func altriResponsabili(of subject: String, in db: any ReadContext) throws -> [String] {
    try db.query(
      """
      SELECT fiscal_code FROM posizioni_subject_responsabili WHERE subject_fiscal_code = ?
      ORDER BY fiscal_code
      """, [subject]
    ).map { try $0.string("fiscal_code") }
  }

  /// A position row joined with its subject (without altri responsabili: the caller adds them).
  static func position(_ row: Row) throws -> Cassetto_Posizioni_V1_Posizione {
    var position = Cassetto_Posizioni_V1_Posizione()
    position.matricola = try row.string("matricola")
    position.subjectFiscalCode = try row.string("subject_fiscal_code")
    position.fund = .init(rawValue: try row.decode("fund", as: Int32.self))
    position.sede = try row.string("sede_code")
    position.description = try row.string("description")
    position.state = .init(rawValue: try row.decode("state", as: Int32.self))
    position.startDate = Google_Type_Date(iso: try row.string("start_date"))
    position.endDate = Google_Type_Date(iso: try row.string("end_date"))
    var subject = Cassetto_Posizioni_V1_Subject()
    subject.fiscalCode = position.subjectFiscalCode
    subject.name = try row.string("name")
    subject.nature = .init(rawValue: try row.decode("nature", as: Int32.self))
    subject.legalRepresentative = try row.string("legal_representative")
    subject.pec = try row.string("pec")
    subject.sede = try row.string("subject_sede")
    position.subject = subject
    return position
  }

  /// One position with its subject and altri responsabili.
  static func position(matricola: String, in db: any ReadContext) throws
    -> Cassetto_Posizioni_V1_Posizione?
  {
    guard
      let row = try db.queryFirst(
        """
        SELECT \(positionColumns) FROM posizioni_positions p
        JOIN posizioni_subjects s ON s.fiscal_code = p.subject_fiscal_code
        WHERE p.matricola = ?
        """, [matricola])
    else { return nil }
    var position = try position(row)
    position.subject?.altriResponsabili = try altriResponsabili(
      of: position.subjectFiscalCode, in: db)
    return position
  }
}

extension Google_Type_Date {
  /// `YYYY-MM-DD` as stored; `nil` for the empty string.
  init?(iso text: String) {
    let parts = text.split(separator: "-").compactMap { Int32($0) }
    guard parts.count == 3 else { return nil }
    self.init()
    year = parts[0]
    month = parts[1]
    day = parts[2]
  }
}

extension Cassetto_Posizioni_V1_Subject {
  var info: SubjectInfo {
    SubjectInfo(
      fiscalCode: fiscalCode, name: name,
      nature: nature == .public ? .publicBody : .privateEmployer,
      legalRepresentative: legalRepresentative.isEmpty ? nil : legalRepresentative,
      altriResponsabili: altriResponsabili, pec: pec.isEmpty ? nil : pec)
  }
}

extension Cassetto_Posizioni_V1_Posizione {
  var info: PositionInfo {
    PositionInfo(
      matricola: matricola, subjectFiscalCode: subjectFiscalCode,
      fund: fund.accessFund ?? .privatiUniEmens, sedeCode: sede,
      state: state.accessState ?? .attiva)
  }
}

/// ``PositionDirectory`` on the module's tables, for the authorization rule.
public struct PosizioniDirectory: PositionDirectory {
  let database: any Database

  public init(database: any Database) { self.database = database }

  public func subject(fiscalCode: String) async throws -> SubjectInfo? {
    try await database.read { db in try PosizioniStore.subject(fiscalCode, in: db)?.info }
  }

  public func position(matricola: String) async throws -> PositionInfo? {
    try await database.read { db in
      try PosizioniStore.position(matricola: matricola, in: db)?.info
    }
  }

  public func positions(ofSubject fiscalCode: String) async throws -> [PositionInfo] {
    try await database.read { db in
      try db.query(
        """
        SELECT \(PosizioniStore.positionColumns) FROM posizioni_positions p
        JOIN posizioni_subjects s ON s.fiscal_code = p.subject_fiscal_code
        WHERE p.subject_fiscal_code = ? ORDER BY p.seq
        """, [fiscalCode]
      ).map { try PosizioniStore.position($0).info }
    }
  }
}
