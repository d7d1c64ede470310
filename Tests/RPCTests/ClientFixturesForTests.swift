import Foundation
import Testing

@testable import RPC

/// Test helpers for the client runtime: a Python grpcio interop server
/// (`Tests/interop/python_interop_server.py`) to talk to, and hand-encoded interop messages
/// so these tests do not depend on generated code.
enum ClientTestSupport {
  static let repositoryRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
  }()

  static let python = repositoryRoot.appendingPathComponent(".venv-test/bin/python").path

  /// Whether the grpcio venv exists (`tools/test` creates it); the wire tests need it.
  static var pythonAvailable: Bool { FileManager.default.isExecutableFile(atPath: python) }
}

/// A running `python_interop_server.py` on an ephemeral port; stopped by ``stop()``.
final class PythonInteropServer: @unchecked Sendable {
  // Not shared across tasks while mutable: created, then only read (port) until stop().
  let process: Process
  let port: Int

  private init(process: Process, port: Int) {
    self.process = process
    self.port = port
  }

  /// Generates the grpc.testing stubs (once per process) and starts a server.
  static func start(port: Int = 0) throws -> PythonInteropServer {
    let stubs = try stubsDirectory()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ClientTestSupport.python)
    process.arguments = [
      ClientTestSupport.repositoryRoot.appendingPathComponent(
        "Tests/interop/python_interop_server.py"
      )
      .path, "--stubs", stubs, "--port", String(port),
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    // First line: "python interop server listening on PORT".
    var line: [UInt8] = []
    let handle = output.fileHandleForReading
    while true {
      let byte = handle.readData(ofLength: 1)
      if byte.isEmpty || byte.first == UInt8(ascii: "\n") { break }
      line.append(contentsOf: byte)
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let portText = text.split(separator: " ").last, let bound = Int(portText) else {
      process.terminate()
      throw ServerStartError(output: text)
    }
    return PythonInteropServer(process: process, port: bound)
  }

  func stop() {
    // SIGKILL: a child spawned from a dispatch worker inherits its blocked SIGTERM.
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  struct ServerStartError: Error { var output: String }

  private static let stubsLock = NSLock()
  nonisolated(unsafe) private static var stubsPath: String?

  private static func stubsDirectory() throws -> String {
    stubsLock.lock()
    defer { stubsLock.unlock() }
    if let stubsPath { return stubsPath }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("cassetto-client-stubs-\(getpid())").path
    let generate = Process()
    generate.executableURL = URL(fileURLWithPath: ClientTestSupport.python)
    generate.currentDirectoryURL = ClientTestSupport.repositoryRoot
    generate.arguments = [
      "-c",
      "import sys; sys.path.insert(0, 'Tests/interop'); "
        + "from conftest import generate_interop_stubs; generate_interop_stubs(sys.argv[1])",
      directory,
    ]
    try generate.run()
    generate.waitUntilExit()
    guard generate.terminationStatus == 0 else {
      throw ServerStartError(output: "stub generation failed")
    }
    stubsPath = directory
    return directory
  }
}

/// Runs `body` with a fresh Python interop server and a channel to it.
func withInteropServer<R>(
  _ body: (PythonInteropServer, Channel) async throws -> R
) async throws -> R {
  let server = try PythonInteropServer.start()
  defer { server.stop() }
  let channel = Channel(host: "127.0.0.1", port: server.port)
  defer { channel.close() }
  return try await body(server, channel)
}

/// Hand-encoded grpc.testing messages (messages.proto).
enum Interop {
  static func varint(_ value: Int) -> [UInt8] {
    var value = UInt64(value)
    var out: [UInt8] = []
    repeat {
      var byte = UInt8(value & 0x7F)
      value >>= 7
      if value != 0 { byte |= 0x80 }
      out.append(byte)
    } while value != 0
    return out
  }

  static func lengthDelimited(_ field: Int, _ body: [UInt8]) -> [UInt8] {
    [UInt8(field << 3 | 2)] + varint(body.count) + body
  }

  static func varintField(_ field: Int, _ value: Int) -> [UInt8] {
    [UInt8(field << 3)] + varint(value)
  }

  /// `Payload { body: size zeros }`.
  static func payload(_ size: Int) -> [UInt8] {
    lengthDelimited(2, [UInt8](repeating: 0, count: size))
  }

  /// `SimpleRequest`.
  static func simpleRequest(
    responseSize: Int = 0, payloadSize: Int = 0, status: (Int, String)? = nil,
    responseCompressed: Bool = false
  ) -> RawMessage {
    var out = varintField(2, responseSize)
    out += lengthDelimited(3, payload(payloadSize))
    if responseCompressed { out += lengthDelimited(6, varintField(1, 1)) }
    if let status {
      out += lengthDelimited(7, varintField(1, status.0) + lengthDelimited(2, Array(status.1.utf8)))
    }
    return RawMessage(bytes: out)
  }

  /// `StreamingOutputCallRequest` asking for responses of `sizes`.
  static func streamingOutputRequest(sizes: [Int], payloadSize: Int = 0, intervalMicros: Int = 0)
    -> RawMessage
  {
    var out: [UInt8] = []
    for size in sizes {
      var parameters = varintField(1, size)
      if intervalMicros > 0 { parameters += varintField(2, intervalMicros) }
      out += lengthDelimited(2, parameters)
    }
    if payloadSize > 0 { out += lengthDelimited(3, payload(payloadSize)) }
    return RawMessage(bytes: out)
  }

  /// `StreamingInputCallRequest` with a payload of `size`.
  static func streamingInputRequest(size: Int) -> RawMessage {
    RawMessage(bytes: lengthDelimited(1, payload(size)))
  }

  /// Size of the payload body in a `SimpleResponse` / `StreamingOutputCallResponse`
  /// (`Payload payload = 1`), or of `aggregated_payload_size` read as field 1 varint.
  static func responsePayloadSize(_ message: RawMessage) -> Int? {
    var reader = Reader(message.bytes)
    guard let payload = reader.field(1) else { return message.bytes.isEmpty ? 0 : nil }
    var inner = Reader(payload)
    return inner.field(2)?.count ?? 0
  }

  static func aggregatedSize(_ message: RawMessage) -> Int? {
    guard message.bytes.first == 0x08 else { return message.bytes.isEmpty ? 0 : nil }
    var reader = Reader(Array(message.bytes.dropFirst()))
    return reader.varint()
  }

  struct Reader {
    var bytes: [UInt8]
    var index = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func varint() -> Int? {
      var result = 0
      var shift = 0
      while index < bytes.count {
        let byte = bytes[index]
        index += 1
        result |= Int(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return result }
        shift += 7
      }
      return nil
    }

    /// The first length-delimited field `number`.
    mutating func field(_ number: Int) -> [UInt8]? {
      while index < bytes.count {
        guard let key = varint() else { return nil }
        switch key & 7 {
        case 0: _ = varint()
        case 2:
          guard let length = varint(), index + length <= bytes.count else { return nil }
          let body = Array(bytes[index..<(index + length)])
          index += length
          if key >> 3 == number { return body }
        default: return nil
        }
      }
      return nil
    }
  }
}

/// grpc.testing.TestService methods.
enum TestService {
  static let emptyCall = MethodDescriptor(
    service: "grpc.testing.TestService", method: "EmptyCall", kind: .unary)
  static let unaryCall = MethodDescriptor(
    service: "grpc.testing.TestService", method: "UnaryCall", kind: .unary)
  static let streamingOutputCall = MethodDescriptor(
    service: "grpc.testing.TestService", method: "StreamingOutputCall", kind: .serverStreaming)
  static let streamingInputCall = MethodDescriptor(
    service: "grpc.testing.TestService", method: "StreamingInputCall", kind: .clientStreaming)
  static let fullDuplexCall = MethodDescriptor(
    service: "grpc.testing.TestService", method: "FullDuplexCall", kind: .bidirectionalStreaming)
  static let unimplementedCall = MethodDescriptor(
    service: "grpc.testing.TestService", method: "UnimplementedCall", kind: .unary)
}
