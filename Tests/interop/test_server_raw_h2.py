"""The server's answers to malformed or unusual requests, crafted frame by frame with `h2`.
Each case is followed by a normal call on the same server, which must still succeed."""

import gzip

import pytest

from server_wire_support import (
    assert_normal_call_works,
    echo_text,
    frame,
    raw_call,
    request_headers,
)


@pytest.fixture(autouse=True)
def server_keeps_serving():
    yield
    assert_normal_call_works()


def test_wrong_content_type_is_415_with_invalid_argument():
    response = raw_call(request_headers(content_type="application/json"), [frame(echo_text("x"))])
    assert response.status == "415"
    assert response.grpc_status == "3"
    assert "content-type" in response.grpc_message


def test_non_post_method_is_405():
    response = raw_call(request_headers(pseudo_method="GET"))
    assert response.status == "405"
    assert response.grpc_status == "13"


def test_missing_te_is_accepted_like_grpc_go_and_grpc_java():
    response = raw_call(request_headers(te=None), [frame(echo_text("no te"))])
    assert response.status == "200"
    assert response.grpc_status == "0"
    assert response.messages() == [(False, echo_text("no te"))]


def test_garbage_protobuf_is_internal():
    response = raw_call(request_headers(), [frame(b"\xff\xff\xff\xff")])
    assert response.status == "200"
    assert response.grpc_status == "13"


def test_truncated_length_prefix_is_internal():
    response = raw_call(request_headers(), [b"\x00\x00\x00"])
    assert response.grpc_status == "13"


def test_truncated_message_body_is_internal():
    response = raw_call(request_headers(), [b"\x00\x00\x00\x00\x10abc"])
    assert response.grpc_status == "13"


def test_oversize_message_is_resource_exhausted_before_the_body_arrives():
    # Only the prefix announcing 5 MiB is sent, without END_STREAM: the server answers at once.
    response = raw_call(request_headers(), [b"\x00\x00\x50\x00\x00"], end_stream=False)
    assert response.grpc_status == "8"


def test_per_method_limit_overrides_the_server_limit():
    body = b"\x07" * (5 * 1024 * 1024)
    response = raw_call(request_headers("Big"), [frame(body)])
    assert response.grpc_status == "0", response
    assert response.messages() == [(False, str(len(body)).encode())]


def test_unknown_method_is_unimplemented_trailers_only():
    response = raw_call(request_headers("NoSuchMethod"), [frame(b"")])
    assert response.status == "200"
    assert response.grpc_status == "12"
    assert response.data == b""
    assert response.trailers == {}  # trailers-only: the status is in the headers


def test_invalid_grpc_timeout_is_rejected():
    response = raw_call(request_headers(grpc_timeout="12x"), [frame(echo_text("x"))])
    assert response.grpc_status == "13"
    response = raw_call(request_headers(grpc_timeout="123456789S"), [frame(echo_text("x"))])
    assert response.grpc_status == "13"


def test_message_split_across_many_data_frames():
    message = frame(echo_text("split " * 100))
    chunks = [message[i : i + 3] for i in range(0, len(message), 3)]
    response = raw_call(request_headers(), chunks)
    assert response.grpc_status == "0"
    assert response.messages() == [(False, echo_text("split " * 100))]


def test_two_messages_on_a_unary_call_is_internal():
    response = raw_call(request_headers(), [frame(echo_text("a")) + frame(echo_text("b"))])
    assert response.grpc_status == "13"


def test_server_enforces_grpc_timeout_as_deadline_exceeded():
    response = raw_call(request_headers(grpc_timeout="200m"), [frame(echo_text("sleep"))])
    assert response.grpc_status == "4"


def test_compressed_flag_without_encoding_is_unimplemented():
    response = raw_call(request_headers(), [frame(gzip.compress(echo_text("x")), compressed=True)])
    assert response.grpc_status == "12"
    assert "gzip" in (response.headers.get("grpc-accept-encoding") or "")


def test_unsupported_grpc_encoding_is_unimplemented():
    response = raw_call(request_headers(grpc_encoding="snappy"), [frame(echo_text("x"))])
    assert response.grpc_status == "12"
    assert "gzip" in response.headers.get("grpc-accept-encoding", "")


def test_gzip_request_is_decompressed():
    response = raw_call(
        request_headers(grpc_encoding="gzip"),
        [frame(gzip.compress(echo_text("zipped")), compressed=True)],
    )
    assert response.grpc_status == "0"
    assert response.messages() == [(False, echo_text("zipped"))]


def test_gzip_bomb_is_resource_exhausted():
    bomb = gzip.compress(b"\x0a\x00" + b"\x00" * (6 * 1024 * 1024))
    response = raw_call(request_headers(grpc_encoding="gzip"), [frame(bomb, compressed=True)])
    assert response.grpc_status == "8"


def test_response_is_gzip_compressed_when_handler_asks_and_client_accepts():
    response = raw_call(
        request_headers(grpc_accept_encoding="identity,gzip"), [frame(echo_text("compress"))]
    )
    assert response.grpc_status == "0"
    assert response.headers.get("grpc-encoding") == "gzip"
    [(compressed, payload)] = response.messages()
    assert compressed
    assert gzip.decompress(payload) == echo_text("compress")


def test_response_is_not_compressed_when_client_does_not_accept_gzip():
    response = raw_call(request_headers(), [frame(echo_text("compress"))])
    assert response.grpc_status == "0"
    assert response.messages() == [(False, echo_text("compress"))]


def test_status_message_is_percent_encoded_with_details():
    response = raw_call(request_headers(), [frame(echo_text("fail"))])
    assert response.grpc_status == "3"
    assert response.grpc_message == "bad input: na%C3%AFve 100%25 %E2%98%83%0A"
    assert response.headers.get("grpc-status-details-bin") == "AQID"


def test_handler_crash_is_unknown_without_internals():
    response = raw_call(request_headers(), [frame(echo_text("crash"))])
    assert response.grpc_status == "2"
    assert "HandlerCrash" not in (response.grpc_message or "")


def test_binary_metadata_padded_and_unpadded_are_both_accepted():
    for value in ("AQI", "AQI="):
        response = raw_call(
            request_headers(**{"x-echo-bin": value}), [frame(echo_text("meta"))]
        )
        assert response.grpc_status == "0"
        assert response.headers.get("x-echo-bin") == "AQI"
        assert response.trailers.get("x-echo-bin") == "AQI"


def test_oversized_header_list_is_refused():
    response = raw_call(request_headers(**{"x-big": "a" * 20000}), [frame(echo_text("x"))])
    assert response.reset is not None or response.grpc_status not in (None, "0")


def test_per_message_compression_override_on_a_stream():
    payload = bytes([4, 1]) + b"c" * 500
    response = raw_call(
        request_headers("Expand", grpc_accept_encoding="gzip"), [frame(payload)]
    )
    assert response.grpc_status == "0"
    assert response.headers.get("grpc-encoding") == "gzip"
    messages = response.messages()
    assert [compressed for compressed, _ in messages] == [True, False, True, False]
    assert [gzip.decompress(m) if c else m for c, m in messages] == [payload] * 4
