// The client side of gRPC's interop test cases (grpc/grpc doc/interop-test-descriptions.md),
// on Cassetto's own client runtime: run it against any interop TestService server.
import ArgumentParser
import Contracts
import RPC

#if canImport(Glibc)
  import Glibc
#endif

@main
struct InteropClient: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cassetto-interop-client",
    abstract: "Runs one gRPC interop test case (client side) against a TestService server.",
    discussion: "Exits 0 when the case passes; otherwise prints why and exits 1.")

  @Option(name: .customLong("server_host"), help: "Host to connect to.")
  var serverHost = "127.0.0.1"

  @Option(name: .customLong("server_port"), help: "Port to connect to.")
  var serverPort: Int = 8080

  @Option(
    name: .customLong("server_host_override"),
    help: "Name claimed in TLS (SNI, certificate check) and :authority.")
  var serverHostOverride: String?

  @Option(name: .customLong("test_case"), help: "One of: \(InteropCase.allNames).")
  var testCase: String = "large_unary"

  @Option(name: .customLong("use_tls"), help: "Connect over TLS (true/false).")
  var useTLS = false

  @Option(
    name: .customLong("use_test_ca"), help: "Accepted for compatibility; see --custom_ca_file.")
  var useTestCA = false

  @Option(name: .customLong("custom_ca_file"), help: "PEM file of the CA that signed the server.")
  var customCAFile: String?

  @Option(
    name: .customLong("compression_probe"),
    help: """
      Run the feature probe of the client_compressed_* cases (an uncompressed request that \
      claims to be compressed must be rejected). Turn off only for servers that cannot see \
      a request's compressed flag (e.g. grpcio's Python API).
      """)
  var compressionProbe = true

  /// Accepts the bare flag form `--use_tls` (the standard client takes `--use_tls=true`).
  static func normalized(_ arguments: [String]) -> [String] {
    arguments.map { $0 == "--use_tls" ? "--use_tls=true" : $0 }
  }

  static func main() async {
    do {
      var command = try parseAsRoot(normalized(Array(CommandLine.arguments.dropFirst())))
      if var async = command as? AsyncParsableCommand {
        try await async.run()
      } else {
        try command.run()
      }
    } catch {
      exit(withError: error)
    }
  }

  func run() async throws {
    guard let interopCase = InteropCase(rawValue: testCase) else {
      throw ValidationError("unknown test case \(testCase); known: \(InteropCase.allNames)")
    }
    var tls: TLSClientConfiguration?
    if useTLS {
      tls = TLSClientConfiguration(trustRootsFile: customCAFile, serverName: serverHostOverride)
    }
    let channel = Channel(host: serverHost, port: serverPort, tls: tls)
    defer { channel.close() }
    let cases = InteropCases(
      client: Grpc_Testing_TestServiceClient(channel: channel),
      unimplemented: Grpc_Testing_UnimplementedServiceClient(channel: channel),
      compressionProbe: compressionProbe)
    do {
      try await cases.run(interopCase)
    } catch let failure as InteropFailure {
      printError("FAIL \(testCase): \(failure.message)")
      throw ExitCode(1)
    } catch {
      printError("FAIL \(testCase): unexpected error: \(error)")
      throw ExitCode(1)
    }
    print("PASS \(testCase)")
  }
}

func printError(_ text: String) {
  let line = Array((text + "\n").utf8)
  _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
