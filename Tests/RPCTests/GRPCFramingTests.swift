import Testing

@testable import RPC

/// Length-prefixed message framing, independent of HTTP/2.
struct GRPCFramingTests {
  private func deframe(_ chunks: [[UInt8]], limit: Int = 1 << 20) throws -> [GRPCFramedMessage] {
    var deframer = GRPCMessageDeframer(maxMessageSize: limit)
    var out: [GRPCFramedMessage] = []
    for chunk in chunks {
      try chunk.withUnsafeBytes { try deframer.process($0, into: &out) }
    }
    try deframer.finish()
    return out
  }

  @Test func frameHasFlagAndBigEndianLength() {
    #expect(GRPCFraming.frame([0xAA, 0xBB], compressed: false) == [0, 0, 0, 0, 2, 0xAA, 0xBB])
    #expect(GRPCFraming.frame([], compressed: true) == [1, 0, 0, 0, 0])
    let big = [UInt8](repeating: 7, count: 0x010203)
    #expect(Array(GRPCFraming.frame(big, compressed: false).prefix(5)) == [0, 0, 1, 2, 3])
  }

  @Test func severalMessagesInOneChunk() throws {
    let bytes =
      GRPCFraming.frame([1], compressed: false) + GRPCFraming.frame([], compressed: false)
      + GRPCFraming.frame([2, 3], compressed: true)
    let messages = try deframe([bytes])
    #expect(
      messages == [
        GRPCFramedMessage(bytes: [1], compressed: false),
        GRPCFramedMessage(bytes: [], compressed: false),
        GRPCFramedMessage(bytes: [2, 3], compressed: true),
      ])
  }

  @Test func messagesSplitAtEveryPossibleByte() throws {
    let payload = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
    let bytes =
      GRPCFraming.frame(payload, compressed: false)
      + GRPCFraming.frame([9, 9], compressed: false)
    for cut in 1..<bytes.count {
      let messages = try deframe([Array(bytes[..<cut]), Array(bytes[cut...])])
      #expect(messages.map(\.bytes) == [payload, [9, 9]], "cut at \(cut)")
    }
    let oneByteAtATime = try deframe(bytes.map { [$0] })
    #expect(oneByteAtATime.map(\.bytes) == [payload, [9, 9]])
  }

  @Test func endInsideThePrefixIsTruncated() {
    #expect(throws: GRPCFramingError.truncated) { try deframe([[0, 0, 0]]) }
  }

  @Test func endInsideTheBodyIsTruncated() {
    #expect(throws: GRPCFramingError.truncated) { try deframe([[0, 0, 0, 0, 4, 1, 2]]) }
  }

  @Test func declaredLengthAboveLimitFailsBeforeTheBody() {
    #expect(throws: GRPCFramingError.messageTooLarge(length: 11, limit: 10)) {
      try deframe([[0, 0, 0, 0, 11]], limit: 10)
    }
    #expect(throws: Never.self) {
      try deframe(
        [GRPCFraming.frame([UInt8](repeating: 0, count: 10), compressed: false)], limit: 10)
    }
  }

  @Test func invalidCompressedFlagIsRejected() {
    #expect(throws: GRPCFramingError.invalidCompressedFlag(2)) { try deframe([[2, 0, 0, 0, 0]]) }
  }

  @Test func framingErrorsMapToGRPCStatuses() {
    #expect(
      GRPCFramingError.messageTooLarge(length: 2, limit: 1).rpcError.code == .resourceExhausted)
    #expect(GRPCFramingError.truncated.rpcError.code == .internal)
  }
}

/// `grpc-timeout` parsing and encoding.
struct GRPCTimeoutTests {
  @Test func parsesEveryUnit() {
    #expect(GRPCTimeout.parse("2H") == .seconds(7200))
    #expect(GRPCTimeout.parse("3M") == .seconds(180))
    #expect(GRPCTimeout.parse("4S") == .seconds(4))
    #expect(GRPCTimeout.parse("5m") == .milliseconds(5))
    #expect(GRPCTimeout.parse("6u") == .microseconds(6))
    #expect(GRPCTimeout.parse("7n") == .nanoseconds(7))
    #expect(GRPCTimeout.parse("99999999S") == .seconds(99_999_999))
    #expect(GRPCTimeout.parse("0m") == .zero)
  }

  @Test func rejectsMalformedValues() {
    for bad in ["", "S", "1", "123456789S", "1s", "1x", "-1S", "1.5S", " 1S", "1S ", "1SS"] {
      #expect(GRPCTimeout.parse(bad) == nil, "\(bad)")
    }
  }

  @Test func encodesInTheFinestUnitThatFitsAndNeverShortens() {
    #expect(GRPCTimeout.encode(.milliseconds(50)) == "50000000n")
    #expect(GRPCTimeout.encode(.seconds(1)) == "1000000u")
    #expect(GRPCTimeout.encode(.seconds(3600)) == "3600000m")
    #expect(GRPCTimeout.encode(.seconds(1_000_000)) == "1000000S")
    #expect(GRPCTimeout.encode(.zero) == "1n")
    #expect(GRPCTimeout.encode(.nanoseconds(100_000_001)) == "100001u")
    for duration: Duration in [.milliseconds(1234), .seconds(86400 * 30), .nanoseconds(1)] {
      let parsed = GRPCTimeout.parse(GRPCTimeout.encode(duration))
      #expect(parsed != nil && parsed! >= duration)
    }
  }
}

/// `grpc-message` percent-encoding.
struct GRPCPercentEncodingTests {
  @Test func printableASCIIIsUnchangedButPercentIsEscaped() {
    #expect(GRPCPercentEncoding.encode("plain text ~!") == "plain text ~!")
    #expect(GRPCPercentEncoding.encode("100%") == "100%25")
  }

  @Test func nonASCIIAndControlBytesAreEscapedAsUTF8() {
    #expect(GRPCPercentEncoding.encode("naïve\n☃") == "na%C3%AFve%0A%E2%98%83")
  }

  @Test func decodeInvertsEncode() {
    for text in ["", "a%b", "naïve\n☃ 100%", "\u{0}\u{7F}"] {
      #expect(GRPCPercentEncoding.decode(GRPCPercentEncoding.encode(text)) == text)
    }
  }

  @Test func malformedEscapesAreKeptVerbatim() {
    #expect(GRPCPercentEncoding.decode("50%") == "50%")
    #expect(GRPCPercentEncoding.decode("%zz%4") == "%zz%4")
    #expect(GRPCPercentEncoding.decode("%41%42") == "AB")
  }
}

/// Base64 for `-bin` metadata.
struct GRPCBase64Tests {
  @Test func encodesUnpaddedByDefault() {
    #expect(GRPCBase64.encode([UInt8]()) == "")
    #expect(GRPCBase64.encode([1]) == "AQ")
    #expect(GRPCBase64.encode([1, 2]) == "AQI")
    #expect(GRPCBase64.encode([1, 2, 3]) == "AQID")
    #expect(GRPCBase64.encode([1, 2], padded: true) == "AQI=")
    #expect(GRPCBase64.encode(Array("hello world".utf8)) == "aGVsbG8gd29ybGQ")
  }

  @Test func decodesPaddedAndUnpadded() {
    #expect(GRPCBase64.decode("AQI") == [1, 2])
    #expect(GRPCBase64.decode("AQI=") == [1, 2])
    #expect(GRPCBase64.decode("AQ==") == [1])
    #expect(GRPCBase64.decode("") == [])
    #expect(GRPCBase64.decode("-_8") == [0xFB, 0xFF])
  }

  @Test func rejectsNonBase64() {
    #expect(GRPCBase64.decode("A") == nil)
    #expect(GRPCBase64.decode("AQ*D") == nil)
  }

  @Test func roundTripsAllLengths() {
    for length in 0..<40 {
      let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
      #expect(GRPCBase64.decode(GRPCBase64.encode(bytes)) == bytes)
      #expect(GRPCBase64.decode(GRPCBase64.encode(bytes, padded: true)) == bytes)
    }
  }
}

/// Header-level rules.
struct GRPCHeadersTests {
  @Test func contentTypes() {
    #expect(GRPCHeaders.isGRPCContentType("application/grpc"))
    #expect(GRPCHeaders.isGRPCContentType("application/grpc+proto"))
    #expect(GRPCHeaders.isGRPCContentType("Application/GRPC;charset=utf-8"))
    #expect(!GRPCHeaders.isGRPCContentType("application/grpcx"))
    #expect(!GRPCHeaders.isGRPCContentType("application/json"))
    #expect(!GRPCHeaders.isGRPCContentType(""))
  }

  @Test func receivedMetadataDropsReservedAndDecodesBinary() {
    var metadata = Metadata()
    GRPCHeaders.appendReceived(name: "grpc-timeout", value: "1S", to: &metadata)
    GRPCHeaders.appendReceived(name: ":path", value: "/a/b", to: &metadata)
    GRPCHeaders.appendReceived(name: "te", value: "trailers", to: &metadata)
    GRPCHeaders.appendReceived(name: "x-text", value: "v", to: &metadata)
    GRPCHeaders.appendReceived(name: "x-data-bin", value: "AQI, AQID", to: &metadata)
    GRPCHeaders.appendReceived(name: "x-bad-bin", value: "*", to: &metadata)
    #expect(metadata.count == 3)
    #expect(metadata.firstString(forKey: "x-text") == "v")
    #expect(metadata["x-data-bin"] == [.binary([1, 2]), .binary([1, 2, 3])])
  }

  @Test func sentMetadataSkipsInvalidAndReservedKeys() {
    var metadata = Metadata()
    metadata.addString("ok", forKey: "x-fine")
    metadata.addString("no", forKey: "grpc-status")
    metadata.addString("no", forKey: "Bad Key")
    metadata.addString("line\nbreak", forKey: "x-newline")
    metadata.addBinary([0, 255], forKey: "x-raw-bin")
    var fields: [(String, String)] = []
    GRPCHeaders.fields(for: metadata, into: &fields)
    #expect(fields.map { "\($0.0)=\($0.1)" } == ["x-fine=ok", "x-raw-bin=AP8"])
  }

  @Test func encodingLists() {
    #expect(GRPCHeaders.list("identity, gzip", contains: "gzip"))
    #expect(GRPCHeaders.list("GZIP", contains: "gzip"))
    #expect(!GRPCHeaders.list("identity,deflate", contains: "gzip"))
  }
}
