import Access
import Foundation
import Posizioni
import Server
import Ticketing

/// The typed configuration of one start, parsed from the layered ``Settings``; every
/// error names the setting and where its value came from.
struct ResolvedSettings {
  var listen: ListenAddress
  var tlsCert: String?
  var tlsKey: String?
  var tlsClientCa: String?
  var interop: Bool
  var eventLoops: Int?
  var handlersOnEventLoops: Bool
  var maxReceiveMessageSize: Int
  var maxConcurrentStreams: Int
  var maxHeaderListSize: Int
  var streamResetBurst: Int
  var streamResetRate: Int
  var idleTimeout: Int
  var shutdownGrace: Int
  var adminListen: ListenAddress?
  var logFormat: LogFormat
  var application: Configuration

  init(_ settings: Settings) throws(ConfigurationError) {
    func address(_ name: String) throws(ConfigurationError) -> ListenAddress? {
      try settings.value(
        name, { try? ListenAddress($0) }, expected: "HOST:PORT with a port in 0...65535")
    }
    func nonEmpty(_ name: String) -> String? {
      settings.string(name).flatMap { $0.isEmpty ? nil : $0 }
    }
    listen = try address("listen") ?? ListenAddress(host: "127.0.0.1", port: 50051)
    tlsCert = nonEmpty("tls-cert")
    tlsKey = nonEmpty("tls-key")
    tlsClientCa = nonEmpty("tls-client-ca")
    if (tlsCert == nil) != (tlsKey == nil) {
      throw settings.error(tlsCert == nil ? "tls-key" : "tls-cert", "tls-cert and tls-key go together")
    }
    if tlsClientCa != nil && tlsCert == nil {
      throw settings.error("tls-client-ca", "needs tls-cert and tls-key (mutual TLS is TLS)")
    }
    for name in ["tls-cert", "tls-key", "tls-client-ca"] {
      if let path = nonEmpty(name), !FileManager.default.isReadableFile(atPath: path) {
        throw settings.error(name, "cannot read '\(path)'")
      }
    }
    interop = try settings.bool("interop") ?? false
    eventLoops = try settings.int("event-loops", in: 1...1024)
    handlersOnEventLoops = try settings.bool("handlers-on-event-loops") ?? false
    maxReceiveMessageSize = try settings.int("max-receive-message-size", in: 1024...Int(Int32.max)) ?? 4 << 20
    maxConcurrentStreams = try settings.int("max-concurrent-streams", in: 1...Int(UInt32.max >> 1)) ?? 100
    maxHeaderListSize = try settings.int("max-header-list-size", in: 1024...Int(Int32.max)) ?? 16 << 10
    streamResetBurst = try settings.int("stream-reset-burst", in: 1...1_000_000) ?? 1000
    streamResetRate = try settings.int("stream-reset-rate", in: 1...1_000_000) ?? 33
    idleTimeout = try settings.int("idle-timeout", in: 1...86_400) ?? 300
    shutdownGrace = try settings.int("shutdown-grace", in: 0...3600) ?? 10
    adminListen = try address("admin-listen")
    logFormat =
      try settings.value("log-format", { LogFormat(rawValue: $0) }, expected: "json, logfmt or none")
      ?? .logfmt

    let dev = try settings.bool("dev") ?? false
    var serviceIdentities: [ServiceIdentityRule] = []
    for text in settings.list("service-identity") {
      do {
        serviceIdentities.append(try ServiceIdentityRule(parsing: text))
      } catch {
        throw settings.error("service-identity", "\(error)")
      }
    }
    var idmManagers: [IDMManagerBootstrap] = []
    for text in settings.list("idm-manager") {
      do {
        idmManagers.append(try IDMManagerBootstrap(parsing: text))
      } catch {
        throw settings.error("idm-manager", "\(error)")
      }
    }
    let defaults = CutoverDates.circolare34
    let gdpOldChannelEnd =
      try settings.value(
        "gdp-old-channel-end", { try? CutoverDates.parseDate($0, flag: "gdp-old-channel-end") },
        expected: "a date YYYY-MM-DD") ?? defaults.gdpOldChannelEnd
    let legacyEnablementsUntil =
      try settings.value(
        "legacy-enablements-until",
        { try? CutoverDates.parseDate($0, flag: "legacy-enablements-until") },
        expected: "a date YYYY-MM-DD") ?? defaults.legacyEnablementsUntil
    var configuration = Configuration(
      dataDirectory: nonEmpty("data-dir") ?? "./data", databasePath: nonEmpty("database"),
      developmentMode: dev, loadDemoData: try settings.bool("demo") ?? dev,
      trustedKeyFiles: settings.list("trusted-key"),
      tokenIssuer: settings.string("token-issuer") ?? "",
      tokenAudience: settings.string("token-audience") ?? Configuration.defaultAudience,
      clockSkew: TimeInterval(try settings.int("clock-skew", in: 0...600) ?? 60),
      serviceIdentities: serviceIdentities, idmManagers: idmManagers,
      cutover: CutoverDates(
        gdpOldChannelEnd: gdpOldChannelEnd, legacyEnablementsUntil: legacyEnablementsUntil))
    configuration.outboxRetryBase =
      try settings.double("outbox-retry-base", in: 0.1...3600) ?? 30
    configuration.applicationsPath = nonEmpty("applications")
    if let rates = nonEmpty("sanzioni-rates") {
      do { _ = try SanzioniCivili(file: rates) } catch {
        throw settings.error("sanzioni-rates", "\(error)")
      }
      configuration.sanzioniRatesPath = rates
    }
    if let thresholds = nonEmpty("ticketing-thresholds") {
      do { _ = try SubjectCatalogue.load(thresholdsFile: thresholds) } catch {
        throw settings.error("ticketing-thresholds", "\(error)")
      }
      configuration.ticketingThresholdsPath = thresholds
    }
    if let url = nonEmpty("sms-gateway-url") {
      guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
        throw settings.error("sms-gateway-url", "must be an http:// or https:// URL")
      }
      configuration.smsGatewayURL = url
    }
    if let smtpUrl = nonEmpty("smtp-url") {
      var password = nonEmpty("smtp-password")
      if let file = nonEmpty("smtp-password-file") {
        if password != nil {
          throw settings.error("smtp-password-file", "give smtp-password or smtp-password-file, not both")
        }
        guard let data = FileManager.default.contents(atPath: file),
          let text = String(data: data, encoding: .utf8)
        else { throw settings.error("smtp-password-file", "cannot read '\(file)'") }
        password = text.trimmingCharacters(in: .newlines)
      }
      configuration.smtp = SMTPConfiguration(
        url: smtpUrl, from: settings.string("smtp-from") ?? "noreply@cassetto.invalid",
        username: nonEmpty("smtp-user"), password: password,
        startTLS: try settings.bool("smtp-starttls") ?? false, caFile: nonEmpty("smtp-ca-file"))
    } else {
      for name in ["smtp-user", "smtp-password-file", "smtp-password", "smtp-ca-file"]
      where nonEmpty(name) != nil {
        throw settings.error(name, "needs smtp-url")
      }
      if try settings.bool("smtp-starttls") == true {
        throw settings.error("smtp-starttls", "needs smtp-url")
      }
    }
    application = configuration
  }
}

extension ListenAddress {
  init(host: String, port: Int) {
    self.host = host
    self.port = port
  }
}
