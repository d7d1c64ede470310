// Messages and enums: the Swift value types and their conversion to and from protobuf-c.

struct MessageGenerator {
  let registry: TypeRegistry

  // MARK: Types of fields

  private func scalarSwiftType(_ field: FieldDescriptor) -> String {
    switch field.type {
    case .double: return "Double"
    case .float: return "Float"
    case .int64, .sint64, .sfixed64: return "Int64"
    case .uint64, .fixed64: return "UInt64"
    case .int32, .sint32, .sfixed32: return "Int32"
    case .uint32, .fixed32: return "UInt32"
    case .bool: return "Bool"
    case .string: return "String"
    case .bytes: return "[UInt8]"
    case .enum, .message, .group: return registry[field.typeName]?.swiftName ?? "Never"
    }
  }

  private func defaultValue(_ field: FieldDescriptor) -> String {
    switch field.type {
    case .double, .float, .int64, .sint64, .sfixed64, .uint64, .fixed64, .int32, .sint32,
      .sfixed32, .uint32, .fixed32:
      return "0"
    case .bool: return "false"
    case .string: return "\"\""
    case .bytes: return "[]"
    case .enum, .message, .group: return ".init()"
    }
  }

  /// Whether the field is a Swift optional: message fields, and proto2 optional fields.
  private func isOptional(_ field: FieldDescriptor, in message: MessageDescriptor) -> Bool {
    guard field.label != .repeated, field.oneofIndex == nil else { return false }
    if field.type == .message || field.type == .group { return true }
    return !message.isProto3 && field.label == .optional
  }

  private func swiftType(_ field: FieldDescriptor, in message: MessageDescriptor) -> String {
    if let entry = registry.mapEntry(field) {
      return "[\(scalarSwiftType(entry.fields[0])): \(scalarSwiftType(entry.fields[1]))]"
    }
    if field.label == .repeated { return "[\(scalarSwiftType(field))]" }
    if isOptional(field, in: message) { return scalarSwiftType(field) + "?" }
    return scalarSwiftType(field)
  }

  /// Real oneofs (proto3 `optional` makes synthetic ones, which protoc-c refuses anyway).
  private func oneofFields(
    _ message: MessageDescriptor
  ) -> [(name: String, fields: [FieldDescriptor], comment: String?)] {
    message.oneofs.enumerated().compactMap { index, name in
      let fields = message.fields.filter { $0.oneofIndex == index && !$0.isProto3Optional }
      let comment = index < message.oneofComments.count ? message.oneofComments[index] : nil
      return fields.isEmpty ? nil : (name, fields, comment)
    }
  }

  private func oneofTypeName(_ name: String) -> String { "OneOf_" + Naming.upperCamel(name) }

  private func isBoxed(_ field: FieldDescriptor, in message: MessageDescriptor) -> Bool {
    guard field.label != .repeated, field.type == .message || field.type == .group else {
      return false
    }
    return registry.needsBox(owner: message.fullName, target: String(field.typeName.dropFirst()))
  }

  // MARK: Declarations

  func declare(_ message: MessageDescriptor, swiftName: String, into p: inout Printer) {
    let typeName = swiftName.split(separator: ".").last.map(String.init) ?? swiftName
    p.docComment(message.comment)
    p.line("public struct \(typeName): ProtoMessage, Equatable {")
    p.indent()
    for field in message.fields where field.oneofIndex == nil || field.isProto3Optional {
      let property = Naming.property(field.name)
      let type = swiftType(field, in: message)
      p.docComment(field.comment)
      if isBoxed(field, in: message) {
        let storage = "_" + Naming.lowerCamel(field.name)
        p.line("public var \(property): \(type) {")
        p.line("  get { \(storage).value }")
        p.line("  set { \(storage) = ProtoBox(newValue) }")
        p.line("}")
        p.line("private var \(storage) = ProtoBox<\(type)>(nil)")
        continue
      }
      let initial: String
      if registry.mapEntry(field) != nil {
        initial = "[:]"
      } else if field.label == .repeated {
        initial = "[]"
      } else if isOptional(field, in: message) {
        initial = "nil"
      } else {
        initial = defaultValue(field)
      }
      p.line("public var \(property): \(type) = \(initial)")
    }
    for oneof in oneofFields(message) {
      p.docComment(oneof.comment)
      p.line("public var \(Naming.property(oneof.name)): \(oneofTypeName(oneof.name))? = nil")
    }
    for oneof in oneofFields(message) {
      let oneofProperty = Naming.property(oneof.name)
      for field in oneof.fields {
        let caseName = Naming.escaped(Naming.lowerCamel(field.name))
        p.line()
        p.docComment(field.comment)
        if field.comment != nil { p.line("///") }
        p.line(
          "/// The value of `\(oneofProperty)` if it is `.\(Naming.lowerCamel(field.name))`, "
            + "else the default; setting it sets `\(oneofProperty)`.")
        p.block("public var \(Naming.property(field.name)): \(scalarSwiftType(field))") { p in
          p.block("get") { p in
            p.line("if case .\(caseName)(let value)? = \(oneofProperty) { return value }")
            p.line("return \(defaultValue(field))")
          }
          p.line("set { \(oneofProperty) = .\(caseName)(newValue) }")
        }
      }
    }
    p.line()
    p.line("public init() {}")
    for oneof in oneofFields(message) {
      p.line()
      let indirect =
        oneof.fields.contains { field in
          field.type == .message
            && registry.needsBox(owner: message.fullName, target: String(field.typeName.dropFirst()))
        } ? "indirect " : ""
      p.block("public \(indirect)enum \(oneofTypeName(oneof.name)): Sendable, Equatable") { p in
        for field in oneof.fields {
          p.line("case \(Naming.escaped(Naming.lowerCamel(field.name)))(\(scalarSwiftType(field)))")
        }
      }
    }
    for nested in message.nested where !nested.isMapEntry {
      p.line()
      declare(nested, swiftName: swiftName + "." + registry.nestedName(nested.name, suffix: "Message"), into: &p)
    }
    for value in message.enums {
      p.line()
      declare(value, swiftName: registry.nestedName(value.name, suffix: "Enum"), into: &p)
    }
    p.outdent()
    p.line("}")
  }

  func declare(_ value: EnumDescriptor, swiftName: String, into p: inout Printer) {
    var seen: Set<Int32> = []
    var cases: [(name: String, number: Int32, isAlias: Bool, comment: String?)] = []
    for entry in value.values {
      let isAlias = !seen.insert(entry.number).inserted
      cases.append(
        (Naming.enumCase(entry.name, enumName: value.name), entry.number, isAlias, entry.comment))
    }
    let typeName = swiftName.split(separator: ".").last.map(String.init) ?? swiftName
    p.docComment(value.comment)
    p.block("public enum \(typeName): RawRepresentable, CaseIterable, Sendable, Hashable") { p in
      p.line("public typealias RawValue = Int32")
      for entry in cases {
        p.docComment(entry.comment)
        p.line("case \(Naming.escaped(entry.name))  // = \(entry.number)")
      }
      p.line("/// A value this version of the contract does not know.")
      p.line("case unrecognized(Int32)")
      p.line()
      p.line("public init() { self = .\(Naming.escaped(cases.first?.name ?? "unrecognized(0)")) }")
      p.line()
      p.block("public init(rawValue: Int32)") { p in
        p.switchBlock("switch rawValue") { p in
          for entry in cases where !entry.isAlias {
            p.line("case \(entry.number): self = .\(Naming.escaped(entry.name))")
          }
          p.line("default: self = .unrecognized(rawValue)")
        }
      }
      p.line()
      p.block("public var rawValue: Int32") { p in
        p.switchBlock("switch self") { p in
          for entry in cases {
            p.line("case .\(Naming.escaped(entry.name)): return \(entry.number)")
          }
          p.line("case .unrecognized(let value): return value")
        }
      }
      p.line()
      let all = cases.map { "." + Naming.escaped($0.name) }.joined(separator: ", ")
      p.line("public static let allCases: [Self] = [\(all)]")
    }
  }

  // MARK: Conversion

  /// `extension Type: ProtobufCBacked { ... }` for `message` and its nested messages.
  func conversions(_ message: MessageDescriptor, into p: inout Printer) {
    guard let info = registry["." + message.fullName] else { return }
    if !message.isMapEntry {
      p.line()
      p.block("extension \(info.swiftName): ProtobufCBacked") { p in
        p.line("package typealias CStruct = \(info.cType)")
        p.line()
        p.line("nonisolated(unsafe) package static let protobufCDescriptor:")
        p.line("  UnsafePointer<ProtobufCMessageDescriptor> = {")
        p.line("    var c = CStruct()")
        p.line("    \(info.cPrefix)__init(&c)")
        p.line("    return c.base.descriptor")
        p.line("  }()")
        p.line()
        p.block("package static func protobufCInitialize(_ c: UnsafeMutablePointer<CStruct>)") {
          p in
          p.line("\(info.cPrefix)__init(c)")
        }
        p.line()
        p.block("package init(protobufC c: UnsafePointer<CStruct>)") { p in
          p.line("self.init()")
          read(message, into: &p)
        }
        p.line()
        p.block(
          "package func protobufCFill(_ c: UnsafeMutablePointer<CStruct>, arena: ProtobufCArena)"
        ) { p in
          fill(message, into: &p)
        }
        p.line()
        p.block("public init(serializedBytes bytes: UnsafeRawBufferPointer) throws") { p in
          p.line("try self.init(protobufCBytes: bytes)")
        }
        p.line()
        p.block("public func serialize(into buffer: inout [UInt8])") { p in
          p.line("protobufCSerialize(into: &buffer)")
        }
      }
    }
    for nested in message.nested where !nested.isMapEntry { conversions(nested, into: &p) }
  }

  private func hasFlag(_ field: FieldDescriptor, in message: MessageDescriptor) -> Bool {
    // protobuf-c keeps `has_` flags for proto2 optional fields that are not pointers.
    !message.isProto3 && field.label == .optional && field.oneofIndex == nil
      && ![.string, .message, .group].contains(field.type)
  }

  /// Expression converting a C value `c` of `field`'s type to Swift.
  private func fromC(_ field: FieldDescriptor, _ c: String) -> String {
    switch field.type {
    case .bool: return "\(c) != 0"
    case .enum: return "\(scalarSwiftType(field))(rawValue: Int32(truncatingIfNeeded: \(c).rawValue))"
    case .string: return "ProtobufCRead.string(\(c))"
    case .bytes: return "ProtobufCRead.bytes(\(c))"
    case .message, .group:
      let type = scalarSwiftType(field)
      return "\(c).map { \(type)(protobufC: $0) } ?? \(type)()"
    default: return c
    }
  }

  /// Expression converting a Swift value `v` of `field`'s type to C (arena allocations).
  private func toC(_ field: FieldDescriptor, _ v: String) -> String {
    switch field.type {
    case .bool: return "\(v) ? 1 : 0"
    case .enum: return ".init(rawValue: .init(truncatingIfNeeded: \(v).rawValue))"
    case .string: return "arena.string(\(v))"
    case .bytes: return "arena.binary(\(v))"
    case .message, .group: return "\(v).protobufCMake(arena: arena)"
    default: return v
    }
  }

  private func read(_ message: MessageDescriptor, into p: inout Printer) {
    for field in message.fields where field.oneofIndex == nil || field.isProto3Optional {
      let property = "self." + Naming.property(field.name)
      let member = "c.pointee." + Naming.escaped(Naming.cFieldName(field.name))
      let count = "c.pointee.n_" + Naming.cFieldName(field.name)
      if let entry = registry.mapEntry(field) {
        let key = fromC(entry.fields[0], "entry.pointee.key")
        let value = fromC(entry.fields[1], "entry.pointee.value")
        p.line("\(property) = ProtobufCRead.map(\(member), \(count)) { entry in")
        p.line("  (\(key), \(value))")
        p.line("}")
      } else if field.label == .repeated {
        switch field.type {
        case .bool, .enum, .string, .bytes, .message, .group:
          p.line("\(property) = ProtobufCRead.array(\(member), \(count)) { \(fromC(field, "$0")) }")
        default:
          p.line("\(property) = ProtobufCRead.array(\(member), \(count))")
        }
      } else if field.type == .message || field.type == .group {
        p.line("\(property) = \(member).map { \(scalarSwiftType(field))(protobufC: $0) }")
      } else if hasFlag(field, in: message) {
        let has = "c.pointee.has_" + Naming.cFieldName(field.name)
        p.line("\(property) = \(has) != 0 ? \(fromC(field, member)) : nil")
      } else if field.type == .string, !message.isProto3, field.label == .optional {
        p.line("\(property) = ProtobufCRead.optionalString(\(member))")
      } else {
        p.line("\(property) = \(fromC(field, member))")
      }
    }
    for (index, oneof) in message.oneofs.enumerated() {
      let fields = message.fields.filter { $0.oneofIndex == index && !$0.isProto3Optional }
      guard !fields.isEmpty else { continue }
      let property = "self." + Naming.property(oneof)
      p.switchBlock("switch c.pointee.\(oneof.lowercased())_case.rawValue") { p in
        for field in fields {
          let member = "c.pointee." + Naming.escaped(Naming.cFieldName(field.name))
          let value =
            field.type == .message
            ? "\(member).map { \(scalarSwiftType(field))(protobufC: $0) } ?? \(scalarSwiftType(field))()"
            : fromC(field, member)
          p.line("case \(field.number): \(property) = .\(Naming.escaped(Naming.lowerCamel(field.name)))(\(value))")
        }
        p.line("default: \(property) = nil")
      }
    }
  }

  private func fill(_ message: MessageDescriptor, into p: inout Printer) {
    var wroteAnything = false
    for field in message.fields where field.oneofIndex == nil || field.isProto3Optional {
      wroteAnything = true
      let property = "self." + Naming.property(field.name)
      let cName = Naming.cFieldName(field.name)
      let member = "c.pointee." + Naming.escaped(cName)
      if let entry = registry.mapEntry(field) {
        guard let entryInfo = registry[field.typeName] else { continue }
        p.block("if !\(property).isEmpty") { p in
          p.line("c.pointee.n_\(cName) = \(property).count")
          p.line("\(member) = arena.mapEntries(")
          let keyOrder = entry.fields[0].type == .bool ? "{ !$0 && $1 }" : "{ $0 < $1 }"
          p.line("  \(property), keyOrder: \(keyOrder), initialize: { \(entryInfo.cPrefix)__init($0) }")
          p.line(") { (entry: UnsafeMutablePointer<\(entryInfo.cType)>, key, value) in")
          p.indent()
          for (entryField, name) in [(entry.fields[0], "key"), (entry.fields[1], "value")] {
            if hasFlag(entryField, in: entry) { p.line("entry.pointee.has_\(name) = 1") }
            p.line("entry.pointee.\(name) = \(toC(entryField, name))")
          }
          p.outdent()
          p.line("}")
        }
      } else if field.label == .repeated {
        p.block("if !\(property).isEmpty") { p in
          p.line("c.pointee.n_\(cName) = \(property).count")
          switch field.type {
          case .bool, .enum, .string, .bytes, .message, .group:
            p.line("\(member) = arena.array(\(property)) { \(toC(field, "$0")) }")
          default:
            p.line("\(member) = arena.array(\(property))")
          }
        }
      } else if isOptional(field, in: message) {
        p.block("if let value = \(property)") { p in
          if hasFlag(field, in: message) { p.line("c.pointee.has_\(cName) = 1") }
          p.line("\(member) = \(toC(field, "value"))")
        }
        if field.type == .string { p.line("else { \(member) = nil }") }
      } else {
        switch field.type {
        case .string, .bytes:
          if message.isProto3 {
            p.line("if !\(property).isEmpty { \(member) = \(toC(field, property)) }")
          } else {
            p.line("\(member) = \(toC(field, property))")
          }
        default:
          p.line("\(member) = \(toC(field, property))")
        }
      }
    }
    for (index, oneof) in message.oneofs.enumerated() {
      let fields = message.fields.filter { $0.oneofIndex == index && !$0.isProto3Optional }
      guard !fields.isEmpty else { continue }
      wroteAnything = true
      p.switchBlock("switch self.\(Naming.property(oneof))") { p in
        for field in fields {
          p.line("case .\(Naming.escaped(Naming.lowerCamel(field.name)))(let value)?:")
          p.line("  c.pointee.\(oneof.lowercased())_case = .init(rawValue: \(field.number))")
          p.line("  c.pointee.\(Naming.escaped(Naming.cFieldName(field.name))) = \(toC(field, "value"))")
        }
        p.line("case nil: break")
      }
    }
    if !wroteAnything { p.line("_ = (c, arena)") }
  }
}
