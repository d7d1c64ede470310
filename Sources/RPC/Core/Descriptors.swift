/// The kind of a method: whether each side sends one message or a stream.
public enum RPCKind: Sendable, Hashable {
  case unary
  case clientStreaming
  case serverStreaming
  case bidirectionalStreaming
}

/// Identifies a method: `/package.Service/Method` on the wire.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
  /// Fully qualified service name, e.g. `grpc.testing.TestService`.
  public var service: String
  /// Method name, e.g. `UnaryCall`.
  public var method: String
  public var kind: RPCKind

  public init(service: String, method: String, kind: RPCKind) {
    self.service = service
    self.method = method
    self.kind = kind
  }

  /// The HTTP/2 `:path` of the method.
  public var path: String { "/\(service)/\(method)" }
  public var description: String { path }
}

/// A `.proto` file as protoc saw it: its serialized `FileDescriptorProto` and its imports.
///
/// protobuf-c keeps no serialized descriptors, so the code generator embeds them; server
/// reflection serves these bytes.
public final class ProtoFileDescriptor: Sendable {
  /// Path of the file as imported, e.g. `grpc/testing/test.proto`.
  public let name: String
  public let package: String
  /// Serialized `google.protobuf.FileDescriptorProto`.
  public let serialized: [UInt8]
  /// Files this one imports.
  public let dependencies: [ProtoFileDescriptor]
  /// Fully qualified names defined here: messages (nested too), enums, services, methods.
  public let symbols: [String]

  public init(
    name: String, package: String, serialized: [UInt8], dependencies: [ProtoFileDescriptor],
    symbols: [String]
  ) {
    self.name = name
    self.package = package
    self.serialized = serialized
    self.dependencies = dependencies
    self.symbols = symbols
  }
}

/// A service as registered with a server: its name, methods and the file that declares it.
public struct ServiceDefinition: Sendable {
  public var name: String
  public var methods: [ServerMethod]
  public var file: ProtoFileDescriptor?

  public init(name: String, methods: [ServerMethod], file: ProtoFileDescriptor?) {
    self.name = name
    self.methods = methods
    self.file = file
  }

  /// The same service, declared non-blocking: every handler runs on its connection's event
  /// loop (``ServerMethod/runsOnEventLoop``). Only for handlers that never block a thread —
  /// no synchronous storage, file or network I/O — since a blocked loop stalls all of its
  /// connections; awaiting (suspending) is fine.
  public func runningOnEventLoops() -> ServiceDefinition {
    var copy = self
    for index in copy.methods.indices { copy.methods[index].runsOnEventLoop = true }
    return copy
  }
}
