import CNGHTTP2

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The resolved addresses of a host, tried in order until one connects.
///
/// Resolution uses `getaddrinfo`, which blocks the loop thread while it runs: fine for the
/// literal addresses and local names clients of this runtime dial.
struct ClientAddressList: CustomStringConvertible {
  struct Address {
    var family: Int32
    var storage: sockaddr_storage
    var length: socklen_t

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
      withUnsafePointer(to: storage) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
      }
    }
  }

  private var addresses: [Address]
  private var index = 0
  let description: String

  init(host: String, port: Int) throws {
    description =
      host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var result: UnsafeMutablePointer<addrinfo>?
    let name =
      host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    let rc = getaddrinfo(name, String(port), &hints, &result)
    guard rc == 0, let result else {
      throw RPCError(
        .unavailable, "could not resolve \(host): \(String(cString: gai_strerror(rc)))")
    }
    defer { freeaddrinfo(result) }
    var found: [Address] = []
    var cursor: UnsafeMutablePointer<addrinfo>? = result
    while let entry = cursor {
      if let address = entry.pointee.ai_addr {
        var storage = sockaddr_storage()
        let length = entry.pointee.ai_addrlen
        withUnsafeMutableBytes(of: &storage) { target in
          target.copyMemory(
            from: UnsafeRawBufferPointer(start: address, count: Int(length)))
        }
        found.append(Address(family: entry.pointee.ai_family, storage: storage, length: length))
      }
      cursor = entry.pointee.ai_next
    }
    addresses = found
  }

  mutating func next() -> Address? {
    guard index < addresses.count else { return nil }
    defer { index += 1 }
    return addresses[index]
  }
}

/// What sits between the socket and nghttp2 on a TLS connection.
protocol ClientSecurityLayer: AnyObject {
  func feedCiphertext(_ bytes: UnsafeRawBufferPointer) throws
  /// Advances the handshake; `true` once it is complete.
  func handshake() throws -> Bool
  /// Decrypted bytes available now; `nil` when more ciphertext is needed.
  func readPlaintext() throws -> [UInt8]?
  func writePlaintext(_ bytes: [UInt8]) throws
  /// Ciphertext to write to the socket.
  func takeCiphertext() -> [UInt8]
}

/// ``ClientSecurityLayer`` over the TLS module's socket-agnostic ``TLSSession``.
final class ClientTLSLayer: ClientSecurityLayer {
  private let session: TLSSession

  init(context: TLSContext, serverName: String) throws {
    session = try TLSSession(context: context, serverHostname: serverName)
  }

  func feedCiphertext(_ bytes: UnsafeRawBufferPointer) throws {
    session.feedCiphertext(bytes)
  }

  func handshake() throws -> Bool {
    switch session.handshake() {
    case .done:
      guard session.negotiatedALPN == "h2" else {
        throw RPCError(.unavailable, "TLS: the server did not negotiate HTTP/2 (ALPN h2)")
      }
      return true
    case .needsMoreInput: return false
    case .failed(let error): throw RPCError(.unavailable, "\(error)")
    }
  }

  func readPlaintext() throws -> [UInt8]? {
    var buffer: [UInt8] = []
    switch session.readPlaintext(into: &buffer) {
    case .bytes: return buffer
    case .wantsMoreInput: return nil
    case .closed: throw RPCError(.unavailable, "TLS connection closed by the server")
    case .failed(let error): throw RPCError(.unavailable, "\(error)")
    }
  }

  func writePlaintext(_ bytes: [UInt8]) throws {
    try session.writePlaintext(bytes)
  }

  func takeCiphertext() -> [UInt8] {
    var out: [UInt8] = []
    _ = session.takeCiphertext(into: &out)
    return out
  }
}

/// The channel's TLS context, built on first use (loading certificates can fail; each call
/// then fails with `UNAVAILABLE` and the next one tries again).
struct ClientTLSContextCache {
  let configuration: TLSClientConfiguration?
  private var context: TLSContext?

  init(configuration: TLSClientConfiguration?) {
    self.configuration = configuration
  }

  mutating func resolved() throws -> TLSContext? {
    guard let configuration else { return nil }
    if let context { return context }
    let made = try TLSContext(client: configuration)
    context = made
    return made
  }
}
