/// A protobuf message value that the runtime can put on and take off the wire.
///
/// Generated message types also conform to the package-internal `ProtobufCBacked`, which
/// encodes and decodes with protobuf-c. Decoding failures throw ``ProtoDecodingError``; the server answers them
/// with `INTERNAL`, as gRPC servers do for unparseable requests.
public protocol ProtoMessage: Sendable {
  /// The message with every field at its default.
  init()
  /// Decodes the protobuf wire format.
  init(serializedBytes: UnsafeRawBufferPointer) throws
  /// Appends the protobuf wire format of this message to `buffer`.
  func serialize(into buffer: inout [UInt8])
}

extension ProtoMessage {
  /// The protobuf wire format of this message.
  public func serializedBytes() -> [UInt8] {
    var out: [UInt8] = []
    serialize(into: &out)
    return out
  }

  /// Decodes the protobuf wire format from an array.
  public init(serializedBytes bytes: [UInt8]) throws {
    self = try bytes.withUnsafeBytes { try Self(serializedBytes: $0) }
  }
}

/// The bytes were not a valid encoding of the expected message.
public struct ProtoDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
  public var messageName: String
  public init(messageName: String) { self.messageName = messageName }
  public var description: String { "could not decode \(messageName)" }
}
