// protoc-gen-cassetto: the protoc plugin that writes Sources/Contracts.
//
// protoc sends a CodeGeneratorRequest on standard input and reads a CodeGeneratorResponse
// from standard output; both are decoded and encoded with the protobuf-c code in ContractsC.
// For each file to generate it writes `<path with _ for />.pb.swift`: message value types
// that convert to and from the protoc-c structs, enums, service handler protocols and
// clients, and the file's serialized descriptor (see docs/CONVENTIONS-generated-code.md).

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
import CProtobufC
import ContractsC

func readStandardInput() -> [UInt8] {
  var input: [UInt8] = []
  var chunk = [UInt8](repeating: 0, count: 65536)
  while true {
    let count = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
    if count > 0 {
      input.append(contentsOf: chunk[0..<count])
    } else if count == 0 || errno != EINTR {
      break
    }
  }
  return input
}

func writeStandardOutput(_ bytes: [UInt8]) {
  var offset = 0
  while offset < bytes.count {
    let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, bytes.count - offset) }
    if written < 0 {
      if errno == EINTR { continue }
      exit(1)
    }
    offset += written
  }
}

/// Generated files as (name, content), or an error message for protoc.
func generate(
  _ request: UnsafePointer<Google__Protobuf__Compiler__CodeGeneratorRequest>
) -> Result<[(String, String)], GenerationError> {
  let protoFiles = UnsafeBufferPointer(
    start: request.pointee.proto_file, count: Int(request.pointee.n_proto_file)
  ).compactMap { $0.map { FileDescriptor($0) } }
  let toGenerate = UnsafeBufferPointer(
    start: request.pointee.file_to_generate, count: Int(request.pointee.n_file_to_generate)
  ).compactMap { $0.map { String(cString: $0) } }
  let registry = TypeRegistry(files: protoFiles)
  let generator = FileGenerator(registry: registry, generatedFiles: Set(toGenerate))
  var output: [(String, String)] = []
  for name in toGenerate {
    guard let file = protoFiles.first(where: { $0.name == name }) else {
      return .failure(GenerationError(message: "\(name) is not among the request's files"))
    }
    output.append((Naming.swiftFileName(name), generator.generate(file)))
  }
  return .success(output)
}

struct GenerationError: Error {
  var message: String
}

let input = readStandardInput()
guard
  let unpacked = input.withUnsafeBufferPointer({ buffer -> UnsafeMutablePointer<ProtobufCMessage>? in
    var zero: UInt8 = 0
    return withUnsafePointer(to: &zero) { fallback in
      google__protobuf__compiler__code_generator_request__unpack(
        nil, buffer.count, buffer.baseAddress ?? fallback
      ).map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: ProtobufCMessage.self) }
    }
  })
else {
  let message = "protoc-gen-cassetto: could not decode the CodeGeneratorRequest\n"
  _ = message.withCString { write(2, $0, strlen($0)) }
  exit(1)
}
let request = UnsafeRawPointer(unpacked).assumingMemoryBound(
  to: Google__Protobuf__Compiler__CodeGeneratorRequest.self)
let result = generate(request)

// Build the response in C memory that lives until the process exits (a short-lived process:
// nothing is freed).
var response = Google__Protobuf__Compiler__CodeGeneratorResponse()
google__protobuf__compiler__code_generator_response__init(&response)
func cString(_ string: String) -> UnsafeMutablePointer<CChar> { strdup(string) }
var files: [UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>?] = []
switch result {
case .failure(let error):
  response.error = cString(error.message)
case .success(let generated):
  for (name, content) in generated {
    let file = UnsafeMutablePointer<Google__Protobuf__Compiler__CodeGeneratorResponse__File>
      .allocate(capacity: 1)
    file.initialize(to: .init())
    google__protobuf__compiler__code_generator_response__file__init(file)
    file.pointee.name = cString(name)
    file.pointee.content = cString(content)
    files.append(file)
  }
}
let packed: [UInt8] = files.withUnsafeMutableBufferPointer { buffer in
  response.n_file = buffer.count
  response.file = buffer.baseAddress
  return withUnsafePointer(to: &response) { pointer in
    let message = UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
    var out = [UInt8](repeating: 0, count: protobuf_c_message_get_packed_size(message))
    if !out.isEmpty {
      out.withUnsafeMutableBufferPointer { _ = protobuf_c_message_pack(message, $0.baseAddress!) }
    }
    return out
  }
}
writeStandardOutput(packed)
