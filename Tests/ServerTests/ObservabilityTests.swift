import Foundation
import RPC
import Server
import Synchronization
import Testing

@Suite struct PrometheusRenderingTests {
  @Test func countersHistogramAndInFlightPerMethodAndStatus() {
    let metrics = Metrics(connections: { (open: 3, accepted: 7) })
    let search = metrics.statistics(
      for: MethodDescriptor(
        service: "cassetto.posizioni.v1.Posizioni", method: "Search", kind: .unary))
    search.callStarted()
    search.callEnded(.ok, seconds: 0.0009765625)  // 2^-10: exact sums
    search.callStarted()
    search.callEnded(.invalidArgument, seconds: 0.375)
    search.callStarted()  // still in flight
    metrics.outboxBacklog.set(5)
    metrics.outboxDeliveryFailures.increment()
    let text = metrics.render()
    let lines = Set(text.split(separator: "\n").map(String.init))
    let labels = #"grpc_service="cassetto.posizioni.v1.Posizioni",grpc_method="Search""#
    #expect(lines.contains("grpc_server_started_total{\(labels)} 3"))
    #expect(lines.contains(#"grpc_server_handled_total{\#(labels),grpc_code="OK"} 1"#))
    #expect(
      lines.contains(#"grpc_server_handled_total{\#(labels),grpc_code="INVALID_ARGUMENT"} 1"#))
    #expect(!text.contains(#"grpc_code="NOT_FOUND""#))
    #expect(lines.contains("grpc_server_in_flight{\(labels)} 1"))
    // Cumulative buckets: 0.00098 falls in le=0.001, 0.375 in le=0.5.
    #expect(lines.contains(#"grpc_server_handling_seconds_bucket{\#(labels),le="0.0005"} 0"#))
    #expect(lines.contains(#"grpc_server_handling_seconds_bucket{\#(labels),le="0.001"} 1"#))
    #expect(lines.contains(#"grpc_server_handling_seconds_bucket{\#(labels),le="0.25"} 1"#))
    #expect(lines.contains(#"grpc_server_handling_seconds_bucket{\#(labels),le="0.5"} 2"#))
    #expect(lines.contains(#"grpc_server_handling_seconds_bucket{\#(labels),le="+Inf"} 2"#))
    #expect(lines.contains("grpc_server_handling_seconds_count{\(labels)} 2"))
    #expect(lines.contains("grpc_server_handling_seconds_sum{\(labels)} 0.3759765625"))
    #expect(lines.contains("cassetto_connections_open 3"))
    #expect(lines.contains("cassetto_connections_accepted_total 7"))
    #expect(lines.contains("cassetto_outbox_backlog 5"))
    #expect(lines.contains("cassetto_outbox_delivery_failures_total 1"))
    #expect(lines.contains("# TYPE grpc_server_handling_seconds histogram"))
    #expect(lines.contains("# TYPE grpc_server_handled_total counter"))
    #expect(text.hasSuffix("\n"))
    // Every line is a comment or `name{labels} value`.
    for line in lines where !line.hasPrefix("#") {
      let value = line.split(separator: " ").last.map(String.init) ?? ""
      #expect(Double(value) != nil || value == "+Inf", "bad sample line: \(line)")
    }
  }

  @Test func labelValuesAndNumbersAreEscapedAndFormatted() {
    #expect(PrometheusText.escapeLabelValue(#"a"b\c"# + "\nd") == #"a\"b\\c\nd"#)
    #expect(PrometheusText.format(3) == "3")
    #expect(PrometheusText.format(0.25) == "0.25")
    #expect(PrometheusText.format(.infinity) == "+Inf")
    #expect(PrometheusText.format(.nan) == "NaN")
    var text = PrometheusText()
    text.sample("m", labels: [("k", "x\"y")], value: 1.5)
    #expect(text.text == "m{k=\"x\\\"y\"} 1.5\n")
  }

  @Test func gaugeAddsConcurrently() async {
    let gauge = Gauge()
    await withTaskGroup(of: Void.self) { group in
      for _ in 0..<8 { group.addTask { for _ in 0..<1000 { gauge.increment() } } }
    }
    #expect(gauge.value == 8000)
  }
}

@Suite struct LogMaskingTests {
  @Test func fiscalCodeKeepsNamesAndPlaceOnly() {
    #expect(FiscalCodeMask.mask("RSSMRA85T10A501U") == "RSSMRA******501U")
    #expect(FiscalCodeMask.mask("SHORT") == "*****")
  }

  @Test func fiscalCodesInFreeTextAreMasked() {
    let text = "no position for RSSMRA85T10A501U; also rssmra85t10a50mu and XRSSMRA85T10A501U"
    let masked = FiscalCodeMask.maskAll(in: text)
    #expect(!masked.contains("85T10"))
    #expect(!masked.contains("85t10"))
    #expect(masked.contains("RSSMRA******501U"))
    #expect(masked.contains("rssmra******50mu"))
    #expect(masked.hasSuffix("XRSSMRA******501U"))
    #expect(FiscalCodeMask.maskAll(in: "plain message") == "plain message")
  }

  @Test func jsonAndLogfmtLinesEscapeValues() {
    let fields: [(String, LogValue)] = [
      ("method", .string("/a.B/C")), ("error", .string("bad \"x\"\n")), ("n", .int(3)),
      ("d", .double(1.5)),
    ]
    let json = StructuredLogger.render(fields, format: .json)
    #expect(json == #"{"method":"/a.B/C","error":"bad \"x\"\n","n":3,"d":1.5}"#)
    let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    #expect(object?["error"] as? String == "bad \"x\"\n")
    let logfmt = StructuredLogger.render(fields, format: .logfmt)
    #expect(logfmt == #"method=/a.B/C error="bad \"x\"\n" n=3 d=1.5"#)
  }

  @Test func loggerWritesOneLinePerCallWithTime() {
    let lines = LineSink()
    let logger = StructuredLogger(format: .json, write: { lines.append($0) })
    logger.log([("msg", .string("rpc"))])
    let written = lines.all
    #expect(written.count == 1)
    #expect(written[0].hasPrefix(#"{"time":""#))
    #expect(written[0].hasSuffix("\"msg\":\"rpc\"}\n"))
    StructuredLogger(format: .none, write: { lines.append($0) }).log([("msg", .string("x"))])
    #expect(lines.all.count == 1)
  }
}

final class LineSink: Sendable {
  private let lines = Mutex<[String]>([])
  func append(_ line: String) { lines.withLock { $0.append(line) } }
  var all: [String] { lines.withLock { $0 } }
}
