/// The request messages of a client- or bidirectional-streaming call, as they arrive.
///
/// Consuming a message is what opens the HTTP/2 flow-control window for the next ones, so a
/// slow handler slows its client instead of piling up memory. Iteration throws `RPCError`
/// when the call is cancelled or a message cannot be decoded (`INTERNAL`).
public struct RequestStream<Message: ProtoMessage>: AsyncSequence, Sendable {
  public typealias Element = Message
  public typealias Failure = any Error

  /// Produces the next raw (decompressed) message, or `nil` at the end of the stream.
  package let nextRaw: @Sendable () async throws -> [UInt8]?

  package init(nextRaw: @escaping @Sendable () async throws -> [UInt8]?) {
    self.nextRaw = nextRaw
  }

  public struct AsyncIterator: AsyncIteratorProtocol {
    let nextRaw: @Sendable () async throws -> [UInt8]?

    public mutating func next() async throws -> Message? {
      guard let bytes = try await nextRaw() else { return nil }
      do {
        return try Message(serializedBytes: bytes)
      } catch {
        throw RPCError(.internal, "could not decode \(Message.self)")
      }
    }
  }

  public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextRaw: nextRaw) }
}

/// Sends the response messages of a server- or bidirectional-streaming call.
///
/// `write` suspends while the client is not reading (HTTP/2 flow control), so a fast handler
/// cannot outrun a slow client. It throws when the call has ended (cancelled, deadline).
public struct ResponseWriter<Message: ProtoMessage>: Sendable {
  /// Sends one serialized message; `compress` overrides the call's compression choice.
  package let writeRaw: @Sendable (_ bytes: [UInt8], _ compress: Bool?) async throws -> Void

  package init(writeRaw: @escaping @Sendable (_ bytes: [UInt8], _ compress: Bool?) async throws -> Void) {
    self.writeRaw = writeRaw
  }

  /// Sends `message`; `compress` overrides the call's compression for this message only.
  public func write(_ message: Message, compress: Bool? = nil) async throws {
    try await writeRaw(message.serializedBytes(), compress)
  }
}
