/// Code that runs around every call of a service: authentication, error mapping, audit
/// context, logging, metrics.
///
/// An interceptor sees the call's ``ServerContext`` (method, metadata, peer) and decides
/// whether and how the rest of the chain runs: it may refuse the call by throwing (an
/// ``RPCError`` reaches the client as its status), run `next` inside a task-local binding so
/// the handler can read what the interceptor established (the caller, say), or catch what
/// `next` throws and translate it. Messages pass through untouched: the handler still reads
/// its requests and writes its responses itself, with the same flow control.
///
/// ```swift
/// struct Authenticate: ServerInterceptor {
///   func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws {
///     let caller = try resolve(context)            // throws UNAUTHENTICATED
///     try await Caller.$current.withValue(caller) { try await next() }
///   }
/// }
/// let service = IdentityService(...).serviceDefinition.intercepted(by: [Authenticate()])
/// ```
public protocol ServerInterceptor: Sendable {
  /// Runs around one call. Call `next` at most once to run the rest of the chain (the next
  /// interceptors, then the handler); not calling it ends the call with OK and no response,
  /// so an interceptor that refuses should throw instead.
  func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws
}

extension ServiceDefinition {
  /// The same service with every method wrapped by `interceptors`, the first one outermost.
  public func intercepted(by interceptors: [any ServerInterceptor]) -> ServiceDefinition {
    guard !interceptors.isEmpty else { return self }
    var copy = self
    copy.methods = methods.map { method in
      let run = method.run
      var wrapped = ServerMethod(
        descriptor: method.descriptor, maxReceiveMessageSize: method.maxReceiveMessageSize
      ) { requests, responses, context in
        try await Self.runChain(interceptors[...], context: context) {
          try await run(requests, responses, context)
        }
      }
      wrapped.runsOnEventLoop = method.runsOnEventLoop
      return wrapped
    }
    return copy
  }

  private static func runChain(
    _ interceptors: ArraySlice<any ServerInterceptor>, context: ServerContext,
    handler: @escaping @Sendable () async throws -> Void
  ) async throws {
    guard let first = interceptors.first else { return try await handler() }
    let rest = interceptors.dropFirst()
    try await first.intercept(context: context) {
      try await runChain(rest, context: context, handler: handler)
    }
  }
}
