import Contracts
import RPC
import Testing

/// Encodings checked against bytes written by hand from the protobuf encoding rules, so that
/// the codec is tested against the real wire format and not only against itself.
@Suite struct WireFormatTests {
  @Test func decodesHandWrittenBytes() throws {
    let bytes: [UInt8] =
      [0x18, 0x96, 0x01]  // int32_value (3) = 150
      + [0x38, 0x03]  // sint32_value (7) = -2, zigzag 3
      + [0x4D, 0xEF, 0xBE, 0xAD, 0xDE]  // fixed32_value (9) = 0xDEADBEEF
      + [0x68, 0x01]  // bool_value (13) = true
      + [0x72, 0x07] + Array("testing".utf8)  // string_value (14)
      + [0x7A, 0x02, 0x00, 0xFF]  // bytes_value (15)
      + [0x80, 0x01, 0x02]  // color (16) = COLOR_GREEN
    let message = try Cassetto_Testing_V1_Scalars(serializedBytes: bytes)
    #expect(message.int32Value == 150)
    #expect(message.sint32Value == -2)
    #expect(message.fixed32Value == 0xDEAD_BEEF)
    #expect(message.boolValue)
    #expect(message.stringValue == "testing")
    #expect(message.bytesValue == [0, 0xFF])
    #expect(message.color == .green)
    #expect(message.serializedBytes() == bytes)
  }

  @Test func negativeInt32IsTenBytesAndNegativeEnumToo() {
    var message = Cassetto_Testing_V1_Scalars()
    message.int32Value = -1
    message.color = .negative
    let minusOne: [UInt8] = Array(repeating: 0xFF, count: 9) + [0x01]
    #expect(message.serializedBytes() == [0x18] + minusOne + [0x80, 0x01] + minusOne)
  }

  @Test func packedRepeatedAndNestedMessages() throws {
    var message = Cassetto_Testing_V1_Collections()
    message.int32s = [1, 150]
    var inner = Cassetto_Testing_V1_Outer.Inner()
    inner.value = 1
    message.inners = [inner]
    // proto3 packs repeated scalars: field 1, wire type 2, length 3, varints 01 96 01.
    let expected: [UInt8] = [0x0A, 0x03, 0x01, 0x96, 0x01, 0x4A, 0x02, 0x08, 0x01]
    #expect(message.serializedBytes() == expected)
    #expect(try Cassetto_Testing_V1_Collections(serializedBytes: expected) == message)
    // Unpacked encoding of the same field must be accepted too.
    let unpacked: [UInt8] = [0x08, 0x01, 0x08, 0x96, 0x01]
    #expect(try Cassetto_Testing_V1_Collections(serializedBytes: unpacked).int32s == [1, 150])
  }

  @Test func mapEntriesOnTheWire() throws {
    // counts (11) = {"a": 1}: entry message { key (1) = "a", value (2) = 1 }
    let bytes: [UInt8] = [0x5A, 0x05, 0x0A, 0x01, 0x61, 0x10, 0x01]
    let message = try Cassetto_Testing_V1_Collections(serializedBytes: bytes)
    #expect(message.counts == ["a": 1])
    #expect(message.serializedBytes() == bytes)
  }

  @Test func mapsEncodeInKeyOrder() {
    var message = Cassetto_Testing_V1_Collections()
    message.names = [3: "c", -1: "a", 2: "b"]
    message.colorByFlag = [true: .red, false: .green]
    // names (12) entries {key (1), value (2)}, keys -1, 2, 3; then color_by_flag (15): false
    // (a proto3 entry leaves out its default key), true.
    let minusOne: [UInt8] = Array(repeating: 0xFF, count: 9) + [0x01]
    let expected: [UInt8] =
      [0x62, 0x0E, 0x08] + minusOne + [0x12, 0x01, 0x61]
      + [0x62, 0x05, 0x08, 0x02, 0x12, 0x01, 0x62]
      + [0x62, 0x05, 0x08, 0x03, 0x12, 0x01, 0x63]
      + [0x7A, 0x02, 0x10, 0x02]
      + [0x7A, 0x04, 0x08, 0x01, 0x10, 0x01]
    #expect(message.serializedBytes() == expected)
    var copy = Cassetto_Testing_V1_Collections()
    for key in [2, 3, -1] as [Int32] { copy.names[key] = message.names[key] }
    copy.colorByFlag = message.colorByFlag
    #expect(copy.serializedBytes() == expected)
  }

  @Test func oneofMemberAtDefaultIsEncoded() {
    var message = Cassetto_Testing_V1_Choice()
    message.kind = .number(0)
    #expect(message.serializedBytes() == [0x10, 0x00])
  }

  @Test func unknownFieldsAreSkipped() throws {
    // field 100 (varint) then string_value: readers must skip what they do not know.
    let bytes: [UInt8] = [0xA0, 0x06, 0x05, 0x72, 0x01, 0x78]
    #expect(try Cassetto_Testing_V1_Scalars(serializedBytes: bytes).stringValue == "x")
  }

  @Test(arguments: [
    [0x0A] as [UInt8],  // key of a length-delimited field and nothing else
    [0x72, 0x05, 0x61],  // string longer than the input
    [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],  // 11-byte varint
    [0x1F, 0x00],  // wire type 7 does not exist
    [0x00, 0x01],  // field number 0
    [0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
  ])
  func garbageThrowsProtoDecodingError(bytes: [UInt8]) {
    #expect(throws: ProtoDecodingError.self) {
      try Cassetto_Testing_V1_Scalars(serializedBytes: bytes)
    }
  }

  @Test(arguments: [
    [0x72, 0x02, 0xC3, 0x28] as [UInt8],  // invalid continuation byte
    [0x72, 0x02, 0xC0, 0x80],  // overlong encoding of U+0000
    [0x72, 0x03, 0xED, 0xA0, 0x80],  // UTF-16 surrogate
    [0x72, 0x01, 0xFF],
    [0x72, 0x03, 0x61, 0x00, 0x62],  // U+0000 would cut the C string
  ])
  func stringsMustBeValidUTF8(bytes: [UInt8]) {
    #expect(throws: ProtoDecodingError.self) {
      try Cassetto_Testing_V1_Scalars(serializedBytes: bytes)
    }
  }

  @Test func stringsInNestedMessagesAndMapKeysAreChecked() throws {
    // Collections.counts (11) entry with key (1) = 0xFF.
    #expect(throws: ProtoDecodingError.self) {
      try Cassetto_Testing_V1_Collections(serializedBytes: [0x5A, 0x03, 0x0A, 0x01, 0xFF])
    }
    // Outer.inner (1) → Inner.leaf (3) → Leaf.name (1) = 0xFF.
    #expect(throws: ProtoDecodingError.self) {
      try Cassetto_Testing_V1_Outer(serializedBytes: [0x0A, 0x05, 0x1A, 0x03, 0x0A, 0x01, 0xFF])
    }
    // The same bytes in a `bytes` field are fine.
    let message = try Cassetto_Testing_V1_Scalars(serializedBytes: [0x7A, 0x02, 0xFF, 0x00])
    #expect(message.bytesValue == [0xFF, 0x00])
    // Four-byte sequences are valid.
    let emoji = try Cassetto_Testing_V1_Scalars(serializedBytes: [0x72, 0x04, 0xF0, 0x9F, 0x8D, 0x9D])
    #expect(emoji.stringValue == "🍝")
  }

  @Test func decodingErrorNamesTheMessage() {
    do {
      _ = try Grpc_Testing_SimpleRequest(serializedBytes: [0x1A, 0x09, 0x00])
      Issue.record("decoding should have failed")
    } catch let error as ProtoDecodingError {
      #expect(error.messageName == "grpc.testing.SimpleRequest")
    } catch {
      Issue.record("unexpected error \(error)")
    }
  }

  @Test func deepNestingIsRefusedAndShallowAccepted() throws {
    // Outer.recursive (8) nested `depth` times.
    func nested(_ depth: Int) -> [UInt8] {
      var bytes: [UInt8] = []
      for _ in 0..<depth {
        var length: [UInt8] = []
        var n = bytes.count
        repeat {
          length.append(UInt8(n & 0x7F) | (n >= 0x80 ? 0x80 : 0))
          n >>= 7
        } while n > 0
        bytes = [0x42] + length + bytes
      }
      return bytes
    }
    #expect(throws: Never.self) { try Cassetto_Testing_V1_Outer(serializedBytes: nested(90)) }
    #expect(throws: ProtoDecodingError.self) {
      try Cassetto_Testing_V1_Outer(serializedBytes: nested(1000))
    }
  }
}
