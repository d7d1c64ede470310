// Swift names (swift-protobuf's conventions) and protoc-c's C names for proto elements.

enum Naming {
  /// Swift keywords and names that must be escaped with backticks as identifiers.
  static let swiftKeywords: Set<String> = [
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import",
    "init", "inout", "internal", "let", "open", "operator", "private", "precedencegroup",
    "protocol", "public", "rethrows", "static", "struct", "subscript", "typealias", "var",
    "break", "case", "catch", "continue", "default", "defer", "do", "else", "fallthrough",
    "for", "guard", "if", "in", "repeat", "return", "throw", "switch", "where", "while", "as",
    "false", "is", "nil", "self", "Self", "super", "throws", "true", "try", "Any", "Type",
    "Protocol", "await", "some", "any", "package", "consume", "borrowing", "consuming",
  ]

  /// Names a nested type cannot have (`Outer.Type` means the metatype).
  static let reservedTypeNames: Set<String> = ["Type", "Protocol", "Self", "Any"]

  /// C and C++ keywords protoc-c suffixes with `_` in field names.
  static let cKeywords: Set<String> = [
    "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char",
    "class", "compl", "const", "const_cast", "continue", "default", "delete", "do", "double",
    "dynamic_cast", "else", "enum", "explicit", "extern", "false", "float", "for", "friend",
    "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "not", "not_eq",
    "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "return", "short", "signed", "sizeof", "static", "static_cast", "struct", "switch",
    "template", "this", "throw", "true", "try", "typedef", "typeid", "typename", "union",
    "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
  ]

  /// `response_size` → `responseSize`; `UnaryCall` → `unaryCall`.
  static func lowerCamel(_ name: String) -> String {
    var out = ""
    var upperNext = false
    for char in name {
      if char == "_" {
        upperNext = !out.isEmpty
        continue
      }
      if out.isEmpty {
        out.append(contentsOf: char.lowercased())
      } else if upperNext {
        out.append(contentsOf: char.uppercased())
      } else {
        out.append(char)
      }
      upperNext = false
    }
    if out.isEmpty { out = "_" }
    if let first = out.first, first.isNumber { out = "_" + out }
    return out
  }

  /// `my_pkg` → `MyPkg`, `v1` → `V1`.
  static func upperCamel(_ name: String) -> String {
    let lower = lowerCamel(name)
    guard let first = lower.first, first != "_" else { return lower }
    return first.uppercased() + lower.dropFirst()
  }

  /// An identifier usable as a property, case or method name.
  static func escaped(_ identifier: String) -> String {
    swiftKeywords.contains(identifier) ? "`\(identifier)`" : identifier
  }

  /// Property names that backticks do not make usable (`m.self` is `m`): suffixed `_p`, as
  /// swift-protobuf does.
  static let unusablePropertyNames: Set<String> = ["self", "Type", "Protocol", "init", "deinit"]

  /// The Swift property of a field or oneof: lowerCamelCase, escaped.
  static func property(_ name: String) -> String {
    let camel = lowerCamel(name)
    if unusablePropertyNames.contains(camel) { return camel + "_p" }
    return escaped(camel)
  }

  /// `grpc.testing` → `Grpc_Testing_`.
  static func swiftPrefix(package: String) -> String {
    guard !package.isEmpty else { return "" }
    return package.split(separator: ".").map { upperCamel(String($0)) }.joined(separator: "_")
      + "_"
  }

  /// `grpc/testing/test.proto` → `ProtoFile_grpc_testing_test`.
  static func fileTypeName(_ path: String) -> String {
    var stem = path
    if stem.hasSuffix(".proto") { stem.removeLast(".proto".count) }
    return "ProtoFile_"
      + String(stem.map { $0.isLetter || $0.isNumber ? $0 : "_" })
  }

  /// `grpc/testing/test.proto` → `grpc_testing_test.pb.swift`.
  static func swiftFileName(_ path: String) -> String {
    var stem = path
    if stem.hasSuffix(".proto") { stem.removeLast(".proto".count) }
    return String(stem.map { $0.isLetter || $0.isNumber ? $0 : "_" }) + ".pb.swift"
  }

  /// The enum case for a value: prefix of the enum's name stripped, lowerCamelCase.
  /// `PAYLOAD_TYPE_UNSPECIFIED` in `PayloadType` → `unspecified`.
  static func enumCase(_ value: String, enumName: String) -> String {
    let stripped = strippingEnumPrefix(value, enumName: enumName)
    return lowerCamel(stripped.lowercased())
  }

  private static func strippingEnumPrefix(_ value: String, enumName: String) -> String {
    let wanted = Array(enumName.lowercased().filter { $0 != "_" })
    let chars = Array(value)
    var index = 0
    var matched = 0
    while index < chars.count, matched < wanted.count {
      let char = chars[index]
      if char == "_" {
        index += 1
        continue
      }
      guard Character(char.lowercased()) == wanted[matched] else { return value }
      matched += 1
      index += 1
    }
    guard matched == wanted.count, index < chars.count, chars[index] == "_" else { return value }
    let rest = String(chars[(index + 1)...])
    guard let first = rest.first, first.isLetter else { return value }
    return rest
  }

  // MARK: protoc-c

  /// protoc-c's `ToCamel`: underscores removed, the letter after each one capitalised.
  private static func cToCamel(_ name: String) -> String {
    var out = ""
    var upperNext = true
    for char in name {
      if char == "_" {
        upperNext = true
      } else if upperNext {
        out.append(contentsOf: char.uppercased())
        upperNext = false
      } else {
        out.append(char)
      }
    }
    return out
  }

  /// protoc-c's `CamelToLower`: `CountsEntry` → `counts_entry`.
  private static func cCamelToLower(_ name: String) -> String {
    var out = ""
    var wasUpper = true
    for char in name {
      let isUpper = char.isUppercase
      if isUpper {
        if !wasUpper { out.append("_") }
        out.append(contentsOf: char.lowercased())
      } else {
        out.append(char)
      }
      wasUpper = isUpper
    }
    return out
  }

  /// The C struct / enum type: `grpc.testing.SimpleRequest` → `Grpc__Testing__SimpleRequest`.
  static func cTypeName(_ fullName: String) -> String {
    fullName.split(separator: ".").map { cToCamel(String($0)) }.joined(separator: "__")
  }

  /// The C function prefix: `grpc.testing.SimpleRequest` → `grpc__testing__simple_request`.
  static func cFunctionPrefix(_ fullName: String) -> String {
    fullName.split(separator: ".").map { cCamelToLower(String($0)) }.joined(separator: "__")
  }

  /// The C member of a field: lower-cased, `_` appended to C keywords.
  static func cFieldName(_ name: String) -> String {
    let lower = name.lowercased()
    return cKeywords.contains(lower) ? lower + "_" : lower
  }
}
