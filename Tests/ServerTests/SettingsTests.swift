import Foundation
import Server
import Testing

/// The layered settings of `cassetto-server` (docs/configuration.md): the file's syntax,
/// precedence, list handling, errors naming setting and source, masking.
@Suite struct SettingsTests {
  static let specs: [Settings.Spec] = [
    .init("listen", default: "127.0.0.1:50051"),
    .init("idle-timeout", default: "300"),
    .init("dev", .flag, default: "false"),
    .init("trusted-key", .list),
    .init("smtp-url"),
    .init("smtp-password", secret: true, flag: false),
    .init("token-issuer", default: ""),
  ]

  func file(_ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("settings-\(UInt64.random(in: 0...UInt64.max)).conf").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func settings(
    flags: [String: [String]] = [:], environment: [String: String] = [:], file: String? = nil
  ) throws -> Settings {
    try Settings(specs: Self.specs, flags: flags, environment: environment, file: file)
  }

  @Test func fileSyntaxQuotesEscapesCommentsArraysAndRepeats() throws {
    let path = try file(
      """
      # comment
      listen = "0.0.0.0:50051"   # trailing comment
      idle_timeout = 120
      token-issuer = "https://idp.example/#frag \\"q\\""
      trusted-key = ["/a.pem", "/b # not a comment.pem"]
      trusted-key = /c.pem
      dev = yes

      """)
    let s = try settings(file: path)
    #expect(s.string("listen") == "0.0.0.0:50051")
    #expect(try s.int("idle-timeout", in: 1...86_400) == 120)
    #expect(s.string("token-issuer") == #"https://idp.example/#frag "q""#)
    #expect(s.list("trusted-key") == ["/a.pem", "/b # not a comment.pem", "/c.pem"])
    #expect(try s.bool("dev") == true)
    #expect(s.entry("idle-timeout").origin == .file(path: path, line: 3))
    #expect(s.entry("dev").origin == .file(path: path, line: 7))
    #expect(s.string("smtp-url") == nil)
  }

  @Test func flagsBeatEnvironmentBeatFileBeatDefaults() throws {
    let path = try file("listen = 1.1.1.1:1\ntrusted-key = /file.pem\nidle-timeout = 10\n")
    let s = try settings(
      flags: ["listen": ["3.3.3.3:3"]],
      environment: [
        "CASSETTO_LISTEN": "2.2.2.2:2", "CASSETTO_TRUSTED_KEY": "/e1.pem; /e2.pem",
        "CASSETTO_UNRELATED": "ignored",
      ], file: path)
    #expect(s.string("listen") == "3.3.3.3:3" && s.entry("listen").origin == .flag)
    #expect(s.list("trusted-key") == ["/e1.pem", "/e2.pem"])
    #expect(s.entry("trusted-key").origin == .environment("CASSETTO_TRUSTED_KEY"))
    #expect(s.string("idle-timeout") == "10")
    #expect(s.entry("token-issuer").origin == .defaultValue)
  }

  @Test func errorsNameTheSettingAndItsSource() throws {
    let bad = try file("listen = 1.1.1.1:1\nidle-timeout = soon\n")
    let s = try settings(file: bad)
    #expect(throws: ConfigurationError.invalid(
      "setting idle-timeout (file \(bad):2): 'soon' must be an integer in 1...86400")) {
      try s.int("idle-timeout", in: 1...86_400)
    }
    let unknown = try file("listen = 1.1.1.1:1\nlisten_adress = x\n")
    #expect(throws: ConfigurationError.invalid("\(unknown):2: unknown setting 'listen-adress'")) {
      try settings(file: unknown)
    }
    for broken in ["listen = \"open", "trusted-key = [\"a\", ", "listen", "dev = [true, false]"] {
      let path = try file(broken + "\n")
      #expect(throws: ConfigurationError.self) { try settings(file: path) }
    }
    #expect(throws: ConfigurationError.invalid(
      "setting dev (environment CASSETTO_DEV): 'maybe' must be true or false")) {
      try settings(environment: ["CASSETTO_DEV": "maybe"])
    }
    // A secret's value never appears in an error.
    let secret = try settings(environment: ["CASSETTO_SMTP_PASSWORD": "hunter2"])
    let error = Settings.error(secret.entry("smtp-password"), raw: "hunter2", expected: "short")
    #expect(!error.description.contains("hunter2"))
  }

  @Test func renderMasksSecretsAndURLPasswordsAndRoundTrips() throws {
    let s = try settings(
      flags: ["dev": ["true"]],
      environment: [
        "CASSETTO_SMTP_PASSWORD": "hunter2", "CASSETTO_SMTP_URL": "smtp://u:pa55@relay:587",
      ])
    let text = s.render()
    #expect(!text.contains("hunter2") && !text.contains("pa55"))
    #expect(text.contains(#"smtp-password = "********"  # environment CASSETTO_SMTP_PASSWORD"#))
    #expect(text.contains(#"smtp-url = "smtp://u:********@relay:587""#))
    #expect(text.contains("idle-timeout = 300  # default"))
    #expect(text.contains("dev = true  # command line"))
    #expect(text.contains("# trusted-key =  # unset"))
    // The printed configuration is a valid file again.
    let again = try settings(file: try file(text))
    #expect(again.string("listen") == "127.0.0.1:50051")
    #expect(try again.bool("dev") == true)
    #expect(again.string("smtp-url") == "smtp://u:********@relay:587")
  }
}
