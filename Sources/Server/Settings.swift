import Foundation

/// The server's settings from four layers — flags over environment (`CASSETTO_*`) over the
/// configuration file over defaults — each value remembering where it came from, so an error
/// names the setting and its source, and `--print-config` shows the effective configuration
/// (secrets masked). Typed parsing is the caller's (``value(_:_:)``); this layer knows names,
/// kinds and sources only.
///
/// The file (docs/configuration.md) is a small TOML subset: `name = value` lines, `#`
/// comments, values bare or in double quotes, booleans `true`/`false`, repeatable settings
/// repeated or as `["a", "b"]`. A setting's name is its flag's without `--` (`tls-cert`;
/// `tls_cert` is accepted too); its variable is `CASSETTO_` + the name in upper case with
/// `_` (`CASSETTO_TLS_CERT`; repeatable values separated by `;`).
public struct Settings: Sendable {
  public enum Kind: Sendable, Hashable {
    /// One value.
    case value
    /// Repeatable; flags and file lines add up, the environment splits on `;`.
    case list
    /// A boolean: a flag (`--x` / `--no-x`), `x = true|false`, `CASSETTO_X=true|false|1|0`.
    case flag
  }

  public struct Spec: Sendable, Hashable {
    public var name: String
    public var kind: Kind
    /// Shown by `--print-config`; `nil` is "unset".
    public var defaultValue: String?
    /// Masked by `--print-config` and never echoed in errors.
    public var secret: Bool
    /// Whether a flag can set it (secrets come from the file or the environment only).
    public var flag: Bool
    /// What an unset value means, for `--print-config` ("follows dev").
    public var unsetNote: String?

    public init(
      _ name: String, _ kind: Kind = .value, default defaultValue: String? = nil,
      secret: Bool = false, flag: Bool = true, unset unsetNote: String? = nil
    ) {
      self.unsetNote = unsetNote
      self.name = name
      self.kind = kind
      self.defaultValue = defaultValue
      self.secret = secret
      self.flag = flag
    }

    /// `CASSETTO_TLS_CERT` for `tls-cert`.
    public var environmentName: String {
      "CASSETTO_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }
  }

  public enum Origin: Sendable, Hashable, CustomStringConvertible {
    case defaultValue
    case file(path: String, line: Int)
    case environment(String)
    case flag

    public var description: String {
      switch self {
      case .defaultValue: "default"
      case .file(let path, let line): "file \(path):\(line)"
      case .environment(let name): "environment \(name)"
      case .flag: "command line"
      }
    }
  }

  public struct Entry: Sendable, Hashable {
    public var spec: Spec
    /// Empty when unset.
    public var values: [String]
    public var origin: Origin
  }

  public let specs: [Spec]
  public private(set) var entries: [String: Entry] = [:]
  /// The configuration file read, if any.
  public let file: String?

  /// Resolves the layers. `flags` holds only the flags given on the command line.
  public init(
    specs: [Spec], flags: [String: [String]], environment: [String: String], file: String?
  ) throws(ConfigurationError) {
    self.specs = specs
    self.file = file
    let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    for spec in specs {
      entries[spec.name] = Entry(
        spec: spec, values: spec.defaultValue.map { [$0] } ?? [], origin: .defaultValue)
    }
    if let file {
      for (name, values, line) in try Self.parseFile(at: file) {
        guard let spec = byName[name] else {
          throw .invalid("\(file):\(line): unknown setting '\(name)'")
        }
        let origin = Origin.file(path: file, line: line)
        if spec.kind == .flag { _ = try Self.bool(values.last ?? "", spec: spec, origin: origin) }
        if spec.kind != .list && values.count != 1 {
          throw .invalid("setting \(name) (\(origin)): takes one value")
        }
        if spec.kind == .list, var entry = entries[name], entry.origin != .defaultValue,
          case .file = entry.origin
        {
          entry.values += values
          entry.origin = origin
          entries[name] = entry
        } else {
          entries[name] = Entry(spec: spec, values: values, origin: origin)
        }
      }
    }
    for spec in specs {
      guard let raw = environment[spec.environmentName] else { continue }
      let origin = Origin.environment(spec.environmentName)
      let values =
        spec.kind == .list
        ? raw.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
          .filter { !$0.isEmpty }
        : [raw]
      if spec.kind == .flag { _ = try Self.bool(raw, spec: spec, origin: origin) }
      entries[spec.name] = Entry(spec: spec, values: values, origin: origin)
    }
    for (name, values) in flags {
      guard let spec = byName[name] else { throw .invalid("unknown setting '\(name)'") }
      entries[name] = Entry(spec: spec, values: values, origin: .flag)
    }
  }

  public func entry(_ name: String) -> Entry {
    guard let entry = entries[name] else {
      preconditionFailure("setting \(name) is not declared")
    }
    return entry
  }

  /// The one value, or `nil` when unset.
  public func string(_ name: String) -> String? { entry(name).values.last }

  public func list(_ name: String) -> [String] { entry(name).values }

  public func bool(_ name: String) throws(ConfigurationError) -> Bool? {
    let entry = entry(name)
    guard let raw = entry.values.last else { return nil }
    return try Self.bool(raw, spec: entry.spec, origin: entry.origin)
  }

  /// Parses the value of `name` with `parse`; a failure names the setting, its source and
  /// (unless secret) the value. `nil` when unset.
  public func value<T>(_ name: String, _ parse: (String) -> T?, expected: String) throws(
    ConfigurationError
  ) -> T? {
    let entry = entry(name)
    guard let raw = entry.values.last else { return nil }
    guard let value = parse(raw) else { throw Self.error(entry, raw: raw, expected: expected) }
    return value
  }

  /// An integer in `range`.
  public func int(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
    try value(
      name, { Int($0.trimmingCharacters(in: .whitespaces)).flatMap { range.contains($0) ? $0 : nil } },
      expected: "an integer in \(range.lowerBound)...\(range.upperBound)")
  }

  /// A number in `range`.
  public func double(_ name: String, in range: ClosedRange<Double>) throws(ConfigurationError)
    -> Double?
  {
    try value(
      name,
      { Double($0.trimmingCharacters(in: .whitespaces)).flatMap { range.contains($0) ? $0 : nil } },
      expected: "a number in \(range.lowerBound)...\(range.upperBound)")
  }

  /// The error for a bad value of `entry`.
  public static func error(_ entry: Entry, raw: String, expected: String) -> ConfigurationError {
    let shown = entry.spec.secret ? "" : " '\(raw)'"
    return .invalid("setting \(entry.spec.name) (\(entry.origin)):\(shown) must be \(expected)")
  }

  /// The error for `name` with a message of the caller's.
  public func error(_ name: String, _ why: String) -> ConfigurationError {
    let entry = entry(name)
    return .invalid("setting \(name) (\(entry.origin)): \(why)")
  }

  static func bool(_ raw: String, spec: Spec, origin: Origin) throws(ConfigurationError) -> Bool {
    switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
    case "true", "1", "yes", "on": return true
    case "false", "0", "no", "off": return false
    default:
      throw error(Entry(spec: spec, values: [raw], origin: origin), raw: raw, expected: "true or false")
    }
  }

  // MARK: - The file

  /// `(name, values, line)` per setting line of the file.
  static func parseFile(at path: String) throws(ConfigurationError) -> [(String, [String], Int)] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .invalid("configuration file \(path): cannot be read")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw .invalid("configuration file \(path): not UTF-8")
    }
    var result: [(String, [String], Int)] = []
    for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      let number = index + 1
      let line = rawLine.trimmingCharacters(in: .whitespaces)
      if line.isEmpty || line.hasPrefix("#") { continue }
      guard let equals = line.firstIndex(of: "=") else {
        throw .invalid("\(path):\(number): expected 'name = value'")
      }
      let name = line[..<equals].trimmingCharacters(in: .whitespaces)
        .replacingOccurrences(of: "_", with: "-").lowercased()
      guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
        throw .invalid("\(path):\(number): bad setting name '\(name)'")
      }
      let rest = Substring(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces))
      guard let values = parseValues(rest) else {
        throw .invalid("\(path):\(number): bad value for \(name) (unbalanced quotes or brackets)")
      }
      result.append((name, values, number))
    }
    return result
  }

  /// A bare value (up to a `#` comment), a quoted string, or `[v, v, …]`.
  static func parseValues(_ text: Substring) -> [String]? {
    var rest = text
    if rest.hasPrefix("[") {
      rest = rest.dropFirst()
      var values: [String] = []
      while true {
        rest = rest.drop { $0 == " " || $0 == "\t" }
        if rest.hasPrefix("]") {
          let tail = rest.dropFirst().trimmingCharacters(in: .whitespaces)
          return tail.isEmpty || tail.hasPrefix("#") ? values : nil
        }
        guard let (value, after) = scalar(rest, inList: true) else { return nil }
        values.append(value)
        rest = after.drop { $0 == " " || $0 == "\t" }
        if rest.hasPrefix(",") { rest = rest.dropFirst() }
      }
    }
    guard let (value, after) = scalar(rest, inList: false) else { return nil }
    let tail = after.trimmingCharacters(in: .whitespaces)
    return tail.isEmpty || tail.hasPrefix("#") ? [value] : nil
  }

  static func scalar(_ text: Substring, inList: Bool) -> (String, Substring)? {
    if text.hasPrefix("\"") {
      var value = ""
      var index = text.index(after: text.startIndex)
      while index < text.endIndex {
        let character = text[index]
        if character == "\"" { return (value, text[text.index(after: index)...]) }
        if character == "\\" {
          index = text.index(after: index)
          guard index < text.endIndex else { return nil }
          switch text[index] {
          case "n": value.append("\n")
          case "t": value.append("\t")
          default: value.append(text[index])
          }
        } else {
          value.append(character)
        }
        index = text.index(after: index)
      }
      return nil
    }
    let end =
      text.firstIndex { $0 == "#" || (inList && ($0 == "," || $0 == "]")) } ?? text.endIndex
    let value = text[..<end].trimmingCharacters(in: .whitespaces)
    if inList && value.isEmpty { return nil }
    return (value, text[end...])
  }

  // MARK: - Printing

  /// The effective configuration in the file's format: one `name = value` line per setting
  /// with its source as a comment, secrets as `********`, unset ones commented out.
  public func render() -> String {
    var lines = ["# cassetto-server effective configuration (flags > environment > file > defaults)"]
    if let file { lines.append("# file: \(file)") }
    for spec in specs {
      let entry = entry(spec.name)
      let source = "  # \(entry.origin)"
      if entry.values.isEmpty {
        let note = entry.origin == .defaultValue ? (spec.unsetNote ?? "unset") : "\(entry.origin)"
        lines.append("# \(spec.name) =  # \(note)")
        continue
      }
      let shown = entry.values.map { spec.secret ? "********" : Self.masked(spec.name, $0) }
      let value: String
      switch spec.kind {
      case .list: value = "[" + shown.map(Self.quoted).joined(separator: ", ") + "]"
      case .flag: value = shown.last ?? ""
      case .value:
        let last = shown.last ?? ""
        value = !spec.secret && Double(last) != nil ? last : Self.quoted(last)
      }
      lines.append("\(spec.name) = \(value)\(source)")
    }
    return lines.joined(separator: "\n")
  }

  /// URLs lose the password of their user information (`smtp://u:p@h` → `smtp://u:****@h`).
  static func masked(_ name: String, _ value: String) -> String {
    guard let scheme = value.range(of: "://"),
      let at = value[scheme.upperBound...].firstIndex(of: "@"),
      let colon = value[scheme.upperBound..<at].firstIndex(of: ":")
    else { return value }
    return String(value[..<value.index(after: colon)]) + "********" + String(value[at...])
  }

  static func quoted(_ value: String) -> String {
    "\"" + value.replacingOccurrences(of: "\\", with: "\\\\")
      .replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
      + "\""
  }
}
