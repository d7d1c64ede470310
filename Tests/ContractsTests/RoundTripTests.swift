import Contracts
import RPC
import Testing

/// Every feature of features.proto survives encode → decode unchanged.
@Suite struct RoundTripTests {
  private func roundTrip<M: ProtoMessage & Equatable>(_ message: M) throws -> M {
    try M(serializedBytes: message.serializedBytes())
  }

  @Test func everyScalarTypeRoundTrips() throws {
    let message = Fixtures.scalars
    #expect(try roundTrip(message) == message)
  }

  @Test func defaultMessageEncodesToNoBytes() throws {
    #expect(Cassetto_Testing_V1_Scalars().serializedBytes().isEmpty)
    #expect(try roundTrip(Cassetto_Testing_V1_Outer()) == Cassetto_Testing_V1_Outer())
    #expect(try Cassetto_Testing_V1_Collections(serializedBytes: []) == .init())
  }

  @Test func nestedAndRecursiveMessagesRoundTrip() throws {
    let message = Fixtures.outer
    let decoded = try roundTrip(message)
    #expect(decoded == message)
    #expect(decoded.recursive?.recursive?.self_p == 3)
    #expect(decoded.inner?.leaf?.name == "leaf")
    #expect(decoded.inners.count == 3)
  }

  @Test func repeatedFieldsAndMapsRoundTrip() throws {
    let message = Fixtures.collections
    let decoded = try roundTrip(message)
    #expect(decoded == message)
    #expect(decoded.colors.last == .unrecognized(77))
    #expect(decoded.colorByFlag[false] == .unrecognized(-9))
    #expect(decoded.strings[2] == "è")
  }

  @Test func unrecognizedEnumValuesSurvive() throws {
    var message = Cassetto_Testing_V1_Scalars()
    message.color = .unrecognized(12345)
    let decoded = try roundTrip(message)
    #expect(decoded.color == .unrecognized(12345))
    #expect(decoded.color.rawValue == 12345)
    #expect(Cassetto_Testing_V1_Color(rawValue: 2) == .green)
    #expect(Cassetto_Testing_V1_Color(rawValue: -1) == .negative)
  }

  @Test(arguments: [
    Cassetto_Testing_V1_Choice.OneOf_Kind.number(0),
    .number(-5),
    .text(""),
    .text("testo"),
    .inner(Cassetto_Testing_V1_Outer.Inner()),
    .data([]),
    .data([1, 2]),
    .color(.unspecified),
    .color(.red),
    .at(Google_Protobuf_Timestamp()),
  ])
  func everyOneofCaseRoundTrips(kind: Cassetto_Testing_V1_Choice.OneOf_Kind) throws {
    var message = Cassetto_Testing_V1_Choice()
    message.label = "l"
    message.kind = kind
    message.other = .ratio(0.25)
    let decoded = try roundTrip(message)
    // Set to a default value, a oneof member is still present.
    #expect(decoded.kind == kind)
    #expect(decoded.other == .ratio(0.25))
    #expect(decoded == message)
  }

  @Test func oneofMemberAccessorsReadAndSetTheOneof() {
    var message = Cassetto_Testing_V1_Choice()
    #expect(message.text == "")
    message.text = "t"
    #expect(message.kind == .text("t"))
    #expect(message.number == 0)  // another case: the default
    message.number = 4
    #expect(message.kind == .number(4))
    #expect(message.text == "")
    message.inner.value = 9  // mutating through the accessor sets the case
    #expect(message.kind == .inner(message.inner))
    #expect(message.inner.value == 9)
  }

  @Test func unsetOneofStaysNil() throws {
    var message = Cassetto_Testing_V1_Choice()
    message.other = .flag(false)
    let decoded = try roundTrip(message)
    #expect(decoded.kind == nil)
    #expect(decoded.other == .flag(false))
  }

  @Test func wellKnownTypesAndWrappersRoundTrip() throws {
    let message = Fixtures.wellKnown
    let decoded = try roundTrip(message)
    #expect(decoded == message)
    #expect(decoded.boolWrapper?.value == false)
    #expect(decoded.empty != nil)
    #expect(try roundTrip(Cassetto_Testing_V1_WellKnown()).timestamp == nil)
  }

  @Test func interopMessagesRoundTrip() throws {
    var payload = Grpc_Testing_Payload()
    payload.type = .compressable
    payload.body = Array(repeating: 0, count: 271_828)
    var request = Grpc_Testing_SimpleRequest()
    request.responseSize = 314_159
    request.payload = payload
    var compressed = Grpc_Testing_BoolValue()
    compressed.value = true
    request.responseCompressed = compressed
    #expect(try roundTrip(request) == request)
  }

  @Test func encodingAppendsToTheBuffer() throws {
    var buffer: [UInt8] = [0xAA]
    Fixtures.scalars.serialize(into: &buffer)
    #expect(buffer.first == 0xAA)
    #expect(Array(buffer.dropFirst()) == Fixtures.scalars.serializedBytes())
  }
}
