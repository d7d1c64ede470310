/// Custom metadata of a call: ordered key/value pairs, keys lowercased.
///
/// Keys ending in `-bin` carry binary values (base64 on the wire, decoded here); all other
/// keys carry ASCII text. A key may repeat.
public struct Metadata: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
  public typealias Key = String
  public typealias Value = String
  public typealias Element = (key: String, value: MetadataValue)

  private var storage: [Entry] = []

  struct Entry: Sendable, Hashable {
    var key: String
    var value: MetadataValue
  }

  public init() {}

  public init(dictionaryLiteral elements: (String, String)...) {
    for (key, value) in elements { addString(value, forKey: key) }
  }

  public var count: Int { storage.count }
  public var isEmpty: Bool { storage.isEmpty }

  public mutating func addString(_ value: String, forKey key: String) {
    storage.append(Entry(key: key.lowercased(), value: .string(value)))
  }

  public mutating func addBinary(_ value: [UInt8], forKey key: String) {
    storage.append(Entry(key: key.lowercased(), value: .binary(value)))
  }

  public mutating func add(_ value: MetadataValue, forKey key: String) {
    storage.append(Entry(key: key.lowercased(), value: value))
  }

  public mutating func append(contentsOf other: Metadata) {
    storage.append(contentsOf: other.storage)
  }

  public mutating func removeAll(forKey key: String) {
    let key = key.lowercased()
    storage.removeAll { $0.key == key }
  }

  /// All values for `key`, in order.
  public subscript(key: String) -> [MetadataValue] {
    let key = key.lowercased()
    return storage.filter { $0.key == key }.map(\.value)
  }

  /// The first text value for `key`.
  public func firstString(forKey key: String) -> String? {
    let key = key.lowercased()
    for entry in storage where entry.key == key {
      if case .string(let s) = entry.value { return s }
    }
    return nil
  }

  /// The first binary value for `key`.
  public func firstBinary(forKey key: String) -> [UInt8]? {
    let key = key.lowercased()
    for entry in storage where entry.key == key {
      if case .binary(let b) = entry.value { return b }
    }
    return nil
  }

  public func makeIterator() -> AnyIterator<Element> {
    var inner = storage.makeIterator()
    return AnyIterator { inner.next().map { ($0.key, $0.value) } }
  }
}

/// One metadata value: text, or bytes for `-bin` keys.
public enum MetadataValue: Sendable, Hashable {
  case string(String)
  case binary([UInt8])
}
