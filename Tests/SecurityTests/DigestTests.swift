import Testing

@testable import Security

@Suite struct DigestTests {
  @Test func sha256KnownVectors() {
    #expect(
      hex(Digest.sha256([]))
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      hex(Digest.sha256(Array("abc".utf8)))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
  }
}

func hex(_ bytes: [UInt8]) -> String {
  let digits = Array("0123456789abcdef")
  var s = ""
  for b in bytes {
    s.append(digits[Int(b >> 4)])
    s.append(digits[Int(b & 15)])
  }
  return s
}
