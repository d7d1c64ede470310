/// The loop-thread side of one call's HTTP/2 stream: it turns the response's HEADERS and
/// DATA into initial metadata, messages and a final status for its ``ClientStream``.
///
/// Thread ownership: loop thread only (it is reached through ``ClientStream/io`` and the
/// connection's stream table, both loop-only).
final class ClientStreamIO {
  /// What the connection must do after an event.
  enum Action {
    case none
    /// The server finished the response; our side may end too.
    case remoteEnded
    /// The call failed locally (bad response): reset the stream with CANCEL.
    case reset
  }

  let stream: ClientStream
  weak var connection: ClientConnection?
  let streamID: Int32
  var headers: [(String, String)] = []
  var headerBytes = 0
  /// Window bytes received but not yet given back because the reader lags.
  var heldWindow = 0
  private var deframer: GRPCMessageDeframer
  private var receivedResponseHeaders = false
  private var encoding: String?
  private var framed: [GRPCFramedMessage] = []

  init(stream: ClientStream, connection: ClientConnection, streamID: Int32) {
    self.stream = stream
    self.connection = connection
    self.streamID = streamID
    self.deframer = GRPCMessageDeframer(maxMessageSize: stream.options.maxReceiveMessageSize)
  }

  /// A complete HEADERS block: response headers, trailers, or a trailers-only response.
  func receivedHeaders(_ fields: [(String, String)], endStream: Bool) -> Action {
    if receivedResponseHeaders {
      // Trailers.
      guard endStream else { return .none }
      stream.finish(finalOutcome(trailers: fields))
      return .remoteEnded
    }
    let status = fields.first { $0.0 == ":status" }.flatMap { Int($0.1) }
    if let status, (100..<200).contains(status) { return .none }  // informational
    receivedResponseHeaders = true
    if endStream {
      // Trailers-only: the status is here, or only HTTP's.
      if status != 200, !fields.contains(where: { $0.0 == "grpc-status" }) {
        stream.finish(.failure(ClientResponseParser.errorForHTTPStatus(status)))
      } else {
        stream.finish(ClientResponseParser.outcome(trailers: fields))
      }
      return .remoteEnded
    }
    if status != 200 {
      stream.finish(.failure(ClientResponseParser.errorForHTTPStatus(status)))
      return .reset
    }
    let contentType = fields.first { $0.0 == "content-type" }?.1
    guard let contentType, GRPCHeaders.isGRPCContentType(contentType) else {
      stream.finish(
        .failure(RPCError(.unknown, "invalid content-type \(contentType ?? "(none)") in response")))
      return .reset
    }
    encoding = fields.first { $0.0 == "grpc-encoding" }?.1.lowercased()
    var metadata = Metadata()
    for (name, value) in fields {
      GRPCHeaders.appendReceived(name: name, value: value, to: &metadata)
    }
    stream.deliverInitialMetadata(metadata)
    return .none
  }

  /// Bytes of DATA frames.
  func receivedData(_ bytes: UnsafeRawBufferPointer) -> Action {
    guard receivedResponseHeaders else {
      stream.finish(.failure(RPCError(.internal, "DATA before response headers")))
      return .reset
    }
    framed.removeAll(keepingCapacity: true)
    do {
      try deframer.process(bytes, into: &framed)
    } catch {
      stream.finish(.failure(error.rpcError))
      return .reset
    }
    for message in framed {
      if message.compressed {
        guard let encoding, encoding != "identity" else {
          stream.finish(
            .failure(RPCError(.internal, "compressed message without grpc-encoding")))
          return .reset
        }
        guard encoding == "gzip" else {
          stream.finish(
            .failure(RPCError(.internal, "unsupported response grpc-encoding \(encoding)")))
          return .reset
        }
        do {
          let plain = try Gzip.decompress(
            message.bytes, limit: stream.options.maxReceiveMessageSize)
          stream.deliverMessage(plain)
        } catch GzipError.tooLarge(let limit) {
          stream.finish(
            .failure(
              RPCError(
                .resourceExhausted, "decompressed message larger than max (\(limit) bytes)")))
          return .reset
        } catch {
          stream.finish(.failure(RPCError(.internal, "could not decompress: \(error)")))
          return .reset
        }
      } else {
        stream.deliverMessage(message.bytes)
      }
    }
    return .none
  }

  /// END_STREAM on a DATA frame: the server ended without trailers.
  func receivedEndOfData() -> Action {
    stream.finish(.failure(RPCError(.internal, "server closed the stream without trailers")))
    return .remoteEnded
  }

  private func finalOutcome(trailers: [(String, String)]) -> Result<Metadata, RPCError> {
    do {
      try deframer.finish()
    } catch {
      return .failure(error.rpcError)
    }
    return ClientResponseParser.outcome(trailers: trailers)
  }
}

/// Reading the end of a response: trailers into a status, HTTP status and RST_STREAM codes
/// into gRPC codes.
enum ClientResponseParser {
  /// The call's outcome from its trailers: trailing metadata for OK, an ``RPCError`` with
  /// the percent-decoded `grpc-message`, `grpc-status-details-bin` and trailing metadata
  /// otherwise.
  static func outcome(trailers: [(String, String)]) -> Result<Metadata, RPCError> {
    var metadata = Metadata()
    var status: Int?
    var message = ""
    var details: [UInt8]?
    for (name, value) in trailers {
      switch name {
      case "grpc-status": status = Int(value)
      case "grpc-message": message = GRPCPercentEncoding.decode(value)
      case "grpc-status-details-bin": details = GRPCBase64.decode(value)
      default: GRPCHeaders.appendReceived(name: name, value: value, to: &metadata)
      }
    }
    guard let status else {
      return .failure(
        RPCError(.unknown, "response ended without grpc-status", trailingMetadata: metadata))
    }
    let code = StatusCode(wireValue: status)
    if code == .ok { return .success(metadata) }
    return .failure(RPCError(code, message, details: details, trailingMetadata: metadata))
  }

  /// grpc/grpc `doc/http-grpc-status-mapping.md`.
  static func errorForHTTPStatus(_ status: Int?) -> RPCError {
    guard let status else { return RPCError(.internal, "response without :status") }
    let code: StatusCode =
      switch status {
      case 400: .internal
      case 401: .unauthenticated
      case 403: .permissionDenied
      case 404: .unimplemented
      case 429, 502, 503, 504: .unavailable
      default: .unknown
      }
    return RPCError(code, "HTTP status \(status)")
  }

  /// The status of a stream the server reset (grpc/grpc `doc/PROTOCOL-HTTP2.md`, "Errors").
  static func errorForReset(_ errorCode: UInt32) -> RPCError {
    switch errorCode {
    case 0: RPCError(.internal, "server closed the stream without trailers")
    case 0x7: RPCError(.unavailable, "stream refused by the server (REFUSED_STREAM)")
    case 0x8: RPCError(.cancelled, "stream cancelled by the server (CANCEL)")
    case 0xb: RPCError(.resourceExhausted, "server reset the stream (ENHANCE_YOUR_CALM)")
    case 0xc: RPCError(.permissionDenied, "server reset the stream (INADEQUATE_SECURITY)")
    default: RPCError(.internal, "server reset the stream (HTTP/2 error \(errorCode))")
    }
  }
}

/// The request HEADERS of a call.
enum ClientRequestHeaders {
  static func fields(
    for stream: ClientStream, configuration: ClientChannelConfiguration
  ) -> [(String, String)] {
    var fields: [(String, String)] = [
      (":method", "POST"),
      (":scheme", configuration.scheme),
      (":path", stream.method.path),
      (":authority", configuration.authority),
      ("content-type", "application/grpc"),
      ("te", "trailers"),
      ("user-agent", configuration.userAgent),
      ("grpc-accept-encoding", "gzip"),
    ]
    if stream.options.compressRequests { fields.append(("grpc-encoding", "gzip")) }
    if let deadline = stream.deadline {
      fields.append(
        ("grpc-timeout", GRPCTimeout.encode(ContinuousClock.now.duration(to: deadline))))
    }
    GRPCHeaders.fields(for: stream.metadata, into: &fields)
    return fields
  }
}
