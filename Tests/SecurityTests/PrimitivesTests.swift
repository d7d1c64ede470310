import Testing

@testable import Security

@Suite struct Base64URLTests {
  /// RFC 4648 §10 vectors, without padding.
  @Test(arguments: [
    ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
    ("fooba", "Zm9vYmE"), ("foobar", "Zm9vYmFy"),
  ])
  func rfc4648Vectors(_ plain: String, _ encoded: String) {
    #expect(Base64URL.encode(plain) == encoded)
    #expect(Base64URL.decode(encoded) == Array(plain.utf8))
  }

  @Test func usesTheURLSafeAlphabet() {
    #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
    #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
  }

  @Test(arguments: ["Zg==", "Zm9v+", "Zm9v/", "Z", "Zm 9v", "Zh", "Zm9"])
  func nonCanonicalOrForeignInputIsRefused(_ text: String) {
    // "Zh" and "Zm9" have non-zero unused bits: a second spelling of the same bytes.
    #expect(Base64URL.decode(text) == nil)
  }

  @Test func roundTripsEveryLength() {
    for length in 0..<70 {
      let bytes = SecureRandom.bytes(length)
      #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
    }
  }
}

@Suite struct HMACTests {
  /// RFC 4231 test cases 1 and 2.
  @Test func rfc4231Vectors() {
    let key1 = [UInt8](repeating: 0x0b, count: 20)
    #expect(
      hex(HMAC.sha256(key: key1, data: Array("Hi There".utf8)))
        == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    #expect(
      hex(HMAC.sha256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8)))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
  }

  @Test func emptyInputs() {
    // Python: hmac.new(b"", b"", "sha256").hexdigest()
    #expect(
      hex(HMAC.sha256(key: [], data: []))
        == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
  }
}

@Suite struct SecureRandomTests {
  @Test func bytesHaveTheRequestedLengthAndDiffer() {
    #expect(SecureRandom.bytes(0).isEmpty)
    let a = SecureRandom.bytes(32)
    let b = SecureRandom.bytes(32)
    #expect(a.count == 32 && b.count == 32)
    #expect(a != b)
  }

  @Test func digitsAreDecimalAndRoughlyUniform() {
    #expect(SecureRandom.digits(0) == "")
    #expect(SecureRandom.digits(6).count == 6)
    let sample = SecureRandom.digits(20_000)
    var counts = [Int](repeating: 0, count: 10)
    for c in sample.utf8 {
      #expect(c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
      counts[Int(c - UInt8(ascii: "0"))] += 1
    }
    // Expected 2000 each, standard deviation ≈ 42: ±400 fails only if something is broken.
    for count in counts { #expect((1600...2400).contains(count)) }
  }
}

@Suite struct ConstantTimeEqualTests {
  @Test func comparesContent() {
    #expect(constantTimeEqual([], []))
    #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
    #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
    #expect(!constantTimeEqual([1, 2, 3], [1, 2]))
    #expect(!constantTimeEqual([0], []))
  }
}

@Suite struct JSONValueTests {
  @Test func parsesTheKindsOfValues() {
    let value = JSONValue.parse(
      Array(#" {"a": [1, -2.5e1, true, null, "x\u00e9\ud83d\ude00\n"], "b": {}} "#.utf8))
    #expect(
      value == .object(["a": [1, -25.0, true, .null, "xé😀\n"], "b": .object([:])]))
  }

  @Test(arguments: [
    #"{"a":1,"a":2}"#, #"{"a":1,}"#, "[1,]", "01", "1.", "+1", "\"\u{01}\"", #""\x""#,
    #""\ud800""#, "{} {}", "", "nul", #"{"a" 1}"#, "[1 2]", "NaN",
  ])
  func refusesInvalidJSON(_ text: String) {
    #expect(JSONValue.parse(Array(text.utf8)) == nil)
  }

  @Test func refusesInvalidUTF8() {
    #expect(JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) == nil)
  }

  @Test func boundsNesting() {
    let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
    #expect(JSONValue.parse(Array(deep.utf8)) == nil)
    let shallow = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
    #expect(JSONValue.parse(Array(shallow.utf8)) != nil)
  }

  @Test func serializesDeterministicallyAndRoundTrips() {
    let value: JSONValue = ["z": 1, "a": ["q\"\\\u{01}", 2.5, false, .null]]
    #expect(value.serialized == #"{"a":["q\"\\\u0001",2.5,false,null],"z":1}"#)
    #expect(JSONValue.parse(Array(value.serialized.utf8)) == value)
  }
}

@Suite struct ECDSASignatureTests {
  @Test func rawAndDERRoundTripWithLeadingZeros() throws {
    // r = 1 and s with a high bit (DER adds a 0x00 sign byte, drops r's leading zeros).
    var raw = [UInt8](repeating: 0, count: 64)
    raw[31] = 1
    raw[32] = 0x80
    raw[63] = 0x7F
    let der = try #require(ECDSASignature.derFromRaw(raw))
    #expect(
      der == [0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, 0x80]
        + [UInt8](repeating: 0, count: 30) + [0x7F])
    #expect(ECDSASignature.rawFromDER(der) == raw)
  }

  @Test func onlySixtyFourByteSignaturesConvert() {
    #expect(ECDSASignature.derFromRaw([UInt8](repeating: 1, count: 63)) == nil)
    #expect(ECDSASignature.derFromRaw([UInt8](repeating: 1, count: 65)) == nil)
  }
}
