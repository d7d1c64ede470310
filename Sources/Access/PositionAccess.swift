import Foundation

// Who sees which positions (API.md, Calling conventions, "Who sees a position"), as ONE seam:
// the Posizioni module asks a ``PositionAccess`` for a caller's ``PositionScope`` (to search)
// or for one decision (to read one position), and never decides visibility itself. The
// composition root wires the ``Authorizer`` (owners, operators of the sede, back-ends granted
// `posizioni.read`, persons an active delega covers): the one rule, in one place.

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
  /// The same decision with the chain that grants it, as audit text (e.g. `delega:ID`);
  /// `nil` chain when the rule does not say. Default: ``mayRead(_:position:subject:at:)``.
  func readDecision(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> PositionReadDecision
}

/// A read decision with the chain that grants it, for the access audit (issue 5 item 7).
public struct PositionReadDecision: Sendable, Hashable {
  public var allowed: Bool
  /// The grant chain as text (links joined by ` > `), `nil` when unknown or denied.
  public var chain: String?

  public init(allowed: Bool, chain: String? = nil) {
    self.allowed = allowed
    self.chain = chain
  }
}

extension PositionAccess {
  public func readDecision(
    _ caller: Caller, position: PositionInfo, subject: SubjectInfo, at instant: Date
  ) async throws -> PositionReadDecision {
    PositionReadDecision(
      allowed: try await mayRead(caller, position: position, subject: subject, at: instant))
  }
}
