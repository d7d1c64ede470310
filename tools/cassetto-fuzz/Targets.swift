import Foundation
import RPC

/// The fuzz targets of issue 9. `tools/fuzz` builds this executable with
/// `--sanitize=fuzzer -Xswiftc -DFUZZING` (libFuzzer's `main`, the target chosen by
/// `CASSETTO_FUZZ_TARGET`); the ordinary build gets the replay `main` below, which runs
/// files (the committed corpora under `Tests/fuzz/`) through the same targets — so every
/// input a fuzzer found is a regression test (`Tests/interop/test_fuzz_corpus.py`).
enum FuzzTarget: String, CaseIterable {
  /// Bytes from an HTTP/2 client into a server connection.
  case http2
  /// DATA bytes into the gRPC message deframer.
  case framing
  /// `grpc-timeout`, `grpc-message` and `-bin` metadata values.
  case metadata
  /// Every request message of every service, decoded through protobuf-c and the generated
  /// Swift conversion, then encoded again.
  case proto

  func run(_ data: UnsafeRawBufferPointer) {
    switch self {
    case .http2: FuzzEntryPoints.http2ServerInput(data)
    case .framing: FuzzEntryPoints.grpcFraming(data)
    case .metadata: FuzzEntryPoints.metadataParsing(data)
    case .proto:
      for type in requestTypes {
        if let message = try? type.init(serializedBytes: data) {
          var again: [UInt8] = []
          message.serialize(into: &again)
        }
      }
    }
  }
}

let selectedTarget: FuzzTarget = {
  let name = ProcessInfo.processInfo.environment["CASSETTO_FUZZ_TARGET"] ?? ""
  guard let target = FuzzTarget(rawValue: name) else {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    FileHandle.standardError.write(Data("CASSETTO_FUZZ_TARGET must be one of: \(names)\n".utf8))
    exit(2)
  }
  return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
  selectedTarget.run(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : count))
  return 0
}

#if !FUZZING
  /// `cassetto-fuzz DIR`: replays every file under `DIR/<target>/` through its target.
  @main struct Replay {
    static func main() {
      let arguments = CommandLine.arguments.dropFirst()
      guard let root = arguments.first else {
        print("usage: cassetto-fuzz CORPUS_ROOT   (replays CORPUS_ROOT/<target>/*)")
        exit(2)
      }
      var replayed = 0
      for target in FuzzTarget.allCases {
        let directory = (root as NSString).appendingPathComponent(target.rawValue)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for file in files.sorted() {
          let path = (directory as NSString).appendingPathComponent(file)
          guard let data = FileManager.default.contents(atPath: path) else { continue }
          data.withUnsafeBytes { target.run($0) }
          replayed += 1
        }
      }
      print("cassetto-fuzz: replayed \(replayed) inputs without a crash")
    }
  }
#endif
