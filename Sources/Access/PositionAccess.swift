import Foundation

// Who sees which positions (API.md, Calling conventions, "Who sees a position"), as ONE seam:
// the Posizioni module asks a ``PositionAccess`` for a caller's ``PositionScope`` (to search)
// or for one decision (to read one position), and never decides visibility itself. The
// composition root wires ``BasicPositionAccess`` today (owners, operators of the sede,
// back-ends granted `posizioni.read`); the deleghe Authorizer replaces it to add the persons
// an active delega covers, without touching Posizioni.

/// Operator roles per sede; implemented by the Identity module.
public protocol OperatorDirectory: Sendable {
  /// Whether `fiscalCode` holds an active operator role at `sede`.
  func isOperator(fiscalCode: String, sede: String) async throws -> Bool
  /// The sedi where `fiscalCode` holds an active operator role.
  func operatorSedi(fiscalCode: String) async throws -> Set<String>
}

/// What a caller may see, as a set description a store can turn into one query.
public struct PositionScope: Sendable, Hashable {
  /// Every position (a back-end granted `posizioni.read`).
  public var all: Bool
  /// The positions of subjects whose legal representative or altro responsabile this
  /// codice fiscale is.
  public var owner: String?
  /// Every position managed by one of these sedi (operator roles).
  public var sedi: Set<String>
  /// Every position of these subjects (e.g. an active delega on the whole subject).
  public var subjects: Set<String>
  /// These positions (e.g. an active delega on single positions).
  public var matricole: Set<String>

  public init(
    all: Bool = false, owner: String? = nil, sedi: Set<String> = [], subjects: Set<String> = [],
    matricole: Set<String> = []
  ) {
    self.all = all
    self.owner = owner
    self.sedi = sedi
    self.subjects = subjects
    self.matricole = matricole
  }

  /// Nothing at all.
  public static let none = PositionScope()

  /// Whether the scope covers `position` of `subject` (the same rule a store applies in SQL).
  public func covers(_ position: PositionInfo, of subject: SubjectInfo) -> Bool {
    if all { return true }
    if let owner, subject.isOwner(owner) { return true }
    return sedi.contains(position.sedeCode) || subjects.contains(position.subjectFiscalCode)
      || matricole.contains(position.matricola)
  }
}

/// The visibility rule for positions, as one call.
public protocol PositionAccess: Sendable {
  /// Everything `caller` may see at `instant`.
  func scope(for caller: Caller, at instant: Date) async throws -> PositionScope
  /// Whether `caller` may read `position` (of `subject`) at `instant`.
  func mayRead(_ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date)
    async throws -> Bool
}

/// Owners, operators of the sede, back-ends granted `posizioni.read`; deny by default.
/// Deleghe are not considered (the deleghe Authorizer extends this rule).
public struct BasicPositionAccess: PositionAccess {
  let operators: any OperatorDirectory

  public init(operators: any OperatorDirectory) { self.operators = operators }

  public func scope(for caller: Caller, at instant: Date) async throws -> PositionScope {
    switch caller {
    case .anonymous: return .none
    case .service(let service):
      return service.has(.posizioniRead) ? PositionScope(all: true) : .none
    case .person(let person):
      let cf = person.codiceFiscale.value
      return PositionScope(owner: cf, sedi: try await operators.operatorSedi(fiscalCode: cf))
    }
  }

  public func mayRead(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> Bool {
    switch caller {
    case .anonymous: return false
    case .service(let service): return service.has(.posizioniRead)
    case .person(let person):
      let cf = person.codiceFiscale.value
      if subject.isOwner(cf) { return true }
      return try await operators.isOperator(fiscalCode: cf, sede: position.sedeCode)
    }
  }
}
