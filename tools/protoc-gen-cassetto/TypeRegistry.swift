// Every message and enum of the request, with its Swift and C names, and the recursion
// facts that decide boxing and input depth checks.

struct TypeInfo {
  /// `Grpc_Testing_SimpleRequest`, `Pkg_Outer.Inner`.
  var swiftName: String
  /// `Grpc__Testing__SimpleRequest`.
  var cType: String
  /// `grpc__testing__simple_request`.
  var cPrefix: String
  var message: MessageDescriptor?
  var enumDescriptor: EnumDescriptor?
}

final class TypeRegistry {
  /// Keyed by the fully qualified name with a leading dot, as field type names are.
  private(set) var types: [String: TypeInfo] = [:]
  /// Messages that lie on a cycle of singular (inline) message fields.
  private var inlineReach: [String: Set<String>] = [:]
  private var anyReach: [String: Set<String>] = [:]

  init(files: [FileDescriptor]) {
    for file in files {
      let prefix = Naming.swiftPrefix(package: file.package)
      for message in file.messages { register(message, swiftName: prefix + message.name) }
      for value in file.enums { register(value, swiftName: prefix + value.name) }
    }
  }

  private func register(_ message: MessageDescriptor, swiftName: String) {
    types["." + message.fullName] = TypeInfo(
      swiftName: swiftName, cType: Naming.cTypeName(message.fullName),
      cPrefix: Naming.cFunctionPrefix(message.fullName), message: message, enumDescriptor: nil)
    for nested in message.nested {
      register(nested, swiftName: swiftName + "." + nestedName(nested.name, suffix: "Message"))
    }
    for value in message.enums {
      register(value, swiftName: swiftName + "." + nestedName(value.name, suffix: "Enum"))
    }
  }

  private func register(_ value: EnumDescriptor, swiftName: String) {
    types["." + value.fullName] = TypeInfo(
      swiftName: swiftName, cType: Naming.cTypeName(value.fullName),
      cPrefix: Naming.cFunctionPrefix(value.fullName), message: nil, enumDescriptor: value)
  }

  /// A nested type's Swift name: `Type` would mean the metatype, so it becomes `TypeEnum` /
  /// `TypeMessage`, as in swift-protobuf.
  func nestedName(_ name: String, suffix: String) -> String {
    Naming.reservedTypeNames.contains(name) ? name + suffix : name
  }

  subscript(typeName: String) -> TypeInfo? { types[typeName] }

  /// The map entry message of a `map<K, V>` field, if the field is one.
  func mapEntry(_ field: FieldDescriptor) -> MessageDescriptor? {
    guard field.label == .repeated, field.type == .message,
      let entry = types[field.typeName]?.message, entry.isMapEntry, entry.fields.count == 2
    else { return nil }
    return entry
  }

  // MARK: Recursion

  private func edges(_ message: MessageDescriptor, inlineOnly: Bool) -> [String] {
    message.fields.compactMap { field in
      guard field.type == .message || field.type == .group else { return nil }
      if inlineOnly && field.label == .repeated { return nil }
      return String(field.typeName.dropFirst())
    }
  }

  private func reach(from start: String, inlineOnly: Bool) -> Set<String> {
    var seen: Set<String> = []
    var stack = [start]
    while let name = stack.popLast() {
      guard let message = types["." + name]?.message else { continue }
      for next in edges(message, inlineOnly: inlineOnly) where seen.insert(next).inserted {
        stack.append(next)
      }
    }
    return seen
  }

  /// Messages reachable from `name` through singular message fields (held inline).
  func inlineReachable(from name: String) -> Set<String> {
    if let cached = inlineReach[name] { return cached }
    let result = reach(from: name, inlineOnly: true)
    inlineReach[name] = result
    return result
  }

  /// Messages reachable through any message field, repeated and map values included.
  func reachable(from name: String) -> Set<String> {
    if let cached = anyReach[name] { return cached }
    let result = reach(from: name, inlineOnly: false)
    anyReach[name] = result
    return result
  }

  /// A singular field of `owner` of message type `target` must be boxed when `target`
  /// holds `owner` inline again (a value type cannot contain itself).
  func needsBox(owner: String, target: String) -> Bool {
    target == owner || inlineReachable(from: target).contains(owner)
  }

  /// Whether input for `message` can nest without bound: some message reachable from it
  /// reaches itself.
  func mayNestDeeply(_ message: String) -> Bool {
    let all = reachable(from: message)
    return all.contains(message) || all.contains { reachable(from: $0).contains($0) }
  }
}
