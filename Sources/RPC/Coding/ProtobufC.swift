import CProtobufC

// The protobuf-c glue that generated message types (Sources/Contracts) build on. Only
// generated code and this file touch protobuf-c pointers. Nothing here is visible above
// `Contracts`: the protocol is `package`, and the helpers that generated code calls in its
// hot loops are SPI (`@_spi(ProtobufC) import RPC`) rather than `package` because Swift 6.3
// does not inline or specialise `@inlinable package` functions across modules, and
// unspecialised generic calls cost several times the C packing itself.

/// A generated message type whose wire format is handled by a protoc-c struct.
///
/// Encoding builds the C struct in a ``ProtobufCArena`` and packs it; decoding unpacks with
/// protobuf-c, converts, and frees the unpacked struct in one place.
package protocol ProtobufCBacked: ProtoMessage {
  /// The protoc-c struct, e.g. `Grpc__Testing__SimpleRequest`.
  associatedtype CStruct
  /// The protobuf-c descriptor of ``CStruct``.
  static var protobufCDescriptor: UnsafePointer<ProtobufCMessageDescriptor> { get }
  /// Initialises `c` as the empty message (the protoc-c `..._init` function).
  static func protobufCInitialize(_ c: UnsafeMutablePointer<CStruct>)
  /// Reads the value out of an unpacked struct.
  init(protobufC c: UnsafePointer<CStruct>)
  /// Writes the value into an initialised struct; every pointer it stores comes from `arena`.
  func protobufCFill(_ c: UnsafeMutablePointer<CStruct>, arena: ProtobufCArena)
}

/// Deepest nesting of messages accepted on input, as in the C++ and Java runtimes.
package let protobufCMaxDepth = 100

extension ProtobufCBacked {
  /// A new C struct in `arena`, initialised and filled with this value.
  package func protobufCMake(arena: ProtobufCArena) -> UnsafeMutablePointer<CStruct> {
    let c = arena.allocate(CStruct.self)
    Self.protobufCInitialize(c)
    protobufCFill(c, arena: arena)
    return c
  }

  /// Appends the wire format to `buffer` (``ProtoMessage/serialize(into:)``).
  package func protobufCSerialize(into buffer: inout [UInt8]) {
    let arena = ProtobufCArena()
    let c = protobufCMake(arena: arena)
    let message = UnsafeRawPointer(c).assumingMemoryBound(to: ProtobufCMessage.self)
    let size = protobuf_c_message_get_packed_size(message)
    guard size > 0 else { return }
    let start = buffer.count
    buffer.append(contentsOf: repeatElement(0, count: size))
    buffer.withUnsafeMutableBufferPointer { out in
      _ = protobuf_c_message_pack(message, out.baseAddress! + start)
    }
  }

  /// Decodes the wire format (``ProtoMessage/init(serializedBytes:)``).
  package init(protobufCBytes bytes: UnsafeRawBufferPointer) throws {
    let descriptor = Self.protobufCDescriptor
    let decoded: Self? = withNonNilBase(bytes) { base, count in
      guard wireFormatIsAcceptable(base, count, descriptor: descriptor, depth: 1) else {
        return nil
      }
      // protobuf-c allocates the unpacked tree in an arena: one free for the whole message.
      return withArenaAllocator { allocator in
        guard let unpacked = protobuf_c_message_unpack(descriptor, allocator, count, base)
        else { return nil }
        return Self(
          protobufC: UnsafeRawPointer(unpacked).assumingMemoryBound(to: CStruct.self))
      }
    }
    guard let decoded else { throw protobufCDecodingError(descriptor) }
    self = decoded
  }
}

/// A protobuf-c allocator backed by a fresh ``ProtobufCArena`` that lives while `body` runs;
/// its `free` does nothing (the arena frees everything at the end).
func withArenaAllocator<R>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) -> R) -> R {
  let arena = ProtobufCArena()
  var allocator = ProtobufCAllocator(
    alloc: { data, size in
      guard let data else { return nil }
      return Unmanaged<ProtobufCArena>.fromOpaque(data).takeUnretainedValue()
        .allocateBytes(max(size, 1), alignment: 16)
    },
    free: { _, _ in },
    allocator_data: Unmanaged.passUnretained(arena).toOpaque())
  return withExtendedLifetime(arena) { body(&allocator) }
}

func protobufCDecodingError(
  _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>
) -> ProtoDecodingError {
  ProtoDecodingError(messageName: String(cString: descriptor.pointee.name))
}

/// protobuf-c wants a non-nil pointer even for zero bytes.
package func withNonNilBase<R>(
  _ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>, Int) -> R
) -> R {
  if let base = bytes.baseAddress, bytes.count > 0 {
    return body(base.assumingMemoryBound(to: UInt8.self), bytes.count)
  }
  var zero: UInt8 = 0
  return withUnsafePointer(to: &zero) { body($0, 0) }
}

/// Checks what protobuf-c does not, walking the wire format along `descriptor`:
/// - sub-messages nest at most ``protobufCMaxDepth`` deep (protobuf-c's unpack recurses
///   without a limit, so deeply nested input could exhaust the stack);
/// - `string` fields are valid UTF-8 (as the C++, Go and Python runtimes require for proto3)
///   and contain no U+0000 (protobuf-c hands strings over as C strings, which would silently
///   cut them there).
/// Other malformations (truncation, bad wire types, groups, which protobuf-c does not
/// support) are refused here too; protobuf-c would refuse them anyway.
package func wireFormatIsAcceptable(
  _ base: UnsafePointer<UInt8>, _ count: Int,
  descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int
) -> Bool {
  if depth > protobufCMaxDepth { return false }
  var i = 0
  func varint() -> UInt64? {
    var result: UInt64 = 0
    var shift: UInt64 = 0
    while i < count, shift < 64 {
      let byte = base[i]
      i += 1
      result |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return result }
      shift += 7
    }
    return nil
  }
  while i < count {
    guard let key = varint() else { return false }
    switch key & 7 {
    case 0: guard varint() != nil else { return false }
    case 1: i += 8
    case 5: i += 4
    case 2:
      guard let length = varint(), length <= UInt64(count - i) else { return false }
      let end = i + Int(length)
      if key >> 3 <= UInt64(UInt32.max),
        let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(key >> 3))
      {
        switch field.pointee.type {
        case PROTOBUF_C_TYPE_MESSAGE:
          if let sub = field.pointee.descriptor,
            !wireFormatIsAcceptable(
              base + i, end - i,
              descriptor: sub.assumingMemoryBound(to: ProtobufCMessageDescriptor.self),
              depth: depth + 1)
          {
            return false
          }
        case PROTOBUF_C_TYPE_STRING:
          if !isValidUTF8WithoutNUL(base + i, end - i) { return false }
        default: break
        }
      }
      i = end
    default: return false
    }
  }
  return i == count
}

/// UTF-8 as RFC 3629 defines it (no overlongs, no surrogates, nothing above U+10FFFF), and no
/// zero byte.
func isValidUTF8WithoutNUL(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Bool {
  var i = 0
  while i < count {
    let byte = bytes[i]
    if byte < 0x80 {
      if byte == 0 { return false }
      i += 1
      continue
    }
    let length: Int
    var lower: UInt8 = 0x80
    var upper: UInt8 = 0xBF
    switch byte {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; lower = 0xA0
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; upper = 0x9F
    case 0xF0: length = 4; lower = 0x90
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; upper = 0x8F
    default: return false
    }
    guard i + length <= count else { return false }
    let second = bytes[i + 1]
    guard second >= lower, second <= upper else { return false }
    for k in 2..<length {
      guard bytes[i + k] & 0xC0 == 0x80 else { return false }
    }
    i += length
  }
  return true
}

/// Memory for building one C message tree before packing it: bump allocation in blocks,
/// all freed together when the arena goes away.
///
/// Used by one thread for the duration of one encode; never shared. The hot paths are
/// `@inlinable` so that generated code gets them specialised (unspecialised generic calls
/// across modules cost several times the C packing itself).
@_spi(ProtobufC) public final class ProtobufCArena {
  /// The newest block; each block's first word points to the block before it.
  // Never accessed concurrently (one thread, no overlapping accesses): no dynamic
  // exclusivity checks, which otherwise cost as much as the allocation.
  @exclusivity(unchecked) @usableFromInline var lastBlock: UnsafeMutableRawPointer?
  @exclusivity(unchecked) @usableFromInline var next: UnsafeMutableRawPointer?
  @exclusivity(unchecked) @usableFromInline var remaining = 0

  @usableFromInline static let blockSize = 2048
  @usableFromInline static let headerSize = 16

  @inlinable
  public init() {}

  deinit {
    var block = lastBlock
    while let current = block {
      block = current.load(as: UnsafeMutableRawPointer?.self)
      current.deallocate()
    }
  }

  /// `byteCount` bytes aligned to `alignment` (a power of two, at most 16), uninitialised.
  @inlinable
  public func allocateBytes(_ byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
    if let next {
      let padding = (alignment &- Int(bitPattern: next)) & (alignment &- 1)
      if padding &+ byteCount <= remaining {
        let result = next + padding
        self.next = result + byteCount
        remaining &-= padding &+ byteCount
        return result
      }
    }
    return allocateInNewBlock(byteCount)
  }

  @usableFromInline
  func allocateInNewBlock(_ byteCount: Int) -> UnsafeMutableRawPointer {
    let size = max(Self.blockSize, byteCount + Self.headerSize)
    let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
    block.storeBytes(of: lastBlock, as: UnsafeMutableRawPointer?.self)
    lastBlock = block
    let result = block + Self.headerSize
    next = result + byteCount
    remaining = size - Self.headerSize - byteCount
    return result
  }

  /// Zeroed memory for one `T`.
  @inlinable
  public func allocate<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
    let raw = allocateBytes(MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<T>.stride)
    return raw.assumingMemoryBound(to: T.self)
  }

  /// Room for `count` values of `T`, uninitialised (the caller initialises every element).
  @inlinable
  public func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
    let raw = allocateBytes(
      MemoryLayout<T>.stride &* count, alignment: MemoryLayout<T>.alignment)
    return raw.bindMemory(to: T.self, capacity: count)
  }

  /// A NUL-terminated copy of `string` (protobuf-c strings are `char *`).
  @inlinable
  public func string(_ string: String) -> UnsafeMutablePointer<CChar> {
    var string = string
    return string.withUTF8 { utf8 in
      let out = allocate(CChar.self, count: utf8.count &+ 1)
      if let base = utf8.baseAddress {
        UnsafeMutableRawPointer(out).copyMemory(from: base, byteCount: utf8.count)
      }
      out[utf8.count] = 0
      return out
    }
  }

  /// A copy of `bytes` as protobuf-c `bytes`.
  @inlinable
  public func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
    let out = allocate(UInt8.self, count: bytes.count)
    bytes.withUnsafeBufferPointer { source in
      if let base = source.baseAddress { out.initialize(from: base, count: source.count) }
    }
    return ProtobufCBinaryData(len: bytes.count, data: out)
  }

  /// A copy of `values`, for repeated numeric fields whose Swift and C types are the same.
  @inlinable
  public func array<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
    let out = allocate(T.self, count: values.count)
    values.withUnsafeBufferPointer { source in
      if let base = source.baseAddress { out.initialize(from: base, count: source.count) }
    }
    return out
  }

  /// `values` converted element by element, for repeated fields that need a conversion.
  @inlinable
  public func array<T, C>(_ values: [T], _ convert: (T) -> C) -> UnsafeMutablePointer<C> {
    let out = allocate(C.self, count: values.count)
    var index = 0
    for value in values {
      (out + index).initialize(to: convert(value))
      index &+= 1
    }
    return out
  }

  /// Entries of a map field in ascending key order (so that equal maps encode to equal
  /// bytes, like protobuf's deterministic serialisation), each initialised and filled by
  /// `fill`.
  @inlinable
  public func mapEntries<Key, Value, Entry>(
    _ map: [Key: Value], keyOrder: (Key, Key) -> Bool,
    initialize: (UnsafeMutablePointer<Entry>) -> Void,
    fill: (UnsafeMutablePointer<Entry>, Key, Value) -> Void
  ) -> UnsafeMutablePointer<UnsafeMutablePointer<Entry>?> {
    let out = allocate(UnsafeMutablePointer<Entry>?.self, count: map.count)
    var index = 0
    for (key, value) in map.sorted(by: { keyOrder($0.key, $1.key) }) {
      let entry = allocate(Entry.self)
      initialize(entry)
      fill(entry, key, value)
      (out + index).initialize(to: entry)
      index &+= 1
    }
    return out
  }
}

/// Reading values out of unpacked protobuf-c structs.
@_spi(ProtobufC) public enum ProtobufCRead {
  /// A `char *` field: `nil` (absent) reads as "".
  @inlinable
  public static func string(_ pointer: UnsafePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
  }

  /// A proto2 optional `char *` field: `nil` when absent.
  @inlinable
  public static func optionalString(_ pointer: UnsafePointer<CChar>?) -> String? {
    pointer.map { String(cString: $0) }
  }

  @inlinable
  public static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let base = data.data else { return [] }
    return Array(UnsafeBufferPointer(start: base, count: data.len))
  }

  /// A repeated numeric field whose Swift and C types are the same.
  @inlinable
  public static func array<T>(_ pointer: UnsafePointer<T>?, _ count: Int) -> [T] {
    guard count > 0, let pointer else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
  }

  /// A repeated field converted element by element.
  @inlinable
  public static func array<C, T>(
    _ pointer: UnsafePointer<C>?, _ count: Int, _ convert: (C) -> T
  ) -> [T] {
    guard count > 0, let pointer else { return [] }
    return UnsafeBufferPointer(start: pointer, count: count).map(convert)
  }

  /// A map field: the entries' keys and values (a later duplicate key wins, as on the wire).
  @inlinable
  public static func map<Entry, Key: Hashable, Value>(
    _ entries: UnsafePointer<UnsafeMutablePointer<Entry>?>?, _ count: Int,
    _ convert: (UnsafePointer<Entry>) -> (Key, Value)
  ) -> [Key: Value] {
    guard count > 0, let entries else { return [:] }
    var result: [Key: Value] = [:]
    result.reserveCapacity(count)
    for index in 0..<count {
      guard let entry = entries[index] else { continue }
      let (key, value) = convert(entry)
      result[key] = value
    }
    return result
  }
}

/// An immutable heap box that lets a message hold a field of its own type (directly or
/// through other messages): value types cannot contain themselves inline.
package final class ProtoBox<Value: Sendable>: Sendable {
  package let value: Value
  package init(_ value: Value) { self.value = value }
}

extension ProtoBox: Equatable where Value: Equatable {
  package static func == (lhs: ProtoBox, rhs: ProtoBox) -> Bool {
    lhs === rhs || lhs.value == rhs.value
  }
}

/// Decodes the base64 text that generated code embeds serialized descriptors in (a string
/// literal compiles much faster than a large array literal). Characters outside the
/// alphabet, such as line breaks, are skipped.
package func protoDescriptorBytes(base64: String) -> [UInt8] {
  var out: [UInt8] = []
  out.reserveCapacity(base64.utf8.count * 3 / 4)
  var accumulator: UInt32 = 0
  var bits = 0
  for char in base64.utf8 {
    let value: UInt8
    switch char {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = char - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): value = char - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): value = char - UInt8(ascii: "0") + 52
    case UInt8(ascii: "+"): value = 62
    case UInt8(ascii: "/"): value = 63
    default: continue
    }
    accumulator = accumulator << 6 | UInt32(value)
    bits += 6
    if bits >= 8 {
      bits -= 8
      out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
    }
  }
  return out
}
