import COpenSSL

extension PeerCertificate {
  /// Reads subject (RFC 2253), common name and SHA-256 fingerprint from an OpenSSL `X509`.
  /// Returns `nil` only if OpenSSL fails to encode the certificate.
  init?(_ certificate: OpaquePointer) {
    // Fingerprint of the DER encoding.
    var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    guard X509_digest(certificate, EVP_sha256(), &digest, &length) == 1 else {
      ERR_clear_error()
      return nil
    }
    let hex = digest.prefix(Int(length)).map { byte in
      let s = String(byte, radix: 16)
      return s.count == 1 ? "0" + s : s
    }.joined()

    guard let name = X509_get_subject_name(certificate) else { return nil }
    self.init(
      subject: Self.rfc2253(name) ?? "", commonName: Self.commonName(name),
      sha256Fingerprint: hex)
  }

  private static func rfc2253(_ name: OpaquePointer) -> String? {
    guard let bio = BIO_new(BIO_s_mem()) else { return nil }
    defer { BIO_free(bio) }
    guard X509_NAME_print_ex(bio, name, 0, cassetto_XN_FLAG_RFC2253()) >= 0 else { return nil }
    let count = Int(BIO_ctrl_pending(bio))
    var bytes = [UInt8](repeating: 0, count: count)
    let read = BIO_read(bio, &bytes, Int32(count))
    return String(decoding: bytes.prefix(max(0, Int(read))), as: UTF8.self)
  }

  /// The last CN attribute (the most specific one), as UTF-8.
  private static func commonName(_ name: OpaquePointer) -> String? {
    var index: Int32 = -1
    var last: Int32 = -1
    while true {
      index = X509_NAME_get_index_by_NID(name, NID_commonName, index)
      if index < 0 { break }
      last = index
    }
    guard last >= 0, let entry = X509_NAME_get_entry(name, last),
      let data = X509_NAME_ENTRY_get_data(entry)
    else { return nil }
    var utf8: UnsafeMutablePointer<UInt8>? = nil
    let length = ASN1_STRING_to_UTF8(&utf8, data)
    guard length >= 0, let utf8 else { return nil }
    defer { cassetto_OPENSSL_free(utf8) }
    return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
  }
}
