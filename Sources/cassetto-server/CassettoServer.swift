import ArgumentParser
import Access
import Dispatch
import Foundation
import Interop
import RPC
import Server
import SideServices

#if canImport(Glibc)
  import Glibc
#endif

/// `cassetto-server`: serves Cassetto's gRPC services over HTTP/2 (h2c or TLS).
@main
struct CassettoServer: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cassetto-server",
    abstract: "Cassetto: the contributor's social-security drawer, as a standard gRPC server.",
    discussion: """
      Speaks gRPC over HTTP/2: cleartext (h2c) by default, TLS 1.2/1.3 with ALPN h2 when \
      --tls-cert and --tls-key are given, mutual TLS when --tls-client-ca is also given. \
      Always serves grpc.health.v1.Health and server reflection (grpc.reflection.v1 and \
      v1alpha), open to anyone, and cassetto.identity.v1.Identity, which needs a caller. \
      SIGTERM or SIGINT drains in-flight calls (GOAWAY) for --shutdown-grace seconds, then \
      exits.

      Callers. A person sends 'authorization: Bearer <JWT>' signed by the identity gateway: \
      give its public keys with --trusted-key (repeatable) and the claims to require with \
      --token-issuer and --token-audience. A back-end calls with a client certificate \
      (mutual TLS: --tls-client-ca) mapped to a service name and permissions with \
      --service-identity. Without either, a call is anonymous.

      Development mode (--dev): the server creates a signing key in the data directory \
      (dev-signing-key.pem) and trusts it with issuer urn:cassetto:development; mint tokens \
      with 'cassetto dev-token --cf CODICEFISCALE' or print one per demo role with \
      'cassetto demo'. --dev also loads the demo data set into an empty database (turn it \
      off with --no-demo). Outside development mode that key is never accepted.
      """
  )

  @Option(help: "Address to listen on, HOST:PORT. Port 0 picks a free port.")
  var listen: String = "127.0.0.1:50051"

  @Option(help: "PEM certificate chain; with --tls-key turns TLS on (ALPN h2).")
  var tlsCert: String?

  @Option(help: "PEM private key of --tls-cert.")
  var tlsKey: String?

  @Option(help: "PEM CA bundle; clients must present a certificate it signed (mutual TLS).")
  var tlsClientCa: String?

  @Option(help: "Directory for the database, spool and development keys.")
  var dataDir: String = "./data"

  @Flag(help: "Also serve the gRPC interop service grpc.testing.TestService.")
  var interop = false

  @Flag(help: "Development mode: create a signing key in the data directory and trust it.")
  var dev = false

  @Flag(
    inversion: .prefixedNo,
    help: "Load the demo data set into an empty database (default: on with --dev; --dev only).")
  var demo: Bool?

  @Option(help: "SQLite database file (default: DATA_DIR/cassetto.sqlite).")
  var database: String?

  @Option(
    name: .customLong("trusted-key"),
    help: "PEM public key or certificate of the identity gateway (ES256/EdDSA); repeatable.")
  var trustedKeys: [String] = []

  @Option(help: "Required 'iss' of person tokens verified with --trusted-key.")
  var tokenIssuer: String = ""

  @Option(help: "Required 'aud' of person tokens (development tokens too).")
  var tokenAudience: String = Configuration.defaultAudience

  @Option(help: "Seconds of clock difference allowed with the token issuer (exp, nbf, iat).")
  var clockSkew: Int = 60

  @Option(
    name: .customLong("service-identity"),
    help: ArgumentHelp(
      "Maps a client certificate to a back-end: cn:CN=NAME:PERM,PERM or sha256:HEX=NAME:PERM; repeatable.",
      discussion: "Permissions: identity.import-legacy-abilitazioni, identity.upsert-albo-registrations."))
  var serviceIdentities: [String] = []

  @Option(
    name: .customLong("idm-manager"),
    help: "Bootstraps the first IDM manager of a sede: CODICEFISCALE@SEDE; repeatable.")
  var idmManagers: [String] = []

  @Option(help: "Cut-over: last day of the old GDP channel (Circ. 34/2023 §2.1), YYYY-MM-DD.")
  var gdpOldChannelEnd: String = "2023-07-15"

  @Option(help: "Cut-over: enablements granted up to this day may be imported, YYYY-MM-DD.")
  var legacyEnablementsUntil: String = "2023-03-31"

  @Option(help: "Event-loop threads (default: one per core).")
  var eventLoops: Int?

  @Flag(help: "Run handlers on the event loops instead of the cooperative pool (faster; only safe when no handler blocks, e.g. --interop benchmarks).")
  var handlersOnEventLoops = false

  @Option(help: "Largest request message accepted, in bytes (gRPC default 4 MiB).")
  var maxReceiveMessageSize: Int = 4 * 1024 * 1024

  @Option(help: "Maximum concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS).")
  var maxConcurrentStreams: Int = 100

  @Option(help: "Largest request header list, in bytes; larger ones reset the stream.")
  var maxHeaderListSize: Int = 16 * 1024

  @Option(help: "Seconds an idle connection is kept before GOAWAY.")
  var idleTimeout: Int = 300

  @Option(help: "Seconds in-flight calls may take to finish after SIGTERM/SIGINT.")
  var shutdownGrace: Int = 10

  @Option(
    help: ArgumentHelp(
      "Admin HTTP/1.1 listener, HOST:PORT, serving GET /metrics (Prometheus) and GET /healthz (default: off; e.g. 127.0.0.1:9090).",
      discussion: "Port 0 picks a free port; the bound address is printed as 'cassetto-server admin listening on HOST:PORT'."))
  var adminListen: String?

  @Option(help: "Per-call log lines on standard error: json, logfmt or none.")
  var logFormat: String = "logfmt"

  @Option(
    help: ArgumentHelp(
      "Deliver outbox messages (PEC, e-mail) through this SMTP relay: smtp://HOST:PORT or smtps://HOST:PORT.",
      discussion: "Without it, messages are written as .eml files in DATA_DIR/spool."))
  var smtpUrl: String?

  @Option(help: "SMTP user name (with --smtp-password-file).")
  var smtpUser: String?

  @Option(help: "File holding the SMTP password (never give a password on the command line).")
  var smtpPasswordFile: String?

  @Option(help: "Envelope sender and From: address of outbox messages sent by SMTP.")
  var smtpFrom: String = "noreply@cassetto.invalid"

  @Flag(help: "Require STARTTLS on an smtp:// relay.")
  var smtpStarttls = false

  @Option(help: "PEM CA bundle to verify the SMTP relay's certificate (default: the system's).")
  var smtpCaFile: String?

  @Option(help: "Seconds before the first retry of a failed delivery; doubles per attempt (≤ 1 hour).")
  var outboxRetryBase: Double = 30

  func validate() throws {
    guard (try? ListenAddress(listen)) != nil else {
      throw ValidationError("--listen must be HOST:PORT with a port in 0...65535, got '\(listen)'")
    }
    if (tlsCert == nil) != (tlsKey == nil) {
      throw ValidationError("--tls-cert and --tls-key go together")
    }
    if tlsClientCa != nil && tlsCert == nil {
      throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key")
    }
    if maxReceiveMessageSize < 1024 { throw ValidationError("--max-receive-message-size must be ≥ 1024") }
    if maxConcurrentStreams < 1 { throw ValidationError("--max-concurrent-streams must be ≥ 1") }
    if maxHeaderListSize < 1024 { throw ValidationError("--max-header-list-size must be ≥ 1024") }
    if let eventLoops, eventLoops < 1 { throw ValidationError("--event-loops must be ≥ 1") }
    if let adminListen, (try? ListenAddress(adminListen)) == nil {
      throw ValidationError(
        "--admin-listen must be HOST:PORT with a port in 0...65535, got '\(adminListen)'")
    }
    if LogFormat(rawValue: logFormat) == nil {
      throw ValidationError("--log-format must be json, logfmt or none, got '\(logFormat)'")
    }
    do {
      try applicationConfiguration().validate()
    } catch {
      throw ValidationError("\(error)")
    }
  }

  /// The domain configuration from the flags.
  func applicationConfiguration() throws -> Configuration {
    var configuration = Configuration(
      dataDirectory: dataDir, databasePath: database, developmentMode: dev,
      loadDemoData: demo ?? dev, trustedKeyFiles: trustedKeys, tokenIssuer: tokenIssuer,
      tokenAudience: tokenAudience, clockSkew: TimeInterval(clockSkew),
      serviceIdentities: try serviceIdentities.map { try ServiceIdentityRule(parsing: $0) },
      idmManagers: try idmManagers.map { try IDMManagerBootstrap(parsing: $0) },
      cutover: CutoverDates(
        gdpOldChannelEnd: try CutoverDates.parseDate(gdpOldChannelEnd, flag: "--gdp-old-channel-end"),
        legacyEnablementsUntil: try CutoverDates.parseDate(
          legacyEnablementsUntil, flag: "--legacy-enablements-until")))
    configuration.outboxRetryBase = outboxRetryBase
    if let smtpUrl {
      var password: String? = nil
      if let smtpPasswordFile {
        guard let data = FileManager.default.contents(atPath: smtpPasswordFile),
          let text = String(data: data, encoding: .utf8)
        else { throw ConfigurationError.invalid("--smtp-password-file: cannot read \(smtpPasswordFile)") }
        password = text.trimmingCharacters(in: .newlines)
      }
      configuration.smtp = SMTPConfiguration(
        url: smtpUrl, from: smtpFrom, username: smtpUser, password: password,
        startTLS: smtpStarttls, caFile: smtpCaFile)
    } else if smtpUser != nil || smtpPasswordFile != nil || smtpStarttls || smtpCaFile != nil {
      throw ConfigurationError.invalid(
        "--smtp-user, --smtp-password-file, --smtp-starttls and --smtp-ca-file need --smtp-url")
    }
    return configuration
  }

  func run() async throws {
    let address = try ListenAddress(listen)
    var configuration = ServerConfiguration(host: address.host, port: address.port)
    if let eventLoops { configuration.eventLoopCount = eventLoops }
    configuration.runsHandlersOnEventLoops = handlersOnEventLoops
    configuration.maxReceiveMessageSize = maxReceiveMessageSize
    configuration.maxConcurrentStreams = maxConcurrentStreams
    configuration.maxHeaderListSize = maxHeaderListSize
    configuration.idleTimeout = .seconds(idleTimeout)
    if let tlsCert, let tlsKey {
      configuration.tls = TLSServerConfiguration(
        certificateChainFile: tlsCert, privateKeyFile: tlsKey, clientCAFile: tlsClientCa,
        requireClientCertificate: tlsClientCa != nil)
    }

    if dev {
      printError(
        "cassetto-server: DEVELOPMENT MODE: trusting the development key in \(dataDir); never use --dev in production")
    }
    let observability = Observability(
      logger: StructuredLogger(format: LogFormat(rawValue: logFormat) ?? .logfmt))
    let application = try await Application.start(
      try applicationConfiguration(), observability: observability)
    if application.loadedDemoData {
      printError("cassetto-server: loaded the demo data set (cassetto demo prints tokens)")
    }
    var services: [ServiceDefinition] = application.services
    // The domain services are observed already (Application); health and reflection are here.
    // The interop TestService is not (conformance and raw-throughput benchmarks).
    let observed = [observability.interceptor]
    if interop { services.append(InteropTestService().serviceDefinition) }
    let health = HealthService()
    services.append(health.serviceDefinition.intercepted(by: observed))
    services.append(
      contentsOf: ReflectionService.definitions(serving: services).map {
        $0.intercepted(by: observed)
      })
    var admin: AdminListener? = nil
    if let adminListen {
      let address = try ListenAddress(adminListen)
      let listener = try AdminListener(
        host: address.host, port: address.port, metrics: { observability.metrics.render() })
      print("cassetto-server admin listening on \(address.host):\(listener.port)")
      admin = listener
    }

    let server = try RPC.Server(configuration: configuration, services: services)
    try server.start()
    for service in services { health.setStatus(.serving, forService: service.name) }
    print("cassetto-server listening on \(address.host):\(server.localPort)")
    flushStandardOutput()

    let grace = Duration.seconds(shutdownGrace)
    let signals = SignalWatcher(signals: [SIGTERM, SIGINT]) {
      health.enterShutdown()
      Task { await server.shutdown(gracePeriod: grace) }
    }
    await server.waitUntilStopped()
    signals.cancel()
    admin?.stop()
    await application.close()
  }
}

/// `HOST:PORT`, with `[v6]:PORT` for IPv6 literals.
struct ListenAddress {
  var host: String
  var port: Int

  init(_ text: String) throws {
    guard let colon = text.lastIndex(of: ":") else { throw ValidationError("missing port") }
    var host = String(text[..<colon])
    guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
      throw ValidationError("bad port")
    }
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ValidationError("missing host") }
    self.host = host
    self.port = port
  }
}

func printError(_ line: String) {
  FileHandle.standardError.write(Data((line + "\n").utf8))
}

func flushStandardOutput() {
  fflush(nil)  // all output streams: stdout is shared C state Swift 6 won't name
}

/// Runs `action` once when one of `signals` arrives; the default action of those signals is
/// disabled while the watcher lives.
final class SignalWatcher {
  private let sources: [any DispatchSourceSignal]

  init(signals: [Int32], action: @escaping @Sendable () -> Void) {
    let queue = DispatchQueue(label: "cassetto.signals")
    sources = signals.map { number in
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler(handler: action)
      source.resume()
      return source
    }
  }

  func cancel() { sources.forEach { $0.cancel() } }
}
