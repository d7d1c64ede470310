import Contracts
import RPC
import Testing

/// A handler of the feature service, to check the generated protocol and route table.
private struct FeatureHandler: Cassetto_Testing_V1_FeatureServiceHandler {
  func echo(request: Cassetto_Testing_V1_Scalars, context: ServerContext) async throws
    -> Cassetto_Testing_V1_Scalars
  { request }

  func expand(
    request: Cassetto_Testing_V1_Collections,
    responses: ResponseWriter<Cassetto_Testing_V1_Outer.Inner>, context: ServerContext
  ) async throws {}

  func collect(
    requests: RequestStream<Cassetto_Testing_V1_Outer.Inner>, context: ServerContext
  ) async throws -> Cassetto_Testing_V1_Collections { .init() }

  func chat(
    requests: RequestStream<Cassetto_Testing_V1_Choice>,
    responses: ResponseWriter<Cassetto_Testing_V1_Choice>, context: ServerContext
  ) async throws {}

  func ping(request: Google_Protobuf_Empty, context: ServerContext) async throws
    -> Cassetto_Testing_V1_Empty
  { .init() }
}

@Suite struct ServiceTests {
  @Test func serviceDefinitionListsEveryMethodWithItsKind() {
    let definition = FeatureHandler().serviceDefinition
    #expect(definition.name == "cassetto.testing.v1.FeatureService")
    #expect(definition.file === ProtoFile_cassetto_testing_v1_features.descriptor)
    #expect(
      definition.methods.map(\.descriptor) == [
        MethodDescriptor(service: definition.name, method: "Echo", kind: .unary),
        MethodDescriptor(service: definition.name, method: "Expand", kind: .serverStreaming),
        MethodDescriptor(service: definition.name, method: "Collect", kind: .clientStreaming),
        MethodDescriptor(service: definition.name, method: "Chat", kind: .bidirectionalStreaming),
        MethodDescriptor(service: definition.name, method: "Ping", kind: .unary),
      ])
    #expect(Cassetto_Testing_V1_FeatureService.Method.echo.path == "/cassetto.testing.v1.FeatureService/Echo")
  }

  @Test func interopServiceNamesFollowTheConventions() {
    #expect(Grpc_Testing_TestService.name == "grpc.testing.TestService")
    #expect(Grpc_Testing_TestService.Method.unaryCall.method == "UnaryCall")
    #expect(Grpc_Testing_TestService.Method.streamingOutputCall.kind == .serverStreaming)
    #expect(Grpc_Testing_TestService.Method.streamingInputCall.kind == .clientStreaming)
    #expect(Grpc_Testing_TestService.Method.halfDuplexCall.kind == .bidirectionalStreaming)
    let client = Grpc_Testing_TestServiceClient(channel: Channel(host: "localhost", port: 1))
    #expect(client.channel.port == 1)
  }
}
