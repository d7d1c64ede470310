import Documents
import Foundation

/// The printable form of a delega a intermediario, rendered by ``PDFDocument`` (Documents):
/// word-wrapped paragraphs on A4 pages with "Pagina N di M" and the production date.
struct DelegaFormPDF: Sendable {
  struct Party: Sendable {
    var name: String
    var fiscalCode: String
  }

  var delegaID: String
  var intermediary: Party
  /// The intermediary's professional register (albo) as far as this server knows it.
  var albo: String
  var subject: Party
  var legalRepresentative: Party
  /// "tutte le posizioni del soggetto" or the covered matricola(s).
  var positions: String
  var decorrenza: String
  var endDate: String
  /// Production instant, already formatted (Europe/Rome).
  var producedAt: String

  private typealias Block = PDFDocument.Block

  private var blocks: [Block] {
    let rep = "\(legalRepresentative.name) (codice fiscale \(legalRepresentative.fiscalCode))"
    return [
      Block(style: .title, text: "Delega a intermediario"),
      Block(
        style: .small,
        text: "Modulo per la delega all'accesso al cassetto previdenziale · delega n. \(delegaID)"),
      Block(style: .heading, text: "Intermediario (delegato)", spaceBefore: 14),
      Block(style: .body, text: "Nome e cognome: \(intermediary.name)"),
      Block(style: .body, text: "Codice fiscale: \(intermediary.fiscalCode)"),
      Block(style: .body, text: "Albo professionale: \(albo)"),
      Block(style: .heading, text: "Soggetto contribuente (delegante)", spaceBefore: 10),
      Block(style: .body, text: "Denominazione: \(subject.name)"),
      Block(style: .body, text: "Codice fiscale: \(subject.fiscalCode)"),
      Block(style: .body, text: "Legale rappresentante / altro responsabile: \(rep)"),
      Block(style: .heading, text: "Oggetto e durata della delega", spaceBefore: 10),
      Block(style: .body, text: "Posizioni: \(positions)"),
      Block(style: .body, text: "Decorrenza: \(decorrenza)"),
      Block(style: .body, text: "Data di fine: \(endDate)"),
      Block(style: .heading, text: "Dichiarazione", spaceBefore: 10),
      Block(
        style: .body,
        text: """
          Il sottoscritto \(legalRepresentative.name), codice fiscale \
          \(legalRepresentative.fiscalCode), in qualità di legale rappresentante o altro \
          responsabile del soggetto contribuente \(subject.name) (codice fiscale \
          \(subject.fiscalCode)), delega l'intermediario \(intermediary.name) (codice fiscale \
          \(intermediary.fiscalCode)) ad accedere, per suo conto, al cassetto previdenziale per \
          le posizioni indicate, dalla data di decorrenza alla data di fine.
          """),
      Block(
        style: .body,
        text: """
          L'intermediario conserva il presente modulo firmato e una copia del documento di \
          identità del delegante per tutta la durata della delega e per i cinque anni \
          successivi alla sua cessazione, e li esibisce a richiesta.
          """, spaceBefore: 4),
      Block(
        style: .body,
        text: """
          La delega diventa efficace quando l'intermediario inserisce il codice OTP inviato \
          alla PEC del soggetto contribuente e dichiara che il delegante ha firmato il modulo.
          """, spaceBefore: 4),
      Block(
        style: .body, text: "Luogo ______________________   Data ____ / ____ / ________",
        spaceBefore: 28),
      Block(style: .body, text: "Firma del delegante", spaceBefore: 28),
      Block(style: .body, text: "_______________________________________", spaceBefore: 22),
      Block(style: .body, text: "Firma dell'intermediario", spaceBefore: 16),
      Block(style: .body, text: "_______________________________________", spaceBefore: 22),
    ]
  }

  /// The whole PDF document.
  func render() throws -> [UInt8] {
    try PDFDocument(title: "Delega a intermediario", blocks: blocks, producedAt: producedAt)
      .render()
  }
}
