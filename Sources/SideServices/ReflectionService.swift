import Contracts
import RPC

/// Server reflection, `grpc.reflection.v1` and `grpc.reflection.v1alpha`, so grpcurl, Postman
/// and grpcio's reflection client can discover our contracts.
///
/// Both versions are the same contract under two package names, so one implementation
/// serves both: v1 calls are decoded with the v1alpha message types, which share every field
/// number. The files served are the real `FileDescriptorProto`s protoc saw, embedded by the
/// code generator.
public enum ReflectionService {
  /// The two reflection services, answering for `services` and for themselves.
  public static func definitions(serving services: [ServiceDefinition]) -> [ServiceDefinition] {
    let v1alphaMethod = Grpc_Reflection_V1alpha_ServerReflection.Method.serverReflectionInfo
    let v1Method = Grpc_Reflection_V1_ServerReflection.Method.serverReflectionInfo
    let own = [
      ServiceDefinition(
        name: v1alphaMethod.service, methods: [],
        file: ProtoFile_grpc_reflection_v1alpha_reflection.descriptor),
      ServiceDefinition(
        name: v1Method.service, methods: [], file: ProtoFile_grpc_reflection_v1_reflection.descriptor
      ),
    ]
    let index = ReflectionIndex(services: services + own)
    return zip(own, [v1alphaMethod, v1Method]).map { definition, method in
      var definition = definition
      definition.methods = [
        .bidirectionalStreaming(method) {
          (
            requests: RequestStream<Request>, responses: ResponseWriter<Response>,
            context: ServerContext
          ) in
          for try await request in requests {
            try await responses.write(respond(to: request, from: index))
          }
        }
      ]
      return definition
    }
  }

  typealias Request = Grpc_Reflection_V1alpha_ServerReflectionRequest
  typealias Response = Grpc_Reflection_V1alpha_ServerReflectionResponse

  static func respond(to request: Request, from index: ReflectionIndex) -> Response {
    var response = Response()
    response.validHost = request.host
    response.originalRequest = request
    switch index.answer(question(of: request)) {
    case .files(let files):
      var files_ = Grpc_Reflection_V1alpha_FileDescriptorResponse()
      files_.fileDescriptorProto = files
      response.messageResponse = .fileDescriptorResponse(files_)
    case .services(let names):
      var list = Grpc_Reflection_V1alpha_ListServiceResponse()
      list.service = names.map { name in
        var service = Grpc_Reflection_V1alpha_ServiceResponse()
        service.name = name
        return service
      }
      response.messageResponse = .listServicesResponse(list)
    case .extensionNumbers(let type, let numbers):
      var answer = Grpc_Reflection_V1alpha_ExtensionNumberResponse()
      answer.baseTypeName = type
      answer.extensionNumber = numbers
      response.messageResponse = .allExtensionNumbersResponse(answer)
    case .error(let code, let message):
      var error = Grpc_Reflection_V1alpha_ErrorResponse()
      error.errorCode = Int32(code.rawValue)
      error.errorMessage = message
      response.messageResponse = .errorResponse(error)
    }
    return response
  }

  static func question(of request: Request) -> ReflectionIndex.Question {
    switch request.messageRequest {
    case .fileByFilename(let name): .fileByFilename(name)
    case .fileContainingSymbol(let symbol): .fileContainingSymbol(symbol)
    case .fileContainingExtension(let e):
      .fileContainingExtension(type: e.containingType, number: e.extensionNumber)
    case .allExtensionNumbersOfType(let type): .allExtensionNumbersOfType(type)
    case .listServices: .listServices
    case nil: .missing
    }
  }
}
