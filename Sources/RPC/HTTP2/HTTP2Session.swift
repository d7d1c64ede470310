import CNGHTTP2

/// What an ``HTTP2Session`` reports while it decodes frames. Called synchronously from
/// inside ``HTTP2Session/receive(_:)`` / ``HTTP2Session/send(into:limit:)``, on the thread
/// that owns the session.
package protocol HTTP2SessionDelegate: AnyObject {
  /// A HEADERS frame opened a new stream (server) or started a response (client).
  func sessionBeginHeaders(streamID: Int32)
  /// One header field; return `false` to reset the stream (limit exceeded, invalid field).
  func sessionHeader(streamID: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)
    -> Bool
  /// The header block is complete. `endStream`: the peer sent END_STREAM with it.
  func sessionHeadersComplete(streamID: Int32, endStream: Bool)
  /// A chunk of DATA payload.
  func sessionData(streamID: Int32, bytes: UnsafeRawBufferPointer)
  /// The peer half-closed the stream with END_STREAM on a DATA frame.
  func sessionDataEndStream(streamID: Int32)
  /// The stream is gone (both sides done, or reset); `errorCode` is the HTTP/2 error code.
  func sessionStreamClosed(streamID: Int32, errorCode: UInt32)
  /// Fills `buffer` with response DATA for `streamID`: returns the byte count and sets `eof`,
  /// or returns `nil` to defer (no data yet; call ``HTTP2Session/resumeData(streamID:)``).
  /// At `eof` the delegate may submit trailers.
  func sessionReadData(streamID: Int32, into buffer: UnsafeMutableRawBufferPointer, eof: inout Bool)
    -> Int?
  /// A frame with END_STREAM was written for `streamID` (server: trailers or a trailers-only
  /// response went out).
  func sessionSentEndStream(streamID: Int32)
  /// A PING acknowledgement arrived, echoing the 8-byte payload of our PING.
  func sessionPingAcknowledged(payload: UInt64)
}

/// Limits applied to an nghttp2 session against abusive peers.
package struct HTTP2SessionLimits: Sendable {
  package var maxConcurrentStreams: UInt32 = 100
  package var maxHeaderListSize: UInt32 = 16 * 1024
  package var initialWindowSize: UInt32 = 1024 * 1024
  package var connectionWindowSize: Int32 = 16 * 1024 * 1024
  package var maxFrameSize: UInt32 = 16 * 1024
  /// Rapid reset (CVE-2023-44487): token bucket of RST_STREAMs the peer may cause.
  package var streamResetBurst: UInt64 = 1000
  package var streamResetRatePerSecond: UInt64 = 33
  /// CONTINUATION flood (CVE-2024-27316).
  package var maxContinuations: Int = 8
  /// SETTINGS flood: entries per SETTINGS frame.
  package var maxSettings: Int = 32
  /// PING / SETTINGS flood: queued acknowledgements before the session fails.
  package var maxOutboundAck: Int = 1000

  package init() {}
}

/// One nghttp2 session (one HTTP/2 connection), I/O-agnostic: bytes go in with
/// ``receive(_:)`` and come out of ``send(into:limit:)``. The owner moves them to and from
/// the socket (or a TLS session, or a test).
///
/// Thread ownership: used only by the thread that owns the connection; not `Sendable`.
package final class HTTP2Session {
  private var session: OpaquePointer?
  package unowned(unsafe) let delegate: HTTP2SessionDelegate

  /// A server-side session with automatic WINDOW_UPDATE disabled: the owner calls
  /// ``consume(streamID:count:)`` as the application takes data, which is how inbound
  /// backpressure works.
  package init(serverWith delegate: HTTP2SessionDelegate, limits: HTTP2SessionLimits) throws {
    self.delegate = delegate
    var callbacks: OpaquePointer?
    guard nghttp2_session_callbacks_new(&callbacks) == 0 else {
      throw HTTP2Error.session("nghttp2_session_callbacks_new")
    }
    defer { nghttp2_session_callbacks_del(callbacks) }
    installCallbacks(callbacks)

    var option: OpaquePointer?
    guard nghttp2_option_new(&option) == 0 else { throw HTTP2Error.session("nghttp2_option_new") }
    defer { nghttp2_option_del(option) }
    nghttp2_option_set_no_auto_window_update(option, 1)
    nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096)
    nghttp2_option_set_stream_reset_rate_limit(
      option, limits.streamResetBurst, limits.streamResetRatePerSecond)
    nghttp2_option_set_max_continuations(option, limits.maxContinuations)
    nghttp2_option_set_max_settings(option, limits.maxSettings)
    nghttp2_option_set_max_outbound_ack(option, limits.maxOutboundAck)

    let userData = Unmanaged.passUnretained(self).toOpaque()
    guard nghttp2_session_server_new2(&session, callbacks, userData, option) == 0 else {
      throw HTTP2Error.session("nghttp2_session_server_new2")
    }
    var settings: [nghttp2_settings_entry] = [
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
        value: limits.maxConcurrentStreams),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
        value: limits.maxHeaderListSize),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
        value: limits.initialWindowSize),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: limits.maxFrameSize),
    ]
    nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    nghttp2_session_set_local_window_size(
      session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, limits.connectionWindowSize)
  }

  deinit {
    nghttp2_session_del(session)
  }

  /// Feeds received bytes. Returns `false` when the peer broke the protocol badly enough
  /// that the connection must end (after flushing what ``send(into:limit:)`` still has, such
  /// as a GOAWAY).
  package func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
    let rv = nghttp2_session_mem_recv(
      session, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    return rv >= 0
  }

  /// Appends pending output to `buffer`, up to about `limit` bytes. Returns `false` on a
  /// fatal session error.
  package func send(into buffer: inout [UInt8], limit: Int) -> Bool {
    while buffer.count < limit {
      var data: UnsafePointer<UInt8>?
      let n = nghttp2_session_mem_send(session, &data)
      if n < 0 { return false }
      if n == 0 { break }
      buffer.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
    }
    return true
  }

  /// Whether the session has output to send.
  package var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }
  /// Whether the session expects more input (false after GOAWAY both ways, or a fatal error).
  package var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }

  /// Opens `count` more bytes of flow-control window on the stream and the connection.
  package func consume(streamID: Int32, count: Int) {
    guard count > 0 else { return }
    if nghttp2_session_consume(session, streamID, count) != 0 {
      nghttp2_session_consume_connection(session, count)
    }
  }

  /// Opens `count` bytes of connection window (for data of a stream that is gone).
  package func consumeConnection(count: Int) {
    guard count > 0 else { return }
    nghttp2_session_consume_connection(session, count)
  }

  /// Sends response headers; with `hasBody` a deferred data provider that asks the delegate
  /// (``HTTP2SessionDelegate/sessionReadData(streamID:into:eof:)``) follows, else the
  /// headers end the stream.
  @discardableResult
  package func submitResponse(streamID: Int32, headers: [(String, String)], hasBody: Bool)
    -> Bool
  {
    withHeaderFields(headers) { nva, count in
      if hasBody {
        var provider = nghttp2_data_provider(
          source: nghttp2_data_source(ptr: nil), read_callback: readCallback)
        return nghttp2_submit_response(session, streamID, nva, count, &provider) == 0
      }
      return nghttp2_submit_response(session, streamID, nva, count, nil) == 0
    }
  }

  /// Sends trailers (HEADERS with END_STREAM) after the body.
  @discardableResult
  package func submitTrailers(streamID: Int32, headers: [(String, String)]) -> Bool {
    withHeaderFields(headers) { nva, count in
      nghttp2_submit_trailer(session, streamID, nva, count) == 0
    }
  }

  /// Tells nghttp2 a deferred stream has data again.
  package func resumeData(streamID: Int32) {
    nghttp2_session_resume_data(session, streamID)
  }

  package func resetStream(streamID: Int32, errorCode: UInt32) {
    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
  }

  /// Sends GOAWAY: `lastStreamID` is the highest stream the server will still process.
  package func goAway(lastStreamID: Int32? = nil, errorCode: UInt32 = 0) {
    let last = lastStreamID ?? nghttp2_session_get_last_proc_stream_id(session)
    nghttp2_submit_goaway(
      session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode, nil, 0)
  }

  /// Sends the first GOAWAY of a graceful shutdown (last stream 2^31-1): clients stop
  /// opening streams while streams in flight finish.
  package func shutdownNotice() {
    nghttp2_submit_shutdown_notice(session)
  }

  /// Sends a PING carrying `payload` (echoed in the acknowledgement).
  package func ping(payload: UInt64 = 0) {
    withUnsafeBytes(of: payload) { bytes in
      _ = nghttp2_submit_ping(
        session, UInt8(NGHTTP2_FLAG_NONE.rawValue), bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }
  }

  /// Whether the remote side of the stream is still open (it may send more DATA).
  package func isRemoteOpen(streamID: Int32) -> Bool {
    nghttp2_session_get_stream_remote_close(session, streamID) == 0
  }

  // MARK: Callbacks

  private func installCallbacks(_ callbacks: OpaquePointer?) {
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) {
      _, frame, userData in
      let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
      let hd = frame!.pointee.hd
      if hd.type == UInt8(NGHTTP2_HEADERS.rawValue) {
        me.delegate.sessionBeginHeaders(streamID: hd.stream_id)
      }
      return 0
    }
    nghttp2_session_callbacks_set_on_header_callback(callbacks) {
      _, frame, name, nameLength, value, valueLength, _, userData in
      let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
      let ok = me.delegate.sessionHeader(
        streamID: frame!.pointee.hd.stream_id,
        name: UnsafeRawBufferPointer(start: name, count: nameLength),
        value: UnsafeRawBufferPointer(start: value, count: valueLength))
      return ok ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
    }
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) {
      _, frame, userData in
      let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
      let hd = frame!.pointee.hd
      let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
      switch UInt32(hd.type) {
      case NGHTTP2_HEADERS.rawValue:
        me.delegate.sessionHeadersComplete(streamID: hd.stream_id, endStream: endStream)
      case NGHTTP2_DATA.rawValue:
        if endStream { me.delegate.sessionDataEndStream(streamID: hd.stream_id) }
      case NGHTTP2_PING.rawValue:
        if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
          var payload: UInt64 = 0
          withUnsafeMutableBytes(of: &payload) { target in
            withUnsafeBytes(of: frame!.pointee.ping.opaque_data) { source in
              target.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<8]))
            }
          }
          me.delegate.sessionPingAcknowledged(payload: payload)
        }
      default:
        break
      }
      return 0
    }
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
      _, _, streamID, data, length, userData in
      let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
      me.delegate.sessionData(
        streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length))
      return 0
    }
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) {
      _, streamID, errorCode, userData in
      let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
      me.delegate.sessionStreamClosed(streamID: streamID, errorCode: errorCode)
      return 0
    }
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) {
      _, frame, userData in
      let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
      let hd = frame!.pointee.hd
      if hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
        me.delegate.sessionSentEndStream(streamID: hd.stream_id)
      }
      return 0
    }
  }

  /// Scratch space reused by every header block this session submits.
  private var headerBytes: [UInt8] = []
  private var headerFields: [nghttp2_nv] = []

  private func withHeaderFields<R>(
    _ headers: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R
  ) -> R {
    // All names and values in one buffer; nghttp2 copies them during the submit call. The
    // scratch arrays are moved out while in use, so a nested call cannot alias them.
    var bytes = headerBytes
    var fields = headerFields
    headerBytes = []
    headerFields = []
    defer {
      bytes.removeAll(keepingCapacity: true)
      fields.removeAll(keepingCapacity: true)
      headerBytes = bytes
      headerFields = fields
    }
    var total = 0
    for (name, value) in headers { total += name.utf8.count + value.utf8.count }
    bytes.reserveCapacity(total + 1)
    for (name, value) in headers {
      bytes.append(contentsOf: name.utf8)
      bytes.append(contentsOf: value.utf8)
    }
    bytes.append(0)
    return bytes.withUnsafeMutableBufferPointer { storage in
      let base = storage.baseAddress!
      var offset = 0
      for (name, value) in headers {
        let nameLength = name.utf8.count
        let valueLength = value.utf8.count
        fields.append(
          nghttp2_nv(
            name: base + offset, value: base + offset + nameLength, namelen: nameLength,
            valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        offset += nameLength + valueLength
      }
      return fields.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
    }
  }
}

/// The data provider's read callback: asks the delegate for the stream's next bytes.
private let readCallback: nghttp2_data_source_read_callback = {
  _, streamID, buffer, length, dataFlags, _, userData in
  let me = Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
  var eof = false
  guard
    let n = me.delegate.sessionReadData(
      streamID: streamID, into: UnsafeMutableRawBufferPointer(start: buffer, count: length),
      eof: &eof)
  else {
    return Int(NGHTTP2_ERR_DEFERRED.rawValue)
  }
  if eof {
    // Trailers follow (the delegate submitted them), so the DATA frame must not end the stream.
    dataFlags!.pointee |=
      UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
      | UInt32(NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue)
  }
  return n
}

package enum HTTP2Error: Error {
  case session(String)
}
