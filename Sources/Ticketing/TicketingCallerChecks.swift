import Access
import Foundation
import Validation

/// Who the caller is, for both halves of the Ticketing service: the sede an operator acts
/// for, whether the caller operates a sede, and the positions it may see (the one rule).
protocol TicketingCallerChecks: Sendable {
  var authorizer: Authorizer { get }
  var clock: any CallClock { get }
}

extension AgendaService: TicketingCallerChecks {}
extension RichiesteService: TicketingCallerChecks {}

extension TicketingCallerChecks {
  /// The sede an operator acts for: `requested` when the caller is an operator of it, or the
  /// only sede they work for when `requested` is empty. Non-operators: `PERMISSION_DENIED`.
  func operatorSede(_ requested: String, field: String = "sede_code") async throws -> String {
    let cf = try Caller.current.requirePerson().codiceFiscale.value
    let sedi = try await authorizer.enablements.enablements(of: cf).operatorSedi
    guard !sedi.isEmpty else {
      throw AccessError.permissionDenied("only operators of a sede may do this")
    }
    if requested.isEmpty {
      guard sedi.count == 1, let only = sedi.first else {
        throw ValidationError.field(field, "required: you are an operator of more than one sede")
      }
      return only
    }
    let code = try AgendaText.sedeCode(requested, field: field)
    guard sedi.contains(code) else {
      throw AccessError.permissionDenied("you are not an operator of sede \(code)")
    }
    return code
  }

  /// Whether the current caller (a person) is an operator of `sede`.
  func isOperator(of sede: String) async throws -> Bool {
    guard let cf = Caller.current.person?.codiceFiscale.value else { return false }
    return try await authorizer.enablements.enablements(of: cf).operatorSedi.contains(sede)
  }

  /// The position `matricola` and its subject; `NOT_FOUND` when there is none.
  func position(_ matricola: String) async throws -> (PositionInfo, SubjectInfo) {
    guard let position = try await authorizer.positions.position(matricola: matricola),
      let subject = try await authorizer.positions.subject(fiscalCode: position.subjectFiscalCode)
    else { throw AccessError.notFound("no such position") }
    return (position, subject)
  }

  /// The position `matricola` with the caller's read decision on it (the one rule: owners,
  /// delegates, operators of its sede, back-ends granted `posizioni.read`); a position the
  /// caller may not see is `NOT_FOUND` (no existence leak).
  func visiblePosition(_ matricola: String) async throws
    -> (position: PositionInfo, subject: SubjectInfo, decision: PositionReadDecision)
  {
    let (position, subject) = try await self.position(matricola)
    let decision = try await authorizer.readDecision(
      Caller.current, position: position, subject: subject, at: clock.now())
    guard decision.allowed else { throw AccessError.notFound("no such position") }
    return (position, subject, decision)
  }
}
