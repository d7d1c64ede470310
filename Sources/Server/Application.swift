import Access
import Deleghe
import Foundation
import Identity
import Posizioni
import RPC
import Security
import Storage
import Ticketing
import Validation

/// The composition root: opens storage with every module's migrations, builds the
/// authentication from configuration, bootstraps start-up data and wires the domain services
/// behind their interceptors. `cassetto-server` adds the side services and the transport.
public final class Application: Sendable {
  /// Every migration of every domain module (Storage's own are applied by the engine).
  public static let migrations: [Migration] =
    IdentitySchema.migrations + PosizioniSchema.migrations + DelegheSchema.migrations
    + TicketingSchema.migrations

  public let configuration: Configuration
  public let database: SQLiteDatabase
  /// The domain services, each wrapped by error mapping and authentication.
  public let services: [ServiceDefinition]
  /// Whether the demo data set was loaded at this start.
  public let loadedDemoData: Bool
  /// Metrics and call logs; its interceptor is the outermost one of every domain service.
  public let observability: Observability
  /// The outbox delivery worker (spool channel) and the deleghe clock; cancelled by `close`.
  let worker: Task<Void, Never>

  private init(
    configuration: Configuration, database: SQLiteDatabase, services: [ServiceDefinition],
    loadedDemoData: Bool, clock: any CallClock, observability: Observability
  ) {
    self.observability = observability
    self.configuration = configuration
    self.database = database
    self.services = services
    self.loadedDemoData = loadedDemoData
    let spool = SpoolChannel(directory: configuration.spoolDirectory)
    let mail: any OutboxDeliveryChannel =
      configuration.smtp.map { SMTPChannel(sender: SMTPSender(configuration: $0)) } ?? spool
    let sms: any OutboxDeliveryChannel =
      configuration.smsGatewayURL.map {
        SMSGatewayChannel(
          url: $0, token: ProcessInfo.processInfo.environment["CASSETTO_SMS_GATEWAY_TOKEN"])
      } ?? spool
    let channel = RoutingChannel(mail: mail, sms: sms)
    let retryBase = configuration.outboxRetryBase
    self.worker = Task.detached {
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          await OutboxWorker.run(
            database: database, clock: clock, channel: channel,
            deliveryFailures: observability.metrics.outboxDeliveryFailures, retryBase: retryBase)
        }
        group.addTask {
          await OutboxBacklogSampler.run(database: database, metrics: observability.metrics)
        }
      }
    }
  }

  /// Validates `configuration`, opens the database (running migrations), loads trusted keys
  /// (creating the development key in development mode), bootstraps the configured IDM
  /// managers and, when asked, the demo data.
  public static func start(
    _ configuration: Configuration, clock: any CallClock = SystemClock(),
    observability: Observability = Observability()
  ) async throws -> Application
  {
    try configuration.validate()
    let verifiers = try makeVerifiers(configuration)
    try FileManager.default.createDirectory(
      atPath: configuration.dataDirectory, withIntermediateDirectories: true)
    let database = try await SQLiteDatabase.open(
      path: configuration.resolvedDatabasePath, migrations: migrations, now: clock.now())
    do {
      try await IdentityBootstrap.ensureIDMManagers(
        configuration.idmManagers.map { ($0.person, $0.sede) }, in: database, now: clock.now())
      var loaded = false
      if configuration.loadDemoData {
        loaded = try await DemoData.loadIfEmpty(into: database, now: clock.now())
      }
      let interceptors: [any ServerInterceptor] = [
        observability.interceptor,
        ErrorMappingInterceptor(),
        AuthenticationInterceptor(
          verifiers: verifiers, serviceIdentities: configuration.serviceIdentities, clock: clock),
      ]
      let identity = IdentityService(
        database: database, clock: clock, cutover: configuration.cutover)
      // The one authorization rule (Access.Authorizer) over the owning modules' directories;
      // it is also who-sees-a-position for Posizioni (owners, sede operators, delegates).
      let authorizer = Authorizer(
        positions: PosizioniDirectory(database: database),
        enablements: IdentityEnablementDirectory(database: database),
        deleghe: DelegheDirectory(database: database), cutover: configuration.cutover)
      let applications = try ApplicationRegistry.load(path: configuration.applicationsPath)
      let sanzioni = try configuration.sanzioniRatesPath.map { try SanzioniCivili(file: $0) }
      let posizioni = PosizioniService(
        database: database, clock: clock, access: authorizer, applications: applications,
        enablements: IdentityEnablementDirectory(database: database), sanzioni: sanzioni)
      let deleghe = DelegheService(
        database: database, clock: clock, authorizer: authorizer,
        otpKey: try OTPKey.loadOrCreate(at: configuration.otpKeyPath))
      let ticketing = TicketingService(
        richieste: RichiesteService(
          database: database, clock: clock, authorizer: authorizer,
          catalogue: try SubjectCatalogue.load(thresholdsFile: configuration.ticketingThresholdsPath)),
        agenda: AgendaService(database: database, clock: clock, authorizer: authorizer))
      if configuration.loadDemoData {
        try await posizioni.loadDemoDataIfEmpty()
      }
      let services = [
        identity.serviceDefinition.intercepted(by: interceptors),
        posizioni.serviceDefinition.intercepted(by: interceptors),
        deleghe.serviceDefinition.intercepted(by: interceptors),
        ticketing.serviceDefinition.intercepted(by: interceptors),
        AccessAuditService(
          database: database, enablements: IdentityEnablementDirectory(database: database)
        ).serviceDefinition.intercepted(by: interceptors),
      ]
      // Every RPC the menu opens must be served here (a typo stops the start).
      try applications.checkTargets(
        served: Set(services.flatMap { $0.methods.map(\.descriptor.path) }),
        path: configuration.applicationsPath)
      return Application(
        configuration: configuration, database: database,
        services: services,
        loadedDemoData: loaded, clock: clock, observability: observability)
    } catch {
      await database.close()
      throw error
    }
  }

  /// Closes the database after in-flight work.
  public func close() async {
    worker.cancel()
    await worker.value
    await database.close()
  }

  /// One verifier for the identity gateway's trusted keys and, in development mode, one for
  /// the development key. Outside development mode a trusted key equal to the data
  /// directory's development key is refused: development keys never verify in production.
  static func makeVerifiers(_ configuration: Configuration) throws -> [JWTVerifier] {
    var verifiers: [JWTVerifier] = []
    var developmentKeyPEM: String? = nil
    if configuration.developmentMode {
      let signer = try DevelopmentKey.loadOrCreate(at: configuration.developmentKeyPath)
      developmentKeyPEM = signer.publicKeyPEM
      verifiers.append(
        JWTVerifier(
          trustedKeys: [signer.trustedKey], issuer: DevelopmentKey.issuer,
          audience: configuration.tokenAudience, clockSkew: configuration.clockSkew))
    } else if FileManager.default.fileExists(atPath: configuration.developmentKeyPath) {
      developmentKeyPEM = try? DevelopmentKey.loadOrCreate(at: configuration.developmentKeyPath)
        .publicKeyPEM
    }
    var trusted: [TrustedKey] = []
    for path in configuration.trustedKeyFiles {
      guard let data = FileManager.default.contents(atPath: path) else {
        throw ConfigurationError.invalid("--trusted-key \(path): cannot be read")
      }
      let key: TrustedKey
      do {
        key = try TrustedKey(pem: String(decoding: data, as: UTF8.self))
      } catch {
        throw ConfigurationError.invalid("--trusted-key \(path): \(error)")
      }
      if !configuration.developmentMode, key.pem == developmentKeyPEM {
        throw ConfigurationError.invalid(
          "--trusted-key \(path) is the development key: only accepted with --dev")
      }
      trusted.append(key)
    }
    if !trusted.isEmpty {
      verifiers.append(
        JWTVerifier(
          trustedKeys: trusted, issuer: configuration.tokenIssuer,
          audience: configuration.tokenAudience, clockSkew: configuration.clockSkew))
    }
    return verifiers
  }
}
