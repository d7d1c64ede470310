"""grpc.health.v1 and server reflection (v1alpha and v1) of ``cassetto-server --interop``,
exercised with the standard Python clients (grpcio-health-checking, grpcio-reflection).

Run: ``CASSETTO_BIN_DIR=.build/debug .venv-test/bin/pytest Tests/interop/test_side_services.py``
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

CALL_TIMEOUT = 30.0
TEST_SERVICE = "grpc.testing.TestService"
HEALTH_SERVICE = "grpc.health.v1.Health"
TEST_SERVICE_METHODS = {
    "EmptyCall", "UnaryCall", "CacheableUnaryCall", "StreamingOutputCall", "StreamingInputCall",
    "FullDuplexCall", "HalfDuplexCall", "UnimplementedCall",
}
REFLECTION_V1_METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
REFLECTION_V1ALPHA_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


@pytest.fixture(scope="module", params=["h2c", "tls"])
def server(request, launch_cassetto):
    with launch_cassetto("--interop", tls=request.param == "tls") as running:
        yield running


@pytest.fixture
def channel(server):
    ch = server.channel()
    try:
        yield ch
    finally:
        ch.close()


@pytest.fixture
def health(channel):
    return health_pb2_grpc.HealthStub(channel)


def reflection_exchange(channel, method: str, requests):
    """Sends ``requests`` on one ServerReflectionInfo stream of ``method`` and returns the
    responses. v1 and v1alpha messages are the same on the wire, so v1alpha's classes serve
    for both."""
    call = channel.stream_stream(
        method,
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    return list(call(iter(requests), timeout=CALL_TIMEOUT))


def decode_files(response) -> list:
    assert response.WhichOneof("message_response") == "file_descriptor_response", response
    return [descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in response.file_descriptor_response.file_descriptor_proto]


# --------------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------------


def test_health_check_overall_server_is_serving(health):
    response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_unknown_service_is_not_found(health):
    with pytest.raises(grpc.RpcError) as info:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"),
                     timeout=CALL_TIMEOUT)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_watch_sends_current_status_first(health):
    call = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=CALL_TIMEOUT)
    try:
        first = next(call)
        assert first.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        call.cancel()


def test_health_watch_unknown_service_reports_service_unknown_and_stays_open(health):
    call = health.Watch(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=2)
    first = next(call)
    assert first.status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
    # health.proto: the server does *not* end the call for an unknown service.
    with pytest.raises(grpc.RpcError) as info:
        next(call)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_health_list_matches_the_served_contract(channel, health):
    """List exists only in newer health.proto versions: when reflection says the server's
    Health has it, it must answer with the overall status; otherwise it is UNIMPLEMENTED."""
    db = ProtoReflectionDescriptorDatabase(channel)
    pool = descriptor_pool.DescriptorPool(db)
    methods = {m.name for m in pool.FindServiceByName(HEALTH_SERVICE).methods}
    assert {"Check", "Watch"} <= methods
    if "List" in methods:
        response = health.List(health_pb2.HealthListRequest(), timeout=CALL_TIMEOUT)
        assert response.statuses[""].status == health_pb2.HealthCheckResponse.SERVING
    else:
        with pytest.raises(grpc.RpcError) as info:
            health.List(health_pb2.HealthListRequest(), timeout=CALL_TIMEOUT)
        assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


# --------------------------------------------------------------------------------------------
# Reflection through grpcio-reflection's descriptor database (v1alpha)
# --------------------------------------------------------------------------------------------


def test_reflection_v1alpha_lists_services(channel):
    services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {TEST_SERVICE, HEALTH_SERVICE} <= services


def test_reflection_v1alpha_file_containing_test_service(channel):
    db = ProtoReflectionDescriptorDatabase(channel)
    file = db.FindFileContainingSymbol(TEST_SERVICE)
    assert file.name.endswith("grpc/testing/test.proto")
    assert file.package == "grpc.testing"
    service = next(s for s in file.service if s.name == "TestService")
    assert {m.name for m in service.method} == TEST_SERVICE_METHODS


def test_reflection_v1alpha_resolves_methods_and_their_message_types(channel):
    """A descriptor pool over reflection follows the imports (messages.proto, empty.proto)."""
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    service = pool.FindServiceByName(TEST_SERVICE)
    assert {m.name for m in service.methods} == TEST_SERVICE_METHODS
    unary = service.methods_by_name["UnaryCall"]
    assert unary.input_type.full_name == "grpc.testing.SimpleRequest"
    assert unary.output_type.full_name == "grpc.testing.SimpleResponse"
    assert service.methods_by_name["EmptyCall"].input_type.full_name == "grpc.testing.Empty"
    full_duplex = service.methods_by_name["FullDuplexCall"]
    assert full_duplex.client_streaming and full_duplex.server_streaming
    fields = {f.name for f in pool.FindMessageTypeByName("grpc.testing.SimpleRequest").fields}
    assert {"response_size", "payload", "response_status", "expect_compressed"} <= fields


def test_reflection_v1alpha_unknown_symbol_is_not_found(channel):
    db = ProtoReflectionDescriptorDatabase(channel)
    with pytest.raises(KeyError):
        db.FindFileContainingSymbol("no.such.Symbol")


# --------------------------------------------------------------------------------------------
# Reflection, raw, in both versions
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [REFLECTION_V1_METHOD, REFLECTION_V1ALPHA_METHOD],
                         ids=["v1", "v1alpha"])
def test_reflection_list_services(channel, method):
    [response] = reflection_exchange(
        channel, method, [reflection_pb2.ServerReflectionRequest(list_services="")])
    assert response.WhichOneof("message_response") == "list_services_response"
    names = {s.name for s in response.list_services_response.service}
    assert {TEST_SERVICE, HEALTH_SERVICE} <= names
    assert response.original_request.list_services == ""


@pytest.mark.parametrize("method", [REFLECTION_V1_METHOD, REFLECTION_V1ALPHA_METHOD],
                         ids=["v1", "v1alpha"])
def test_reflection_file_containing_symbol(channel, method):
    [response] = reflection_exchange(
        channel, method,
        [reflection_pb2.ServerReflectionRequest(file_containing_symbol=TEST_SERVICE)])
    files = decode_files(response)
    test_file = next(f for f in files if f.name.endswith("grpc/testing/test.proto"))
    service = next(s for s in test_file.service if s.name == "TestService")
    assert {m.name for m in service.method} == TEST_SERVICE_METHODS
    assert response.original_request.file_containing_symbol == TEST_SERVICE


@pytest.mark.parametrize("method", [REFLECTION_V1_METHOD, REFLECTION_V1ALPHA_METHOD],
                         ids=["v1", "v1alpha"])
def test_reflection_file_by_filename_of_a_dependency(channel, method):
    [first] = reflection_exchange(
        channel, method,
        [reflection_pb2.ServerReflectionRequest(file_containing_symbol="grpc.testing.SimpleRequest")])
    messages_file = next(f for f in decode_files(first) if any(
        m.name == "SimpleRequest" for m in f.message_type))
    [second] = reflection_exchange(
        channel, method, [reflection_pb2.ServerReflectionRequest(file_by_filename=messages_file.name)])
    files = decode_files(second)
    assert files[0].name == messages_file.name
    assert "SimpleRequest" in {m.name for m in files[0].message_type}


@pytest.mark.parametrize("method", [REFLECTION_V1_METHOD, REFLECTION_V1ALPHA_METHOD],
                         ids=["v1", "v1alpha"])
def test_reflection_errors_are_answered_in_band(channel, method):
    """An unknown symbol is a NOT_FOUND error_response, and the stream goes on serving."""
    responses = reflection_exchange(channel, method, [
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.such.Symbol"),
        reflection_pb2.ServerReflectionRequest(list_services=""),
    ])
    assert len(responses) == 2
    assert responses[0].WhichOneof("message_response") == "error_response"
    assert responses[0].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
    assert responses[1].WhichOneof("message_response") == "list_services_response"
