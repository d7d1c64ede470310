// Every message and enum of the request, with its Swift and C names, and the recursion
// facts that decide boxing.

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
  /// Messages reachable through singular (inline) message fields, by message.
  private var inlineReach: [String: Set<String>] = [:]

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

  private func inlineEdges(_ message: MessageDescriptor) -> [String] {
    message.fields.compactMap { field in
      guard field.type == .message || field.type == .group, field.label != .repeated else {
        return nil
      }
      return String(field.typeName.dropFirst())
    }
  }

  private func reach(from start: String) -> Set<String> {
    var seen: Set<String> = []
    var stack = [start]
    while let name = stack.popLast() {
      guard let message = types["." + name]?.message else { continue }
      for next in inlineEdges(message) where seen.insert(next).inserted {
        stack.append(next)
      }
    }
    return seen
  }

  /// Messages reachable from `name` through singular message fields (held inline).
  func inlineReachable(from name: String) -> Set<String> {
    if let cached = inlineReach[name] { return cached }
    let result = reach(from: name)
    inlineReach[name] = result
    return result
  }

  /// A singular field of `owner` of message type `target` must be boxed when `target`
  /// holds `owner` inline again (a value type cannot contain itself).
  func needsBox(owner: String, target: String) -> Bool {
    target == owner || inlineReachable(from: target).contains(owner)
  }
}
