import Access
import Contracts
import Foundation

/// The drawer's application registry (issue 5 item 4; Messaggio 4702/2020: "ogni nuova
/// applicazione può essere aggiunta … configurandola"): the menu sections and, per
/// application, its section, title, target (an RPC path or an https link), and which funds,
/// profile scopes and roles see it. `GetMenu` filters it for caller × position; adding an
/// application is a change to the JSON file only. Format in docs/posizioni.md; the shipped
/// registry is ``defaultJSON`` (copied in `config/applications.json`).
public struct ApplicationRegistry: Sendable, Hashable {
  /// How the caller reaches the position (the first link of the read decision's chain).
  public enum Role: String, Sendable, Hashable, CaseIterable {
    /// Legal representative or altro responsabile of the subject.
    case owner
    /// Delegate through a delega (dipendente or intermediario).
    case delegate
    /// Delegate through a sub-delega.
    case subdelegate
    /// Operator of the position's sede.
    case `operator`
    /// A back-end granted `posizioni.read`.
    case service
  }

  public struct Section: Sendable, Hashable {
    public var id: String
    public var title: String
  }

  public struct Application: Sendable, Hashable {
    public var id: String
    public var section: String
    public var title: String
    /// `/package.Service/Method` or an `https://` link.
    public var target: String
    /// Funds whose positions show it; empty: every fund.
    public var funds: Set<Cassetto_Common_V1_Fund>
    /// Profile scopes of which an owner, delegate or sub-delegate must hold one; empty: none
    /// needed. Operators and back-ends hold no profile: scopes do not apply to them.
    public var scopes: Set<ProfileScope>
    /// Roles that see it (at least one).
    public var roles: Set<Role>
  }

  public var sections: [Section]
  public var applications: [Application]

  /// A bad registry: which entry and which field, and why.
  public struct Invalid: Error, CustomStringConvertible, Sendable, Equatable {
    /// `applications[3] ("gest-note-debito")`, `sections[0]`, or the file as a whole.
    public var entry: String
    public var field: String
    public var reason: String
    public var description: String { "\(entry) field \"\(field)\": \(reason)" }
  }

  /// Reads and validates the registry at `path` (`nil`: the built-in ``defaultJSON``).
  /// Errors name the file, the entry and the field.
  public static func load(path: String?) throws -> ApplicationRegistry {
    guard let path else { return try parse(Data(defaultJSON.utf8)) }
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ConfigurationFileError(message: "application registry \(path): cannot read the file")
    }
    do {
      return try parse(data)
    } catch {
      throw ConfigurationFileError(message: "application registry \(path): \(error)")
    }
  }

  /// The shipped registry (``defaultJSON``); empty only if it were invalid, which a test
  /// rules out.
  public static let builtIn: ApplicationRegistry =
    (try? parse(Data(defaultJSON.utf8))) ?? ApplicationRegistry(sections: [], applications: [])

  static let idPattern = #"^[a-z0-9][a-z0-9-]{0,62}$"#
  static let rpcPattern = #"^/[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.[A-Z][A-Za-z0-9]*/[A-Z][A-Za-z0-9]*$"#

  /// Parses and validates registry JSON: every unknown key, missing or bad field is refused
  /// with the entry and field named (RPC targets are checked against the served methods by
  /// ``checkTargets(served:path:)``).
  public static func parse(_ data: Data) throws(Invalid)
    -> ApplicationRegistry
  {
    func fail(_ entry: String, _ field: String, _ reason: String) -> Invalid {
      Invalid(entry: entry, field: field, reason: reason)
    }
    guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw fail("the registry", "(document)", "not a JSON object")
    }
    for key in root.keys where !["sections", "applications"].contains(key) {
      throw fail("the registry", key, "unknown key (sections, applications)")
    }
    guard let sectionList = root["sections"] as? [[String: Any]], !sectionList.isEmpty else {
      throw fail("the registry", "sections", "required: a non-empty list of objects")
    }
    guard let applicationList = root["applications"] as? [[String: Any]] else {
      throw fail("the registry", "applications", "required: a list of objects")
    }
    func string(_ object: [String: Any], _ key: String, entry: String) throws(Invalid) -> String {
      guard let value = object[key] as? String else {
        throw fail(entry, key, object[key] == nil ? "required" : "must be a string")
      }
      return value
    }
    func strings(_ object: [String: Any], _ key: String, entry: String) throws(Invalid)
      -> [String]
    {
      guard let value = object[key] else { return [] }
      guard let list = value as? [String] else { throw fail(entry, key, "must be a list of strings") }
      return list
    }
    func id(_ object: [String: Any], entry: String) throws(Invalid) -> String {
      let value = try string(object, "id", entry: entry)
      guard value.range(of: idPattern, options: .regularExpression) != nil else {
        throw fail(entry, "id", "must be 1 to 63 lowercase letters, digits or '-'")
      }
      return value
    }
    func title(_ object: [String: Any], entry: String) throws(Invalid) -> String {
      let value = try string(object, "title", entry: entry)
        .trimmingCharacters(in: .whitespaces)
      guard (1...100).contains(value.count) else {
        throw fail(entry, "title", "must be 1 to 100 characters")
      }
      return value
    }

    var sections: [Section] = []
    for (offset, object) in sectionList.enumerated() {
      var entry = "sections[\(offset)]"
      let sectionID = try id(object, entry: entry)
      entry += " (\"\(sectionID)\")"
      for key in object.keys where !["id", "title"].contains(key) {
        throw fail(entry, key, "unknown key (id, title)")
      }
      if sections.contains(where: { $0.id == sectionID }) {
        throw fail(entry, "id", "repeats section \(sectionID)")
      }
      sections.append(Section(id: sectionID, title: try title(object, entry: entry)))
    }

    let fundNames: [String: Cassetto_Common_V1_Fund] = [
      "FUND_PRIVATI_UNIEMENS": .privatiUniemens, "FUND_PUBBLICI_GDP": .pubbliciGdp,
      "FUND_GESTIONE_SEPARATA": .gestioneSeparata, "FUND_AGRICOLI": .agricoli,
    ]
    let scopeNames: [String: ProfileScope] = [
      "SCOPE_CONTRIBUZIONE_PRIVATI": .contribuzionePrivati,
      "SCOPE_CONTRIBUZIONE_PUBBLICI": .contribuzionePubblici,
    ]
    let keys = ["id", "section", "title", "target", "funds", "scopes", "roles"]
    var applications: [Application] = []
    for (offset, object) in applicationList.enumerated() {
      var entry = "applications[\(offset)]"
      let applicationID = try id(object, entry: entry)
      entry += " (\"\(applicationID)\")"
      for key in object.keys.sorted() where !keys.contains(key) {
        throw fail(entry, key, "unknown key (\(keys.joined(separator: ", ")))")
      }
      if applications.contains(where: { $0.id == applicationID }) {
        throw fail(entry, "id", "repeats application \(applicationID)")
      }
      let section = try string(object, "section", entry: entry)
      guard sections.contains(where: { $0.id == section }) else {
        throw fail(entry, "section", "unknown section \"\(section)\"")
      }
      let name = try title(object, entry: entry)
      let target = try string(object, "target", entry: entry)
      if target.hasPrefix("/") {
        guard target.range(of: rpcPattern, options: .regularExpression) != nil else {
          throw fail(entry, "target", "an RPC target is /package.Service/Method")
        }
      } else {
        guard let url = URL(string: target), url.scheme == "https", url.host?.isEmpty == false
        else {
          throw fail(entry, "target", "must be an RPC path (/package.Service/Method) or an https:// link")
        }
      }
      var funds = Set<Cassetto_Common_V1_Fund>()
      for value in try strings(object, "funds", entry: entry) {
        guard let fund = fundNames[value] else {
          throw fail(
            entry, "funds",
            "unknown fund \"\(value)\" (\(fundNames.keys.sorted().joined(separator: ", ")))")
        }
        funds.insert(fund)
      }
      var scopes = Set<ProfileScope>()
      for value in try strings(object, "scopes", entry: entry) {
        guard let scope = scopeNames[value] else {
          throw fail(
            entry, "scopes",
            "unknown scope \"\(value)\" (\(scopeNames.keys.sorted().joined(separator: ", ")))")
        }
        scopes.insert(scope)
      }
      var roles = Set<Role>()
      for value in try strings(object, "roles", entry: entry) {
        guard let role = Role(rawValue: value) else {
          throw fail(
            entry, "roles",
            "unknown role \"\(value)\" (\(Role.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        roles.insert(role)
      }
      if roles.isEmpty { throw fail(entry, "roles", "required: at least one role") }
      applications.append(
        Application(
          id: applicationID, section: section, title: name, target: target, funds: funds,
          scopes: scopes, roles: roles))
    }
    return ApplicationRegistry(sections: sections, applications: applications)
  }

  /// Refuses an application whose RPC target is not among the `served` method paths; the
  /// error names the file (`path`, `nil`: built-in), the entry and the field.
  public func checkTargets(served: Set<String>, path: String?) throws {
    for (offset, application) in applications.enumerated()
    where application.target.hasPrefix("/") && !served.contains(application.target) {
      let invalid = Invalid(
        entry: "applications[\(offset)] (\"\(application.id)\")", field: "target",
        reason: "no such RPC on this server: \(application.target)")
      throw ConfigurationFileError(
        message: "application registry \(path ?? "(built-in)"): \(invalid)")
    }
  }

  /// The menu for a caller in `role` holding `scopes`, on a position of `fund`: the sections
  /// in registry order with their visible applications; sections left empty are omitted.
  public func menu(fund: Cassetto_Common_V1_Fund, role: Role, scopes: Set<ProfileScope>)
    -> Cassetto_Posizioni_V1_Menu
  {
    var menu = Cassetto_Posizioni_V1_Menu()
    for section in sections {
      let items = applications.filter { application in
        guard application.section == section.id, application.roles.contains(role) else {
          return false
        }
        if !application.funds.isEmpty && !application.funds.contains(fund) { return false }
        switch role {
        case .owner, .delegate, .subdelegate:
          return application.scopes.isEmpty || !application.scopes.isDisjoint(with: scopes)
        case .operator, .service:
          return true
        }
      }
      guard !items.isEmpty else { continue }
      var menuSection = Cassetto_Posizioni_V1_MenuSection()
      menuSection.id = section.id
      menuSection.title = section.title
      menuSection.items = items.map {
        var item = Cassetto_Posizioni_V1_MenuItem()
        item.id = $0.id
        item.title = $0.title
        item.target = $0.target
        return item
      }
      menu.sections.append(menuSection)
    }
    return menu
  }
}

/// A configuration file that cannot be used; the message names the file, entry and field.
public struct ConfigurationFileError: Error, CustomStringConvertible, Sendable {
  public var message: String
  public var description: String { message }
}

extension ApplicationRegistry.Role {
  /// The role of the first link of a read decision's chain (`owner:…`, `sede:…`,
  /// `delega:…`, `subdelega:…`, `service:…`; see `[AccessGrant].auditText`).
  init?(chain: String?) {
    guard let chain, let link = chain.split(separator: ":", maxSplits: 1).first else {
      return nil
    }
    switch link {
    case "owner": self = .owner
    case "sede": self = .operator
    case "delega": self = .delegate
    case "subdelega": self = .subdelegate
    case "service": self = .service
    default: return nil
    }
  }
}
