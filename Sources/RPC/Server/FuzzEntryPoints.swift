/// Entry points for the fuzzers (`tools/fuzz`, target `cassetto-fuzz`) and for the corpus
/// replay that turns every input they ever found into a regression test. Each takes arbitrary
/// bytes and must return without crashing, whatever they are.
package enum FuzzEntryPoints {
  /// One loop for every connection the HTTP/2 target makes; it is never run, so work handed
  /// to it (timers, hops) only queues up.
  nonisolated(unsafe) private static var loop: EventLoop? = nil

  /// Bytes from a client, as read from the socket, fed to a server connection (nghttp2
  /// session, header validation, gRPC framing of DATA, flow control) with no services: every
  /// well-formed call ends `UNIMPLEMENTED`. Output is produced and dropped after each piece,
  /// as the socket writer would. The first byte chooses how the rest is cut into reads.
  package static func http2ServerInput(_ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    if loop == nil { loop = try? EventLoop(index: 0) }
    guard let loop,
      let router = try? ServerRouter(services: []),
      let connection = try? ServerConnection(
        loop: loop, router: router,
        configuration: ServerConfiguration(host: "127.0.0.1", port: 0),
        peer: PeerInfo(address: "ipv4:127.0.0.1:1", isSecure: false))
    else { return }
    let piece = Int(first) + 1
    var index = 1
    var output: [UInt8] = []
    while index < data.count {
      let end = min(data.count, index + piece)
      let alive = connection.receive(UnsafeRawBufferPointer(rebasing: data[index..<end]))
      output.removeAll(keepingCapacity: true)
      connection.produceOutput(into: &output, limit: 1 << 20)
      if !alive { break }
      index = end
    }
    connection.cancelAll(RPCError(.unavailable, "fuzz input ended"))
  }

  /// DATA bytes through the gRPC message deframer (length prefixes, the size limit, split
  /// frames), then the end of the stream.
  package static func grpcFraming(_ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    var deframer = GRPCMessageDeframer(maxMessageSize: 64 * 1024)
    var messages: [GRPCFramedMessage] = []
    let piece = Int(first) + 1
    var index = 1
    do {
      while index < data.count {
        let end = min(data.count, index + piece)
        try deframer.process(UnsafeRawBufferPointer(rebasing: data[index..<end]), into: &messages)
        index = end
      }
      try deframer.finish()
    } catch {}
  }

  /// Header values as the server parses them: `grpc-timeout`, percent-decoded
  /// `grpc-message`, base64 `-bin` metadata (padded or not), and a round trip of each.
  package static func metadataParsing(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: data, as: UTF8.self)
    if let timeout = GRPCTimeout.parse(text) { _ = GRPCTimeout.encode(timeout) }
    let decoded = GRPCPercentEncoding.decode(text)
    _ = GRPCPercentEncoding.encode(decoded)
    if let bytes = GRPCBase64.decode(text) { _ = GRPCBase64.encode(bytes) }
  }
}
