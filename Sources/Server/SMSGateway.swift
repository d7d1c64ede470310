import CCurl
import Foundation
import Storage

/// SMS notices through an HTTP gateway (`--sms-gateway-url`), by libcurl: one `POST` per
/// message with the JSON body `{"id": "<outbox id>", "to": "+39…", "text": "…"}` and, when
/// `CASSETTO_SMS_GATEWAY_TOKEN` is set, `Authorization: Bearer <token>`. A 2xx answer is the
/// delivery receipt ("HTTP 202"); anything else fails the attempt, which the outbox worker
/// retries with backoff. The id lets the gateway drop a retried duplicate (delivery is
/// at-least-once). Nothing of the body is logged.
public struct SMSGatewayChannel: OutboxDeliveryChannel {
  public let url: String
  public let token: String?
  public let timeout: Int

  public init(url: String, token: String? = nil, timeout: Int = 30) {
    self.url = url
    self.token = token
    self.timeout = timeout
  }

  struct GatewayError: Error, CustomStringConvertible {
    var description: String
  }

  public func send(_ entry: OutboxEntry, at now: Date) async throws -> String? {
    let body = try JSONSerialization.data(
      withJSONObject: [
        "id": String(entry.id), "to": entry.message.recipient, "text": entry.message.body,
      ], options: [.sortedKeys])
    let url = self.url
    let token = self.token
    let timeout = self.timeout
    return try await Task.detached {
      try Self.post(url: url, token: token, timeout: timeout, body: body)
    }.value
  }

  static func post(url: String, token: String?, timeout: Int, body: Data) throws -> String {
    guard let handle = curl_easy_init() else { throw GatewayError(description: "curl_easy_init failed") }
    defer { curl_easy_cleanup(handle) }
    var headers: UnsafeMutablePointer<curl_slist>? = nil
    headers = curl_slist_append(headers, "Content-Type: application/json")
    if let token { headers = curl_slist_append(headers, "Authorization: Bearer \(token)") }
    defer { curl_slist_free_all(headers) }
    let text = String(decoding: body, as: UTF8.self)
    var setup: [CURLcode] = []
    setup.append(cassetto_curl_setopt_string(handle, CURLOPT_URL, url))
    setup.append(cassetto_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, text))
    setup.append(cassetto_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, 10))
    setup.append(cassetto_curl_setopt_long(handle, CURLOPT_TIMEOUT, timeout))
    if let failed = setup.first(where: { $0 != CURLE_OK }) {
      throw GatewayError(description: String(cString: curl_easy_strerror(failed)))
    }
    let result = curl_easy_perform(handle)
    guard result == CURLE_OK else {
      throw GatewayError(description: String(cString: curl_easy_strerror(result)))
    }
    var code = 0
    _ = cassetto_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
    guard (200..<300).contains(code) else {
      throw GatewayError(description: "the SMS gateway answered HTTP \(code)")
    }
    return "HTTP \(code)"
  }
}

/// Sends each outbox message on the channel of its kind: SMS on `sms`, PEC and e-mail on
/// `mail`.
public struct RoutingChannel: OutboxDeliveryChannel {
  public let mail: any OutboxDeliveryChannel
  public let sms: any OutboxDeliveryChannel

  public init(mail: any OutboxDeliveryChannel, sms: any OutboxDeliveryChannel) {
    self.mail = mail
    self.sms = sms
  }

  public func send(_ entry: OutboxEntry, at now: Date) async throws -> String? {
    switch entry.message.channel {
    case .sms: try await sms.send(entry, at: now)
    case .pec, .email: try await mail.send(entry, at: now)
    }
  }
}
