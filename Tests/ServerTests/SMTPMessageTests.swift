import Foundation
import Server
import Storage
import Testing

@Suite struct SMTPMessageTests {
  @Test func quotedPrintableKeepsLinesShortAndEncodesUTF8() {
    let text = "Codice OTP: 12345678\nperché = sì \n" + String(repeating: "x", count: 200)
    let encoded = SMTPSender.quotedPrintable(text)
    let lines = encoded.components(separatedBy: "\r\n")
    #expect(lines[0] == "Codice OTP: 12345678")
    // é is C3 A9, '=' is =3D, the trailing space is =20.
    #expect(lines[1] == "perch=C3=A9 =3D s=C3=AC=20")
    #expect(lines.allSatisfy { $0.count <= 76 })
    #expect(lines.dropFirst(2).dropLast().allSatisfy { $0.hasSuffix("=") })
    // Decoding the soft breaks gives the long line back.
    #expect(lines.dropFirst(2).map { $0.hasSuffix("=") ? String($0.dropLast()) : $0 }.joined()
      == String(repeating: "x", count: 200))
  }

  @Test func messageHasTheRFC5322Headers() {
    let message = OutboxMessage(
      channel: .pec, recipient: "a@pec.example.it", subject: "Perché", body: "Codice OTP: 1")
    let text = SMTPSender.format(
      message, id: 42, from: "noreply@example.it", date: Date(timeIntervalSince1970: 0))
    #expect(text.contains("\r\nTo: <a@pec.example.it>\r\n"))
    #expect(text.hasPrefix("From: Cassetto <noreply@example.it>\r\n"))
    #expect(text.contains("Subject: =?UTF-8?B?\(Data("Perché".utf8).base64EncodedString())?="))
    #expect(text.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
    #expect(text.contains("Message-ID: <outbox-42@example.it>\r\n"))
    #expect(text.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\nCodice OTP: 1\r\n"))
  }

  @Test func configurationRefusesANonSMTPURL() {
    #expect(throws: ConfigurationError.self) {
      try SMTPConfiguration(url: "http://x", from: "a@b.it").validate()
    }
    #expect(throws: ConfigurationError.self) {
      try SMTPConfiguration(url: "smtp://x", from: "a@b.it", username: "u").validate()
    }
    #expect(throws: Never.self) {
      try SMTPConfiguration(url: "smtps://x:465", from: "a@b.it").validate()
    }
  }
}
