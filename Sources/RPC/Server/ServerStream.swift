/// One HTTP/2 stream of a ``ServerConnection``, from its first header to its close.
/// Loop-thread only.
final class ServerStream {
  let id: Int32
  var headerBytes = 0
  var headersDone = false
  var httpMethod: String?
  var path: String?
  var contentType: String?
  var timeout: String?
  var encoding: String?
  var acceptEncoding: String?
  var metadata: Metadata = [:]
  var deframer: GRPCMessageDeframer
  /// Request messages of a unary / server-streaming call, held until END_STREAM.
  var pending: [GRPCFramedMessage] = []
  var method: ServerMethod?
  var deadline: ContinuousClock.Instant?
  var call: ServerCall?
  var task: Task<Void, Never>?
  var deadlineTimer: EventLoopTimer?
  /// Response HEADERS submitted.
  var responseStarted = false
  /// Status submitted (or the stream was reset): nothing more is sent for it.
  var finished = false
  /// Request DATA is still parsed; false after a rejection or a framing error.
  var accepting = true
  var requestEnded = false
  /// Received DATA bytes not yet returned to the client as flow-control window.
  var unconsumed = 0

  init(id: Int32, maxMessageSize: Int) {
    self.id = id
    self.deframer = GRPCMessageDeframer(maxMessageSize: maxMessageSize)
  }
}

extension ServerConnection {
  /// Response HEADERS: status 200, gRPC content type, what we accept, custom metadata.
  static func responseHeaders(metadata: Metadata, gzip: Bool) -> [(String, String)] {
    var fields: [(String, String)] = [
      (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", "gzip"),
    ]
    if gzip { fields.append(("grpc-encoding", "gzip")) }
    if !metadata.isEmpty { GRPCHeaders.fields(for: metadata, into: &fields) }
    return fields
  }

  static func appendStatus(
    _ status: RPCError, trailing: Metadata, to fields: inout [(String, String)]
  ) {
    fields.append(("grpc-status", String(status.code.rawValue)))
    if !status.message.isEmpty {
      fields.append(("grpc-message", GRPCPercentEncoding.encode(status.message)))
    }
    if let details = status.details {
      fields.append(("grpc-status-details-bin", GRPCBase64.encode(details)))
    }
    if !trailing.isEmpty { GRPCHeaders.fields(for: trailing, into: &fields) }
    if !status.trailingMetadata.isEmpty {
      GRPCHeaders.fields(for: status.trailingMetadata, into: &fields)
    }
  }
}
