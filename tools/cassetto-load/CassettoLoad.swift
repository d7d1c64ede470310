import ArgumentParser
import Foundation
import RPC

#if canImport(Glibc)
  import Glibc
#endif

/// `cassetto-load`: a gRPC load generator on Cassetto's own client runtime (`Channel` and the
/// generated clients). Closed loop (fixed concurrency) by default, open loop (fixed rate)
/// with `--rate`; N connections × M concurrent streams each; warm-up, then a measured window;
/// latency percentiles from a log-linear histogram; errors counted by gRPC status.
@main
struct CassettoLoad: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cassetto-load",
    abstract: "Load generator for gRPC servers, on Cassetto's client runtime.",
    discussion: """
      Scenarios: \(ScenarioRegistry.names.joined(separator: ", ")).
        unary             grpc.testing.TestService/UnaryCall, --request-size bytes in, \
      --response-size bytes out (default 100/100)
        server-streaming  grpc.testing.TestService/StreamingOutputCall, --stream-messages \
      responses of --response-size bytes per call; throughput in messages/s
        domain            the users' everyday RPCs in realistic proportions (searches, menu, \
      summaries, payments, CheckAccess, deleghe, WhoAmI, delega lifecycle) over the data of a \
      --dev server (--data-dir for its development key); latency per RPC
      Every connection is one Channel, i.e. one client I/O thread: with few cores the
      generator's own CPU can set the pace (see cpu_percent in the output).
      """)

  @Option(help: "Server address, host:port.")
  var target = "127.0.0.1:50051"

  @Option(help: "Scenario to run.")
  var scenario = "unary"

  @Option(name: [.customShort("c"), .long], help: "Connections (channels).")
  var connections = 1

  @Option(name: [.customShort("m"), .long], help: "Concurrent streams per connection.")
  var streams = 1

  @Option(name: [.customShort("D"), .long], help: "Measured seconds.")
  var duration = 10.0

  @Option(help: "Warm-up seconds (load applied, not recorded).")
  var warmup = 1.0

  @Option(help: "Open loop: total calls per second over all streams (default: closed loop).")
  var rate: Double?

  @Option(help: "Request payload bytes (unary).")
  var requestSize = 100

  @Option(help: "Response payload bytes (per message).")
  var responseSize = 100

  @Option(help: "Responses per call (server-streaming).")
  var streamMessages = 100

  @Option(help: "Per-call deadline in seconds (none by default).")
  var timeout: Double?

  @Flag(help: "Use TLS.")
  var tls = false

  @Option(help: "PEM file of trusted roots for --tls.")
  var caFile: String?

  @Flag(help: "Print the result as JSON.")
  var json = false

  @Option(help: "domain: the data directory of the server (started with --dev) whose development key signs the callers' tokens.")
  var dataDir = "./data"

  @Option(help: "domain: fiscal code of an operator whose sedi's positions make the workload (default: the demo data set's operator of sede 7500).")
  var `operator` = "VRDLCU75C15I726X"

  @Option(help: "domain: fiscal code of the delegate of the delega lifecycle calls.")
  var delegate = "BNCGLI85M41F205B"

  @Option(help: "domain: at most this many owners (legal representatives) call.")
  var owners = 500

  @Option(help: "domain: positions read at start to find the owners.")
  var positionsSample = 5000

  @Option(help: "domain: 'aud' of the tokens (the server's --token-audience).")
  var audience = "cassetto"

  func validate() throws {
    if connections < 1 || streams < 1 { throw ValidationError("--connections and --streams must be ≥ 1") }
    if duration <= 0 || warmup < 0 { throw ValidationError("--duration must be > 0, --warmup ≥ 0") }
    if let rate, rate <= 0 { throw ValidationError("--rate must be > 0") }
    if requestSize < 0 || responseSize < 0 || streamMessages < 0 {
      throw ValidationError("sizes must be ≥ 0")
    }
    if scenario != DomainScenario.name, ScenarioRegistry.make(scenario, options: scenarioOptions) == nil {
      throw ValidationError("unknown scenario \(scenario); known: \(ScenarioRegistry.names.joined(separator: ", "))")
    }
    guard parseTarget() != nil else { throw ValidationError("--target must be host:port") }
  }

  var scenarioOptions: ScenarioOptions {
    ScenarioOptions(
      requestSize: requestSize, responseSize: responseSize, streamMessages: streamMessages,
      timeout: timeout.map { .nanoseconds(Int64($0 * 1e9)) })
  }

  func parseTarget() -> (String, Int)? {
    guard let colon = target.lastIndex(of: ":"), let port = Int(target[target.index(after: colon)...]),
      port > 0, port < 65536
    else { return nil }
    var host = String(target[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
  }

  func run() async throws {
    guard let (host, port) = parseTarget() else { throw ExitCode(2) }
    let tlsConfiguration = tls ? TLSClientConfiguration(trustRootsFile: caFile) : nil
    let scenario: any LoadScenario
    if self.scenario == DomainScenario.name {
      let setup = Channel(host: host, port: port, tls: tlsConfiguration)
      defer { setup.close() }
      do {
        let domain = try await DomainScenario.prepare(
          channel: setup, dataDir: dataDir, operatorCF: `operator`, delegate: delegate,
          owners: owners, positionsSample: positionsSample, audience: audience,
          timeout: scenarioOptions.timeout)
        if !json {
          print("domain workload: \(domain.ownerCount) owners over \(domain.positionCount) positions")
        }
        scenario = domain
      } catch {
        FileHandle.standardError.write(Data("cassetto-load: domain setup failed: \(error)\n".utf8))
        throw ExitCode(2)
      }
    } else {
      guard let made = ScenarioRegistry.make(self.scenario, options: scenarioOptions) else {
        throw ExitCode(2)
      }
      scenario = made
    }
    let plan = LoadPlan(
      connections: connections, streamsPerConnection: streams,
      warmupNanos: UInt64(warmup * 1e9), durationNanos: UInt64(duration * 1e9), rate: rate)
    let (stats, measured, cpu) = await runLoad(
      scenario: scenario, plan: plan, host: host, port: port, tls: tlsConfiguration)
    let report = LoadReport(
      scenario: type(of: scenario).name, messageUnit: scenario.messageUnit, target: target,
      plan: plan, stats: stats, measuredNanos: measured, cpuNanos: cpu)
    print(json ? report.json() : report.text())
    if stats.ok == 0 { throw ExitCode(1) }
  }
}
