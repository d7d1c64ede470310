import Contracts
import RPC
import Synchronization

/// `grpc.health.v1.Health`: the standard health service load balancers and probes call.
///
/// The empty service name stands for the whole server. A service never registered answers
/// `NOT_FOUND` to `Check` and `SERVICE_UNKNOWN` to `Watch`, as the protocol says. On shutdown
/// every service turns `NOT_SERVING`, so balancers drain before the process exits.
public final class HealthService: Grpc_Health_V1_HealthHandler {
  public typealias ServingStatus = Grpc_Health_V1_HealthCheckResponse.ServingStatus

  private struct State {
    var statuses: [String: ServingStatus] = ["": .serving]
    var watchers: [Int: (service: String, continuation: AsyncStream<ServingStatus>.Continuation)] =
      [:]
    var nextWatcher = 0
    var shuttingDown = false
  }
  private let state = Mutex(State())

  public init() {}

  /// Sets the status of `service` and tells its watchers. Ignored after ``enterShutdown()``.
  public func setStatus(_ status: ServingStatus, forService service: String) {
    state.withLock { s in
      guard !s.shuttingDown else { return }
      Self.update(&s, service: service, status: status)
    }
  }

  /// Marks every service `NOT_SERVING` for good.
  public func enterShutdown() {
    state.withLock { s in
      s.shuttingDown = true
      for service in s.statuses.keys { Self.update(&s, service: service, status: .notServing) }
    }
  }

  private static func update(_ s: inout State, service: String, status: ServingStatus) {
    guard s.statuses[service] != status else { return }
    s.statuses[service] = status
    for watcher in s.watchers.values where watcher.service == service {
      watcher.continuation.yield(status)
    }
  }

  public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext)
    async throws -> Grpc_Health_V1_HealthCheckResponse
  {
    guard let status = state.withLock({ $0.statuses[request.service] }) else {
      throw RPCError(.notFound, "unknown service")
    }
    var response = Grpc_Health_V1_HealthCheckResponse()
    response.status = status
    return response
  }

  public func list(request: Grpc_Health_V1_HealthListRequest, context: ServerContext)
    async throws -> Grpc_Health_V1_HealthListResponse
  {
    var response = Grpc_Health_V1_HealthListResponse()
    for (service, status) in state.withLock({ $0.statuses }) {
      var entry = Grpc_Health_V1_HealthCheckResponse()
      entry.status = status
      response.statuses[service] = entry
    }
    return response
  }

  public func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    responses: ResponseWriter<Grpc_Health_V1_HealthCheckResponse>, context: ServerContext
  ) async throws {
    let (stream, continuation) = AsyncStream.makeStream(
      of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
    let id = state.withLock { s in
      let id = s.nextWatcher
      s.nextWatcher += 1
      s.watchers[id] = (request.service, continuation)
      continuation.yield(s.statuses[request.service] ?? .serviceUnknown)
      return id
    }
    defer { _ = state.withLock { $0.watchers.removeValue(forKey: id) } }
    try await withTaskCancellationHandler {
      for await status in stream {
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = status
        try await responses.write(response)
      }
    } onCancel: {
      continuation.finish()
    }
    try Task.checkCancellation()
  }
}
