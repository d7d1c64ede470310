import CZlib
import Synchronization

/// Why a gzip payload could not be compressed or decompressed.
public enum GzipError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The decompressed data would be larger than the caller's limit. Raised as soon as the
  /// limit is crossed; no more than `limit` bytes are ever allocated for the output.
  case tooLarge(limit: Int)
  /// The input is not a valid, complete gzip stream (bad header, bad checksum, truncated,
  /// or trailing bytes that are not another gzip member). `detail` is zlib's message.
  case corrupt(detail: String)
  /// zlib itself failed (out of memory, version mismatch); not caused by the input.
  case zlib(code: Int32, detail: String)

  public var description: String {
    switch self {
    case .tooLarge(let limit): "gzip: decompressed message exceeds the limit of \(limit) bytes"
    case .corrupt(let detail): "gzip: corrupt input (\(detail))"
    case .zlib(let code, let detail): "gzip: zlib error \(code) (\(detail))"
    }
  }
}

/// The `gzip` message encoding of gRPC (`grpc-encoding: gzip`): RFC 1952 gzip streams
/// through zlib.
///
/// The static functions are safe to call from any thread. ``compress(_:)`` borrows a
/// deflate stream from a small shared pool (setting one up costs ~100 µs, ten times the
/// compression of a 1 KiB message; reusing it costs nothing); ``decompress(_:limit:)`` sets
/// up its own inflate stream, which is cheap. Code that (de)compresses many messages on
/// one thread can also keep its own ``GzipCompressor`` / ``GzipDecompressor``.
public enum Gzip {
  /// Compresses `input` into one gzip member (zlib's default level).
  public static func compress(_ input: [UInt8]) throws -> [UInt8] {
    let pooled = compressorPool.withLock { $0.popLast() } ?? PooledCompressor()
    let output = try pooled.compressor.compress(input)
    compressorPool.withLock { pool in
      if pool.count < maxPooledCompressors { pool.append(pooled) }
    }
    return output
  }

  /// Decompresses a gzip stream (one member or several concatenated ones).
  ///
  /// - Parameter limit: the largest output accepted, in bytes. Past it the function throws
  ///   ``GzipError/tooLarge(limit:)`` without having allocated more than `limit` bytes:
  ///   a small "zip bomb" cannot exhaust memory.
  /// - Throws: ``GzipError/corrupt(detail:)`` for anything that is not a complete, valid
  ///   gzip stream. An empty input decompresses to an empty message (a zero-length gRPC
  ///   message flagged as compressed carries no gzip header at all in some clients).
  public static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
    try GzipDecompressor().decompress(input, limit: limit)
  }
}

/// Idle deflate streams, ~270 KiB each. A thrown error drops the borrowed stream.
private let compressorPool = Mutex<[PooledCompressor]>([])
private let maxPooledCompressors = 8

/// Thread-safety invariant: a pooled compressor is used by exactly one caller at a time; it is
/// only reachable through `compressorPool` (under its lock) or by the caller that popped it.
private final class PooledCompressor: @unchecked Sendable {
  let compressor = GzipCompressor()
}

/// A reusable gzip compressor. Not thread-safe: use one per thread (or per connection, on
/// its event loop).
public final class GzipCompressor {
  // zlib keeps a back-pointer to the z_stream, so it must live at a stable address.
  private let stream: UnsafeMutablePointer<z_stream>
  private var initialized = false

  public init() {
    stream = .allocate(capacity: 1)
    stream.initialize(to: z_stream())
  }

  deinit {
    if initialized { deflateEnd(stream) }
    stream.deinitialize(count: 1)
    stream.deallocate()
  }

  /// Compresses `input` into one gzip member.
  public func compress(_ input: [UInt8]) throws -> [UInt8] {
    if initialized {
      let rc = deflateReset(stream)
      guard rc == Z_OK else { throw zlibError(rc) }
    } else {
      // 15 window bits + 16: write a gzip (not zlib) header and trailer.
      let rc = cassetto_deflateInit2(stream, Z_DEFAULT_COMPRESSION, 15 + 16)
      guard rc == Z_OK else { throw zlibError(rc) }
      initialized = true
    }
    // deflateBound is an upper bound for a single deflate(Z_FINISH) call on the whole input.
    let bound = Int(deflateBound(stream, uLong(input.count)))
    var output = [UInt8](repeating: 0, count: bound)
    let rc: Int32 = input.withUnsafeBytes { inBuf in
      output.withUnsafeMutableBytes { outBuf in
        stream.pointee.next_in = UnsafeMutablePointer(
          mutating: inBuf.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(inBuf.count)
        stream.pointee.next_out = outBuf.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(outBuf.count)
        let rc = deflate(stream, Z_FINISH)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        return rc
      }
    }
    guard rc == Z_STREAM_END else { throw zlibError(rc) }
    output.removeLast(Int(stream.pointee.avail_out))
    return output
  }

  private func zlibError(_ rc: Int32) -> GzipError {
    .zlib(code: rc, detail: zlibMessage(stream, rc))
  }
}

/// A reusable gzip decompressor. Not thread-safe: use one per thread (or per connection, on
/// its event loop).
public final class GzipDecompressor {
  private let stream: UnsafeMutablePointer<z_stream>
  private var initialized = false
  /// Output grows by at most this much at a time (and never past the caller's limit).
  private static let maxStep = 1024 * 1024

  public init() {
    stream = .allocate(capacity: 1)
    stream.initialize(to: z_stream())
  }

  deinit {
    if initialized { inflateEnd(stream) }
    stream.deinitialize(count: 1)
    stream.deallocate()
  }

  /// See ``Gzip/decompress(_:limit:)``.
  public func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
    if input.isEmpty { return [] }
    let limit = max(0, limit)
    try reset()
    var output: [UInt8] = []
    // First guess at the output size; later steps double, up to `maxStep`.
    var step = min(max(input.count * 4, 4096), Self.maxStep)
    try input.withUnsafeBytes { inBuf in
      stream.pointee.next_in = UnsafeMutablePointer(
        mutating: inBuf.baseAddress!.assumingMemoryBound(to: Bytef.self))
      stream.pointee.avail_in = uInt(inBuf.count)
      defer {
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
      }
      while true {
        let room = limit - output.count
        var rc: Int32
        if room > 0 {
          let grow = min(step, room)
          step = min(step * 2, Self.maxStep)
          let start = output.count
          if start + grow > output.capacity {
            // Grow geometrically but never past the limit (Array's own growth would double).
            output.reserveCapacity(min(limit, max(start + grow, output.capacity * 2)))
          }
          output.append(contentsOf: repeatElement(0, count: grow))
          rc = output.withUnsafeMutableBytes { outBuf in
            stream.pointee.next_out = (outBuf.baseAddress! + start).assumingMemoryBound(
              to: Bytef.self)
            stream.pointee.avail_out = uInt(grow)
            return inflate(stream, Z_NO_FLUSH)
          }
          output.removeLast(Int(stream.pointee.avail_out))
        } else {
          // At the limit: probe with one byte of scratch. Any output means "too large".
          var probe: UInt8 = 0
          rc = withUnsafeMutablePointer(to: &probe) { p in
            stream.pointee.next_out = p
            stream.pointee.avail_out = 1
            return inflate(stream, Z_NO_FLUSH)
          }
          if stream.pointee.avail_out == 0 { throw GzipError.tooLarge(limit: limit) }
        }
        switch rc {
        case Z_STREAM_END:
          let remaining = Int(stream.pointee.avail_in)
          if remaining == 0 { return }
          // Another member may follow (RFC 1952 §2.2); anything else is garbage.
          let next = inBuf.count - remaining
          guard remaining >= 2, inBuf[next] == 0x1f, inBuf[next + 1] == 0x8b else {
            throw GzipError.corrupt(detail: "trailing bytes after the gzip stream")
          }
          let rc = inflateReset(stream)
          guard rc == Z_OK else { throw GzipError.zlib(code: rc, detail: zlibMessage(stream, rc)) }
        case Z_OK:
          continue
        case Z_BUF_ERROR:
          // No progress was possible although output room was given: the input ran out
          // before the end of the stream.
          if stream.pointee.avail_in == 0 {
            throw GzipError.corrupt(detail: "truncated gzip stream")
          }
          throw GzipError.corrupt(detail: "inflate made no progress")
        case Z_DATA_ERROR, Z_NEED_DICT:
          throw GzipError.corrupt(detail: zlibMessage(stream, rc))
        default:
          throw GzipError.zlib(code: rc, detail: zlibMessage(stream, rc))
        }
      }
    }
    return output
  }

  private func reset() throws {
    let rc: Int32
    if initialized {
      rc = inflateReset(stream)
    } else {
      rc = cassetto_inflateInit2(stream, 15 + 16)  // gzip only, no zlib/raw auto-detect
      if rc == Z_OK { initialized = true }
    }
    guard rc == Z_OK else { throw GzipError.zlib(code: rc, detail: zlibMessage(stream, rc)) }
  }
}

private func zlibMessage(_ stream: UnsafeMutablePointer<z_stream>, _ rc: Int32) -> String {
  if let msg = stream.pointee.msg { return String(cString: msg) }
  if let text = zError(rc) { return String(cString: text) }
  return "code \(rc)"
}
