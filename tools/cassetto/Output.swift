import Contracts
import Foundation

/// A plain-text table: a header row and aligned columns, two spaces apart.
struct Table {
  var columns: [String]
  var rows: [[String]] = []

  init(_ columns: String...) { self.columns = columns }

  mutating func add(_ cells: String...) { rows.append(cells) }

  func render() -> String {
    var widths = columns.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.count)
      }
    }
    func line(_ cells: [String]) -> String {
      var text = ""
      for (index, cell) in cells.enumerated() {
        let last = index == cells.count - 1
        text += last ? cell : cell.padding(toLength: widths[index] + 2, withPad: " ", startingAt: 0)
      }
      return text
    }
    return ([line(columns)] + rows.map(line)).joined(separator: "\n")
  }
}

/// Key: value lines, keys aligned.
func keyValues(_ pairs: [(String, String)]) -> String {
  let width = pairs.map(\.0.count).max() ?? 0
  return pairs.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }
    .joined(separator: "\n")
}

/// A JSON object under construction: proto3 JSON names (lowerCamelCase), default values left
/// out as proto3 JSON does.
struct JSONObject {
  private(set) var fields: [String: Any] = [:]

  subscript(key: String) -> Any? {
    get { fields[key] }
    set {
      switch newValue {
      case nil: fields[key] = nil
      case let text as String where text.isEmpty: fields[key] = nil
      case let list as [Any] where list.isEmpty: fields[key] = nil
      case let flag as Bool where !flag: fields[key] = nil
      case let number as Int where number == 0: fields[key] = nil
      case let object as JSONObject: fields[key] = object.fields.isEmpty ? nil : object.fields
      case let objects as [JSONObject]: fields[key] = objects.map(\.fields)
      default: fields[key] = newValue
      }
    }
  }
}

/// Prints `value` (a `JSONObject`, or an array of them) as indented JSON with sorted keys.
func printJSON(_ value: Any) {
  let object: Any =
    switch value {
    case let one as JSONObject: one.fields
    case let many as [JSONObject]: many.map(\.fields)
    default: value
    }
  let data =
    (try? JSONSerialization.data(
      withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
    ?? Data("null".utf8)
  print(String(decoding: data, as: UTF8.self))
}

/// The `.proto` name of a generated enum value without its type prefix: `.daAttivare` →
/// `DA_ATTIVARE`; an unknown number prints as the number.
func enumName<E: RawRepresentable>(_ value: E) -> String where E.RawValue == Int32 {
  let text = String(describing: value)
  if text.hasPrefix("unrecognized") { return String(value.rawValue) }
  var name = ""
  var previous: Character? = nil
  for character in text {
    if character.isUppercase, let previous, previous.isLowercase || previous.isNumber {
      name += "_"
    }
    name += character.uppercased()
    previous = character
  }
  return name
}

/// The full `.proto` enum value name, as proto3 JSON prints it: `DELEGA_STATE_ATTIVA`.
func enumJSON<E: RawRepresentable>(_ value: E, _ prefix: String) -> Any
where E.RawValue == Int32 {
  let short = enumName(value)
  if Int32(short) != nil { return Int(value.rawValue) }
  return prefix + "_" + short
}

/// Parses a short or full enum value name (case-insensitive, `-` for `_`).
func parseEnum<E: RawRepresentable & CaseIterable>(_ text: String, _ prefix: String) -> E?
where E.RawValue == Int32 {
  var wanted = text.uppercased().replacingOccurrences(of: "-", with: "_")
  if wanted.hasPrefix(prefix + "_") { wanted = String(wanted.dropFirst(prefix.count + 1)) }
  return E.allCases.first { enumName($0) == wanted && enumName($0) != "UNSPECIFIED" }
}

/// The allowed short names of an enum, for help and errors.
func enumChoices<E: RawRepresentable & CaseIterable>(_ type: E.Type) -> String
where E.RawValue == Int32 {
  E.allCases.map { enumName($0).lowercased().replacingOccurrences(of: "_", with: "-") }
    .filter { $0 != "unspecified" }.joined(separator: ", ")
}

extension Google_Type_Date {
  /// `YYYY-MM-DD`.
  var text: String { String(format: "%04d-%02d-%02d", year, month, day) }

  init?(parsing text: String) {
    let parts = text.split(separator: "-")
    guard parts.count == 3, let year = Int32(parts[0]), let month = Int32(parts[1]),
      let day = Int32(parts[2])
    else { return nil }
    self.init()
    self.year = year
    self.month = month
    self.day = day
  }
}

extension Google_Protobuf_Timestamp {
  /// RFC 3339 in UTC, as proto3 JSON prints a Timestamp.
  var text: String {
    let date = Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(nanos) / 1e9)
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime]
    return formatter.string(from: date)
  }
}

/// Optional dates and timestamps as text, empty when unset.
func text(_ date: Google_Type_Date?) -> String { date?.text ?? "" }
func text(_ time: Google_Protobuf_Timestamp?) -> String { time?.text ?? "" }

/// Euro cents as `1.234,56`-free plain text: `12345.67`.
func euros(_ cents: Int64) -> String {
  let sign = cents < 0 ? "-" : ""
  let magnitude = cents.magnitude
  return "\(sign)\(magnitude / 100).\(String(format: "%02d", Int(magnitude % 100)))"
}
