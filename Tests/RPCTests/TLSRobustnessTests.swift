import Foundation
import Testing

@testable import RPC

@Suite("TLS sessions under hostile or awkward input")
struct TLSRobustnessTests {
  @Test(arguments: [
    Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8),
    Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
    [0x16, 0x03, 0x01, 0xff, 0xff] + [UInt8](repeating: 0x41, count: 300),
    [UInt8](repeating: 0, count: 5000),
  ])
  func garbageFedToTheServerFailsCleanly(garbage: [UInt8]) throws {
    let certs = try TLSTestCertificates.get()
    let server = try TLSSession(context: TLSContext(server: certs.serverConfiguration()))
    server.feedCiphertext(garbage)
    let status = server.handshake()
    #expect(status.failureKind == .handshake)
    #expect(server.handshake() == status)  // sticky
    var bytes: [UInt8] = []
    if case .failed = server.readPlaintext(into: &bytes) {
    } else {
      Issue.record("reads after a failed handshake must fail")
    }
    #expect(throws: TLSError.self) { try server.writePlaintext([1]) }
  }

  @Test func garbageAfterTheHandshakeBreaksTheConnection() throws {
    let certs = try TLSTestCertificates.get()
    let pair = try TLSTestPair(
      server: certs.serverConfiguration(), client: certs.clientConfiguration())
    _ = pair.handshake()
    pair.server.feedCiphertext([0x17, 0x03, 0x03, 0x00, 0x20] + [UInt8](repeating: 7, count: 32))
    var bytes: [UInt8] = []
    let result = pair.server.readPlaintext(into: &bytes)
    guard case .failed(let error) = result else {
      Issue.record("expected a failure, got \(result)")
      return
    }
    #expect(error.kind == .connection)
  }

  @Test func ciphertextFedOneByteAtATimeStillWorks() throws {
    let certs = try TLSTestCertificates.get()
    let server = try TLSSession(context: TLSContext(server: certs.serverConfiguration()))
    let client = try TLSSession(
      context: TLSContext(client: certs.clientConfiguration()), serverHostname: "localhost")
    try client.writePlaintext(Array("hello in pieces".utf8))
    var received: [UInt8] = []
    for _ in 0..<20 {
      var bytes: [UInt8] = []
      _ = client.handshake()
      client.takeCiphertext(into: &bytes)
      for byte in bytes {
        server.feedCiphertext([byte])
        _ = server.readPlaintext(into: &received)
      }
      bytes.removeAll()
      server.takeCiphertext(into: &bytes)
      for byte in bytes { client.feedCiphertext([byte]) }
    }
    #expect(client.isHandshakeComplete && server.isHandshakeComplete)
    #expect(received == Array("hello in pieces".utf8))
  }

  @Test func mutatedClientHellosNeverCrashTheServer() throws {
    let certs = try TLSTestCertificates.get()
    let serverContext = try TLSContext(server: certs.serverConfiguration())
    let clientContext = try TLSContext(client: certs.clientConfiguration())
    let client = try TLSSession(context: clientContext, serverHostname: "localhost")
    _ = client.handshake()
    var hello: [UInt8] = []
    client.takeCiphertext(into: &hello)
    #expect(hello.count > 100)
    var generator = SystemRandomNumberGenerator()
    var failures = 0
    for _ in 0..<300 {
      var mutated = hello
      for _ in 0..<Int.random(in: 1...4, using: &generator) {
        mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(
          in: 0...255, using: &generator)
      }
      if Bool.random(using: &generator) {
        mutated.removeLast(Int.random(in: 0..<mutated.count, using: &generator))
      }
      let server = try TLSSession(context: serverContext)
      server.feedCiphertext(mutated)
      server.feedEndOfInput()
      var out: [UInt8] = []
      switch server.readPlaintext(into: &out) {
      case .failed: failures += 1
      case .wantsMoreInput, .closed, .bytes: break
      }
      server.takeCiphertext(into: &out)
    }
    #expect(failures > 0)
  }
}

extension TLSRobustnessTests {
  @Test func oneContextServesManyConnectionsInParallel() async throws {
    let certs = try TLSTestCertificates.get()
    let serverContext = try TLSContext(server: certs.serverConfiguration())
    let clientContext = try TLSContext(client: certs.clientConfiguration())
    try await withThrowingTaskGroup(of: Bool.self) { group in
      for index in 0..<16 {
        group.addTask {
          let server = try TLSSession(context: serverContext)
          let client = try TLSSession(context: clientContext, serverHostname: "localhost")
          let message = Array("connection \(index)".utf8)
          try client.writePlaintext(message)
          var received: [UInt8] = []
          for _ in 0..<10 {
            _ = client.handshake()
            var bytes: [UInt8] = []
            client.takeCiphertext(into: &bytes)
            server.feedCiphertext(bytes)
            _ = server.readPlaintext(into: &received)
            bytes.removeAll()
            server.takeCiphertext(into: &bytes)
            client.feedCiphertext(bytes)
          }
          return received == message && server.negotiatedALPN == "h2"
        }
      }
      for try await ok in group { #expect(ok) }
    }
  }
}
