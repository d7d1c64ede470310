import Contracts
import RPC
import Testing

/// The per-file descriptors that server reflection serves.
@Suite struct DescriptorTests {
  @Test func testProtoListsItsSymbolsAndDependencies() {
    let file = ProtoFile_grpc_testing_test.descriptor
    #expect(file.name == "grpc/testing/test.proto")
    #expect(file.package == "grpc.testing")
    #expect(file.dependencies.map(\.name) == ["grpc/testing/empty.proto", "grpc/testing/messages.proto"])
    #expect(file.symbols.contains("grpc.testing.TestService"))
    #expect(file.symbols.contains("grpc.testing.TestService.UnaryCall"))
    #expect(file.symbols.contains("grpc.testing.TestService.FullDuplexCall"))
    #expect(file.symbols.contains("grpc.testing.ReconnectService.Start"))
    #expect(!file.symbols.contains("grpc.testing.SimpleRequest"))  // that is messages.proto
    #expect(ProtoFile_grpc_testing_messages.descriptor.symbols.contains("grpc.testing.SimpleRequest"))
    #expect(ProtoFile_grpc_testing_messages.descriptor.symbols.contains("grpc.testing.PayloadType"))
  }

  @Test func nestedSymbolsAreListed() {
    let symbols = ProtoFile_cassetto_testing_v1_features.descriptor.symbols
    for symbol in [
      "cassetto.testing.v1.Outer", "cassetto.testing.v1.Outer.Inner",
      "cassetto.testing.v1.Outer.Inner.Leaf", "cassetto.testing.v1.Outer.Inner.Mode",
      "cassetto.testing.v1.Color", "cassetto.testing.v1.FeatureService",
      "cassetto.testing.v1.FeatureService.Chat",
    ] {
      #expect(symbols.contains(symbol), "\(symbol)")
    }
  }

  @Test func serializedDescriptorIsTheFileDescriptorProto() {
    let file = ProtoFile_grpc_testing_test.descriptor
    // FileDescriptorProto field 1 (name) comes first: 0x0A, length, "grpc/testing/test.proto".
    let name = Array("grpc/testing/test.proto".utf8)
    #expect(Array(file.serialized.prefix(2 + name.count)) == [0x0A, UInt8(name.count)] + name)
    // No source_code_info (field 9, key 0x4A) is embedded: it only bloats reflection.
    #expect(file.serialized.count < 2_000)
  }

  @Test func healthHasTheListMethod() {
    let file = ProtoFile_grpc_health_v1_health.descriptor
    #expect(file.name == "grpc/health/v1/health.proto")
    #expect(file.symbols.contains("grpc.health.v1.Health.List"))
    #expect(file.symbols.contains("grpc.health.v1.HealthListResponse"))
    #expect(Grpc_Health_V1_Health.Method.list.path == "/grpc.health.v1.Health/List")
  }

  @Test func reflectionComesInBothVersions() {
    #expect(ProtoFile_grpc_reflection_v1_reflection.descriptor.package == "grpc.reflection.v1")
    #expect(
      Grpc_Reflection_V1_ServerReflection.Method.serverReflectionInfo.path
        == "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
    #expect(
      Grpc_Reflection_V1alpha_ServerReflection.Method.serverReflectionInfo.path
        == "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    #expect(Grpc_Reflection_V1_ServerReflection.Method.serverReflectionInfo.kind == .bidirectionalStreaming)
  }

  @Test func customOptionsSurviveInTheEmbeddedDescriptor() {
    // (google.api.http) on Ping is an extension protobuf-c does not know: it must be kept as
    // an unknown field when the plugin strips source_code_info and re-encodes the file.
    let bytes = ProtoFile_cassetto_testing_v1_features.descriptor.serialized
    let path = Array("/v1/ping".utf8)
    #expect(bytes.indices.contains { bytes[$0...].starts(with: path) })
  }

  @Test func dependenciesAreTransitive() {
    let annotations = ProtoFile_google_api_annotations.descriptor
    #expect(
      annotations.dependencies.map(\.name) == [
        "google/api/http.proto", "google/protobuf/descriptor.proto",
      ])
    #expect(
      annotations.dependencies[1] === ProtoFile_google_protobuf_descriptor.descriptor)
  }

  @Test func dependenciesOfWellKnownTypesAreLinked() {
    let features = ProtoFile_cassetto_testing_v1_features.descriptor
    #expect(
      Set(features.dependencies.map(\.name)) == [
        "google/api/annotations.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto",
        "google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto",
      ])
  }
}
