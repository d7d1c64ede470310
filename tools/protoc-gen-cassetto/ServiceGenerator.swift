// Services: method descriptors, the handler protocol with its ServiceDefinition, the client.

struct ServiceGenerator {
  let registry: TypeRegistry

  private func swiftType(_ typeName: String) -> String {
    registry[typeName]?.swiftName ?? "Never"
  }

  private func kind(_ method: MethodDescriptor) -> String {
    switch (method.clientStreaming, method.serverStreaming) {
    case (false, false): return "unary"
    case (true, false): return "clientStreaming"
    case (false, true): return "serverStreaming"
    case (true, true): return "bidirectionalStreaming"
    }
  }

  func generate(_ service: ServiceDescriptor, file: FileDescriptor, into p: inout Printer) {
    let prefix = Naming.swiftPrefix(package: file.package)
    let namespace = prefix + service.name
    let fileType = Naming.fileTypeName(file.name)

    p.line()
    p.docComment(service.comment)
    if service.comment != nil { p.line("///") }
    p.line("/// `\(service.fullName)`: its name and methods.")
    p.block("public enum \(namespace)") { p in
      p.line("public static let name = \(swiftStringLiteral(service.fullName))")
      p.line()
      p.block("public enum Method") { p in
        for method in service.methods {
          p.docComment(method.comment)
          p.line(
            "public static let \(Naming.escaped(Naming.lowerCamel(method.name))) = MethodDescriptor("
          )
          p.line(
            "  service: \(swiftStringLiteral(service.fullName)), "
              + "method: \(swiftStringLiteral(method.name)), kind: .\(kind(method)))")
        }
      }
    }

    p.line()
    p.line("/// Implement this to serve `\(service.fullName)`; register its `serviceDefinition`.")
    p.block("public protocol \(namespace)Handler: Sendable") { p in
      for method in service.methods {
        p.docComment(method.comment)
        let name = Naming.escaped(Naming.lowerCamel(method.name))
        let input = swiftType(method.inputType)
        let output = swiftType(method.outputType)
        switch (method.clientStreaming, method.serverStreaming) {
        case (false, false):
          p.line(
            "func \(name)(request: \(input), context: ServerContext) async throws -> \(output)")
        case (false, true):
          p.line("func \(name)(")
          p.line("  request: \(input), responses: ResponseWriter<\(output)>, context: ServerContext")
          p.line(") async throws")
        case (true, false):
          p.line("func \(name)(")
          p.line("  requests: RequestStream<\(input)>, context: ServerContext")
          p.line(") async throws -> \(output)")
        case (true, true):
          p.line("func \(name)(")
          p.line("  requests: RequestStream<\(input)>, responses: ResponseWriter<\(output)>,")
          p.line("  context: ServerContext")
          p.line(") async throws")
        }
      }
    }

    p.line()
    p.block("extension \(namespace)Handler") { p in
      p.line("/// What a `Server` registers.")
      p.block("public var serviceDefinition: ServiceDefinition") { p in
        p.line("ServiceDefinition(")
        p.line("  name: \(namespace).name,")
        p.line("  methods: [")
        p.indent()
        p.indent()
        for method in service.methods {
          let name = Naming.escaped(Naming.lowerCamel(method.name))
          let input = swiftType(method.inputType)
          let output = swiftType(method.outputType)
          let descriptor = "\(namespace).Method.\(name)"
          switch (method.clientStreaming, method.serverStreaming) {
          case (false, false):
            p.line(".unary(\(descriptor)) { (request: \(input), context) -> \(output) in")
            p.line("  try await self.\(name)(request: request, context: context)")
          case (false, true):
            p.line(".serverStreaming(\(descriptor)) {")
            p.line("  (request: \(input), responses: ResponseWriter<\(output)>, context) in")
            p.line("  try await self.\(name)(request: request, responses: responses, context: context)")
          case (true, false):
            p.line(".clientStreaming(\(descriptor)) {")
            p.line("  (requests: RequestStream<\(input)>, context) -> \(output) in")
            p.line("  try await self.\(name)(requests: requests, context: context)")
          case (true, true):
            p.line(".bidirectionalStreaming(\(descriptor)) {")
            p.line(
              "  (requests: RequestStream<\(input)>, responses: ResponseWriter<\(output)>, context) in"
            )
            p.line(
              "  try await self.\(name)(requests: requests, responses: responses, context: context)")
          }
          p.line("},")
        }
        p.outdent()
        p.outdent()
        p.line("  ],")
        p.line("  file: \(fileType).descriptor)")
      }
    }

    p.line()
    p.line("/// Typed client of `\(service.fullName)` over a `Channel`.")
    p.block("public struct \(namespace)Client: Sendable") { p in
      p.line("public let channel: Channel")
      p.line()
      p.line("public init(channel: Channel) { self.channel = channel }")
      for method in service.methods {
        let name = Naming.escaped(Naming.lowerCamel(method.name))
        let input = swiftType(method.inputType)
        let output = swiftType(method.outputType)
        let descriptor = "\(namespace).Method.\(name)"
        p.line()
        p.docComment(method.comment)
        switch (method.clientStreaming, method.serverStreaming) {
        case (false, false):
          p.line("public func \(name)(")
          p.line("  _ request: \(input), metadata: Metadata = [:], options: CallOptions = .defaults")
          p.block(") async throws -> ClientResponse<\(output)>") { p in
            p.line(
              "try await channel.unary(\(descriptor), request: request, metadata: metadata, "
                + "options: options)")
          }
        case (false, true):
          p.line("public func \(name)(")
          p.line("  _ request: \(input), metadata: Metadata = [:], options: CallOptions = .defaults")
          p.block(") async throws -> ServerStreamingCall<\(output)>") { p in
            p.line("try await channel.serverStreaming(")
            p.line("  \(descriptor), request: request, metadata: metadata, options: options)")
          }
        case (true, false):
          p.line("public func \(name)(")
          p.line("  metadata: Metadata = [:], options: CallOptions = .defaults")
          p.block(") async throws -> ClientStreamingCall<\(input), \(output)>") { p in
            p.line(
              "try await channel.clientStreaming(\(descriptor), metadata: metadata, options: options)")
          }
        case (true, true):
          p.line("public func \(name)(")
          p.line("  metadata: Metadata = [:], options: CallOptions = .defaults")
          p.block(") async throws -> BidirectionalStreamingCall<\(input), \(output)>") { p in
            p.line("try await channel.bidirectionalStreaming(")
            p.line("  \(descriptor), metadata: metadata, options: options)")
          }
        }
      }
    }
  }
}
