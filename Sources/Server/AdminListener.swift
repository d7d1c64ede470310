import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The admin listener: a tiny HTTP/1.1 server on its own port and its own thread, for
/// Prometheus and liveness probes (ARCHITECTURE.md, Admin listener). Not a hot path: one
/// connection at a time, blocking `accept`/`recv` with 2-second timeouts, requests bounded to
/// 8 KiB, `Connection: close` after every response.
///
/// | request | response |
/// |---|---|
/// | `GET /metrics` | 200, `text/plain; version=0.0.4` (``Metrics/render()``) |
/// | `GET /healthz` | 200, `ok` |
/// | `HEAD` of those | the same headers, no body |
/// | another path | 404 |
/// | another method | 405 |
/// | anything unparsable | 400; a request head over 8 KiB: 431 |
public final class AdminListener: @unchecked Sendable {
  // Thread-ownership invariant: `fd` is written only by `init` (before the thread starts)
  // and by `stop`, which shuts the socket down so the accept loop ends; the loop thread only
  // reads it. `stopped` is read by the loop after each accept.
  private let fd: Int32
  /// The port actually bound (useful with port 0).
  public let port: Int
  public let host: String
  private let metrics: @Sendable () -> String
  private let stopped = StopFlag()

  public static let maxRequestBytes = 8 * 1024

  /// Binds `host:port` (port 0: any free port) and starts serving on a new thread.
  public init(host: String, port: Int, metrics: @escaping @Sendable () -> String) throws {
    self.metrics = metrics
    self.host = host
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    var info: UnsafeMutablePointer<addrinfo>? = nil
    let rc = getaddrinfo(host, String(port), &hints, &info)
    guard rc == 0, let first = info else {
      throw AdminListenerError("cannot resolve --admin-listen host '\(host)'")
    }
    defer { freeaddrinfo(info) }
    let socketFD = socket(
      first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard socketFD >= 0 else {
      throw AdminListenerError("socket: \(String(cString: strerror(errno)))")
    }
    var one: Int32 = 1
    setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    guard bind(socketFD, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0,
      listen(socketFD, 16) == 0
    else {
      let reason = String(cString: strerror(errno))
      close(socketFD)
      throw AdminListenerError("--admin-listen \(host):\(port): \(reason)")
    }
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
    }
    let boundPort: UInt16 =
      storage.ss_family == sa_family_t(AF_INET6)
      ? withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
      }
      : withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
      }
    self.fd = socketFD
    self.port = Int(UInt16(bigEndian: boundPort))
    let thread = Thread { [self] in self.serve() }
    thread.name = "cassetto-admin"
    thread.start()
  }

  /// Stops accepting; the thread ends after the connection it is serving, if any.
  public func stop() {
    guard stopped.set() else { return }
    shutdown(fd, Int32(SHUT_RDWR))
  }

  private func serve() {
    while !stopped.isSet {
      let client = accept(fd, nil, nil)
      if client < 0 {
        if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE {
          if errno == EMFILE || errno == ENFILE { usleep(100_000) }
          continue
        }
        break
      }
      handle(client)
      close(client)
    }
    close(fd)
  }

  private func handle(_ client: Int32) {
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var request: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 2048)
    var complete = false
    while request.count < Self.maxRequestBytes {
      let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
      if count <= 0 { break }
      request.append(contentsOf: buffer[0..<count])
      if Self.headEnd(request) != nil {
        complete = true
        break
      }
    }
    let response: [UInt8]
    if complete {
      response = Self.respond(to: request, metrics: metrics)
    } else if request.count >= Self.maxRequestBytes {
      response = Self.response(431, "Request Header Fields Too Large", body: "request too large\n")
    } else if request.isEmpty {
      return
    } else {
      response = Self.response(400, "Bad Request", body: "bad request\n")
    }
    var sent = 0
    while sent < response.count {
      let count = response.withUnsafeBytes {
        send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
      }
      if count <= 0 { return }
      sent += count
    }
    // Lingering close: closing with unread input would reset the connection and could
    // destroy the response before the client reads it (431, 400). Read and drop a bounded
    // amount for a short while first.
    shutdown(client, Int32(SHUT_WR))
    var drainTimeout = timeval(tv_sec: 0, tv_usec: 300_000)
    setsockopt(
      client, SOL_SOCKET, SO_RCVTIMEO, &drainTimeout, socklen_t(MemoryLayout<timeval>.size))
    var drained = 0
    while drained < 64 * 1024 {
      let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
      if count <= 0 { break }
      drained += count
    }
  }

  static func headEnd(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for index in 0...(bytes.count - 4)
    where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13
      && bytes[index + 3] == 10
    {
      return index
    }
    return nil
  }

  /// The response to a complete request head (everything before the blank line).
  static func respond(to request: [UInt8], metrics: () -> String) -> [UInt8] {
    guard let end = headEnd(request),
      let head = String(validating: request[0..<end], as: UTF8.self),
      let requestLine = head.split(separator: "\r\n", omittingEmptySubsequences: false).first
    else {
      return response(400, "Bad Request", body: "bad request\n")
    }
    let parts = requestLine.split(separator: " ", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[1].hasPrefix("/") else {
      return response(400, "Bad Request", body: "bad request\n")
    }
    let method = parts[0]
    let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
    guard method == "GET" || method == "HEAD" else {
      return response(
        405, "Method Not Allowed", body: "only GET\n", extraHeaders: "Allow: GET, HEAD\r\n")
    }
    let headOnly = method == "HEAD"
    switch path {
    case "/metrics":
      return response(
        200, "OK", body: metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8",
        headOnly: headOnly)
    case "/healthz":
      return response(200, "OK", body: "ok\n", headOnly: headOnly)
    default:
      return response(404, "Not Found", body: "not found\n", headOnly: headOnly)
    }
  }

  static func response(
    _ status: Int, _ reason: String, body: String,
    contentType: String = "text/plain; charset=utf-8", extraHeaders: String = "",
    headOnly: Bool = false
  ) -> [UInt8] {
    let bodyBytes = Array(body.utf8)
    let head =
      "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\n"
      + "Content-Length: \(bodyBytes.count)\r\n\(extraHeaders)Connection: close\r\n\r\n"
    return Array(head.utf8) + (headOnly ? [] : bodyBytes)
  }
}

public struct AdminListenerError: Error, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}

/// A flag set once from any thread.
private final class StopFlag: Sendable {
  private let value = Synchronization.Atomic<Bool>(false)
  var isSet: Bool { value.load(ordering: .acquiring) }
  /// Sets the flag; false if it was already set.
  func set() -> Bool {
    !value.exchange(true, ordering: .acquiringAndReleasing)
  }
}
