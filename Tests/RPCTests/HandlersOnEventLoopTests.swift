import Contracts
import Foundation
import Interop
import RPC
import Testing

/// `ServerConfiguration.runsHandlersOnEventLoops`: handlers run as tasks whose executor is
/// their connection's event loop. Every kind of call must behave as on the cooperative pool,
/// including handlers that suspend (reading a request stream, writing past the high-water
/// mark) and many concurrent calls on one loop.
@Suite("Handlers on event loops")
struct HandlersOnEventLoopTests {
  static let deadline = CallOptions(timeout: .seconds(20))

  @Test func unaryCallsConcurrently() async throws {
    try await withLoopServer { client in
      try await withThrowingTaskGroup(of: Int.self) { group in
        for size in 0..<200 {
          group.addTask {
            var request = Grpc_Testing_SimpleRequest()
            request.responseSize = Int32(size)
            let response = try await client.unaryCall(request, options: Self.deadline)
            return response.message.payload?.body.count ?? 0
          }
        }
        var total = 0
        for try await count in group { total += count }
        #expect(total == (0..<200).reduce(0, +))
      }
    }
  }

  @Test func serverStreamingPastTheHighWaterMark() async throws {
    try await withLoopServer { client in
      var request = Grpc_Testing_StreamingOutputCallRequest()
      var parameters = Grpc_Testing_ResponseParameters()
      parameters.size = 64 * 1024
      request.responseParameters = Array(repeating: parameters, count: 40)  // 2.5 MiB
      let call = try await client.streamingOutputCall(request, options: Self.deadline)
      var sizes: [Int] = []
      for try await response in call.responses { sizes.append(response.payload?.body.count ?? -1) }
      #expect(sizes == Array(repeating: 64 * 1024, count: 40))
    }
  }

  @Test func pingPongSuspendsOnReads() async throws {
    try await withLoopServer { client in
      let call = try await client.fullDuplexCall(options: Self.deadline)
      var iterator = call.responses.makeAsyncIterator()
      for size in [31415, 9, 2653, 58979] {
        var request = Grpc_Testing_StreamingOutputCallRequest()
        var parameters = Grpc_Testing_ResponseParameters()
        parameters.size = Int32(size)
        request.responseParameters = [parameters]
        try await call.send(request)
        let response = try await iterator.next()
        #expect(response?.payload?.body.count == size)
      }
      try await call.closeSend()
      #expect(try await iterator.next() == nil)
    }
  }

  @Test func errorStatusFromHandler() async throws {
    try await withLoopServer { client in
      var request = Grpc_Testing_SimpleRequest()
      var status = Grpc_Testing_EchoStatus()
      status.code = Int32(StatusCode.resourceExhausted.rawValue)
      status.message = "on the loop"
      request.responseStatus = status
      let error = await #expect(throws: RPCError.self) {
        try await client.unaryCall(request, options: Self.deadline)
      }
      #expect(error?.code == .resourceExhausted)
      #expect(error?.message == "on the loop")
    }
  }
}

@Suite("ServerConfiguration.processorCount")
struct ProcessorCountTests {
  /// The default event-loop count follows the CPU affinity mask (`taskset -c 0` → 1 loop),
  /// which the kernel also reports in /proc/self/status as Cpus_allowed_list.
  @Test func followsTheAffinityMask() throws {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
    var allowed = 0
    for range in line.split(separator: ":")[1].split(separator: ",") {
      let bounds = range.trimmingCharacters(in: .whitespaces).split(separator: "-").compactMap { Int($0) }
      allowed += bounds.count == 2 ? bounds[1] - bounds[0] + 1 : 1
    }
    #expect(ServerConfiguration.processorCount == allowed)
    #expect(ServerConfiguration(host: "127.0.0.1", port: 0).eventLoopCount == allowed)
  }
}

private func withLoopServer(
  _ body: (Grpc_Testing_TestServiceClient) async throws -> Void
) async throws {
  var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
  configuration.runsHandlersOnEventLoops = true
  let server = try Server(
    configuration: configuration, services: [InteropTestService().serviceDefinition])
  try server.start()
  let channel = Channel(host: "127.0.0.1", port: server.localPort)
  do {
    try await body(Grpc_Testing_TestServiceClient(channel: channel))
  } catch {
    channel.close()
    await server.shutdown(gracePeriod: .seconds(1))
    throw error
  }
  channel.close()
  await server.shutdown(gracePeriod: .seconds(1))
}

/// `ServiceDefinition.runningOnEventLoops()`: a service declared non-blocking runs its
/// handlers with the connection's event loop as task executor even when the server-wide
/// option is off; any other service stays on the cooperative pool; interceptors keep the
/// declaration.
@Suite("Non-blocking services")
struct NonBlockingServiceTests {
  static let probe = MethodDescriptor(service: "test.Probe", method: "Where", kind: .unary)

  /// A unary method answering whether its task has an executor preference (the loop).
  static func probeService() -> ServiceDefinition {
    ServiceDefinition(
      name: "test.Probe",
      methods: [
        .unary(probe) { (_: RawMessage, _: ServerContext) -> RawMessage in
          let onLoop = withUnsafeCurrentTask { $0?.unownedTaskExecutor != nil }
          return RawMessage(bytes: [onLoop ? 1 : 0])
        }
      ], file: nil)
  }

  struct PassThrough: ServerInterceptor {
    func intercept(context: ServerContext, next: @Sendable () async throws -> Void) async throws
    {
      try await next()
    }
  }

  func whereItRuns(_ service: ServiceDefinition) async throws -> UInt8? {
    let configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
    #expect(configuration.runsHandlersOnEventLoops == false)
    let server = try Server(configuration: configuration, services: [service])
    try server.start()
    let channel = Channel(host: "127.0.0.1", port: server.localPort)
    defer { channel.close() }
    let response: ClientResponse<RawMessage> = try await channel.unary(
      Self.probe, request: RawMessage(bytes: []), options: CallOptions(timeout: .seconds(20)))
    await server.shutdown(gracePeriod: .seconds(1))
    return response.message.bytes.first
  }

  @Test func declaredServiceRunsOnTheLoop() async throws {
    #expect(try await whereItRuns(Self.probeService().runningOnEventLoops()) == 1)
    #expect(
      try await whereItRuns(
        Self.probeService().runningOnEventLoops().intercepted(by: [PassThrough()])) == 1)
  }

  @Test func otherServicesStayOnThePool() async throws {
    #expect(try await whereItRuns(Self.probeService()) == 0)
    #expect(try await whereItRuns(Self.probeService().intercepted(by: [PassThrough()])) == 0)
  }
}
