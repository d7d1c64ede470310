import Access
import Foundation
import RPC
import Server
import Testing
import Validation

@Suite struct ObservabilityInterceptorTests {
  static let method = MethodDescriptor(
    service: "cassetto.identity.v1.Identity", method: "WhoAmI", kind: .unary)

  func context(requestID: String?) -> ServerContext {
    var metadata = Metadata()
    if let requestID { metadata.addString(requestID, forKey: "x-request-id") }
    metadata.addString("Bearer secret.token.value", forKey: "authorization")
    return ServerContext(
      method: Self.method, requestMetadata: metadata, deadline: nil,
      peer: PeerInfo(address: "ipv4:127.0.0.1:5000", isSecure: false))
  }

  @Test func countsStatusesAndLogsOneMaskedLinePerCall() async throws {
    let lines = LineSink()
    let observability = Observability(
      logger: StructuredLogger(format: .json, write: { lines.append($0) }))
    let interceptor = observability.interceptor
    let person = Person(codiceFiscale: try CodiceFiscale("RSSMRA85T10A562S"))

    try await interceptor.intercept(context: context(requestID: "req-1")) {
      CallObservation.current?.setCaller(.person(person))
    }
    await #expect(throws: RPCError.self) {
      try await interceptor.intercept(context: context(requestID: nil)) {
        throw RPCError(.notFound, "no subject RSSMRA85T10A562S")
      }
    }
    await #expect(throws: CancellationError.self) {
      try await interceptor.intercept(context: context(requestID: "bad id with spaces")) {
        throw CancellationError()
      }
    }

    let text = observability.metrics.render()
    let labels = #"grpc_service="cassetto.identity.v1.Identity",grpc_method="WhoAmI""#
    #expect(text.contains(#"grpc_server_handled_total{\#(labels),grpc_code="OK"} 1"#))
    #expect(text.contains(#"grpc_server_handled_total{\#(labels),grpc_code="NOT_FOUND"} 1"#))
    #expect(text.contains(#"grpc_server_handled_total{\#(labels),grpc_code="CANCELLED"} 1"#))
    #expect(text.contains("grpc_server_in_flight{\(labels)} 0"))

    let entries = lines.all.compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
    #expect(entries.count == 3)
    #expect(entries[0]["request_id"] as? String == "req-1")
    #expect(entries[0]["caller"] as? String == "RSSMRA******562S")
    #expect(entries[0]["status"] as? String == "OK")
    #expect(entries[0]["method"] as? String == "/cassetto.identity.v1.Identity/WhoAmI")
    #expect(entries[1]["status"] as? String == "NOT_FOUND")
    #expect(entries[1]["error"] as? String == "no subject RSSMRA******562S")
    #expect(entries[1]["caller"] as? String == "anonymous")
    let generated = entries[1]["request_id"] as? String ?? ""
    #expect(generated.count == 32 && generated.allSatisfy(\.isHexDigit))
    // A request id with spaces is replaced, not logged.
    #expect(entries[2]["request_id"] as? String != "bad id with spaces")
    let all = lines.all.joined()
    #expect(!all.contains("secret"))
    #expect(!all.contains("85T10"))
  }
}
