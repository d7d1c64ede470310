import RPC

/// What server reflection knows: every file that declares a registered service, with all the
/// files they import, indexed by file name and by symbol.
///
/// Built once from the services a server registers; the v1 and v1alpha reflection services
/// both answer from it.
struct ReflectionIndex: Sendable {
  let serviceNames: [String]
  private let filesByName: [String: ProtoFileDescriptor]
  private let fileBySymbol: [String: ProtoFileDescriptor]

  init(services: [ServiceDefinition]) {
    var byName: [String: ProtoFileDescriptor] = [:]
    var bySymbol: [String: ProtoFileDescriptor] = [:]
    func visit(_ file: ProtoFileDescriptor) {
      guard byName[file.name] == nil else { return }
      byName[file.name] = file
      for symbol in file.symbols { bySymbol[symbol] = file }
      file.dependencies.forEach(visit)
    }
    for service in services { service.file.map(visit) }
    serviceNames = services.map(\.name).sorted()
    filesByName = byName
    fileBySymbol = bySymbol
  }

  /// The answer to one reflection request.
  enum Answer {
    case files([[UInt8]])
    case services([String])
    case extensionNumbers(type: String, numbers: [Int32])
    case error(StatusCode, String)
  }

  /// One reflection request, whichever version of the contract it came in.
  enum Question {
    case fileByFilename(String)
    case fileContainingSymbol(String)
    case fileContainingExtension(type: String, number: Int32)
    case allExtensionNumbersOfType(String)
    case listServices
    case missing
  }

  func answer(_ question: Question) -> Answer {
    switch question {
    case .fileByFilename(let name):
      guard let file = filesByName[name] else { return .error(.notFound, "file not found") }
      return .files(closure(of: file))
    case .fileContainingSymbol(let symbol):
      guard let file = lookUp(symbol: symbol) else {
        return .error(.notFound, "symbol not found")
      }
      return .files(closure(of: file))
    case .fileContainingExtension:
      // Our contracts declare no extensions of their own.
      return .error(.notFound, "extension not found")
    case .allExtensionNumbersOfType(let type):
      guard fileBySymbol[type] != nil else { return .error(.notFound, "type not found") }
      return .extensionNumbers(type: type, numbers: [])
    case .listServices:
      return .services(serviceNames)
    case .missing:
      return .error(.invalidArgument, "empty reflection request")
    }
  }

  /// A symbol, or the message/service that declares it (`pkg.Service.Method`,
  /// `pkg.Message.field`), as grpc's own reflection servers resolve it.
  private func lookUp(symbol: String) -> ProtoFileDescriptor? {
    var name = Substring(symbol)
    while true {
      if let file = fileBySymbol[String(name)] { return file }
      guard let dot = name.lastIndex(of: ".") else { return nil }
      name = name[..<dot]
    }
  }

  /// `file` first, then every file it imports, directly or not, each once.
  private func closure(of file: ProtoFileDescriptor) -> [[UInt8]] {
    var seen: Set<String> = []
    var out: [[UInt8]] = []
    func visit(_ f: ProtoFileDescriptor) {
      guard seen.insert(f.name).inserted else { return }
      out.append(f.serialized)
      f.dependencies.forEach(visit)
    }
    visit(file)
    return out
  }
}
