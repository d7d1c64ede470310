import CNGHTTP2

/// nghttp2's callbacks into a ``ClientConnection``: response headers, DATA, stream ends and
/// the request body's data provider. They run on the loop thread, inside `mem_recv` /
/// `mem_send`.
extension ClientConnection {
  // MARK: nghttp2 events (called from the callbacks below)

  func onHeader(streamID: Int32, name: String, value: String) -> Int32 {
    guard let io = streams[streamID] else { return 0 }
    io.headerBytes += name.utf8.count + value.utf8.count + 32
    if io.headerBytes > Self.maxHeaderListSize {
      io.stream.finish(
        .failure(
          RPCError(
            .resourceExhausted,
            "response header list larger than \(Self.maxHeaderListSize) bytes")))
      // nghttp2 resets the stream.
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
    }
    io.headers.append((name, value))
    return 0
  }

  func onHeadersFrame(
    streamID: Int32, category: nghttp2_headers_category, endStream: Bool
  ) {
    guard let io = streams[streamID] else { return }
    let headers = io.headers
    io.headers = []
    io.headerBytes = 0
    let action = io.receivedHeaders(headers, endStream: endStream)
    apply(action, to: io)
  }

  func onData(streamID: Int32, bytes: UnsafeRawBufferPointer) {
    guard let session else { return }
    guard let io = streams[streamID], !io.stream.isFinished else {
      nghttp2_session_consume(session, streamID, bytes.count)
      return
    }
    let action = io.receivedData(bytes)
    if io.stream.shouldHoldWindow() {
      io.heldWindow += bytes.count
    } else {
      nghttp2_session_consume(session, streamID, bytes.count)
    }
    apply(action, to: io)
  }

  func onDataEnd(streamID: Int32) {
    guard let io = streams[streamID] else { return }
    apply(io.receivedEndOfData(), to: io)
  }

  func onStreamClose(streamID: Int32, errorCode: UInt32) {
    guard let io = streams.removeValue(forKey: streamID) else { return }
    if let session, io.heldWindow > 0 {
      nghttp2_session_consume_connection(session, io.heldWindow)
      io.heldWindow = 0
    }
    io.stream.finish(.failure(ClientResponseParser.errorForReset(errorCode)))
    io.stream.io = nil
  }

  func onGoAway() { goawayReceived = true }

  private func apply(_ action: ClientStreamIO.Action, to io: ClientStreamIO) {
    guard let session else { return }
    switch action {
    case .none:
      break
    case .remoteEnded:
      // The response is complete; let the data provider end our side too.
      nghttp2_session_resume_data(session, io.streamID)
    case .reset:
      nghttp2_submit_rst_stream(
        session, UInt8(NGHTTP2_FLAG_NONE.rawValue), io.streamID, NGHTTP2_CANCEL.rawValue)
    }
  }

  func dataSourceRead(
    streamID: Int32, buffer: UnsafeMutablePointer<UInt8>, length: Int,
    flags: UnsafeMutablePointer<UInt32>
  ) -> Int {
    guard let io = streams[streamID], !io.stream.isFinished else {
      flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
      return 0
    }
    let (bytes, end) = io.stream.takeOutbound(limit: length)
    bytes.withUnsafeBufferPointer {
      if let base = $0.baseAddress { buffer.update(from: base, count: $0.count) }
    }
    if end { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
    if bytes.isEmpty && !end { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
    return bytes.count
  }
}

// MARK: - nghttp2 callbacks (C function pointers; user_data is the ClientConnection)

private func connection(_ userData: UnsafeMutableRawPointer?) -> ClientConnection {
  Unmanaged<ClientConnection>.fromOpaque(userData!).takeUnretainedValue()
}

let clientOnHeader: nghttp2_on_header_callback = {
  _, frame, name, nameLength, value, valueLength, _, userData in
  guard let frame, let name, let value else { return 0 }
  return connection(userData).onHeader(
    streamID: frame.pointee.hd.stream_id,
    name: String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self),
    value: String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self))
}

let clientOnFrameRecv: nghttp2_on_frame_recv_callback = { _, frame, userData in
  guard let frame else { return 0 }
  let connection = connection(userData)
  let header = frame.pointee.hd
  let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
  switch UInt32(header.type) {
  case NGHTTP2_HEADERS.rawValue:
    connection.onHeadersFrame(
      streamID: header.stream_id, category: frame.pointee.headers.cat, endStream: endStream)
  case NGHTTP2_DATA.rawValue:
    if endStream { connection.onDataEnd(streamID: header.stream_id) }
  case NGHTTP2_GOAWAY.rawValue:
    connection.onGoAway()
  default:
    break
  }
  return 0
}

let clientOnDataChunk: nghttp2_on_data_chunk_recv_callback = {
  _, _, streamID, data, length, userData in
  connection(userData).onData(
    streamID: streamID, bytes: UnsafeRawBufferPointer(start: data, count: length))
  return 0
}

let clientOnStreamClose: nghttp2_on_stream_close_callback = {
  _, streamID, errorCode, userData in
  connection(userData).onStreamClose(streamID: streamID, errorCode: errorCode)
  return 0
}

let clientDataSourceRead: nghttp2_data_source_read_callback = {
  _, streamID, buffer, length, flags, _, userData in
  guard let buffer, let flags else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
  return connection(userData).dataSourceRead(
    streamID: streamID, buffer: buffer, length: length, flags: flags)
}
