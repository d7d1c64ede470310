import Access
import Contracts
import Foundation

/// The two-level trees of request topics (*oggetti*) per fund, from the seeds: Allegato 1 of
/// Messaggio 4702 (private UniEmens companies), Circolare 34 §3.1 (public administrations);
/// for Gestione Separata clients the seed (Messaggio 6838) gives only the two-level shape, so
/// its list is **provisional** (design choice). A class without subjects is itself
/// selectable (its code is the subject code). Codes: fund letter, class number, subject
/// number ("P03.02"); every subject has the position's sede as routing and the default answer
/// threshold of 30 days (DOMAIN.md, Agenda appuntamenti; design choice), overridable per code.
public struct SubjectCatalogue: Sendable {
  public struct Entry: Sendable, Hashable {
    public var code: String
    public var classTitle: String
    public var title: String
    public var thresholdDays: Int
    public var routing: String
  }

  /// Classes with their subjects, per fund; funds without a tree may not use ticketing.
  let trees: [Fund: [(code: String, title: String, subjects: [(code: String, title: String)])]]
  let entries: [String: (fund: Fund, entry: Entry)]

  public static let defaultThresholdDays = 30

  public init(thresholdOverrides: [String: Int] = [:]) {
    var trees: [Fund: [(code: String, title: String, subjects: [(code: String, title: String)])]] = [:]
    var entries: [String: (fund: Fund, entry: Entry)] = [:]
    for (fund, letter, raw) in [
      (Fund.privatiUniEmens, "P", Self.privati), (.pubbliciGDP, "G", Self.pubblici),
      (.gestioneSeparata, "S", Self.gestioneSeparata),
    ] {
      var classes: [(code: String, title: String, subjects: [(code: String, title: String)])] = []
      for (classIndex, item) in raw.enumerated() {
        let classCode = "\(letter)\(String(format: "%02d", classIndex + 1))"
        var subjects: [(code: String, title: String)] = []
        for (subjectIndex, title) in item.1.enumerated() {
          subjects.append((code: "\(classCode).\(String(format: "%02d", subjectIndex + 1))", title: title))
        }
        classes.append((code: classCode, title: item.0, subjects: subjects))
        let selectable = subjects.isEmpty ? [(code: classCode, title: item.0)] : subjects
        for subject in selectable {
          entries[subject.code] = (
            fund,
            Entry(
              code: subject.code, classTitle: item.0, title: subject.title,
              thresholdDays: thresholdOverrides[subject.code] ?? Self.defaultThresholdDays,
              routing: "SEDE")
          )
        }
      }
      trees[fund] = classes
    }
    self.trees = trees
    self.entries = entries
  }

  public enum LoadError: Error, CustomStringConvertible {
    case invalid(String)
    public var description: String {
      switch self { case .invalid(let reason): "ticketing thresholds: \(reason)" }
    }
  }

  /// The shipped trees with the answer thresholds of a JSON file `{"P01.02": 15, …}`:
  /// every code must be a selectable subject, every value 1…365 days.
  public static func load(thresholdsFile path: String?) throws -> SubjectCatalogue {
    guard let path else { return SubjectCatalogue() }
    guard let data = FileManager.default.contents(atPath: path),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { throw LoadError.invalid("\(path) is not a JSON object of subject code → days") }
    let known = SubjectCatalogue()
    var overrides: [String: Int] = [:]
    for (code, value) in object {
      guard known.subject(code) != nil else {
        throw LoadError.invalid("\(path): '\(code)' is not a selectable subject code")
      }
      guard let days = value as? Int, (1...365).contains(days) else {
        throw LoadError.invalid("\(path): '\(code)' must be 1…365 days")
      }
      overrides[code] = days
    }
    return SubjectCatalogue(thresholdOverrides: overrides)
  }

  /// The subject `code` of `fund`'s tree, or `nil`.
  public func subject(_ code: String, fund: Fund) -> Entry? {
    guard let found = entries[code], found.fund == fund else { return nil }
    return found.entry
  }

  /// The subject `code` in any tree (for stored richieste).
  public func subject(_ code: String) -> Entry? { entries[code]?.entry }

  public func accepts(_ fund: Fund) -> Bool { trees[fund] != nil }

  func tree(_ fund: Fund) -> [Cassetto_Ticketing_V1_SubjectClass] {
    (trees[fund] ?? []).map { item in
      var subjectClass = Cassetto_Ticketing_V1_SubjectClass()
      subjectClass.code = item.code
      subjectClass.title = item.title
      subjectClass.selectable = item.subjects.isEmpty
      subjectClass.subjects = item.subjects.map { subject in
        var message = Cassetto_Ticketing_V1_Subject()
        message.code = subject.code
        message.title = subject.title
        let entry = entries[subject.code]?.entry
        message.answerThresholdDays = Int32(entry?.thresholdDays ?? Self.defaultThresholdDays)
        message.routing = entry?.routing ?? "SEDE"
        return message
      }
      return subjectClass
    }
  }

  /// Allegato 1, Messaggio 4702.
  static let privati: [(String, [String])] = [
    ("UniEmens", [
      "Confronto DM10 - EMens", "Note rettifica", "Regolarizzazione (DM-VIG)",
      "Regolarizzazione (DM-VIG) - Invio documentazione", "Scoperture contributive",
      "UniEmens trasmessi", "Comunicazione annullamento denuncia",
      "Comunicazione blocco effetti della denuncia", "Convocazione azienda per verifica denuncia",
      "Verifica Denuncia ex L. 335/1995", "Comunicazione accertamento per regolarizzazione",
      "Diffide Proposte Vig",
    ]),
    ("Denunce individuali", ["770/SA", "Emens"]),
    ("Posizione aziendale", [
      "Esodi lavoratori prossimi a pensione (l. 92/2012)", "Estratto conto", "Inquadramento",
      "Variazione Dati Aziendali",
    ]),
    ("Fondi Interprof.", ["Adesione", "Vicende societarie (fusioni, scissioni)"]),
    ("Assunzioni agevolate e sgravi", [
      "Sgravio Art. 3 del DL 14 agosto 2020, n. 104", "Altre agevolazioni", "Apprendistato",
      "Apprendisti senza limiti di età da DS o mobilità", "Bonus occupazionale Garanzia Giovani",
      "Durc interno (regolarità contributiva)",
      "Esonero contributivo biennale legge n. 208/2015",
      "Esonero contributivo triennale legge n. 190/2014",
      "Incentivo assunzione donne e giovani - DM 05.10.2012",
      "L. 223/1991 (assunzione iscritti nelle liste di mobilità)",
      "L. 407/1990 (assunzione di disoccupati di lunga durata)",
      "Contributo straordinario Fondo Gas DL 78/2015",
      "L.92/2012 art.2, c. 10bis (assunzione di beneficiari di ASpI)",
    ]),
    ("Versamenti (F24)", ["Compensazione F24", "Pagamenti F24"]),
    ("CIGO - CIGS - Solidarietà", [
      "CIGO - CIGS - Solidarietà (a stralcio)", "CIGO", "CIGS", "CIGD", "FIS",
      "SR41 Pagamenti diretti", "Requisito occupazionale Cigo",
    ]),
    ("Durc (Documento di regolarità contributiva)", []),
    ("Recupero del credito", [
      "Avvisi bonari", "Avvisi di addebito", "Cartelle di pagamento", "Dilazione amministrativa",
      "Dilazioni su Cartella", "Riduzioni sanzioni civili",
    ]),
    ("Omesso versamento ritenute previdenziali", []),
    ("Contenzioso amm.vo", []),
    ("Ispez. di Vigilanza", []),
    ("Vigilanza documentale", [
      "Confronto dei Monti", "Controllo quadro D modello", "Controllo versamenti TFR",
      "Recupero contributo Giasone",
      "Regolarizzazione per reiezione CIG in edilizia (Pegaso)",
      "Tutoraggio aziende Uniemens (TUTOR)",
    ]),
    ("Certificazioni", ["Certificazioni di distacco"]),
    ("Certificazioni di malattia", ["Surroghe", "Visite mediche di controllo"]),
    ("Servizi Settore Sport e Spettacolo", ["Richiesta Variazione Agibilità"]),
  ]

  /// Circolare 34/2023 §3.1.
  static let pubblici: [(String, [String])] = [
    ("Uniemens", [
      "Note di rettifica", "Regolarizzazione (documentazione a seguito di contestazione)",
      "Enti inadempienti", "Uniemens trasmessi",
    ]),
    ("Denunce individuali", ["770", "Uniemens D0"]),
    ("Versamenti", ["Pagamenti", "Rimborsi/compensazioni"]),
    ("Durc (Documento unico di regolarità contributiva)", []),
    ("Gestione del credito", [
      "Estratto conto amministrazione (ECA)", "Note di debito", "Avvisi di addebito (AVA)",
      "Gestione scarti piani di ammortamento", "Dilazione amministrativa",
    ]),
    ("Certificazioni", ["Certificazioni di distacco"]),
  ]

  /// Provisional (Messaggio 6838 gives only the shape).
  static let gestioneSeparata: [(String, [String])] = [
    ("Denunce UniEmens committenti", ["Denunce trasmesse", "Note di rettifica"]),
    ("Versamenti", ["Pagamenti F24", "Compensazioni e rimborsi"]),
    ("Posizione committente", ["Variazione dati", "Contatti di riferimento (PEC, e-mail, cellulare)"]),
    ("Recupero del credito", ["Avvisi bonari", "Avvisi di addebito"]),
  ]
}
