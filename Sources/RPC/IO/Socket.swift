import CNGHTTP2
import Glibc

/// Thin helpers over the BSD socket calls the server needs; every descriptor is non-blocking
/// and close-on-exec.
package enum Socket {
  /// A listening TCP socket bound to `host:port` with `SO_REUSEPORT`, so each event loop
  /// can bind its own and the kernel spreads connections between them.
  /// Returns the descriptor and the bound port (useful when `port` is 0).
  package static func listen(host: String, port: Int, backlog: Int32 = 1024) throws -> (
    fd: Int32, port: Int
  ) {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    var result: UnsafeMutablePointer<addrinfo>?
    let node: String? = host.isEmpty ? nil : host
    let rc = getaddrinfo(node, String(port), &hints, &result)
    guard rc == 0, let info = result else { throw IOError.address("\(host):\(port)") }
    defer { freeaddrinfo(result) }

    let fd = socket(
      info.pointee.ai_family,
      Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw IOError.system("socket", errno) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
    guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
      let code = errno
      close(fd)
      throw IOError.system("bind \(host):\(port)", code)
    }
    guard Glibc.listen(fd, backlog) == 0 else {
      let code = errno
      close(fd)
      throw IOError.system("listen", code)
    }
    return (fd, localPort(fd))
  }

  /// The local port of a bound socket.
  package static func localPort(_ fd: Int32) -> Int {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let ok = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard ok == 0 else { return 0 }
    return port(of: storage)
  }

  /// Accepts one pending connection; `nil` when none is pending (or on a transient error).
  package static func accept(_ listener: Int32) -> (fd: Int32, peer: String)? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let fd = withUnsafeMutablePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.accept(listener, $0, &length)
      }
    }
    guard fd >= 0 else { return nil }
    // accept4 is not visible to Swift without _GNU_SOURCE; two fcntl calls do the same.
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return (fd, describe(storage))
  }

  private static func port(of storage: sockaddr_storage) -> Int {
    var copy = storage
    switch Int32(storage.ss_family) {
    case AF_INET:
      return withUnsafePointer(to: &copy) {
        $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
          Int(UInt16(bigEndian: $0.pointee.sin_port))
        }
      }
    case AF_INET6:
      return withUnsafePointer(to: &copy) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          Int(UInt16(bigEndian: $0.pointee.sin6_port))
        }
      }
    default:
      return 0
    }
  }

  private static func cString(_ chars: [CChar]) -> String {
    String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// `ipv4:1.2.3.4:5` / `ipv6:[::1]:5`, as gRPC names peers.
  private static func describe(_ storage: sockaddr_storage) -> String {
    var copy = storage
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let family = Int32(storage.ss_family)
    let port = port(of: storage)
    switch family {
    case AF_INET:
      withUnsafePointer(to: &copy) {
        $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
          var addr = address.pointee.sin_addr
          _ = inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
        }
      }
      return "ipv4:\(cString(text)):\(port)"
    case AF_INET6:
      withUnsafePointer(to: &copy) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
          var addr = address.pointee.sin6_addr
          _ = inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count))
        }
      }
      return "ipv6:[\(cString(text))]:\(port)"
    default:
      return "unknown"
    }
  }
}
