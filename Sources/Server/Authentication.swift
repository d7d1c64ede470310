import Access
import Foundation
import RPC
import Security

/// Resolves the caller of every call to a domain service and binds it to ``Caller/current``
/// for the handler (ARCHITECTURE.md, Security):
///
/// 1. `authorization: Bearer <jwt>` present: the token must verify with a trusted key (ES256
///    or EdDSA), with the configured `iss` and `aud`, within `exp`/`nbf`/`iat` and the allowed
///    skew, SPID level 2 or more. Any failure is `UNAUTHENTICATED`; the message names the
///    reason (expired, wrong audience, …) and never echoes the token. The identity is the
///    `fiscal_number` claim, never `sub`.
/// 2. Otherwise a client certificate verified by mutual TLS and mapped by configuration (CN or
///    SHA-256 fingerprint) makes the caller that back-end, with its permissions.
/// 3. Otherwise the caller is anonymous; each RPC decides whether that is enough (no Identity
///    RPC serves anonymous callers; health and reflection are not intercepted).
///
/// A token wins over a certificate: the front-end gateway may itself use mutual TLS while
/// calling for a person.
public struct AuthenticationInterceptor: ServerInterceptor {
  let verifiers: [JWTVerifier]
  let serviceIdentities: [ServiceIdentityRule]
  let clock: any CallClock

  public init(
    verifiers: [JWTVerifier], serviceIdentities: [ServiceIdentityRule], clock: any CallClock
  ) {
    self.verifiers = verifiers
    self.serviceIdentities = serviceIdentities
    self.clock = clock
  }

  public func intercept(context: ServerContext, next: @Sendable () async throws -> Void)
    async throws
  {
    let caller: Caller
    do {
      caller = try resolve(
        authorization: context.requestMetadata["authorization"].compactMap { value -> String? in
          if case .string(let text) = value { return text }
          return nil
        },
        certificate: context.peer.clientCertificate)
    } catch {
      // The reason and the peer, never the token. Under ObservabilityInterceptor the call's
      // structured log line carries them (status UNAUTHENTICATED, error = the reason).
      if CallObservation.current == nil {
        StatusMapping.log(
          "refused \(context.method.path) from \(context.peer.address): \(error.message)")
      }
      throw error
    }
    CallObservation.current?.setCaller(caller)
    try await Caller.$current.withValue(caller) { try await next() }
  }

  /// The caller named by the `authorization` header values and the client certificate.
  public func resolve(authorization: [String], certificate: PeerCertificate?) throws(RPCError)
    -> Caller
  {
    if !authorization.isEmpty {
      guard authorization.count == 1 else {
        throw RPCError(.unauthenticated, "send one authorization header")
      }
      let header = authorization[0]
      let scheme = "bearer "
      guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme else {
        throw RPCError(.unauthenticated, "authorization must be 'Bearer <token>'")
      }
      let token = header.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
      return .person(try verify(token))
    }
    if let certificate, let rule = rule(for: certificate) {
      return .service(rule.identity)
    }
    return .anonymous
  }

  private func verify(_ token: String) throws(RPCError) -> Person {
    guard !verifiers.isEmpty else {
      throw RPCError(.unauthenticated, "invalid token: no token issuer is trusted")
    }
    let now = clock.now()
    var failures: [JWTError] = []
    for verifier in verifiers {
      do {
        let claims = try verifier.verify(token, now: now)
        let method: Person.AuthenticationMethod =
          switch claims.method {
          case .spid: .spid
          case .cie: .cie
          case .cns: .cns
          }
        return Person(
          codiceFiscale: claims.codiceFiscale, givenName: claims.givenName,
          familyName: claims.familyName, method: method, level: claims.level.rawValue,
          tokenID: claims.tokenID)
      } catch {
        failures.append(error)
      }
    }
    // Report the reason from the verifier the token was meant for: one whose key verified
    // the signature (a claim failed) rather than one that merely did not know the key.
    let keyProblems: (JWTError) -> Bool = {
      switch $0 {
      case .badSignature, .unknownKey, .unsupportedAlgorithm: true
      default: false
      }
    }
    let reason = failures.first(where: { !keyProblems($0) }) ?? failures[0]
    throw RPCError(.unauthenticated, "invalid token: \(reason)")
  }

  private func rule(for certificate: PeerCertificate) -> ServiceIdentityRule? {
    let fingerprint = certificate.sha256Fingerprint.lowercased()
    if let pinned = serviceIdentities.first(where: { $0.selector == .sha256(fingerprint) }) {
      return pinned
    }
    guard let cn = certificate.commonName else { return nil }
    return serviceIdentities.first { $0.selector == .commonName(cn) }
  }
}
