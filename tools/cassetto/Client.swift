import ArgumentParser
import Contracts
import Foundation
import RPC

/// How the client commands reach the server: address, TLS, the caller's token, the output
/// format. Shared by every command that calls an RPC.
struct ConnectionOptions: ParsableArguments {
  @Option(help: "The server, HOST:PORT (default: $CASSETTO_SERVER, else 127.0.0.1:50051).")
  var server: String?

  @Option(
    help: ArgumentHelp(
      "Person token (JWT) sent as 'authorization: Bearer'; default: $CASSETTO_TOKEN.",
      discussion: "Prefer the environment variable: a flag is visible to other users in ps."))
  var token: String?

  @Flag(help: "Use TLS with the system's trusted roots (implied by --tls-ca and --tls-cert).")
  var tls = false

  @Option(help: "PEM bundle of the CAs that signed the server certificate (turns TLS on).")
  var tlsCa: String?

  @Option(help: "PEM client certificate for mutual TLS (with --tls-key; turns TLS on).")
  var tlsCert: String?

  @Option(help: "PEM private key of --tls-cert.")
  var tlsKey: String?

  @Option(help: "Name the server certificate must carry (default: the host of --server).")
  var tlsServerName: String?

  @Option(help: "Seconds before a call is abandoned (DEADLINE_EXCEEDED).")
  var timeout: Double = 30

  @Flag(help: "Print JSON (proto3 JSON field and enum names) instead of a table.")
  var json = false

  func validate() throws {
    if (tlsCert == nil) != (tlsKey == nil) {
      throw ValidationError("--tls-cert and --tls-key go together")
    }
    guard timeout > 0 else { throw ValidationError("--timeout must be > 0 seconds") }
    _ = try address()
  }

  /// `HOST:PORT` from the flag, the environment or the default; `[v6]:PORT` for IPv6.
  func address() throws -> (host: String, port: Int) {
    let text =
      server ?? ProcessInfo.processInfo.environment["CASSETTO_SERVER"] ?? "127.0.0.1:50051"
    guard let colon = text.lastIndex(of: ":"),
      let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
    else { throw ValidationError("--server must be HOST:PORT, got '\(text)'") }
    var host = String(text[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ValidationError("--server must be HOST:PORT, got '\(text)'") }
    return (host, port)
  }

  var bearer: String? {
    let value = token ?? ProcessInfo.processInfo.environment["CASSETTO_TOKEN"]
    guard let value, !value.isEmpty else { return nil }
    return value
  }

  /// Opens the channel, runs `body` and maps a failed call to a message and exit status.
  func call<T: Sendable>(_ body: (ClientContext) async throws -> T) async throws -> T {
    let (host, port) = try address()
    var tlsConfiguration: TLSClientConfiguration? = nil
    if tls || tlsCa != nil || tlsCert != nil {
      tlsConfiguration = TLSClientConfiguration(
        trustRootsFile: tlsCa, certificateChainFile: tlsCert, privateKeyFile: tlsKey,
        serverName: tlsServerName)
    }
    let channel = Channel(host: host, port: port, tls: tlsConfiguration)
    defer { channel.close() }
    var metadata: Metadata = [:]
    if let bearer { metadata.addString("Bearer \(bearer)", forKey: "authorization") }
    let context = ClientContext(
      channel: channel, metadata: metadata,
      options: CallOptions(timeout: .milliseconds(Int64(timeout * 1000))))
    do {
      return try await body(context)
    } catch let error as RPCError {
      printError(CallFailure.describe(error))
      throw ExitCode(Int32(error.code.rawValue))
    }
  }
}

/// What a command needs to make calls.
struct ClientContext: Sendable {
  var channel: Channel
  var metadata: Metadata
  var options: CallOptions
}

/// The text of a failed call: `cassetto: STATUS: message`, then one line per field violation
/// or failed precondition found in `grpc-status-details-bin`.
enum CallFailure {
  static func describe(_ error: RPCError) -> String {
    var lines = ["cassetto: \(error.code): \(error.message.isEmpty ? "(no message)" : error.message)"]
    if let details = error.details, let status = try? Google_Rpc_Status(serializedBytes: details) {
      for any in status.details {
        if any.typeUrl.hasSuffix("/google.rpc.BadRequest"),
          let bad = try? Google_Rpc_BadRequest(serializedBytes: any.value)
        {
          for violation in bad.fieldViolations {
            lines.append("  field \(violation.field): \(violation.description)")
          }
        } else if any.typeUrl.hasSuffix("/google.rpc.PreconditionFailure"),
          let failure = try? Google_Rpc_PreconditionFailure(serializedBytes: any.value)
        {
          for violation in failure.violations {
            lines.append("  precondition \(violation.type) \(violation.subject): \(violation.description)")
          }
        }
      }
    }
    switch error.code {
    case .unauthenticated where error.message.isEmpty || !lines[0].contains("token"):
      lines.append("  (give a token with --token or CASSETTO_TOKEN; 'cassetto demo' prints some)")
    case .unavailable:
      lines.append("  (is cassetto-server running at that address, with the same TLS setting?)")
    default: break
    }
    return lines.joined(separator: "\n")
  }
}

func printError(_ text: String) {
  FileHandle.standardError.write(Data((text + "\n").utf8))
}
