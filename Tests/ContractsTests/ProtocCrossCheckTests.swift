import Contracts
import Foundation
import RPC
import Testing

enum Protoc {
  static let path: String? = ["/usr/bin/protoc", "/usr/local/bin/protoc"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
}

/// protoc itself (`--decode` / `--encode`) reads what we write and writes what we read, with
/// the schema taken from the descriptors embedded in the generated code. Skipped when protoc
/// is not installed.
@Suite(.enabled(if: Protoc.path != nil, "protoc not installed"))
struct ProtocCrossCheckTests {

  /// A `FileDescriptorSet` of features.proto and everything it imports, made from the
  /// descriptors embedded in the generated code (so protoc also checks that those are
  /// complete and consistent).
  private func descriptorSet() throws -> URL {
    var files: [ProtoFileDescriptor] = []
    func add(_ file: ProtoFileDescriptor) {
      guard !files.contains(where: { $0 === file }) else { return }
      file.dependencies.forEach(add)
      files.append(file)
    }
    add(ProtoFile_cassetto_testing_v1_features.descriptor)
    var set: [UInt8] = []
    for file in files {
      set.append(0x0A)  // FileDescriptorSet.file (1), length-delimited
      var length = file.serialized.count
      repeat {
        set.append(UInt8(length & 0x7F) | (length >= 0x80 ? 0x80 : 0))
        length >>= 7
      } while length > 0
      set += file.serialized
    }
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("contracts-tests-\(UInt64.random(in: 0...UInt64.max)).pb")
    try Data(set).write(to: url)
    return url
  }

  private func protoc(_ mode: String, _ type: String, input: Data) throws -> Data {
    let set = try descriptorSet()
    defer { try? FileManager.default.removeItem(at: set) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Protoc.path ?? "protoc")
    process.arguments = [
      "\(mode)=cassetto.testing.v1.\(type)", "--descriptor_set_in=\(set.path)",
      "cassetto/testing/v1/features.proto",
    ]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    stdin.fileHandleForWriting.write(input)
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    return output
  }

  @Test func protocDecodesOurEncoding() throws {
    var message = Fixtures.scalars
    message.stringValue = "hello"
    let text = String(
      decoding: try protoc("--decode", "Scalars", input: Data(message.serializedBytes())),
      as: UTF8.self)
    for line in [
      "double_value: -1.5e+300", "float_value: 3.25", "int32_value: -42",
      "int64_value: -9223372036854775808", "uint32_value: 4294967295",
      "uint64_value: 18446744073709551615", "sint32_value: -2147483648",
      "sint64_value: -9000000000", "fixed32_value: 3735928559",
      "fixed64_value: 81985529216486895", "sfixed32_value: -7",
      "sfixed64_value: 9223372036854775807", "bool_value: true", "string_value: \"hello\"",
      "bytes_value: \"\\000\\001\\002\\377\\200\\000\"", "color: COLOR_DEEP_BLUE",
    ] {
      #expect(text.contains(line), "missing \(line) in \(text)")
    }
  }

  @Test func protocDecodesCollectionsAndOneofs() throws {
    var message = Cassetto_Testing_V1_Collections()
    message.strings = ["a", "b"]
    message.counts = ["k": 3]
    message.colors = [.red, .negative]
    let text = String(
      decoding: try protoc("--decode", "Collections", input: Data(message.serializedBytes())),
      as: UTF8.self)
    #expect(text.contains("strings: \"a\"\nstrings: \"b\""))
    #expect(text.contains("counts {\n  key: \"k\"\n  value: 3\n}"))
    #expect(text.contains("colors: COLOR_RED\ncolors: COLOR_NEGATIVE"))

    var choice = Cassetto_Testing_V1_Choice()
    choice.kind = .text("")
    let choiceText = String(
      decoding: try protoc("--decode", "Choice", input: Data(choice.serializedBytes())),
      as: UTF8.self)
    #expect(choiceText.contains("text: \"\""))
  }

  @Test func weDecodeProtocsEncoding() throws {
    let text = """
      inner { value: 7 mode: MODE_FAST leaf { name: "fo\\303\\262glia" } }
      inners { value: -1 }
      class: "c" self: 5 default: true type: "t"
      recursive { recursive { self: 2 } }
      scalars { sint64_value: -1 bytes_value: "\\001\\002" color: COLOR_NEGATIVE }
      """
    let bytes = try protoc("--encode", "Outer", input: Data(text.utf8))
    let message = try Cassetto_Testing_V1_Outer(serializedBytes: [UInt8](bytes))
    #expect(message.inner?.value == 7)
    #expect(message.inner?.mode == .fast)
    #expect(message.inner?.leaf?.name == "foòglia")
    #expect(message.inners.map(\.value) == [-1])
    #expect(message.class == "c")
    #expect(message.self_p == 5)
    #expect(message.default)
    #expect(message.type == "t")
    #expect(message.recursive?.recursive?.self_p == 2)
    #expect(message.scalars?.sint64Value == -1)
    #expect(message.scalars?.bytesValue == [1, 2])
    #expect(message.scalars?.color == .negative)
  }

  @Test func weDecodeProtocsMaps() throws {
    let text = """
      names { key: -2 value: "meno due" }
      inner_by_name { key: "x" value { value: 1 } }
      blob_by_id { key: 18446744073709551615 value: "\\377" }
      color_by_flag { key: true value: COLOR_GREEN }
      doubles_by_key { key: -9 value: 0.5 }
      """
    let bytes = try protoc("--encode", "Collections", input: Data(text.utf8))
    let message = try Cassetto_Testing_V1_Collections(serializedBytes: [UInt8](bytes))
    #expect(message.names == [-2: "meno due"])
    #expect(message.innerByName["x"]?.value == 1)
    #expect(message.blobById == [UInt64.max: [0xFF]])
    #expect(message.colorByFlag == [true: .green])
    #expect(message.doublesByKey == [-9: 0.5])
  }
}
