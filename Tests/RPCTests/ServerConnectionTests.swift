import CNGHTTP2
import Synchronization
import Testing

@testable import RPC

/// ``ServerConnection`` without sockets: an nghttp2 client session produces the request bytes,
/// the connection is fed them on its event loop, and its output goes straight back to the
/// client. Only the protocol logic runs; no descriptor is opened.
struct ServerConnectionTests {
  @Test func unaryCallRoundTripsThroughBytes() async throws {
    let harness = try await ConnectionHarness()
    let stream = harness.client.request(
      path: "/cassetto.test.Echo/Get",
      body: GRPCFraming.frame(EchoText("bytes").serializedBytes(), compressed: false),
      extraHeaders: [("x-echo-k", "v")])
    let response = try await harness.run(until: stream)
    #expect(response.headers[":status"] == "200")
    #expect(response.headers["x-echo-k"] == "v")
    #expect(response.trailers["grpc-status"] == "0")
    #expect(
      response.data == GRPCFraming.frame(EchoText("bytes").serializedBytes(), compressed: false))
    await harness.stop()
  }

  @Test func unknownMethodIsTrailersOnlyUnimplemented() async throws {
    let harness = try await ConnectionHarness()
    let stream = harness.client.request(path: "/cassetto.test.Echo/Nope", body: [0, 0, 0, 0, 0])
    let response = try await harness.run(until: stream)
    #expect(response.headers["grpc-status"] == "12")
    #expect(response.trailers.isEmpty)
    #expect(response.data.isEmpty)
    await harness.stop()
  }

  @Test func manyInterleavedCallsOnOneConnection() async throws {
    let harness = try await ConnectionHarness()
    let streams = (0..<50).map { i in
      harness.client.request(
        path: "/cassetto.test.Echo/Get",
        body: GRPCFraming.frame(EchoText("n\(i)").serializedBytes(), compressed: false))
    }
    for (i, stream) in streams.enumerated() {
      let response = try await harness.run(until: stream)
      #expect(response.trailers["grpc-status"] == "0")
      #expect(
        response.data == GRPCFraming.frame(EchoText("n\(i)").serializedBytes(), compressed: false))
    }
    await harness.stop()
  }

  @Test func clientPrefaceGarbageFailsTheConnection() async throws {
    let harness = try await ConnectionHarness()
    let alive = await harness.feedServer(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
    #expect(!alive)
    await harness.stop()
  }
}

/// A ``ServerConnection`` on a real event loop, wired to an in-memory ``TestHTTP2Client``.
final class ConnectionHarness: @unchecked Sendable {
  let loop: EventLoop
  let client = TestHTTP2Client()
  private var connection: ServerConnection!
  private let serverOutput = Mutex<[UInt8]>([])

  init() async throws {
    loop = try EventLoop(index: 0)
    try loop.start()
    let router = try ServerRouter(services: [EchoService.definition()])
    let configuration = ServerConfiguration(host: "127.0.0.1", port: 0, eventLoopCount: 1)
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
      loop.execute { [self] in
        do {
          let connection = try ServerConnection(
            loop: loop, router: router, configuration: configuration,
            peer: PeerInfo(address: "test", isSecure: false))
          connection.onOutputPending = { [unowned connection, self] in
            var out: [UInt8] = []
            connection.produceOutput(into: &out, limit: .max)
            serverOutput.withLock { $0.append(contentsOf: out) }
          }
          self.connection = connection
          c.resume()
        } catch {
          c.resume(throwing: error)
        }
      }
    }
  }

  /// Feeds bytes to the server on its loop; returns whether the connection is still usable.
  func feedServer(_ bytes: [UInt8]) async -> Bool {
    await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
      loop.execute { [self] in
        let ok = bytes.withUnsafeBytes { connection.receive($0) }
        connection.onOutputPending?()
        c.resume(returning: ok)
      }
    }
  }

  /// Moves bytes both ways until `stream` has closed on the client.
  func run(until stream: Int32, timeout: Duration = .seconds(10)) async throws
    -> TestHTTP2Client.Response
  {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let toServer = client.takeOutput()
      if !toServer.isEmpty { _ = await feedServer(toServer) }
      let toClient = serverOutput.withLock { out in
        let o = out
        out.removeAll()
        return o
      }
      if !toClient.isEmpty { client.receive(toClient) }
      if let response = client.responses[stream], response.closed { return response }
      if toServer.isEmpty && toClient.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
    }
    throw RPCError(.deadlineExceeded, "stream \(stream) did not complete")
  }

  func stop() async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      loop.execute { [self] in
        connection.cancelAll(RPCError(.cancelled))
        connection = nil
        c.resume()
      }
    }
    loop.stop()
  }
}

/// A minimal HTTP/2 client on nghttp2 for tests: requests with a fixed body, responses
/// collected per stream. Single-threaded (the test task).
final class TestHTTP2Client {
  struct Response {
    var headers: [String: String] = [:]
    var trailers: [String: String] = [:]
    var data: [UInt8] = []
    var closed = false
    var errorCode: UInt32 = 0
  }

  private var session: OpaquePointer?
  fileprivate(set) var responses: [Int32: Response] = [:]
  fileprivate var bodies: [Int32: ([UInt8], Int)] = [:]

  init() {
    var callbacks: OpaquePointer?
    nghttp2_session_callbacks_new(&callbacks)
    defer { nghttp2_session_callbacks_del(callbacks) }
    nghttp2_session_callbacks_set_on_header_callback(callbacks) {
      _, frame, name, nameLength, value, valueLength, _, userData in
      let me = Unmanaged<TestHTTP2Client>.fromOpaque(userData!).takeUnretainedValue()
      let id = frame!.pointee.hd.stream_id
      let key = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
      let text = String(
        decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
      if frame!.pointee.headers.cat == NGHTTP2_HCAT_HEADERS {
        me.responses[id, default: Response()].trailers[key] = text
      } else {
        me.responses[id, default: Response()].headers[key] = text
      }
      return 0
    }
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
      session, _, id, data, length, userData in
      let me = Unmanaged<TestHTTP2Client>.fromOpaque(userData!).takeUnretainedValue()
      me.responses[id, default: Response()].data.append(
        contentsOf: UnsafeBufferPointer(start: data, count: length))
      nghttp2_session_consume(session, id, length)
      return 0
    }
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) {
      _, id, errorCode, userData in
      let me = Unmanaged<TestHTTP2Client>.fromOpaque(userData!).takeUnretainedValue()
      me.responses[id, default: Response()].closed = true
      me.responses[id, default: Response()].errorCode = errorCode
      return 0
    }
    nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
    nghttp2_submit_settings(session, 0, nil, 0)
  }

  deinit { nghttp2_session_del(session) }

  /// Opens a stream with a POST of `body` (ended with END_STREAM) and returns its id.
  func request(path: String, body: [UInt8], extraHeaders: [(String, String)] = []) -> Int32 {
    let headers =
      [
        (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "test"),
        ("content-type", "application/grpc"), ("te", "trailers"),
      ] + extraHeaders
    var storage: [[UInt8]] = []
    for (name, value) in headers {
      storage.append(Array(name.utf8))
      storage.append(Array(value.utf8))
    }
    let pointers = storage.map { bytes -> UnsafeMutablePointer<UInt8> in
      let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
      p.initialize(from: bytes, count: bytes.count)
      return p
    }
    defer { pointers.forEach { $0.deallocate() } }
    var nva = (0..<headers.count).map { i in
      nghttp2_nv(
        name: pointers[2 * i], value: pointers[2 * i + 1], namelen: storage[2 * i].count,
        valuelen: storage[2 * i + 1].count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
    }
    var provider = nghttp2_data_provider(
      source: nghttp2_data_source(ptr: nil),
      read_callback: { _, id, buffer, length, flags, _, userData in
        let me = Unmanaged<TestHTTP2Client>.fromOpaque(userData!).takeUnretainedValue()
        guard let (body, offset) = me.bodies[id] else {
          flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
          return 0
        }
        let n = min(length, body.count - offset)
        body.withUnsafeBytes {
          buffer!.update(
            from: $0.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, count: n)
        }
        me.bodies[id] = (body, offset + n)
        if offset + n == body.count { flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) }
        return n
      })
    let id = nghttp2_submit_request(session, nil, &nva, nva.count, &provider, nil)
    bodies[id] = (body, 0)
    responses[id] = Response()
    return id
  }

  func takeOutput() -> [UInt8] {
    var out: [UInt8] = []
    while true {
      var data: UnsafePointer<UInt8>?
      let n = nghttp2_session_mem_send(session, &data)
      if n <= 0 { break }
      out.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
    }
    return out
  }

  func receive(_ bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer {
      _ = nghttp2_session_mem_recv(session, $0.baseAddress, $0.count)
    }
  }
}
