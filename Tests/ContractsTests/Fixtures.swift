import Contracts

/// Messages that set every field of features.proto to something other than its default.
enum Fixtures {
  static var scalars: Cassetto_Testing_V1_Scalars {
    var m = Cassetto_Testing_V1_Scalars()
    m.doubleValue = -1.5e300
    m.floatValue = 3.25
    m.int32Value = -42
    m.int64Value = Int64.min
    m.uint32Value = UInt32.max
    m.uint64Value = UInt64.max
    m.sint32Value = Int32.min
    m.sint64Value = -9_000_000_000
    m.fixed32Value = 0xDEAD_BEEF
    m.fixed64Value = 0x0123_4567_89AB_CDEF
    m.sfixed32Value = -7
    m.sfixed64Value = Int64.max
    m.boolValue = true
    m.stringValue = "città è più — 🍝 漢字"
    m.bytesValue = [0, 1, 2, 0xFF, 0x80, 0]
    m.color = .deepBlue
    return m
  }

  static var outer: Cassetto_Testing_V1_Outer {
    var leaf = Cassetto_Testing_V1_Outer.Inner.Leaf()
    leaf.name = "leaf"
    var inner = Cassetto_Testing_V1_Outer.Inner()
    inner.value = 7
    inner.mode = .fast
    inner.leaf = leaf
    var second = Cassetto_Testing_V1_Outer.Inner()
    second.value = -1
    var m = Cassetto_Testing_V1_Outer()
    m.inner = inner
    m.inners = [inner, second, Cassetto_Testing_V1_Outer.Inner()]
    m.scalars = scalars
    m.class = "first"
    m.self_p = 99
    m.default = true
    m.type = "kind"
    var child = Cassetto_Testing_V1_Outer()
    child.type = "child"
    var grandchild = Cassetto_Testing_V1_Outer()
    grandchild.self_p = 3
    child.recursive = grandchild
    m.recursive = child
    return m
  }

  static var collections: Cassetto_Testing_V1_Collections {
    var inner = Cassetto_Testing_V1_Outer.Inner()
    inner.value = 5
    var m = Cassetto_Testing_V1_Collections()
    m.int32s = [1, -1, Int32.max, Int32.min, 0]
    m.sint64s = [-3, 3, Int64.min]
    m.doubles = [0.5, -0.0, .infinity]
    m.bools = [true, false, true]
    m.fixed32s = [1, 2, 3]
    m.uint64s = [UInt64.max, 0]
    m.strings = ["a", "", "è", "long string with spaces"]
    m.blobs = [[], [1], [0, 0, 0]]
    m.inners = [inner, Cassetto_Testing_V1_Outer.Inner(), inner]
    m.colors = [.red, .negative, .unspecified, .unrecognized(77)]
    m.counts = ["one": 1, "two": 2, "": 0, "minus": -1]
    m.names = [1: "uno", -2: "meno due", 0: ""]
    m.innerByName = ["x": inner, "empty": Cassetto_Testing_V1_Outer.Inner()]
    m.blobById = [UInt64.max: [1, 2, 3], 0: []]
    m.colorByFlag = [true: .green, false: .unrecognized(-9)]
    m.doublesByKey = [Int64.min: 1.25, 5: -2]
    return m
  }

  static var wellKnown: Cassetto_Testing_V1_WellKnown {
    var m = Cassetto_Testing_V1_WellKnown()
    var timestamp = Google_Protobuf_Timestamp()
    timestamp.seconds = 1_700_000_000
    timestamp.nanos = 123_456_789
    m.timestamp = timestamp
    var duration = Google_Protobuf_Duration()
    duration.seconds = -5
    duration.nanos = -500
    m.duration = duration
    m.empty = Google_Protobuf_Empty()
    var i32 = Google_Protobuf_Int32Value()
    i32.value = -3
    m.int32Wrapper = i32
    var i64 = Google_Protobuf_Int64Value()
    i64.value = 1 << 40
    m.int64Wrapper = i64
    var u32 = Google_Protobuf_UInt32Value()
    u32.value = 4
    m.uint32Wrapper = u32
    var u64 = Google_Protobuf_UInt64Value()
    u64.value = UInt64.max
    m.uint64Wrapper = u64
    var f = Google_Protobuf_FloatValue()
    f.value = 0.5
    m.floatWrapper = f
    var d = Google_Protobuf_DoubleValue()
    d.value = 2.5
    m.doubleWrapper = d
    var b = Google_Protobuf_BoolValue()
    b.value = false  // present but default: still present on the wire
    m.boolWrapper = b
    var s = Google_Protobuf_StringValue()
    s.value = "wrapped"
    m.stringWrapper = s
    var bytes = Google_Protobuf_BytesValue()
    bytes.value = [9, 8]
    m.bytesWrapper = bytes
    m.stringWrappers = [s, Google_Protobuf_StringValue()]
    return m
  }
}
