import Contracts
import RPC

/// One kind of call the load generator repeats. A scenario is built once per run; each
/// worker (one concurrent stream) asks it for one `LoadCall` per connection, which it then
/// invokes in a loop. Domain scenarios (Posizioni search, Deleghe CheckAccess, …) plug in by
/// conforming and registering in `ScenarioRegistry`.
protocol LoadScenario: Sendable {
  /// Name used on the command line and in the JSON output.
  static var name: String { get }
  /// What `CallResult.messages` counts, for the report ("responses", "messages").
  var messageUnit: String { get }
  /// The operation one worker repeats on `channel`.
  func makeCall(channel: Channel) -> LoadCall
}

/// One call of a scenario: performs it and says how many messages and payload bytes came
/// back. Throws `RPCError` for a non-OK status (counted by code) or anything else
/// (counted as a transport error).
struct LoadCall: Sendable {
  var invoke: @Sendable () async throws -> CallResult
}

struct CallResult: Sendable {
  var messages: Int
  var bytes: Int
  /// The RPC (or operation) this call was, for per-RPC figures of mixed scenarios.
  var label: String? = nil
}

/// A failed call of a mixed scenario, with the RPC it was.
struct LabeledError: Error {
  var label: String
  var error: any Error
}

enum ScenarioRegistry {
  static let names = [UnaryScenario.name, ServerStreamingScenario.name, DomainScenario.name]

  static func make(_ name: String, options: ScenarioOptions) -> (any LoadScenario)? {
    switch name {
    case UnaryScenario.name: return UnaryScenario(options: options)
    case ServerStreamingScenario.name: return ServerStreamingScenario(options: options)
    default: return nil
    }
  }
}

struct ScenarioOptions: Sendable {
  var requestSize: Int
  var responseSize: Int
  var streamMessages: Int
  var timeout: Duration?
}

/// `grpc.testing.TestService/UnaryCall`: `requestSize` bytes of payload in,
/// `responseSize` bytes out (the bench-rpc scenario: 100 and 100).
struct UnaryScenario: LoadScenario {
  static let name = "unary"
  let messageUnit = "responses"
  let request: Grpc_Testing_SimpleRequest
  let options: CallOptions

  init(options: ScenarioOptions) {
    var request = Grpc_Testing_SimpleRequest()
    request.responseSize = Int32(options.responseSize)
    var payload = Grpc_Testing_Payload()
    payload.body = [UInt8](repeating: 0, count: options.requestSize)
    request.payload = payload
    self.request = request
    self.options = CallOptions(timeout: options.timeout)
  }

  func makeCall(channel: Channel) -> LoadCall {
    let client = Grpc_Testing_TestServiceClient(channel: channel)
    let request = self.request
    let options = self.options
    return LoadCall {
      let response = try await client.unaryCall(request, options: options)
      return CallResult(messages: 1, bytes: response.message.payload?.body.count ?? 0)
    }
  }
}

/// `grpc.testing.TestService/StreamingOutputCall`: one request asking for `streamMessages`
/// responses of `responseSize` bytes each; throughput is reported in messages/s.
struct ServerStreamingScenario: LoadScenario {
  static let name = "server-streaming"
  let messageUnit = "messages"
  let request: Grpc_Testing_StreamingOutputCallRequest
  let options: CallOptions

  init(options: ScenarioOptions) {
    var request = Grpc_Testing_StreamingOutputCallRequest()
    var parameters = Grpc_Testing_ResponseParameters()
    parameters.size = Int32(options.responseSize)
    request.responseParameters = Array(repeating: parameters, count: options.streamMessages)
    self.request = request
    self.options = CallOptions(timeout: options.timeout)
  }

  func makeCall(channel: Channel) -> LoadCall {
    let client = Grpc_Testing_TestServiceClient(channel: channel)
    let request = self.request
    let options = self.options
    return LoadCall {
      let call = try await client.streamingOutputCall(request, options: options)
      var messages = 0
      var bytes = 0
      for try await response in call.responses {
        messages += 1
        bytes += response.payload?.body.count ?? 0
      }
      return CallResult(messages: messages, bytes: bytes)
    }
  }
}
