import Foundation
import Testing

@testable import RPC

@Suite("Gzip message encoding")
struct GzipTests {
  static let text = Array(
    String(repeating: "Cassetto speaks gRPC over HTTP/2. ", count: 200).utf8)

  @Test func roundTripRestoresTheInput() throws {
    for input in [[], [0x42], Self.text, randomBytes(300_000)] {
      let compressed = try Gzip.compress(input)
      #expect(compressed.starts(with: [0x1f, 0x8b]))
      #expect(try Gzip.decompress(compressed, limit: input.count) == input)
    }
  }

  @Test func compressionShrinksRepetitiveData() throws {
    #expect(try Gzip.compress(Self.text).count < Self.text.count / 10)
  }

  @Test func reusedCodersStayCorrect() throws {
    let compressor = GzipCompressor()
    let decompressor = GzipDecompressor()
    for size in [0, 1, 70_000, 5, 200_000] {
      let input = randomBytes(size)
      let packed = try compressor.compress(input)
      #expect(try decompressor.decompress(packed, limit: size) == input)
    }
    // A failure leaves the decompressor usable.
    #expect(throws: GzipError.self) { try decompressor.decompress([1, 2, 3, 4], limit: 10) }
    #expect(
      try decompressor.decompress(try compressor.compress(Self.text), limit: 1 << 20)
        == Self.text)
  }

  @Test func concurrentCallsShareThePoolSafely() async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
      for task in 0..<16 {
        group.addTask {
          for round in 0..<20 {
            let input = Array("task \(task) round \(round) ".utf8) + randomBytes(task * 500 + round)
            let packed = try Gzip.compress(input)
            guard try Gzip.decompress(packed, limit: input.count) == input else { return false }
          }
          return true
        }
      }
      for try await ok in group { #expect(ok) }
    }
  }

  @Test func decodesWhatTheGzipToolWrites() throws {
    let file = FileManager.default.temporaryDirectory
      .appendingPathComponent("cassetto-gzip-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: file) }
    try Data(Self.text).write(to: file)
    let compressed = try run("/usr/bin/env", ["gzip", "-9", "-c", file.path])
    #expect(compressed.starts(with: [0x1f, 0x8b]))
    #expect(try Gzip.decompress(compressed, limit: 1 << 20) == Self.text)
  }

  @Test func pythonDecodesWhatWeWrite() throws {
    let compressed = try Gzip.compress(Self.text)
    let decoded = try run(
      "/usr/bin/env",
      [
        "python3", "-c",
        "import gzip,sys; sys.stdout.buffer.write(gzip.decompress(sys.stdin.buffer.read()))",
      ],
      stdin: compressed)
    #expect(decoded == Self.text)
  }

  @Test func concatenatedMembersDecodeAsOneStream() throws {
    let a = Array("first ".utf8)
    let b = Array("second".utf8)
    let both = try Gzip.compress(a) + Gzip.compress(b)
    #expect(try Gzip.decompress(both, limit: 100) == a + b)
  }

  @Test func outputAtExactlyTheLimitIsAccepted() throws {
    let input = [UInt8](repeating: 7, count: 100_000)
    #expect(try Gzip.decompress(try Gzip.compress(input), limit: 100_000) == input)
    #expect(throws: GzipError.tooLarge(limit: 99_999)) {
      try Gzip.decompress(try Gzip.compress(input), limit: 99_999)
    }
  }

  @Test func zipBombIsStoppedAtTheLimit() throws {
    let zeros = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
    let bomb = try Gzip.compress(zeros)
    #expect(bomb.count < 20_000)
    #expect(throws: GzipError.tooLarge(limit: 1024 * 1024)) {
      try Gzip.decompress(bomb, limit: 1024 * 1024)
    }
  }

  @Test func zeroLimitRejectsAnyOutput() throws {
    #expect(throws: GzipError.tooLarge(limit: 0)) {
      try Gzip.decompress(try Gzip.compress([1]), limit: 0)
    }
    #expect(try Gzip.decompress(try Gzip.compress([]), limit: 0) == [])
  }

  @Test func corruptInputIsRejected() throws {
    let good = try Gzip.compress(Self.text)
    var flipped = good
    flipped[good.count / 2] ^= 0xff
    var badCRC = good
    badCRC[good.count - 6] ^= 0x01
    let cases: [[UInt8]] = [
      Array("not gzip at all".utf8),
      Array(good.prefix(good.count - 4)),  // truncated trailer
      Array(good.prefix(12)),  // truncated body
      flipped,
      badCRC,
      good + [0x00, 0x01, 0x02],  // trailing garbage
      // zlib (not gzip) framing must not be accepted for grpc-encoding gzip
      [0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ]
    for bad in cases {
      #expect(throws: GzipError.self) { try Gzip.decompress(bad, limit: 1 << 20) }
      do {
        _ = try Gzip.decompress(bad, limit: 1 << 20)
      } catch let error as GzipError {
        guard case .corrupt = error else {
          Issue.record("expected .corrupt, got \(error)")
          continue
        }
      }
    }
  }
}

private func randomBytes(_ count: Int) -> [UInt8] {
  var generator = SystemRandomNumberGenerator()
  return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// Runs a command, feeding `stdin`, and returns its standard output; throws on failure.
private func run(_ path: String, _ arguments: [String], stdin: [UInt8] = []) throws -> [UInt8] {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments = arguments
  let input = Pipe()
  let output = Pipe()
  process.standardInput = input
  process.standardOutput = output
  try process.run()
  // Feed stdin from another thread so a large output cannot deadlock the pipes.
  let writer = Thread {
    input.fileHandleForWriting.write(Data(stdin))
    try? input.fileHandleForWriting.close()
  }
  writer.start()
  let data = output.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw CommandFailed(
      command: arguments.joined(separator: " "), status: process.terminationStatus)
  }
  return Array(data)
}

struct CommandFailed: Error {
  var command: String
  var status: Int32
}
