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

  @Option(
    help: ArgumentHelp(
      "Configuration file (default: $CASSETTO_CONFIG); name = value lines, see docs/configuration.md.",
      discussion: "Every setting below can also come from the file (name without --) or the environment (CASSETTO_NAME, e.g. CASSETTO_TLS_CERT). Flags win over the environment, the environment over the file, the file over defaults."))
  var config: String?

  @Flag(help: "Print the effective configuration (secrets masked, each value's source) and exit.")
  var printConfig = false

  @Option(help: "Address to listen on, HOST:PORT. Port 0 picks a free port (default 127.0.0.1:50051).")
  var listen: String?

  @Option(help: "PEM certificate chain; with --tls-key turns TLS on (ALPN h2).")
  var tlsCert: String?

  @Option(help: "PEM private key of --tls-cert.")
  var tlsKey: String?

  @Option(help: "PEM CA bundle; clients must present a certificate it signed (mutual TLS).")
  var tlsClientCa: String?

  @Option(help: "Directory for the database, spool and development keys (default ./data).")
  var dataDir: String?

  @Flag(inversion: .prefixedNo, help: "Also serve the gRPC interop service grpc.testing.TestService.")
  var interop: Bool?

  @Flag(inversion: .prefixedNo, help: "Development mode: create a signing key in the data directory and trust it.")
  var dev: Bool?

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
  var tokenIssuer: String?

  @Option(help: "Required 'aud' of person tokens (development tokens too; default cassetto).")
  var tokenAudience: String?

  @Option(help: "Seconds of clock difference allowed with the token issuer (exp, nbf, iat; default 60).")
  var clockSkew: String?

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

  @Option(help: "Cut-over: last day of the old GDP channel (Circ. 34/2023 §2.1), YYYY-MM-DD (default 2023-07-15).")
  var gdpOldChannelEnd: String?

  @Option(help: "Cut-over: enablements granted up to this day may be imported, YYYY-MM-DD (default 2023-03-31).")
  var legacyEnablementsUntil: String?

  @Option(help: "Event-loop threads (default: one per core).")
  var eventLoops: String?

  @Flag(inversion: .prefixedNo, help: "Run every handler, the domain services' too, on the event loops instead of the cooperative pool (health, reflection and the interop service always do; unsafe for handlers that block, such as the storage-backed domain services).")
  var handlersOnEventLoops: Bool?

  @Option(help: "Largest request message accepted, in bytes (gRPC default 4 MiB).")
  var maxReceiveMessageSize: String?

  @Option(help: "Maximum concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS; default 100).")
  var maxConcurrentStreams: String?

  @Option(help: "Largest request header list, in bytes; larger ones reset the stream (default 16384).")
  var maxHeaderListSize: String?

  @Option(help: "Stream resets a client may cause at once before GOAWAY (rapid-reset defence; default 1000).")
  var streamResetBurst: String?

  @Option(help: "Stream resets per second refilling that budget (default 33).")
  var streamResetRate: String?

  @Option(help: "Seconds an idle connection is kept before GOAWAY (default 300).")
  var idleTimeout: String?

  @Option(help: "Seconds in-flight calls may take to finish after SIGTERM/SIGINT (default 10).")
  var shutdownGrace: String?

  @Option(
    help: ArgumentHelp(
      "Admin HTTP/1.1 listener, HOST:PORT, serving GET /metrics (Prometheus) and GET /healthz (default: off; e.g. 127.0.0.1:9090).",
      discussion: "Port 0 picks a free port; the bound address is printed as 'cassetto-server admin listening on HOST:PORT'."))
  var adminListen: String?

  @Option(help: "Per-call log lines on standard error: json, logfmt or none (default logfmt).")
  var logFormat: String?

  @Option(
    help: ArgumentHelp(
      "Deliver outbox messages (PEC, e-mail) through this SMTP relay: smtp://HOST:PORT or smtps://HOST:PORT.",
      discussion: "Without it, messages are written as .eml files in DATA_DIR/spool."))
  var smtpUrl: String?

  @Option(help: "SMTP user name (with --smtp-password-file, or smtp-password in the file / CASSETTO_SMTP_PASSWORD).")
  var smtpUser: String?

  @Option(help: "File holding the SMTP password (never give a password on the command line).")
  var smtpPasswordFile: String?

  @Option(help: "Envelope sender and From: address of outbox messages sent by SMTP (default noreply@cassetto.invalid).")
  var smtpFrom: String?

  @Flag(inversion: .prefixedNo, help: "Require STARTTLS on an smtp:// relay.")
  var smtpStarttls: Bool?

  @Option(help: "PEM CA bundle to verify the SMTP relay's certificate (default: the system's).")
  var smtpCaFile: String?

  @Option(help: "Send SMS notices by POST to this HTTP gateway (JSON {id,to,text}; bearer token from CASSETTO_SMS_GATEWAY_TOKEN). Default: SMS are written to DATA_DIR/spool.")
  var smsGatewayUrl: String?

  @Option(help: "Seconds before the first retry of a failed delivery; doubles per attempt (≤ 1 hour; default 30).")
  var outboxRetryBase: String?

  @Option(help: "JSON application registry of the drawer menu (default: the built-in one, as in config/applications.json).")
  var applications: String?

  @Option(help: "JSON table of reference rates for ComputeSanzioniECA, [{\"from\": \"YYYY-MM-DD\", \"basisPoints\": N}] (default: the built-in BCE table).")
  var sanzioniRates: String?

  @Option(help: "JSON object of ticketing subject code → answer threshold in days (1…365), e.g. {\"P01.02\": 15} (default: 30 days for every subject).")
  var ticketingThresholds: String?

  /// Every setting: its name (the flag's, without --), kind, default; secrets are masked.
  static let settingSpecs: [Settings.Spec] = [
    .init("listen", default: "127.0.0.1:50051"),
    .init("tls-cert", unset: "h2c, no TLS"), .init("tls-key"), .init("tls-client-ca"),
    .init("data-dir", default: "./data"),
    .init("database", unset: "DATA-DIR/cassetto.sqlite"),
    .init("interop", .flag, default: "false"),
    .init("dev", .flag, default: "false"),
    .init("demo", .flag, unset: "follows dev"),
    .init("trusted-key", .list),
    .init("token-issuer", default: ""),
    .init("token-audience", default: Configuration.defaultAudience),
    .init("clock-skew", default: "60"),
    .init("service-identity", .list),
    .init("idm-manager", .list),
    .init("gdp-old-channel-end", default: "2023-07-15"),
    .init("legacy-enablements-until", default: "2023-03-31"),
    .init("event-loops", unset: "one per core"),
    .init("handlers-on-event-loops", .flag, default: "false"),
    .init("max-receive-message-size", default: String(4 * 1024 * 1024)),
    .init("max-concurrent-streams", default: "100"),
    .init("max-header-list-size", default: String(16 * 1024)),
    .init("stream-reset-burst", default: "1000"),
    .init("stream-reset-rate", default: "33"),
    .init("idle-timeout", default: "300"),
    .init("shutdown-grace", default: "10"),
    .init("admin-listen", unset: "off"),
    .init("log-format", default: "logfmt"),
    .init("smtp-url", unset: "spool: DATA-DIR/spool"),
    .init("smtp-user"),
    .init("smtp-password-file"),
    .init("smtp-password", secret: true, flag: false),
    .init("smtp-from", default: "noreply@cassetto.invalid"),
    .init("smtp-starttls", .flag, default: "false"),
    .init("smtp-ca-file"),
    .init("sms-gateway-url", unset: "spool: DATA-DIR/spool"),
    .init("outbox-retry-base", default: "30"),
    .init("applications", unset: "built-in (config/applications.json)"),
    .init("sanzioni-rates", unset: "built-in BCE table"),
    .init("ticketing-thresholds", unset: "30 days for every subject"),
  ]

  /// The settings given as flags, by setting name.
  var flagSettings: [String: [String]] {
    var given: [String: [String]] = [:]
    func put(_ name: String, _ value: String?) { if let value { given[name] = [value] } }
    func put(_ name: String, _ value: Bool?) { if let value { given[name] = [String(value)] } }
    func put(_ name: String, _ values: [String]) { if !values.isEmpty { given[name] = values } }
    put("listen", listen)
    put("tls-cert", tlsCert)
    put("tls-key", tlsKey)
    put("tls-client-ca", tlsClientCa)
    put("data-dir", dataDir)
    put("database", database)
    put("interop", interop)
    put("dev", dev)
    put("demo", demo)
    put("trusted-key", trustedKeys)
    put("token-issuer", tokenIssuer)
    put("token-audience", tokenAudience)
    put("clock-skew", clockSkew)
    put("service-identity", serviceIdentities)
    put("idm-manager", idmManagers)
    put("gdp-old-channel-end", gdpOldChannelEnd)
    put("legacy-enablements-until", legacyEnablementsUntil)
    put("event-loops", eventLoops)
    put("handlers-on-event-loops", handlersOnEventLoops)
    put("max-receive-message-size", maxReceiveMessageSize)
    put("max-concurrent-streams", maxConcurrentStreams)
    put("max-header-list-size", maxHeaderListSize)
    put("stream-reset-burst", streamResetBurst)
    put("stream-reset-rate", streamResetRate)
    put("idle-timeout", idleTimeout)
    put("shutdown-grace", shutdownGrace)
    put("admin-listen", adminListen)
    put("log-format", logFormat)
    put("smtp-url", smtpUrl)
    put("sms-gateway-url", smsGatewayUrl)
    put("smtp-user", smtpUser)
    put("smtp-password-file", smtpPasswordFile)
    put("smtp-from", smtpFrom)
    put("smtp-starttls", smtpStarttls)
    put("smtp-ca-file", smtpCaFile)
    put("outbox-retry-base", outboxRetryBase)
    put("applications", applications)
    put("sanzioni-rates", sanzioniRates)
    put("ticketing-thresholds", ticketingThresholds)
    return given
  }

  /// The flags, the environment and the file, layered.
  func settings() throws(ConfigurationError) -> Settings {
    let environment = ProcessInfo.processInfo.environment
    return try Settings(
      specs: Self.settingSpecs, flags: flagSettings, environment: environment,
      file: config ?? environment["CASSETTO_CONFIG"].flatMap { $0.isEmpty ? nil : $0 })
  }

  func run() async throws {
    let settings: Settings
    let resolved: ResolvedSettings
    do {
      settings = try self.settings()
      resolved = try ResolvedSettings(settings)
      try resolved.application.validate()
    } catch {
      printError("cassetto-server: configuration: \(error)")
      throw ExitCode(78)  // EX_CONFIG
    }
    if printConfig {
      print(settings.render())
      return
    }
    try await serve(resolved)
  }

  func serve(_ resolved: ResolvedSettings) async throws {
    let address = resolved.listen
    var configuration = ServerConfiguration(host: address.host, port: address.port)
    if let eventLoops = resolved.eventLoops { configuration.eventLoopCount = eventLoops }
    configuration.runsHandlersOnEventLoops = resolved.handlersOnEventLoops
    configuration.maxReceiveMessageSize = resolved.maxReceiveMessageSize
    configuration.maxConcurrentStreams = resolved.maxConcurrentStreams
    configuration.maxHeaderListSize = resolved.maxHeaderListSize
    configuration.streamResetBurst = resolved.streamResetBurst
    configuration.streamResetRatePerSecond = resolved.streamResetRate
    configuration.idleTimeout = .seconds(resolved.idleTimeout)
    if let tlsCert = resolved.tlsCert, let tlsKey = resolved.tlsKey {
      configuration.tls = TLSServerConfiguration(
        certificateChainFile: tlsCert, privateKeyFile: tlsKey, clientCAFile: resolved.tlsClientCa,
        requireClientCertificate: resolved.tlsClientCa != nil)
    }
    let interop = resolved.interop
    let dataDir = resolved.application.dataDirectory

    if resolved.application.developmentMode {
      printError(
        "cassetto-server: DEVELOPMENT MODE: trusting the development key in \(dataDir); never use --dev in production")
    }
    let observability = Observability(logger: StructuredLogger(format: resolved.logFormat))
    let application = try await Application.start(
      resolved.application, observability: observability)
    if application.loadedDemoData {
      printError("cassetto-server: loaded the demo data set (cassetto demo prints tokens)")
    }
    var services: [ServiceDefinition] = application.services
    // The domain services are observed already (Application); health and reflection are here.
    // The interop TestService is not (conformance and raw-throughput benchmarks).
    // These three never block a thread (in-memory state only), so their handlers run on the
    // connections' event loops, without a hop to the cooperative pool (docs/performance.md);
    // the domain services do synchronous storage work and stay on the pool.
    let observed = [observability.interceptor]
    if interop { services.append(InteropTestService().serviceDefinition.runningOnEventLoops()) }
    let health = HealthService()
    services.append(health.serviceDefinition.runningOnEventLoops().intercepted(by: observed))
    services.append(
      contentsOf: ReflectionService.definitions(serving: services).map {
        $0.runningOnEventLoops().intercepted(by: observed)
      })
    var admin: AdminListener? = nil
    if let address = resolved.adminListen {
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

    let grace = Duration.seconds(resolved.shutdownGrace)
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
