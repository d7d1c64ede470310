import Foundation
import Synchronization
import Testing

@testable import RPC

/// A one-field protobuf message (`string text = 1;`) decoded strictly, so that garbage on
/// the wire fails decoding the way generated messages do.
struct EchoText: ProtoMessage, Equatable {
  var text = ""
  init() {}
  init(_ text: String) { self.text = text }

  init(serializedBytes bytes: UnsafeRawBufferPointer) throws {
    var index = 0
    while index < bytes.count {
      let tag = bytes[index]
      index += 1
      guard tag == 0x0A else { throw ProtoDecodingError(messageName: "EchoText") }
      var length = 0
      var shift = 0
      while true {
        guard index < bytes.count, shift < 35 else {
          throw ProtoDecodingError(messageName: "EchoText")
        }
        let byte = bytes[index]
        index += 1
        length |= Int(byte & 0x7F) << shift
        shift += 7
        if byte & 0x80 == 0 { break }
      }
      guard length <= bytes.count - index else { throw ProtoDecodingError(messageName: "EchoText") }
      text = String(
        decoding: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + length)]), as: UTF8.self)
      index += length
    }
  }

  func serialize(into buffer: inout [UInt8]) {
    let utf8 = Array(text.utf8)
    guard !utf8.isEmpty else { return }
    buffer.append(0x0A)
    var length = utf8.count
    while length >= 0x80 {
      buffer.append(UInt8(length & 0x7F) | 0x80)
      length >>= 7
    }
    buffer.append(UInt8(length))
    buffer.append(contentsOf: utf8)
  }
}

struct HandlerCrash: Error {}


/// `cassetto.test.Echo`: the service the server's wire tests call.
///
/// - `Get` (unary, `EchoText`): echoes the text; `x-echo-*` request metadata comes back as
///   initial and trailing metadata. Text `fail` throws INVALID_ARGUMENT with a non-ASCII
///   message and details; `crash` throws a non-RPC error; `sleep` waits 30 s (deadline
///   tests); `compress` turns on response compression.
/// - `Expand` (server streaming, raw): sends the request back N times (N = first byte);
///   with second byte 1, every other message is written with `compress: true`.
/// - `Collect` (client streaming, raw): answers the concatenation of all requests, preceded
///   by the `lastRequestWasCompressed` flag of the last one.
/// - `Chat` (bidi, raw): echoes every message as it arrives.
/// - `Big` (unary, raw): like Get but accepts 8 MiB and answers the request's size.
enum EchoService {
  static let name = "cassetto.test.Echo"

  static func definition() -> ServiceDefinition {
    ServiceDefinition(
      name: name,
      methods: [
        .unary(MethodDescriptor(service: name, method: "Get", kind: .unary)) {
          (request: EchoText, context: ServerContext) in
          var echoed = Metadata()
          for (key, value) in context.requestMetadata where key.hasPrefix("x-echo") {
            echoed.add(value, forKey: key)
          }
          context.addInitialMetadata(echoed)
          context.addTrailingMetadata(echoed)
          switch request.text {
          case "fail":
            throw RPCError(.invalidArgument, "bad input: naïve 100% ☃\n", details: [1, 2, 3])
          case "crash":
            throw HandlerCrash()
          case "sleep":
            try await Task.sleep(for: .seconds(30))
          case "compress":
            context.compressResponses = true
          case "slow":
            try await Task.sleep(for: .milliseconds(700))
          case "peer":
            let peer = context.peer
            return EchoText(
              "secure=\(peer.isSecure) cn=\(peer.clientCertificate?.commonName ?? "-")")
          case "shutdown":
            guard let trigger = context.requestMetadata.firstString(forKey: "x-trigger"),
              let server = ShutdownTriggers.server(trigger)
            else { throw RPCError(.failedPrecondition, "no server to shut down") }
            Task { await server.shutdown(gracePeriod: .seconds(5)) }
          default:
            break
          }
          return EchoText(request.text)
        },
        .serverStreaming(MethodDescriptor(service: name, method: "Expand", kind: .serverStreaming))
        { (request: RawMessage, responses: ResponseWriter<RawMessage>, context: ServerContext) in
          // Second byte 1: compress every other message (per-message override).
          let count = Int(request.bytes.first ?? 0)
          let alternate = request.bytes.count > 1 && request.bytes[1] == 1
          for index in 0..<count {
            try await responses.write(request, compress: alternate ? index % 2 == 0 : nil)
          }
        },
        .clientStreaming(MethodDescriptor(service: name, method: "Collect", kind: .clientStreaming))
        { (requests: RequestStream<RawMessage>, context: ServerContext) in
          var all: [UInt8] = []
          for try await message in requests { all.append(contentsOf: message.bytes) }
          return RawMessage(bytes: [context.lastRequestWasCompressed ? 1 : 0] + all)
        },
        .bidirectionalStreaming(
          MethodDescriptor(service: name, method: "Chat", kind: .bidirectionalStreaming)
        ) { (requests: RequestStream<RawMessage>, responses: ResponseWriter<RawMessage>, _) in
          for try await message in requests { try await responses.write(message) }
        },
        .serverStreaming(MethodDescriptor(service: name, method: "Flood", kind: .serverStreaming)) {
          (request: RawMessage, responses: ResponseWriter<RawMessage>, _: ServerContext) in
          // Writes 64 KiB messages until the call fails; progress is kept under the token.
          let token = String(decoding: request.bytes, as: UTF8.self)
          let chunk = RawMessage(bytes: [UInt8](repeating: 0x46, count: 64 * 1024))
          do {
            for _ in 0..<100_000 {
              try await responses.write(chunk)
              FloodProgress.record(token) { $0.written += 1 }
            }
          } catch {
            FloodProgress.record(token) { $0.ended = "\(error)" }
            throw error
          }
        },
        .clientStreaming(MethodDescriptor(service: name, method: "Stall", kind: .clientStreaming)) {
          (requests: RequestStream<RawMessage>, _: ServerContext) in
          // Reads nothing for 1.5 s, then everything.
          try await Task.sleep(for: .milliseconds(1500))
          var total = 0
          for try await message in requests { total += message.bytes.count }
          return RawMessage(bytes: Array(String(total).utf8))
        },
        .unary(MethodDescriptor(service: name, method: "Progress", kind: .unary)) {
          (request: RawMessage, _: ServerContext) in
          let progress = FloodProgress.get(String(decoding: request.bytes, as: UTF8.self))
          return RawMessage(
            bytes: Array("written=\(progress.written) ended=\(progress.ended)".utf8))
        },
        {
          var big = ServerMethod.unary(MethodDescriptor(service: name, method: "Big", kind: .unary))
          {
            (request: RawMessage, _: ServerContext) in
            RawMessage(bytes: Array(String(request.bytes.count).utf8))
          }
          big.maxReceiveMessageSize = 8 * 1024 * 1024
          return big
        }(),
      ],
      file: nil)
  }
}

/// How far each `Flood` call got, by token.
enum FloodProgress {
  struct Entry: Sendable {
    var written = 0
    var ended = "-"
  }
  private static let entries = Mutex<[String: Entry]>([:])
  static func record(_ token: String, _ update: (inout Entry) -> Void) {
    entries.withLock { update(&$0[token, default: Entry()]) }
  }
  static func get(_ token: String) -> Entry { entries.withLock { $0[token] ?? Entry() } }
}

/// Servers that the Echo service's `shutdown` request may stop, by name (the `x-trigger`
/// request metadata), so a remote client can start a graceful shutdown mid-test.
enum ShutdownTriggers {
  private static let servers = Mutex<[String: Server]>([:])
  static func register(_ server: Server, as name: String) {
    servers.withLock { $0[name] = server }
  }
  static func server(_ name: String) -> Server? { servers.withLock { $0[name] } }
}

/// Starts a server with ``EchoService`` on an ephemeral loopback port, runs `body`, then
/// shuts the server down.
func withEchoServer(
  _ configure: (inout ServerConfiguration) -> Void = { _ in },
  _ body: (Server) async throws -> Void
) async throws {
  var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 2)
  configure(&configuration)
  let server = try Server(configuration: configuration, services: [EchoService.definition()])
  try server.start()
  do {
    try await body(server)
  } catch {
    await server.shutdown(gracePeriod: .seconds(1))
    throw error
  }
  await server.shutdown(gracePeriod: .seconds(1))
}

/// The repository root (this file is Tests/RPCTests/ServerTestSupport.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()

/// Runs a pytest file of `Tests/interop` against `port`; returns (exit code, output).
/// `nil` when the test venv is missing (`python3 -m venv .venv-test && .venv-test/bin/pip
/// install grpcio grpcio-tools protobuf h2 pytest`).
///
/// The child is awaited on a thread of its own: blocking a thread of the cooperative pool
/// (two on this machine) would starve the very server handlers the script is calling.
func runPytest(
  _ file: String, port: Int, extraArguments: [String] = [],
  environment extra: [String: String] = [:]
) async throws -> (Int32, String)? {
  let python = repositoryRoot.appendingPathComponent(".venv-test/bin/python")
  guard FileManager.default.isExecutableFile(atPath: python.path) else { return nil }
  let process = Process()
  process.executableURL = python
  process.arguments =
    ["-m", "pytest", "-q", "-p", "no:cacheprovider", "Tests/interop/\(file)"] + extraArguments
  process.currentDirectoryURL = repositoryRoot
  var environment = ProcessInfo.processInfo.environment
  environment["CASSETTO_SERVER_TEST_PORT"] = String(port)
  environment.merge(extra) { $1 }
  process.environment = environment
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let reader = pipe.fileHandleForReading
  return await withCheckedContinuation {
    (continuation: CheckedContinuation<(Int32, String)?, Never>) in
    let thread = Thread {
      let data = reader.readDataToEndOfFile()
      process.waitUntilExit()
      continuation.resume(
        returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
    }
    thread.start()
  }
}

/// Writes throw-away certificates with `tools/make-test-certs` into a fresh temporary
/// directory and returns its path.
func makeTestCertificates() throws -> String {
  let directory = FileManager.default.temporaryDirectory
    .appendingPathComponent("cassetto-server-certs-\(UInt64.random(in: 0...UInt64.max))").path
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/bash")
  process.arguments = [
    repositoryRoot.appendingPathComponent("tools/make-test-certs").path, directory,
  ]
  try process.run()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw RPCError(.internal, "tools/make-test-certs failed")
  }
  return directory
}
