import RPC

/// Metrics and logs of the server: one ``Metrics`` registry, one ``StructuredLogger``, and
/// the interceptor that feeds both for every call.
public final class Observability: Sendable {
  public let metrics: Metrics
  public let logger: StructuredLogger

  public init(
    metrics: Metrics = Metrics(), logger: StructuredLogger = StructuredLogger(format: .none)
  ) {
    self.metrics = metrics
    self.logger = logger
  }

  /// Wrap every service with this, outermost (before error mapping, so it sees final
  /// statuses).
  public var interceptor: ObservabilityInterceptor {
    ObservabilityInterceptor(metrics: metrics, logger: logger)
  }
}

/// Counts, times and logs every call it wraps: one log line per call with `method`, `status`,
/// `duration_ms`, `peer`, `caller` (masked fiscal code, `service:NAME` or `anonymous`),
/// `request_id` and, on failure, `error` (the status message with fiscal codes masked). The
/// request id is the client's `x-request-id` (if printable and at most 128 characters) or a
/// new random one; it is returned as `x-request-id` response metadata.
///
/// The status is the one thrown (`RPCError`; `CancellationError` → CANCELLED; anything else
/// → UNKNOWN) or OK when the handler returns. Put it outside ``ErrorMappingInterceptor`` so
/// domain errors arrive already mapped. Metadata, messages and tokens are never logged.
public struct ObservabilityInterceptor: ServerInterceptor {
  let metrics: Metrics
  let logger: StructuredLogger

  public init(metrics: Metrics, logger: StructuredLogger) {
    self.metrics = metrics
    self.logger = logger
  }

  public func intercept(context: ServerContext, next: @Sendable () async throws -> Void)
    async throws
  {
    let statistics = metrics.statistics(for: context.method)
    statistics.callStarted()
    let start = ContinuousClock.now
    let requestID =
      context.requestMetadata.firstString(forKey: "x-request-id").flatMap(Self.acceptedRequestID)
      ?? Self.newRequestID()
    context.addInitialMetadata(["x-request-id": requestID])
    let observation = CallObservation()
    var code = StatusCode.ok
    var message: String? = nil
    do {
      try await CallObservation.$current.withValue(observation) { try await next() }
    } catch let error as RPCError {
      code = error.code
      message = error.message
      finish(statistics, context, start, code, message, requestID, observation)
      throw error
    } catch is CancellationError {
      code = .cancelled
      finish(statistics, context, start, code, "cancelled", requestID, observation)
      throw CancellationError()
    } catch {
      code = .unknown
      finish(statistics, context, start, code, "handler error", requestID, observation)
      throw error
    }
    finish(statistics, context, start, code, message, requestID, observation)
  }

  private func finish(
    _ statistics: MethodStatistics, _ context: ServerContext, _ start: ContinuousClock.Instant,
    _ code: StatusCode, _ message: String?, _ requestID: String, _ observation: CallObservation
  ) {
    let elapsed = ContinuousClock.now - start
    let seconds =
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    statistics.callEnded(code, seconds: seconds)
    guard logger.format != .none else { return }
    var fields: [(String, LogValue)] = [
      ("level", .string(code == .ok ? "info" : "warn")),
      ("msg", .string("rpc")),
      ("method", .string(context.method.path)),
      ("status", .string(code.description)),
      ("duration_ms", .double((seconds * 1_000_000).rounded() / 1000)),
      ("peer", .string(context.peer.address)),
      ("caller", .string(observation.caller ?? "anonymous")),
      ("request_id", .string(requestID)),
    ]
    if let message, code != .ok {
      fields.append(("error", .string(FiscalCodeMask.maskAll(in: message))))
    }
    logger.log(fields)
  }

  /// A client's request id is kept when it is 1...128 printable ASCII characters without
  /// spaces or quotes.
  static func acceptedRequestID(_ value: String) -> String? {
    let scalars = value.unicodeScalars
    guard (1...128).contains(scalars.count),
      scalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" && $0 != "\\" })
    else { return nil }
    return value
  }

  /// 32 lowercase hex digits from the system's random generator.
  static func newRequestID() -> String {
    var generator = SystemRandomNumberGenerator()
    let high = generator.next() as UInt64
    let low = generator.next() as UInt64
    func hex(_ value: UInt64) -> String {
      let text = String(value, radix: 16)
      return String(repeating: "0", count: 16 - text.count) + text
    }
    return hex(high) + hex(low)
  }
}
