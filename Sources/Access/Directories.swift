import Foundation
import Validation

// What the one authorization rule needs to know, as protocols. Each domain module that owns
// the data implements one (Posizioni: subjects and positions; Identity: enablements, roles and
// registers; Deleghe: deleghe), and the composition root (`Server`) wires them into the
// ``Authorizer``. Domain modules never import each other (ARCHITECTURE.md, Layers).

/// A contribution fund (gestione), mirroring `cassetto.common.v1.Fund`.
public enum Fund: String, Sendable, Hashable, CaseIterable {
  case privatiUniEmens = "privati_uniemens"
  case pubbliciGDP = "pubblici_gdp"
  case gestioneSeparata = "gestione_separata"
  case agricoli = "agricoli"
}

/// Whether a subject is a private employer or a public administration / body.
public enum SubjectNature: String, Sendable, Hashable, CaseIterable {
  case privateEmployer = "private"
  case publicBody = "public"
}

/// A soggetto contribuente as the authorization rule sees it.
public struct SubjectInfo: Sendable, Hashable {
  /// 16-character or 11-digit codice fiscale.
  public var fiscalCode: String
  public var name: String
  public var nature: SubjectNature
  /// Codice fiscale of the legal representative (rappresentante legale).
  public var legalRepresentative: String?
  /// Codici fiscali of the "altro responsabile" persons, who may act as the legal
  /// representative for delegation purposes.
  public var altriResponsabili: [String]
  /// PEC address the OTP of a delega a intermediario is sent to.
  public var pec: String?

  public init(
    fiscalCode: String, name: String, nature: SubjectNature, legalRepresentative: String?,
    altriResponsabili: [String] = [], pec: String? = nil
  ) {
    self.fiscalCode = fiscalCode
    self.name = name
    self.nature = nature
    self.legalRepresentative = legalRepresentative
    self.altriResponsabili = altriResponsabili
    self.pec = pec
  }

  /// Whether `fiscalCode` may act for the subject as its owner (legal representative or
  /// altro responsabile).
  public func isOwner(_ fiscalCode: String) -> Bool {
    legalRepresentative == fiscalCode || altriResponsabili.contains(fiscalCode)
  }
}

/// The state of a position (Attiva; Sospesa and Cessata are a design choice, DOMAIN.md).
public enum PositionState: String, Sendable, Hashable, CaseIterable {
  case attiva
  case sospesa
  case cessata
}

/// A posizione contributiva as the authorization rule sees it.
public struct PositionInfo: Sendable, Hashable {
  /// The position number (matricola).
  public var matricola: String
  public var subjectFiscalCode: String
  public var fund: Fund
  /// Four-digit code of the territorial office (sede) that manages the position.
  public var sedeCode: String
  public var state: PositionState

  public init(
    matricola: String, subjectFiscalCode: String, fund: Fund, sedeCode: String,
    state: PositionState
  ) {
    self.matricola = matricola
    self.subjectFiscalCode = subjectFiscalCode
    self.fund = fund
    self.sedeCode = sedeCode
    self.state = state
  }
}

/// Subjects and positions; implemented by the Posizioni module.
public protocol PositionDirectory: Sendable {
  func subject(fiscalCode: String) async throws -> SubjectInfo?
  func position(matricola: String) async throws -> PositionInfo?
  func positions(ofSubject fiscalCode: String) async throws -> [PositionInfo]
}
