import CProtobufC
import ContractsC

// The plugin's own view of the descriptors protoc sends: plain Swift values read once out of
// the protobuf-c structs, so the generators never touch a pointer.

enum FieldType: UInt32 {
  case double = 1, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message,
    bytes, uint32, `enum`, sfixed32, sfixed64, sint32, sint64
}

enum FieldLabel: UInt32 {
  case optional = 1, required, repeated
}

struct FieldDescriptor {
  var name: String
  var number: Int32
  var label: FieldLabel
  var type: FieldType
  /// Fully qualified with a leading dot, for message and enum fields.
  var typeName: String
  var oneofIndex: Int?
  var isProto3Optional: Bool
  var comment: String?
}

final class MessageDescriptor {
  let fullName: String
  let name: String
  let isProto3: Bool
  let fields: [FieldDescriptor]
  let oneofs: [String]
  let nested: [MessageDescriptor]
  let enums: [EnumDescriptor]
  let isMapEntry: Bool
  let comment: String?
  let oneofComments: [String?]

  init(
    fullName: String, name: String, isProto3: Bool, fields: [FieldDescriptor], oneofs: [String],
    nested: [MessageDescriptor], enums: [EnumDescriptor], isMapEntry: Bool, comment: String?,
    oneofComments: [String?]
  ) {
    self.comment = comment
    self.oneofComments = oneofComments
    self.fullName = fullName
    self.name = name
    self.isProto3 = isProto3
    self.fields = fields
    self.oneofs = oneofs
    self.nested = nested
    self.enums = enums
    self.isMapEntry = isMapEntry
  }
}

struct EnumDescriptor {
  var fullName: String
  var name: String
  var values: [(name: String, number: Int32, comment: String?)]
  var comment: String?
}

struct MethodDescriptor {
  var name: String
  var inputType: String
  var outputType: String
  var clientStreaming: Bool
  var serverStreaming: Bool
  var comment: String?
}

struct ServiceDescriptor {
  var name: String
  var fullName: String
  var methods: [MethodDescriptor]
  var comment: String?
}

struct FileDescriptor {
  var name: String
  var package: String
  var isProto3: Bool
  var dependencies: [String]
  var messages: [MessageDescriptor]
  var enums: [EnumDescriptor]
  var services: [ServiceDescriptor]
  /// The serialized `FileDescriptorProto` without `source_code_info`.
  var serialized: [UInt8]
}

// MARK: - Reading the protobuf-c structs

private func string(_ pointer: UnsafePointer<CChar>?) -> String {
  pointer.map { String(cString: $0) } ?? ""
}

private func buffer<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> UnsafeBufferPointer<T> {
  UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
}

/// Comments of a file by `SourceCodeInfo` path (leading comments, else trailing ones).
struct Comments {
  private var byPath: [[Int32]: String] = [:]

  init(_ info: UnsafeMutablePointer<Google__Protobuf__SourceCodeInfo>?) {
    guard let info else { return }
    for location in buffer(info.pointee.location, info.pointee.n_location) {
      guard let location else { continue }
      let text = [location.pointee.leading_comments, location.pointee.trailing_comments]
        .lazy.compactMap { $0.map { String(cString: $0) } }
        .first { !$0.allSatisfy(\.isWhitespace) }
      guard let text else { continue }
      let path = Array(buffer(location.pointee.path, location.pointee.n_path))
      byPath[path] = text
    }
  }

  subscript(path: [Int32]) -> String? { byPath[path] }
}

extension FileDescriptor {
  init(_ c: UnsafePointer<Google__Protobuf__FileDescriptorProto>) {
    let file = c.pointee
    let comments = Comments(file.source_code_info)
    name = string(file.name)
    package = string(file.package)
    isProto3 = string(file.syntax) == "proto3"
    dependencies = buffer(file.dependency, file.n_dependency).map { string($0) }
    let prefix = package.isEmpty ? "" : "." + package
    let proto3 = isProto3
    messages = buffer(file.message_type, file.n_message_type).enumerated().compactMap {
      index, message in
      message.map {
        MessageDescriptor(
          $0, parent: prefix, isProto3: proto3, path: [4, Int32(index)], comments: comments)
      }
    }
    enums = buffer(file.enum_type, file.n_enum_type).enumerated().compactMap { index, value in
      value.map { EnumDescriptor($0, parent: prefix, path: [5, Int32(index)], comments: comments) }
    }
    services = buffer(file.service, file.n_service).enumerated().compactMap { index, service in
      service.map {
        ServiceDescriptor($0, parent: prefix, path: [6, Int32(index)], comments: comments)
      }
    }
    var stripped = file
    stripped.source_code_info = nil
    serialized = withUnsafePointer(to: &stripped) { pointer in
      let message = UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
      var out = [UInt8](repeating: 0, count: protobuf_c_message_get_packed_size(message))
      out.withUnsafeMutableBufferPointer { _ = protobuf_c_message_pack(message, $0.baseAddress!) }
      return out
    }
  }
}

extension MessageDescriptor {
  /// `parent` is the dotted full name of the enclosing scope, with a leading dot.
  convenience init(
    _ c: UnsafePointer<Google__Protobuf__DescriptorProto>, parent: String, isProto3: Bool,
    path: [Int32], comments: Comments
  ) {
    let message = c.pointee
    let name = string(message.name)
    let fullName = parent + "." + name
    let fields = buffer(message.field, message.n_field).enumerated().compactMap { index, field in
      field.map { pointer -> FieldDescriptor in
        let field = pointer.pointee
        return FieldDescriptor(
          name: string(field.name), number: field.number,
          label: FieldLabel(rawValue: numericCast(field.label.rawValue)) ?? .optional,
          type: FieldType(rawValue: numericCast(field.type.rawValue)) ?? .int32,
          typeName: string(field.type_name),
          oneofIndex: field.has_oneof_index != 0 ? Int(field.oneof_index) : nil,
          isProto3Optional: field.has_proto3_optional != 0 && field.proto3_optional != 0,
          comment: comments[path + [2, Int32(index)]])
      }
    }
    self.init(
      fullName: String(fullName.dropFirst()), name: name, isProto3: isProto3, fields: fields,
      oneofs: buffer(message.oneof_decl, message.n_oneof_decl).map { string($0?.pointee.name) },
      nested: buffer(message.nested_type, message.n_nested_type).enumerated().compactMap {
        index, nested in
        nested.map {
          MessageDescriptor(
            $0, parent: fullName, isProto3: isProto3, path: path + [3, Int32(index)],
            comments: comments)
        }
      },
      enums: buffer(message.enum_type, message.n_enum_type).enumerated().compactMap {
        index, value in
        value.map {
          EnumDescriptor($0, parent: fullName, path: path + [4, Int32(index)], comments: comments)
        }
      },
      isMapEntry: message.options.map { $0.pointee.has_map_entry != 0 && $0.pointee.map_entry != 0 }
        ?? false,
      comment: comments[path],
      oneofComments: (0..<message.n_oneof_decl).map { comments[path + [8, Int32($0)]] })
  }
}

extension EnumDescriptor {
  init(
    _ c: UnsafePointer<Google__Protobuf__EnumDescriptorProto>, parent: String, path: [Int32],
    comments: Comments
  ) {
    let value = c.pointee
    name = string(value.name)
    fullName = String((parent + "." + name).dropFirst())
    values = buffer(value.value, value.n_value).enumerated().compactMap { index, value in
      value.map {
        (
          name: string($0.pointee.name), number: $0.pointee.number,
          comment: comments[path + [2, Int32(index)]]
        )
      }
    }
    comment = comments[path]
  }
}

extension ServiceDescriptor {
  init(
    _ c: UnsafePointer<Google__Protobuf__ServiceDescriptorProto>, parent: String, path: [Int32],
    comments: Comments
  ) {
    let service = c.pointee
    name = string(service.name)
    fullName = String((parent + "." + name).dropFirst())
    comment = comments[path]
    methods = buffer(service.method, service.n_method).enumerated().compactMap { index, method in
      method.map { pointer in
        let method = pointer.pointee
        return MethodDescriptor(
          name: string(method.name), inputType: string(method.input_type),
          outputType: string(method.output_type),
          clientStreaming: method.has_client_streaming != 0 && method.client_streaming != 0,
          serverStreaming: method.has_server_streaming != 0 && method.server_streaming != 0,
          comment: comments[path + [2, Int32(index)]])
      }
    }
  }
}
