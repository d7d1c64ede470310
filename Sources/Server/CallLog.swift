import Access
import Foundation
import RPC
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// How log lines are written: JSON lines or logfmt; `none` writes nothing.
public enum LogFormat: String, Sendable, CaseIterable {
  case json
  case logfmt
  case none
}

/// A value in a structured log line.
public enum LogValue: Sendable, Equatable {
  case string(String)
  case int(Int)
  case double(Double)
}

/// Structured log lines (one per call, plus events) to standard error or a given sink.
///
/// Never give it a token, an OTP or attachment content; fiscal codes go through
/// ``FiscalCodeMask`` first (the call logger does that).
public final class StructuredLogger: Sendable {
  public let format: LogFormat
  private let write: @Sendable (String) -> Void

  public init(
    format: LogFormat = .logfmt,
    write: @escaping @Sendable (String) -> Void = StructuredLogger.writeToStandardError
  ) {
    self.format = format
    self.write = write
  }

  /// One line with `time` first, then `fields` in order.
  public func log(_ fields: [(String, LogValue)]) {
    guard format != .none else { return }
    write(Self.render([("time", .string(Self.timestamp()))] + fields, format: format) + "\n")
  }

  public static func render(_ fields: [(String, LogValue)], format: LogFormat) -> String {
    switch format {
    case .none:
      return ""
    case .json:
      var out = "{"
      for (index, (key, value)) in fields.enumerated() {
        if index > 0 { out += "," }
        out += jsonString(key) + ":"
        switch value {
        case .string(let text): out += jsonString(text)
        case .int(let number): out += String(number)
        case .double(let number): out += number.isFinite ? String(number) : "null"
        }
      }
      return out + "}"
    case .logfmt:
      return fields.map { key, value in
        switch value {
        case .string(let text): "\(key)=\(logfmtValue(text))"
        case .int(let number): "\(key)=\(number)"
        case .double(let number): "\(key)=\(number)"
        }
      }.joined(separator: " ")
    }
  }

  static func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  static func logfmtValue(_ text: String) -> String {
    let needsQuotes =
      text.isEmpty
      || text.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.value < 0x21 }
    guard needsQuotes else { return text }
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          out += "\\u{\(String(scalar.value, radix: 16))}"
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T09:30:00.123Z`.
  static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func pad(_ value: Int32, _ width: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    return
      "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
      + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
      + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
  }

  public static let writeToStandardError: @Sendable (String) -> Void = { line in
    FileHandle.standardError.write(Data(line.utf8))
  }
}

/// Masks fiscal codes for logs: the first six letters (from the names) and the last four
/// characters stay, the birth date and sex in between become `*`: `RSSMRA85T10A501U` →
/// `RSSMRA******501U`.
public enum FiscalCodeMask {
  public static func mask(_ code: String) -> String {
    let characters = Array(code)
    guard characters.count == 16 else {
      // Not the usual shape: keep nothing that could identify.
      return String(repeating: "*", count: min(characters.count, 16))
    }
    return String(characters[0..<6]) + "******" + String(characters[12..<16])
  }

  /// `text` with every substring shaped like a fiscal code (omocodia letters included)
  /// masked; for free text such as error messages.
  public static func maskAll(in text: String) -> String {
    let scalars = Array(text.unicodeScalars)
    guard scalars.count >= 16 else { return text }
    var out = String.UnicodeScalarView()
    var index = 0
    while index < scalars.count {
      // No word-boundary check: a code glued to other characters is masked too.
      if index + 16 <= scalars.count, isFiscalCode(scalars[index..<(index + 16)]) {
        let code = String(String.UnicodeScalarView(scalars[index..<(index + 16)]))
        out.append(contentsOf: mask(code).unicodeScalars)
        index += 16
      } else {
        out.append(scalars[index])
        index += 1
      }
    }
    return String(out)
  }

  /// LLLLLL DD L DD L DDD L, where a digit may be an omocodia letter (LMNPQRSTUV); any case.
  static func isFiscalCode(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
    let letters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)
    let omocodia = Set("LMNPQRSTUV".unicodeScalars)
    let digits = Set("0123456789".unicodeScalars)
    for (offset, raw) in scalars.enumerated() {
      let scalar =
        ("a"..."z").contains(raw) ? Unicode.Scalar(UInt8(raw.value) - 32) : raw
      switch offset {
      case 0...5, 8, 11, 15:
        if !letters.contains(scalar) { return false }
      default:
        if !digits.contains(scalar) && !omocodia.contains(scalar) { return false }
      }
    }
    return true
  }
}

/// What the interceptors inside the observability interceptor learn about one call and want
/// on its log line: the caller (set by authentication).
public final class CallObservation: Sendable {
  private let callerState = Mutex<String?>(nil)

  public init() {}

  /// The observation of the current call, bound by ``ObservabilityInterceptor``.
  @TaskLocal public static var current: CallObservation?

  /// How the caller appears in logs: a person's masked fiscal code, `service:NAME`, or
  /// `anonymous`.
  public var caller: String? { callerState.withLock { $0 } }

  public func setCaller(_ caller: Caller) {
    let text =
      switch caller {
      case .person(let person): FiscalCodeMask.mask(person.codiceFiscale.value)
      case .service(let service): "service:" + service.name
      case .anonymous: "anonymous"
      }
    callerState.withLock { $0 = text }
  }
}
