import ArgumentParser
import Contracts
import Foundation
import RPC

/// `cassetto whoami`: Identity/WhoAmI.
struct WhoAmI: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "whoami",
    abstract: "Who the server says you are: identity, enablements, operator roles, contacts.")

  @OptionGroup var connection: ConnectionOptions

  func run() async throws {
    let me = try await connection.call { context in
      try await Cassetto_Identity_V1_IdentityClient(channel: context.channel).whoAmI(
        Cassetto_Identity_V1_WhoAmIRequest(), metadata: context.metadata,
        options: context.options
      ).message
    }
    if connection.json {
      printJSON(Self.json(me))
      return
    }
    var pairs: [(String, String)] = []
    if !me.serviceName.isEmpty { pairs.append(("service", me.serviceName)) }
    if !me.fiscalCode.isEmpty {
      pairs.append(("fiscal code", me.fiscalCode))
      pairs.append(("name", "\(me.givenName) \(me.familyName)".trimmingCharacters(in: .whitespaces)))
      pairs.append(("login", "\(enumName(me.authMethod)), SPID level \(me.spidLevel)"))
    }
    if let contacts = me.contacts {
      for (key, value) in [("e-mail", contacts.email), ("PEC", contacts.pec), ("mobile", contacts.mobile)]
      where !value.isEmpty {
        pairs.append((key, value))
      }
    }
    print(keyValues(pairs))
    if !me.abilitazioni.isEmpty {
      var table = Table("ENABLEMENT", "FORM", "SCOPES", "SEDE", "EMPLOYER", "STATE")
      for item in me.abilitazioni {
        table.add(
          item.id, enumName(item.form),
          (item.scopes.map(enumName) + item.ra012Services.map(enumName)).joined(separator: ","),
          item.sedeCode, item.employerFiscalCode, enumName(item.state))
      }
      print("\n" + table.render())
    }
    if !me.operatorRoles.isEmpty {
      var table = Table("ROLE", "SEDE", "ACTIVE", "GRANTED BY")
      for role in me.operatorRoles {
        table.add(enumName(role.role), role.sedeCode, role.active ? "yes" : "no", role.grantedBy)
      }
      print("\n" + table.render())
    }
    if !me.alboRegistrations.isEmpty {
      var table = Table("ALBO", "ORDINE", "NUMBER", "STATE")
      for albo in me.alboRegistrations {
        table.add(enumName(albo.albo), albo.ordine, albo.registrationNumber, enumName(albo.state))
      }
      print("\n" + table.render())
    }
  }

  static func json(_ me: Cassetto_Identity_V1_WhoAmIResponse) -> JSONObject {
    var object = JSONObject()
    object["fiscalCode"] = me.fiscalCode
    object["givenName"] = me.givenName
    object["familyName"] = me.familyName
    if me.authMethod != .unspecified { object["authMethod"] = enumJSON(me.authMethod, "AUTH_METHOD") }
    object["spidLevel"] = Int(me.spidLevel)
    object["serviceName"] = me.serviceName
    object["abilitazioni"] = me.abilitazioni.map { item in
      var entry = JSONObject()
      entry["id"] = item.id
      entry["holderFiscalCode"] = item.holderFiscalCode
      entry["form"] = enumJSON(item.form, "FORM")
      entry["scopes"] = item.scopes.map { enumJSON($0, "SCOPE") }
      entry["ra012Services"] = item.ra012Services.map { enumJSON($0, "RA012_SERVICE") }
      entry["sedeCode"] = item.sedeCode
      entry["employerFiscalCode"] = item.employerFiscalCode
      entry["state"] = enumJSON(item.state, "ABILITAZIONE_STATE")
      entry["grantedAt"] = text(item.grantedAt)
      entry["revokedAt"] = text(item.revokedAt)
      entry["legacy"] = item.legacy
      entry["sourceRequestId"] = item.sourceRequestId
      return entry
    }
    object["operatorRoles"] = me.operatorRoles.map { role in
      var entry = JSONObject()
      entry["fiscalCode"] = role.fiscalCode
      entry["sedeCode"] = role.sedeCode
      entry["role"] = enumJSON(role.role, "ROLE")
      entry["active"] = role.active
      entry["grantedBy"] = role.grantedBy
      entry["grantedAt"] = text(role.grantedAt)
      entry["revokedAt"] = text(role.revokedAt)
      return entry
    }
    if let contacts = me.contacts {
      var entry = JSONObject()
      entry["email"] = contacts.email
      entry["pec"] = contacts.pec
      entry["mobile"] = contacts.mobile
      object["contacts"] = entry
    }
    object["alboRegistrations"] = me.alboRegistrations.map { albo in
      var entry = JSONObject()
      entry["fiscalCode"] = albo.fiscalCode
      entry["albo"] = enumJSON(albo.albo, "ALBO")
      entry["ordine"] = albo.ordine
      entry["registrationNumber"] = albo.registrationNumber
      entry["state"] = enumJSON(albo.state, "ALBO_STATE")
      entry["registeredOn"] = text(albo.registeredOn)
      entry["givenName"] = albo.givenName
      entry["familyName"] = albo.familyName
      return entry
    }
    return object
  }
}
