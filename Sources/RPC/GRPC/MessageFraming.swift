/// gRPC's length-prefixed message framing (grpc/grpc `doc/PROTOCOL-HTTP2.md`,
/// "Length-Prefixed-Message"): a 1-byte compressed flag, a 4-byte big-endian length, then
/// the message bytes. These types know nothing of HTTP/2 or sockets; client and server use
/// them alike.
package enum GRPCFraming {
  /// Size of the prefix in front of every message.
  package static let prefixLength = 5

  /// Appends one framed message to `buffer`.
  @inlinable
  package static func appendFrame(
    _ message: UnsafeRawBufferPointer, compressed: Bool, to buffer: inout [UInt8]
  ) {
    let length = UInt32(truncatingIfNeeded: message.count)
    buffer.reserveCapacity(buffer.count + prefixLength + message.count)
    buffer.append(compressed ? 1 : 0)
    buffer.append(UInt8(truncatingIfNeeded: length >> 24))
    buffer.append(UInt8(truncatingIfNeeded: length >> 16))
    buffer.append(UInt8(truncatingIfNeeded: length >> 8))
    buffer.append(UInt8(truncatingIfNeeded: length))
    buffer.append(contentsOf: message)
  }

  /// One framed message in a new array.
  @inlinable
  package static func frame(_ message: [UInt8], compressed: Bool) -> [UInt8] {
    var out: [UInt8] = []
    message.withUnsafeBytes { appendFrame($0, compressed: compressed, to: &out) }
    return out
  }
}

/// Why a stream of gRPC frames could not be read.
package enum GRPCFramingError: Error, Hashable, Sendable {
  /// A message declared a length above the receive limit (`RESOURCE_EXHAUSTED`).
  case messageTooLarge(length: Int, limit: Int)
  /// The stream ended inside a frame (`INTERNAL`).
  case truncated
  /// The compressed flag was neither 0 nor 1 (`INTERNAL`).
  case invalidCompressedFlag(UInt8)

  /// The status a peer reports for this error.
  package var rpcError: RPCError {
    switch self {
    case .messageTooLarge(let length, let limit):
      RPCError(
        .resourceExhausted,
        "received message larger than max (\(length) vs. \(limit))")
    case .truncated:
      RPCError(.internal, "stream ended inside a length-prefixed message")
    case .invalidCompressedFlag(let flag):
      RPCError(.internal, "invalid compressed flag \(flag) in message prefix")
    }
  }
}

/// One message taken off the wire, still compressed if ``compressed`` is set.
package struct GRPCFramedMessage: Sendable, Hashable {
  package var bytes: [UInt8]
  package var compressed: Bool

  package init(bytes: [UInt8], compressed: Bool) {
    self.bytes = bytes
    self.compressed = compressed
  }
}

/// Splits the bytes of DATA frames into gRPC messages, however the frames cut them.
///
/// The declared length is checked against ``maxMessageSize`` before any of the message is
/// buffered, so an oversized message costs nothing but its prefix.
package struct GRPCMessageDeframer: Sendable {
  /// Largest message (as declared in its prefix) accepted.
  package var maxMessageSize: Int

  private var prefix: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
  private var prefixCount = 0
  /// Set while the body of a message is being collected.
  private var body: [UInt8] = []
  private var bodyExpected = -1
  private var bodyCompressed = false

  package init(maxMessageSize: Int) {
    self.maxMessageSize = maxMessageSize
  }

  /// Whether part of a message has been received and not yet completed.
  package var hasPartialMessage: Bool { prefixCount > 0 || bodyExpected >= 0 }

  /// Feeds bytes and appends every message they complete to `messages`.
  ///
  /// After an error the deframer is unusable; the call must end.
  package mutating func process(
    _ bytes: UnsafeRawBufferPointer, into messages: inout [GRPCFramedMessage]
  ) throws(GRPCFramingError) {
    var index = 0
    let count = bytes.count
    while index < count {
      if bodyExpected >= 0 {
        let take = min(bodyExpected - body.count, count - index)
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
        index += take
        if body.count == bodyExpected { finishBody(into: &messages) }
        continue
      }
      // Fast path: a whole prefix is available in this chunk.
      if prefixCount == 0 && count - index >= GRPCFraming.prefixLength {
        prefix = (
          bytes[index], bytes[index + 1], bytes[index + 2], bytes[index + 3], bytes[index + 4]
        )
        prefixCount = GRPCFraming.prefixLength
        index += GRPCFraming.prefixLength
      } else {
        switch prefixCount {
        case 0: prefix.0 = bytes[index]
        case 1: prefix.1 = bytes[index]
        case 2: prefix.2 = bytes[index]
        case 3: prefix.3 = bytes[index]
        default: prefix.4 = bytes[index]
        }
        prefixCount += 1
        index += 1
      }
      if prefixCount == GRPCFraming.prefixLength {
        try startBody()
        if bodyExpected == 0 {
          finishBody(into: &messages)
        } else if count - index >= bodyExpected {
          // Fast path: the whole body is here; copy it once.
          body = Array(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + bodyExpected)]))
          index += bodyExpected
          finishBody(into: &messages)
        }
      }
    }
  }

  /// Checks the end of the stream: a partial message there is an error.
  package func finish() throws(GRPCFramingError) {
    if hasPartialMessage { throw .truncated }
  }

  private mutating func startBody() throws(GRPCFramingError) {
    let flag = prefix.0
    guard flag <= 1 else { throw .invalidCompressedFlag(flag) }
    let length =
      Int(prefix.1) << 24 | Int(prefix.2) << 16 | Int(prefix.3) << 8 | Int(prefix.4)
    guard length <= maxMessageSize else {
      throw .messageTooLarge(length: length, limit: maxMessageSize)
    }
    bodyCompressed = flag == 1
    bodyExpected = length
    prefixCount = 0
    body = []
    // Reserve what is announced, but not more than a flow-control window's worth up front:
    // the peer has not proven it will send the rest.
    body.reserveCapacity(min(length, 65_536))
  }

  private mutating func finishBody(into messages: inout [GRPCFramedMessage]) {
    messages.append(GRPCFramedMessage(bytes: body, compressed: bodyCompressed))
    body = []
    bodyExpected = -1
    prefixCount = 0
  }
}
