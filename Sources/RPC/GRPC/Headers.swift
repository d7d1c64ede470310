/// Header-level rules of gRPC over HTTP/2 shared by client and server: content type,
/// metadata key and value syntax, reserved names, and conversion of ``Metadata`` to and from
/// header fields (with base64 for `-bin` keys).
package enum GRPCHeaders {
  /// Whether `value` is a gRPC content type: `application/grpc` or `application/grpc+<sub>`
  /// (also `application/grpc;...` parameters, which grpc-go accepts).
  package static func isGRPCContentType(_ value: some StringProtocol) -> Bool {
    let prefix = "application/grpc"
    let lowered = value.lowercased()
    guard lowered.hasPrefix(prefix) else { return false }
    let rest = lowered.dropFirst(prefix.count)
    guard let next = rest.first else { return true }
    return next == "+" || next == ";"
  }

  /// Whether `key` is a legal metadata key: non-empty, `0-9 a-z _ - .` only.
  package static func isValidKey(_ key: some StringProtocol) -> Bool {
    guard !key.isEmpty else { return false }
    for byte in key.utf8 {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
        UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
        continue
      default: return false
      }
    }
    return true
  }

  /// Whether `value` is a legal ASCII metadata value: printable ASCII (`0x20...0x7E`).
  package static func isValidASCIIValue(_ value: some StringProtocol) -> Bool {
    value.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }
  }

  /// Whether a header is part of the protocol rather than custom metadata: pseudo-headers,
  /// `grpc-*` (reserved by the spec), and the HTTP headers gRPC itself uses.
  package static func isReserved(_ key: some StringProtocol) -> Bool {
    if key.hasPrefix(":") || key.hasPrefix("grpc-") { return true }
    switch key {
    case "content-type", "te", "user-agent", "content-length", "connection", "host",
      "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "accept-encoding":
      return true
    default:
      return false
    }
  }

  /// Adds one received header to `metadata` if it is custom metadata; `-bin` values are
  /// base64-decoded (a value that does not decode is dropped, as grpc-go does).
  package static func appendReceived(name: String, value: String, to metadata: inout Metadata) {
    guard !isReserved(name) else { return }
    if name.hasSuffix("-bin") {
      // Several binary values may arrive comma-joined in one field.
      if value.utf8.contains(UInt8(ascii: ",")) {
        for part in value.split(separator: ",") {
          let trimmed = part.trimmingSpaces()
          if let bytes = GRPCBase64.decode(trimmed) { metadata.addBinary(bytes, forKey: name) }
        }
      } else if let bytes = GRPCBase64.decode(value) {
        metadata.addBinary(bytes, forKey: name)
      }
    } else {
      metadata.addString(value, forKey: name)
    }
  }

  /// Header fields for custom metadata: invalid keys, reserved keys and non-ASCII text
  /// values are skipped rather than sent (they would break the peer's HTTP/2 decoder or
  /// impersonate protocol headers).
  package static func fields(for metadata: Metadata, into fields: inout [(String, String)]) {
    for (key, value) in metadata {
      guard isValidKey(key), !isReserved(key) else { continue }
      switch value {
      case .string(let text):
        if key.hasSuffix("-bin") {
          fields.append((key, GRPCBase64.encode(Array(text.utf8))))
        } else if isValidASCIIValue(text) {
          fields.append((key, text))
        }
      case .binary(let bytes):
        if key.hasSuffix("-bin") {
          fields.append((key, GRPCBase64.encode(bytes)))
        } else {
          // Binary under a text key: send base64 under the same key would change meaning;
          // skip it.
          continue
        }
      }
    }
  }

  /// Whether a `grpc-accept-encoding` / `grpc-encoding` list names `encoding`.
  package static func list(_ value: some StringProtocol, contains encoding: String) -> Bool {
    value.split(separator: ",").contains { $0.trimmingSpaces().lowercased() == encoding }
  }
}

extension StringProtocol {
  fileprivate func trimmingSpaces() -> Substring {
    var s = Substring(self)
    while let first = s.first, first == " " || first == "\t" { s.removeFirst() }
    while let last = s.last, last == " " || last == "\t" { s.removeLast() }
    return s
  }
}
