"""The server as seen by Python grpcio, an independent gRPC implementation."""

import grpc
import pytest

from server_wire_support import SERVICE, echo_text, server_port


@pytest.fixture()
def channel():
    with grpc.insecure_channel(f"127.0.0.1:{server_port()}") as channel:
        yield channel


def method(channel, name, kind="unary_unary", **kwargs):
    return getattr(channel, kind)(f"/{SERVICE}/{name}", **kwargs)


def test_unary_call_echoes_message_and_metadata(channel):
    get = method(channel, "Get")
    response, call = get.with_call(
        echo_text("hello"),
        metadata=[("x-echo-text", "value"), ("x-echo-data-bin", b"\x00\x01\xfe")],
        timeout=10,
    )
    assert response == echo_text("hello")
    initial = dict(call.initial_metadata())
    trailing = dict(call.trailing_metadata())
    assert initial["x-echo-text"] == "value"
    assert initial["x-echo-data-bin"] == b"\x00\x01\xfe"
    assert trailing["x-echo-data-bin"] == b"\x00\x01\xfe"


def test_status_message_and_details_round_trip(channel):
    with pytest.raises(grpc.RpcError) as info:
        method(channel, "Get")(echo_text("fail"), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "bad input: naïve 100% ☃\n"
    trailing = dict(info.value.trailing_metadata())
    assert trailing["grpc-status-details-bin"] == b"\x01\x02\x03"


def test_non_rpc_error_is_unknown(channel):
    with pytest.raises(grpc.RpcError) as info:
        method(channel, "Get")(echo_text("crash"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    assert "HandlerCrash" not in info.value.details()


def test_unknown_method_is_unimplemented(channel):
    with pytest.raises(grpc.RpcError) as info:
        channel.unary_unary(f"/{SERVICE}/Nope")(b"", timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_deadline_exceeded(channel):
    with pytest.raises(grpc.RpcError) as info:
        method(channel, "Get")(echo_text("sleep"), timeout=0.3)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_oversize_request_is_resource_exhausted(channel):
    with pytest.raises(grpc.RpcError) as info:
        method(channel, "Get")(echo_text("x" * (5 * 1024 * 1024)), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_server_streaming_large_responses_flow_controlled(channel):
    payload = bytes([200]) + b"p" * (128 * 1024)
    responses = list(method(channel, "Expand", "unary_stream")(payload, timeout=30))
    assert len(responses) == 200
    assert all(r == payload for r in responses)


def test_client_streaming_collects_and_sees_compression(channel):
    collect = method(channel, "Collect", "stream_unary")
    assert collect(iter([b"ab", b"cd", b"ef"]), timeout=10) == b"\x00abcdef"
    compressed = collect(iter([b"x" * 1000]), timeout=10, compression=grpc.Compression.Gzip)
    assert compressed == b"\x01" + b"x" * 1000


def test_client_streaming_many_large_messages_backpressure(channel):
    collect = method(channel, "Collect", "stream_unary")
    chunk = b"z" * (256 * 1024)
    result = collect(iter([chunk] * 12), timeout=60)
    assert len(result) == 1 + 12 * len(chunk)


def test_bidirectional_streaming_echoes_in_order(channel):
    chat = method(channel, "Chat", "stream_stream")
    messages = [bytes([i]) * (i * 100 + 1) for i in range(50)]
    assert list(chat(iter(messages), timeout=30)) == messages


def test_cancelled_call_does_not_hurt_the_server(channel):
    future = method(channel, "Get").future(echo_text("sleep"), timeout=10)
    future.cancel()
    assert method(channel, "Get")(echo_text("after"), timeout=10) == echo_text("after")


def test_many_concurrent_unary_calls(channel):
    get = method(channel, "Get")
    futures = [get.future(echo_text(f"n{i}"), timeout=30) for i in range(300)]
    assert [f.result() for f in futures] == [echo_text(f"n{i}") for i in range(300)]


def test_gzip_response_when_handler_compresses(channel):
    get = method(channel, "Get")
    assert get(echo_text("compress"), timeout=10) == echo_text("compress")
