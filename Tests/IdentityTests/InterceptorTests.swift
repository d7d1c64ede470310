import Access
import RPC
import Synchronization
import Testing

/// `ServiceDefinition.intercepted(by:)`: order, refusal, task-local caller.
@Suite struct InterceptorTests {
  final class Log: Sendable {
    private let entries = Mutex<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
  }

  struct Named: ServerInterceptor {
    let name: String
    let log: Log
    func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws {
      log.add("\(name) before")
      try await next()
      log.add("\(name) after")
    }
  }

  struct Refuse: ServerInterceptor {
    func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws {
      throw RPCError(.unauthenticated, "no")
    }
  }

  struct BindCaller: ServerInterceptor {
    let caller: Caller
    func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws {
      try await Caller.$current.withValue(caller) { try await next() }
    }
  }

  static let descriptor = MethodDescriptor(service: "test.S", method: "M", kind: .unary)

  func service(_ log: Log) -> ServiceDefinition {
    ServiceDefinition(
      name: "test.S",
      methods: [
        .unary(Self.descriptor) { (request: RawMessage, _) -> RawMessage in
          log.add("handler \(Caller.current.actorID)")
          return request
        }
      ], file: nil)
  }

  func call(_ definition: ServiceDefinition) async throws -> [UInt8]? {
    let input = Mutex<[[UInt8]]>([[1, 2, 3]])
    let output = Mutex<[UInt8]?>(nil)
    let requests = RequestStream<RawMessage>(nextRaw: {
      input.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    })
    let responses = ResponseWriter<RawMessage>(writeRaw: { bytes, _ in
      output.withLock { $0 = bytes }
    })
    try await definition.methods[0].run(requests, responses, context(Self.descriptor))
    return output.withLock { $0 }
  }

  @Test func interceptorsRunOutermostFirstAroundTheHandler() async throws {
    let log = Log()
    let definition = service(log).intercepted(by: [
      Named(name: "a", log: log), Named(name: "b", log: log),
    ])
    #expect(try await call(definition) == [1, 2, 3])
    #expect(log.all == ["a before", "b before", "handler anonymous", "b after", "a after"])
    #expect(definition.methods[0].descriptor == Self.descriptor)
  }

  @Test func aRefusingInterceptorKeepsTheHandlerFromRunning() async throws {
    let log = Log()
    let definition = service(log).intercepted(by: [Named(name: "a", log: log), Refuse()])
    await #expect(throws: RPCError(.unauthenticated, "no")) { _ = try await call(definition) }
    #expect(log.all == ["a before"])
  }

  @Test func theHandlerSeesTheCallerTheInterceptorBound() async throws {
    let log = Log()
    let caller = Caller.service(ServiceIdentity(name: "ledger", permissions: []))
    _ = try await call(service(log).intercepted(by: [BindCaller(caller: caller)]))
    #expect(log.all == ["handler service:ledger"])
  }
}
