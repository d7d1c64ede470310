import Contracts
import RPC
import Testing

/// proto2 (descriptor.proto): optional fields are Swift optionals, present iff set; required
/// fields are plain values.
@Suite struct Proto2Tests {
  @Test func decodesTheEmbeddedFileDescriptorOfTestProto() throws {
    let file = try Google_Protobuf_FileDescriptorProto(
      serializedBytes: ProtoFile_grpc_testing_test.descriptor.serialized)
    #expect(file.name == "grpc/testing/test.proto")
    #expect(file.package == "grpc.testing")
    #expect(file.syntax == "proto3")
    #expect(file.dependency == ["grpc/testing/empty.proto", "grpc/testing/messages.proto"])
    #expect(file.sourceCodeInfo == nil)
    let service = try #require(file.service.first)
    #expect(service.name == "TestService")
    let fullDuplex = try #require(service.method.first { $0.name == "FullDuplexCall" })
    #expect(fullDuplex.inputType == ".grpc.testing.StreamingOutputCallRequest")
    #expect(fullDuplex.clientStreaming == true)
    #expect(fullDuplex.serverStreaming == true)
    let unary = try #require(service.method.first { $0.name == "UnaryCall" })
    #expect(unary.clientStreaming == nil)  // absent on the wire, not `false`
  }

  @Test func fieldDescriptorsCarryEnumsAndOptionals() throws {
    let file = try Google_Protobuf_FileDescriptorProto(
      serializedBytes: ProtoFile_cassetto_testing_v1_features.descriptor.serialized)
    let collections = try #require(file.messageType.first { $0.name == "Collections" })
    let counts = try #require(collections.field.first { $0.name == "counts" })
    #expect(counts.number == 11)
    #expect(counts.label == .repeated)
    #expect(counts.type == .message)
    #expect(counts.typeName == ".cassetto.testing.v1.Collections.CountsEntry")
    #expect(counts.jsonName == "counts")
    #expect(counts.oneofIndex == nil)
    let entry = try #require(collections.nestedType.first { $0.name == "CountsEntry" })
    #expect(entry.options?.mapEntry == true)
    let choice = try #require(file.messageType.first { $0.name == "Choice" })
    #expect(choice.oneofDecl.map(\.name) == ["kind", "other"])
    #expect(choice.field.first { $0.name == "text" }?.oneofIndex == 0)
  }

  @Test func optionalScalarsRoundTripSetAndUnset() throws {
    var field = Google_Protobuf_FieldDescriptorProto()
    field.name = ""
    field.number = 0
    field.label = .optional
    field.proto3Optional = false
    var options = Google_Protobuf_FieldOptions()
    options.deprecated = true
    options.ctype = .cord
    field.options = options
    let bytes = field.serializedBytes()
    let decoded = try Google_Protobuf_FieldDescriptorProto(serializedBytes: bytes)
    #expect(decoded == field)
    // Set to their defaults, proto2 optionals are still on the wire.
    #expect(decoded.name == "")
    #expect(decoded.number == 0)
    #expect(decoded.proto3Optional == false)
    #expect(decoded.typeName == nil)
    #expect(decoded.type == nil)
    #expect(try Google_Protobuf_FieldDescriptorProto(serializedBytes: []).number == nil)
    // name (1) = "", number (3) = 0, label (4) = 1 ...
    #expect(Array(bytes.prefix(6)) == [0x0A, 0x00, 0x18, 0x00, 0x20, 0x01])
  }

  @Test func requiredFieldsAreEnforcedByTheDecoder() throws {
    var part = Google_Protobuf_UninterpretedOption.NamePart()
    part.namePart = "foo"
    part.isExtension = true
    var option = Google_Protobuf_UninterpretedOption()
    option.name = [part]
    option.stringValue = [0, 1]
    option.negativeIntValue = -5
    #expect(try Google_Protobuf_UninterpretedOption(serializedBytes: option.serializedBytes()) == option)
    // A NamePart without its required is_extension (field 2) does not decode.
    #expect(throws: ProtoDecodingError.self) {
      try Google_Protobuf_UninterpretedOption.NamePart(serializedBytes: [0x0A, 0x01, 0x61])
    }
  }
}
