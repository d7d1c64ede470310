import CCairo
import Foundation

/// A text document rendered to PDF bytes in memory with cairo: styled paragraphs,
/// word-wrapped to the text width and paginated on A4, every page with "Pagina N di M" and the
/// production date in its footer. The only code in the package touching cairo pointers: every
/// cairo object is created and destroyed inside ``render()``, on the calling thread. Text goes
/// through cairo's toy text API with "DejaVu Sans" (Debian `fonts-dejavu-core`), so accented
/// letters render. Used by the delega form (Deleghe) and the fascicolo aziendale (Posizioni).
public struct PDFDocument: Sendable {
  /// One styled paragraph.
  public struct Block: Sendable {
    public enum Style: Sendable { case title, heading, body, bodyBold, small }
    public var style: Style
    public var text: String
    public var spaceBefore: Double

    public init(style: Style, text: String, spaceBefore: Double = 0) {
      self.style = style
      self.text = text
      self.spaceBefore = spaceBefore
    }
  }

  public enum RenderError: Error {
    case cairo(String)
  }

  private struct Line {
    var style: Block.Style
    var text: String
    var y: Double
  }

  /// The PDF's title metadata.
  public var title: String
  public var blocks: [Block]
  /// Production instant, already formatted (Europe/Rome).
  public var producedAt: String

  public init(title: String, blocks: [Block], producedAt: String) {
    self.title = title
    self.blocks = blocks
    self.producedAt = producedAt
  }

  static let pageWidth = 595.28
  static let pageHeight = 841.89
  static let margin = 56.0
  static let footerHeight = 40.0

  private static func font(_ style: Block.Style) -> (size: Double, bold: Bool, leading: Double) {
    switch style {
    case .title: (20, true, 28)
    case .heading: (12.5, true, 19)
    case .body: (10.5, false, 15)
    case .bodyBold: (10.5, true, 15)
    case .small: (8.5, false, 12)
    }
  }

  private static func select(_ cr: OpaquePointer, _ style: Block.Style) {
    let f = font(style)
    cairo_select_font_face(
      cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
      f.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
    cairo_set_font_size(cr, f.size)
  }

  private static func width(_ cr: OpaquePointer, _ text: String) -> Double {
    var extents = cairo_text_extents_t()
    cairo_text_extents(cr, text, &extents)
    return extents.x_advance
  }

  /// Word-wraps and paginates the blocks (measuring with `cr`'s current font).
  private func layout(_ cr: OpaquePointer) -> [[Line]] {
    let maxWidth = Self.pageWidth - 2 * Self.margin
    let bottom = Self.pageHeight - Self.margin - Self.footerHeight
    var pages: [[Line]] = [[]]
    var y = Self.margin
    for block in blocks {
      Self.select(cr, block.style)
      let leading = Self.font(block.style).leading
      y += block.spaceBefore
      var lines: [String] = []
      var current = ""
      for word in block.text.split(separator: " ", omittingEmptySubsequences: false) {
        let candidate = current.isEmpty ? String(word) : current + " " + word
        if !current.isEmpty && Self.width(cr, candidate) > maxWidth {
          lines.append(current)
          current = String(word)
        } else {
          current = candidate
        }
      }
      lines.append(current)
      for text in lines {
        if y + leading > bottom {
          pages.append([])
          y = Self.margin
        }
        y += leading
        pages[pages.count - 1].append(Line(style: block.style, text: text, y: y))
      }
    }
    return pages
  }

  /// Collects the bytes cairo writes; owned by one `render()` call on one thread.
  private final class Sink {
    var bytes: [UInt8] = []
  }

  /// The whole PDF document.
  public func render() throws -> [UInt8] {
    let sink = Sink()
    let opaque = Unmanaged.passUnretained(sink).toOpaque()
    let write: cairo_write_func_t = { closure, data, length in
      guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
      let sink = Unmanaged<Sink>.fromOpaque(closure).takeUnretainedValue()
      sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
      return CAIRO_STATUS_SUCCESS
    }
    return try withExtendedLifetime(sink) {
      guard
        let surface = cairo_pdf_surface_create_for_stream(
          write, opaque, Self.pageWidth, Self.pageHeight)
      else { throw RenderError.cairo("no PDF surface") }
      defer { cairo_surface_destroy(surface) }
      cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title)
      cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Cassetto")
      guard let cr = cairo_create(surface) else { throw RenderError.cairo("no context") }
      let pages = layout(cr)
      for (index, page) in pages.enumerated() {
        cairo_set_source_rgb(cr, 0, 0, 0)
        for line in page {
          Self.select(cr, line.style)
          cairo_move_to(cr, Self.margin, line.y)
          cairo_show_text(cr, line.text)
        }
        Self.select(cr, .small)
        let footerY = Self.pageHeight - Self.margin + 10
        cairo_move_to(cr, Self.margin, footerY)
        cairo_show_text(cr, "Prodotto il \(producedAt)")
        let number = "Pagina \(index + 1) di \(pages.count)"
        cairo_move_to(cr, Self.pageWidth - Self.margin - Self.width(cr, number), footerY)
        cairo_show_text(cr, number)
        cairo_show_page(cr)
      }
      let status = cairo_status(cr)
      cairo_destroy(cr)
      cairo_surface_finish(surface)
      let surfaceStatus = cairo_surface_status(surface)
      guard status == CAIRO_STATUS_SUCCESS, surfaceStatus == CAIRO_STATUS_SUCCESS else {
        throw RenderError.cairo(
          String(
            cString: cairo_status_to_string(
              status != CAIRO_STATUS_SUCCESS ? status : surfaceStatus)))
      }
      return sink.bytes
    }
  }
}
