// Reference C++ gRPC server for tools/bench-rpc: grpc.testing.TestService with the
// interop semantics of UnaryCall and EmptyCall, on the callback API of grpc++ 1.51
// (Debian libgrpc++-dev). It is a measuring stick, not part of the Swift package.
//
// Build (tools/bench-rpc does this): protoc --cpp_out --grpc_out on the interop protos
// (imports start with src/proto/), then g++ -O2 ... $(pkg-config --libs grpc++ protobuf).
//
// Usage: bench-cpp-server --listen 127.0.0.1:PORT

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "src/proto/grpc/testing/test.grpc.pb.h"

namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;
using grpc::Status;
using grpc::StatusCode;
using grpc::testing::Empty;
using grpc::testing::SimpleRequest;
using grpc::testing::SimpleResponse;

// Interop test-case metadata: echo these request headers back as initial / trailing
// metadata, as the reference interop server does.
constexpr const char kEchoInitial[] = "x-grpc-test-echo-initial";
constexpr const char kEchoTrailingBin[] = "x-grpc-test-echo-trailing-bin";

void EchoMetadata(CallbackServerContext* context) {
  const auto& md = context->client_metadata();
  if (md.empty()) return;
  auto it = md.find(kEchoInitial);
  if (it != md.end()) {
    context->AddInitialMetadata(kEchoInitial, std::string(it->second.data(), it->second.size()));
  }
  it = md.find(kEchoTrailingBin);
  if (it != md.end()) {
    context->AddTrailingMetadata(kEchoTrailingBin, std::string(it->second.data(), it->second.size()));
  }
}

class TestServiceImpl final : public grpc::testing::TestService::CallbackService {
 public:
  ServerUnaryReactor* EmptyCall(CallbackServerContext* context, const Empty*, Empty*) override {
    EchoMetadata(context);
    auto* reactor = context->DefaultReactor();
    reactor->Finish(Status::OK);
    return reactor;
  }

  ServerUnaryReactor* UnaryCall(CallbackServerContext* context, const SimpleRequest* request,
                                SimpleResponse* response) override {
    EchoMetadata(context);
    auto* reactor = context->DefaultReactor();
    if (request->response_size() < 0) {
      reactor->Finish(Status(StatusCode::INVALID_ARGUMENT, "negative response_size"));
      return reactor;
    }
    if (request->response_size() > 0) {
      // Interop semantics: a payload of response_size zero bytes, type COMPRESSABLE.
      auto* payload = response->mutable_payload();
      payload->set_type(grpc::testing::COMPRESSABLE);
      payload->mutable_body()->assign(static_cast<size_t>(request->response_size()), '\0');
    }
    if (request->has_response_status() && request->response_status().code() != 0) {
      reactor->Finish(Status(static_cast<StatusCode>(request->response_status().code()),
                             request->response_status().message()));
      return reactor;
    }
    reactor->Finish(Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:50051";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
      address = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--listen HOST:PORT]\n", argv[0]);
      return 2;
    }
  }
  TestServiceImpl service;
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    std::fprintf(stderr, "bench-cpp-server: could not listen on %s\n", address.c_str());
    return 1;
  }
  std::fprintf(stderr, "bench-cpp-server: listening on %s\n", address.c_str());
  server->Wait();
  return 0;
}
