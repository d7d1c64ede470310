import CZlib
import Foundation

/// A zip archive (PKWARE APPNOTE 6.3) of stored entries, CRC-32 from zlib: the one file a
/// richiesta's attachments are kept and downloaded as (Circolare 34 §3.1: "allegati al quesito
/// sotto forma di file compresso"). Stored, not deflated: the accepted types (PDF, JPEG, PNG,
/// TIFF, P7M) are compressed already.
enum RichiesteZip {
  static func archive(_ files: [(name: String, data: [UInt8])], at date: Date) -> [UInt8] {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "Europe/Rome") ?? .gmt
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    let dosTime = UInt16((c.hour ?? 0) << 11 | (c.minute ?? 0) << 5 | (c.second ?? 0) / 2)
    let dosDate = UInt16(max(0, (c.year ?? 1980) - 1980) << 9 | (c.month ?? 1) << 5 | (c.day ?? 1))
    var out: [UInt8] = []
    var central: [UInt8] = []
    for file in files {
      let name = Array(file.name.utf8)
      let crc = file.data.withUnsafeBufferPointer { buffer in
        UInt32(crc32(0, buffer.baseAddress, uInt(buffer.count)))
      }
      let offset = UInt32(out.count)
      let size = UInt32(file.data.count)
      // Local file header; bit 11: names are UTF-8.
      out.le32(0x0403_4b50); out.le16(20); out.le16(0x0800); out.le16(0)
      out.le16(dosTime); out.le16(dosDate); out.le32(crc); out.le32(size); out.le32(size)
      out.le16(UInt16(name.count)); out.le16(0)
      out += name
      out += file.data
      central.le32(0x0201_4b50); central.le16(20); central.le16(20); central.le16(0x0800)
      central.le16(0); central.le16(dosTime); central.le16(dosDate); central.le32(crc)
      central.le32(size); central.le32(size); central.le16(UInt16(name.count)); central.le16(0)
      central.le16(0); central.le16(0); central.le16(0); central.le32(0); central.le32(offset)
      central += name
    }
    let centralOffset = UInt32(out.count)
    out += central
    out.le32(0x0605_4b50); out.le16(0); out.le16(0)
    out.le16(UInt16(files.count)); out.le16(UInt16(files.count))
    out.le32(UInt32(central.count)); out.le32(centralOffset); out.le16(0)
    return out
  }
}

extension [UInt8] {
  fileprivate mutating func le16(_ value: UInt16) {
    append(UInt8(value & 0xff)); append(UInt8(value >> 8))
  }
  fileprivate mutating func le32(_ value: UInt32) {
    for shift in stride(from: 0, to: 32, by: 8) { append(UInt8((value >> UInt32(shift)) & 0xff)) }
  }
}
