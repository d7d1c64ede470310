/// Attachments accepted from users (richieste, contestations): PDF, JPEG, PNG, TIFF and
/// PKCS#7 signed files (P7M), recognised by their first bytes, never by name.
public enum AttachmentType {
  /// The MIME type of `data`, or `nil` when it is none of PDF, JPEG, PNG, TIFF or a PKCS#7
  /// signed file (P7M, DER or PEM).
  public static func detect(_ data: ArraySlice<UInt8>) -> String? {
    let bytes = Array(data.prefix(64))
    func starts(_ prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
    if starts(Array("%PDF-".utf8)) { return "application/pdf" }
    if starts([0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
    if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
    if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return "image/tiff" }
    if starts(Array("-----BEGIN PKCS7-----".utf8)) { return "application/pkcs7-mime" }
    // DER SEQUENCE holding the signedData OID 1.2.840.113549.1.7.2 near its start.
    let signedData: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02]
    if bytes.first == 0x30, bytes.count >= signedData.count,
      (0...(bytes.count - signedData.count)).contains(where: {
        Array(bytes[$0..<($0 + signedData.count)]) == signedData
      })
    {
      return "application/pkcs7-mime"
    }
    return nil
  }
}
