"""gRPC interop test cases (grpc/grpc doc/interop-test-descriptions.md), Python grpcio as the
client, ``cassetto-server --interop`` as the server, over h2c and over TLS.

grpcio does not show a response's compressed-message flag, nor lets a client compress one
message of a stream but not the next; the cases that need that go through ``RawGrpcCall``, a
small HTTP/2 client on the `h2` library that reads the gRPC frames itself.

Run: ``CASSETTO_BIN_DIR=.build/debug .venv-test/bin/pytest Tests/interop/test_interop_server.py``
"""

from __future__ import annotations

import gzip
import queue
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import grpc
import h2.config
import h2.connection
import h2.events
import h2.settings
import h2.exceptions
import pytest

CALL_TIMEOUT = 30.0
SPECIAL_STATUS_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["h2c", "tls"])
def server(request, launch_cassetto):
    """One ``cassetto-server --interop`` per transport, shared by the module's tests."""
    with launch_cassetto("--interop", tls=request.param == "tls") as running:
        yield running


@pytest.fixture(autouse=True)
def server_survives(request):
    """Whatever a case does to it, the server must still be up afterwards."""
    yield
    for name in ("server", "mtls_server"):
        if name in request.fixturenames:
            running = request.getfixturevalue(name)
            assert running.is_running(), f"cassetto-server died:\n{running.log()}"


@pytest.fixture
def channel(server):
    ch = server.channel()
    try:
        grpc.channel_ready_future(ch).result(timeout=CALL_TIMEOUT)
        yield ch
    finally:
        ch.close()


@pytest.fixture
def pb(interop_stubs):
    return interop_stubs.messages_pb2


@pytest.fixture
def empty_pb(interop_stubs):
    return interop_stubs.empty_pb2


@pytest.fixture
def stub(channel, interop_stubs):
    return interop_stubs.test_pb2_grpc.TestServiceStub(channel)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def zeros(n: int) -> bytes:
    return bytes(n)


class RequestQueue:
    """A request iterator the test feeds one message at a time (``None`` half-closes)."""

    def __init__(self) -> None:
        self._queue: "queue.Queue" = queue.Queue()

    def put(self, message) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is None:
                return
            yield item


def expect_rpc_error(code: grpc.StatusCode, call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, **kwargs)
    assert info.value.code() == code, f"{info.value.code()}: {info.value.details()}"
    return info.value


def metadata_values(metadata: Optional[Sequence], key: str) -> list:
    return [m.value for m in (metadata or ()) if m.key == key]


def streaming_output_request(pb, sizes: Iterable[int], payload: int = 0, compressed=None,
                             interval_us: int = 0):
    params = []
    for i, size in enumerate(sizes):
        p = pb.ResponseParameters(size=size, interval_us=interval_us)
        if compressed is not None:
            p.compressed.value = compressed[i]
        params.append(p)
    req = pb.StreamingOutputCallRequest(response_parameters=params)
    if payload:
        req.payload.body = zeros(payload)
    return req


def large_unary_request(pb, **fields):
    return pb.SimpleRequest(response_size=314159, payload=pb.Payload(body=zeros(271828)),
                            **fields)


def assert_zero_payload(payload, size: int, pb) -> None:
    assert payload.type == pb.COMPRESSABLE
    assert len(payload.body) == size
    assert payload.body == zeros(size)


@dataclass
class RawResponse:
    headers: dict
    #: (compressed flag, decompressed payload) per response message, in order.
    messages: list
    trailers: dict
    reset_code: Optional[int]
    elapsed: float

    @property
    def status(self) -> Optional[int]:
        source = self.trailers or self.headers  # a trailers-only response has it in the headers
        value = source.get("grpc-status")
        return None if value is None else int(value)

    @property
    def message(self) -> str:
        source = self.trailers or self.headers
        return urllib.parse.unquote(source.get("grpc-message", ""))


class RawGrpcCall:
    """One gRPC call over its own HTTP/2 connection, framed by hand, so a test can set each
    request message's compressed flag and see each response message's flag."""

    def __init__(self, server, path: str, timeout: float = CALL_TIMEOUT,
                 extra_headers: Sequence = ()) -> None:
        self.server = server
        self.path = path
        self.timeout = timeout
        self.extra_headers = list(extra_headers)

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.server.host, self.server.port), timeout=self.timeout)
        if not self.server.tls:
            return sock
        context = ssl.create_default_context(cafile=str(self.server.certs / "ca.pem"))
        context.set_alpn_protocols(["h2"])
        tls = context.wrap_socket(sock, server_hostname=self.server.tls_server_name)
        assert tls.selected_alpn_protocol() == "h2"
        return tls

    def run(self, requests: Sequence, response_decoder=None) -> RawResponse:
        """``requests``: (serialized message, compress?) pairs, sent then half-closed."""
        started = time.monotonic()
        deadline = started + self.timeout
        sock = self._connect()
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        any_compressed = any(compress for _, compress in requests)
        headers = [
            (":method", "POST"),
            (":scheme", "https" if self.server.tls else "http"),
            (":path", self.path),
            (":authority", f"localhost:{self.server.port}"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-accept-encoding", "gzip"),
            ("user-agent", "cassetto-interop-raw/1"),
        ]
        if any_compressed:
            headers.append(("grpc-encoding", "gzip"))
        headers += self.extra_headers
        conn.send_headers(sid, headers)
        state = {"headers": {}, "trailers": {}, "body": bytearray(), "ended": False,
                 "reset": None}

        def pump(block: bool) -> None:
            sock.sendall(conn.data_to_send())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"raw call {self.path} timed out")
            sock.settimeout(remaining if block else 0.001)
            try:
                data = sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
                return
            if not data:
                state["ended"] = True
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                    state["headers"] = dict(event.headers)
                elif isinstance(event, h2.events.TrailersReceived) and event.stream_id == sid:
                    state["trailers"] = dict(event.headers)
                elif isinstance(event, h2.events.DataReceived):
                    if event.stream_id == sid:
                        state["body"] += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == sid:
                    state["ended"] = True
                elif isinstance(event, h2.events.StreamReset) and event.stream_id == sid:
                    state["reset"] = int(event.error_code)
                    state["ended"] = True
                elif isinstance(event, h2.events.ConnectionTerminated):
                    state["ended"] = True
            sock.sendall(conn.data_to_send())

        try:
            for payload, compress in requests:
                body = gzip.compress(payload) if compress else payload
                view = memoryview(struct.pack(">BI", 1 if compress else 0, len(body)) + body)
                while view and not state["ended"]:
                    window = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                    if window <= 0:
                        pump(block=True)
                        continue
                    chunk = min(window, len(view))
                    conn.send_data(sid, bytes(view[:chunk]))
                    view = view[chunk:]
                    pump(block=False)
            if not state["ended"]:
                try:
                    conn.end_stream(sid)
                except h2.exceptions.StreamClosedError:
                    pass
            while not state["ended"]:
                pump(block=True)
        finally:
            try:
                conn.close_connection()
                sock.sendall(conn.data_to_send())
            except OSError:
                pass
            sock.close()

        encoding = state["headers"].get("grpc-encoding", "identity")
        messages = []
        body = bytes(state["body"])
        offset = 0
        while offset < len(body):
            assert len(body) - offset >= 5, "truncated gRPC frame header"
            flag, length = struct.unpack(">BI", body[offset:offset + 5])
            payload = body[offset + 5:offset + 5 + length]
            assert len(payload) == length, "truncated gRPC message"
            offset += 5 + length
            compressed = bool(flag & 1)
            if compressed:
                assert encoding in ("gzip", "deflate"), f"compressed flag with {encoding!r}"
                payload = gzip.decompress(payload) if encoding == "gzip" else zlib.decompress(payload)
            messages.append((compressed, response_decoder(payload) if response_decoder else payload))
        return RawResponse(headers=state["headers"], messages=messages, trailers=state["trailers"],
                           reset_code=state["reset"], elapsed=time.monotonic() - started)


# --------------------------------------------------------------------------------------------
# The interop cases
# --------------------------------------------------------------------------------------------


def test_empty_unary(stub, empty_pb):
    response = stub.EmptyCall(empty_pb.Empty(), timeout=CALL_TIMEOUT)
    assert isinstance(response, empty_pb.Empty)
    assert response.SerializeToString() == b""


def test_large_unary(stub, pb):
    response = stub.UnaryCall(large_unary_request(pb), timeout=CALL_TIMEOUT)
    assert_zero_payload(response.payload, 314159, pb)


def test_client_compressed_unary(stub, pb):
    # Feature probe: an uncompressed request that claims it is compressed.
    expect_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, stub.UnaryCall,
                     large_unary_request(pb, expect_compressed=pb.BoolValue(value=True)),
                     timeout=CALL_TIMEOUT)
    compressed = stub.UnaryCall(large_unary_request(pb, expect_compressed=pb.BoolValue(value=True)),
                                compression=grpc.Compression.Gzip, timeout=CALL_TIMEOUT)
    assert_zero_payload(compressed.payload, 314159, pb)
    plain = stub.UnaryCall(large_unary_request(pb, expect_compressed=pb.BoolValue(value=False)),
                           timeout=CALL_TIMEOUT)
    assert_zero_payload(plain.payload, 314159, pb)


def test_server_compressed_unary(stub, pb, server):
    for value in (True, False):
        response = stub.UnaryCall(
            large_unary_request(pb, response_compressed=pb.BoolValue(value=value)),
            timeout=CALL_TIMEOUT)
        assert_zero_payload(response.payload, 314159, pb)
    # The compressed-message flag itself, which grpcio hides.
    for value in (True, False):
        request = large_unary_request(pb, response_compressed=pb.BoolValue(value=value))
        raw = RawGrpcCall(server, "/grpc.testing.TestService/UnaryCall").run(
            [(request.SerializeToString(), False)], pb.SimpleResponse.FromString)
        assert raw.status == 0, raw.message
        assert len(raw.messages) == 1
        flag, response = raw.messages[0]
        assert flag is value, f"response_compressed={value} but flag={flag}"
        if value:
            assert raw.headers.get("grpc-encoding") == "gzip"
        assert_zero_payload(response.payload, 314159, pb)


def test_client_streaming(stub, pb):
    sizes = [27182, 8, 1828, 45904]
    requests = [pb.StreamingInputCallRequest(payload=pb.Payload(body=zeros(n))) for n in sizes]
    response = stub.StreamingInputCall(iter(requests), timeout=CALL_TIMEOUT)
    assert response.aggregated_payload_size == 74922


def test_client_compressed_streaming(stub, pb, server):
    probe = pb.StreamingInputCallRequest(expect_compressed=pb.BoolValue(value=True),
                                         payload=pb.Payload(body=zeros(27182)))
    expect_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, stub.StreamingInputCall, iter([probe]),
                     timeout=CALL_TIMEOUT)
    second = pb.StreamingInputCallRequest(expect_compressed=pb.BoolValue(value=False),
                                          payload=pb.Payload(body=zeros(45904)))
    # The procedure proper: first message compressed, second not, on one stream.
    raw = RawGrpcCall(server, "/grpc.testing.TestService/StreamingInputCall").run(
        [(probe.SerializeToString(), True), (second.SerializeToString(), False)],
        pb.StreamingInputCallResponse.FromString)
    assert raw.status == 0, raw.message
    assert [m.aggregated_payload_size for _, m in raw.messages] == [73086]
    # And the same with grpcio compressing the whole call.
    response = stub.StreamingInputCall(iter([probe, second]), compression=grpc.Compression.Gzip,
                                       timeout=CALL_TIMEOUT)
    assert response.aggregated_payload_size == 73086


def test_server_streaming(stub, pb):
    sizes = [31415, 9, 2653, 58979]
    responses = list(stub.StreamingOutputCall(streaming_output_request(pb, sizes),
                                              timeout=CALL_TIMEOUT))
    assert [len(r.payload.body) for r in responses] == sizes
    for response, size in zip(responses, sizes):
        assert_zero_payload(response.payload, size, pb)


def test_server_compressed_streaming(stub, pb, server):
    sizes = [31415, 92653]
    request = streaming_output_request(pb, sizes, compressed=[True, False])
    responses = list(stub.StreamingOutputCall(request, timeout=CALL_TIMEOUT))
    assert [len(r.payload.body) for r in responses] == sizes
    raw = RawGrpcCall(server, "/grpc.testing.TestService/StreamingOutputCall").run(
        [(request.SerializeToString(), False)], pb.StreamingOutputCallResponse.FromString)
    assert raw.status == 0, raw.message
    assert [flag for flag, _ in raw.messages] == [True, False]
    assert [len(m.payload.body) for _, m in raw.messages] == sizes
    assert raw.headers.get("grpc-encoding") == "gzip"


def test_ping_pong(stub, pb):
    requests = RequestQueue()
    call = stub.FullDuplexCall(iter(requests), timeout=CALL_TIMEOUT)
    try:
        for size, payload in [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]:
            requests.put(streaming_output_request(pb, [size], payload=payload))
            response = next(call)
            assert_zero_payload(response.payload, size, pb)
        requests.close()
        with pytest.raises(StopIteration):
            next(call)
        assert call.code() == grpc.StatusCode.OK
    finally:
        requests.close()


def test_empty_stream(stub):
    call = stub.FullDuplexCall(iter([]), timeout=CALL_TIMEOUT)
    assert list(call) == []
    assert call.code() == grpc.StatusCode.OK


def test_custom_metadata(stub, pb):
    metadata = [(ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE), (ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE)]
    response, call = stub.UnaryCall.with_call(large_unary_request(pb), metadata=metadata,
                                              timeout=CALL_TIMEOUT)
    assert len(response.payload.body) == 314159
    assert metadata_values(call.initial_metadata(), ECHO_INITIAL_KEY) == [ECHO_INITIAL_VALUE]
    assert metadata_values(call.trailing_metadata(), ECHO_TRAILING_KEY) == [ECHO_TRAILING_VALUE]

    call = stub.FullDuplexCall(iter([streaming_output_request(pb, [314159], payload=271828)]),
                               metadata=metadata, timeout=CALL_TIMEOUT)
    responses = list(call)
    assert [len(r.payload.body) for r in responses] == [314159]
    assert call.code() == grpc.StatusCode.OK
    assert metadata_values(call.initial_metadata(), ECHO_INITIAL_KEY) == [ECHO_INITIAL_VALUE]
    assert metadata_values(call.trailing_metadata(), ECHO_TRAILING_KEY) == [ECHO_TRAILING_VALUE]


def test_custom_metadata_not_echoed_unasked(stub, pb):
    response, call = stub.UnaryCall.with_call(pb.SimpleRequest(response_size=1),
                                              timeout=CALL_TIMEOUT)
    assert metadata_values(call.initial_metadata(), ECHO_INITIAL_KEY) == []
    assert metadata_values(call.trailing_metadata(), ECHO_TRAILING_KEY) == []


@pytest.mark.parametrize("message", ["test status message", SPECIAL_STATUS_MESSAGE],
                         ids=["status_code_and_message", "special_status_message"])
def test_status_code_and_message(stub, pb, message):
    status = pb.EchoStatus(code=2, message=message)
    error = expect_rpc_error(grpc.StatusCode.UNKNOWN, stub.UnaryCall,
                             pb.SimpleRequest(response_status=status), timeout=CALL_TIMEOUT)
    assert error.details() == message

    call = stub.FullDuplexCall(iter([pb.StreamingOutputCallRequest(response_status=status)]),
                               timeout=CALL_TIMEOUT)
    with pytest.raises(grpc.RpcError):
        list(call)
    assert call.code() == grpc.StatusCode.UNKNOWN
    assert call.details() == message


def test_special_status_message_on_the_wire(server, pb):
    """The trailer is percent-encoded UTF-8 (PROTOCOL-HTTP2.md), and decodes back exactly."""
    request = pb.SimpleRequest(response_status=pb.EchoStatus(code=2, message=SPECIAL_STATUS_MESSAGE))
    raw = RawGrpcCall(server, "/grpc.testing.TestService/UnaryCall").run(
        [(request.SerializeToString(), False)])
    assert raw.status == 2
    source = raw.trailers or raw.headers
    assert all(0x20 <= ord(c) <= 0x7E for c in source["grpc-message"])
    assert raw.message == SPECIAL_STATUS_MESSAGE


def test_unimplemented_method(stub, empty_pb):
    expect_rpc_error(grpc.StatusCode.UNIMPLEMENTED, stub.UnimplementedCall, empty_pb.Empty(),
                     timeout=CALL_TIMEOUT)


def test_unimplemented_service(channel, interop_stubs, empty_pb):
    other = interop_stubs.test_pb2_grpc.UnimplementedServiceStub(channel)
    expect_rpc_error(grpc.StatusCode.UNIMPLEMENTED, other.UnimplementedCall, empty_pb.Empty(),
                     timeout=CALL_TIMEOUT)


def test_cancel_after_begin(stub, empty_pb):
    requests = RequestQueue()
    future = stub.StreamingInputCall.future(iter(requests), timeout=CALL_TIMEOUT)
    try:
        assert future.cancel()
        assert future.cancelled()
        assert future.code() == grpc.StatusCode.CANCELLED
    finally:
        requests.close()
    # The server shrugs it off.
    stub.EmptyCall(empty_pb.Empty(), timeout=CALL_TIMEOUT)


def test_cancel_after_first_response(stub, pb, empty_pb):
    requests = RequestQueue()
    call = stub.FullDuplexCall(iter(requests), timeout=CALL_TIMEOUT)
    try:
        requests.put(streaming_output_request(pb, [31415], payload=27182))
        response = next(call)
        assert len(response.payload.body) == 31415
        call.cancel()
        assert call.code() == grpc.StatusCode.CANCELLED
    finally:
        requests.close()
    stub.EmptyCall(empty_pb.Empty(), timeout=CALL_TIMEOUT)


def test_timeout_on_sleeping_server(stub, pb, empty_pb):
    requests = RequestQueue()
    call = stub.FullDuplexCall(iter(requests), timeout=0.001)
    try:
        requests.put(pb.StreamingOutputCallRequest(payload=pb.Payload(body=zeros(27182))))
        with pytest.raises(grpc.RpcError):
            next(call)
        assert call.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        requests.close()
    stub.EmptyCall(empty_pb.Empty(), timeout=CALL_TIMEOUT)


# --------------------------------------------------------------------------------------------
# Server features beyond the named cases
# --------------------------------------------------------------------------------------------


def test_server_enforces_grpc_timeout(server, pb):
    """The server itself ends a call at its ``grpc-timeout`` with DEADLINE_EXCEEDED, cutting
    short a 5 s ``interval_us`` sleep (grpcio alone would hide this: it times out locally)."""
    request = pb.StreamingOutputCallRequest(response_parameters=[
        pb.ResponseParameters(size=1), pb.ResponseParameters(size=1, interval_us=5_000_000)])
    raw = RawGrpcCall(server, "/grpc.testing.TestService/StreamingOutputCall",
                      extra_headers=[("grpc-timeout", "300m")]).run(
        [(request.SerializeToString(), False)], pb.StreamingOutputCallResponse.FromString)
    assert raw.elapsed < 3.0
    assert raw.status == 4, (raw.headers, raw.trailers, raw.reset_code)
    assert len(raw.messages) == 1


@pytest.mark.parametrize("how", ["reset", "close"])
def test_server_survives_a_client_vanishing_mid_stream(server, stub, pb, empty_pb, how):
    """The TCP connection goes away (RST, or a plain close) with no GOAWAY while the server is
    streaming to it; the server must drop that call and keep serving others."""
    request = streaming_output_request(pb, [500_000] * 20)
    raw = RawGrpcCall(server, "/grpc.testing.TestService/StreamingOutputCall")
    sock = raw._connect()
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    # Wide-open windows, so the server is busy writing when the connection disappears.
    conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    conn.increment_flow_control_window(2**31 - 1 - 65535)
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [
        (":method", "POST"), (":scheme", "https" if server.tls else "http"),
        (":path", raw.path), (":authority", f"localhost:{server.port}"),
        ("content-type", "application/grpc"), ("te", "trailers")])
    body = request.SerializeToString()
    conn.send_data(sid, struct.pack(">BI", 0, len(body)) + body, end_stream=True)
    sock.sendall(conn.data_to_send())
    received = 0
    while received < 600_000:
        data = sock.recv(65536)
        assert data, "server closed the connection early"
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                received += len(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        sock.sendall(conn.data_to_send())
    if how == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    time.sleep(0.3)
    stub.EmptyCall(empty_pb.Empty(), timeout=CALL_TIMEOUT)
    assert server.is_running()


def test_interval_us_delays_each_response(stub, pb):
    started = time.monotonic()
    responses = list(stub.StreamingOutputCall(
        streaming_output_request(pb, [1, 2, 3], interval_us=100_000), timeout=CALL_TIMEOUT))
    assert [len(r.payload.body) for r in responses] == [1, 2, 3]
    assert time.monotonic() - started >= 0.3


def test_streaming_output_echoes_status_after_responses(stub, pb):
    request = streaming_output_request(pb, [5, 6])
    request.response_status.code = 9
    request.response_status.message = "after two"
    call = stub.StreamingOutputCall(request, timeout=CALL_TIMEOUT)
    received = []
    with pytest.raises(grpc.RpcError):
        for response in call:
            received.append(len(response.payload.body))
    assert received == [5, 6]
    assert call.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert call.details() == "after two"


def test_half_duplex_answers_after_half_close(stub, pb):
    requests = [streaming_output_request(pb, [3, 4]), streaming_output_request(pb, [5])]
    call = stub.HalfDuplexCall(iter(requests), timeout=CALL_TIMEOUT)
    assert [len(r.payload.body) for r in call] == [3, 4, 5]
    assert call.code() == grpc.StatusCode.OK


def test_half_duplex_sends_nothing_before_half_close(server, stub, pb):
    requests = RequestQueue()
    call = stub.HalfDuplexCall(iter(requests), timeout=CALL_TIMEOUT)
    received = []
    reader = threading.Thread(target=lambda: received.extend(len(r.payload.body) for r in call))
    reader.start()
    try:
        requests.put(streaming_output_request(pb, [7]))
        time.sleep(0.5)
        assert received == []
    finally:
        requests.close()
    reader.join(timeout=CALL_TIMEOUT)
    assert received == [7]


def test_cacheable_unary_call(stub, pb):
    response, call = stub.CacheableUnaryCall.with_call(pb.SimpleRequest(response_size=17),
                                                       timeout=CALL_TIMEOUT)
    assert_zero_payload(response.payload, 17, pb)
    [cache_control] = metadata_values(call.initial_metadata(), "cache-control")
    assert "max-age=60" in cache_control


def test_concurrent_large_unary(stub, pb):
    """Many large unary calls in flight at once on one connection (the descriptions'
    concurrent_large_unary, scaled down)."""
    futures = [stub.UnaryCall.future(large_unary_request(pb), timeout=CALL_TIMEOUT)
               for _ in range(16)]
    for future in futures:
        assert_zero_payload(future.result().payload, 314159, pb)


def test_unsupported_response_type_is_invalid_argument(stub, pb):
    expect_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, stub.UnaryCall,
                     pb.SimpleRequest(response_type=1, response_size=1), timeout=CALL_TIMEOUT)


def test_negative_response_size_is_invalid_argument(stub, pb):
    expect_rpc_error(grpc.StatusCode.INVALID_ARGUMENT, stub.UnaryCall,
                     pb.SimpleRequest(response_size=-1), timeout=CALL_TIMEOUT)


# --------------------------------------------------------------------------------------------
# Mutual TLS (--tls-client-ca): grpcio presenting, or not, a client certificate
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mtls_server(launch_cassetto):
    with launch_cassetto("--interop", tls=True, client_ca=True) as running:
        yield running


def test_mutual_tls_serves_a_client_with_a_certificate_from_the_ca(mtls_server, interop_stubs, pb):
    with mtls_server.channel(client_cert=True) as ch:
        stub = interop_stubs.test_pb2_grpc.TestServiceStub(ch)
        response = stub.UnaryCall(large_unary_request(pb), timeout=CALL_TIMEOUT)
        assert_zero_payload(response.payload, 314159, pb)


def test_mutual_tls_refuses_a_client_without_certificate(mtls_server, interop_stubs, empty_pb):
    with mtls_server.channel() as ch:
        stub = interop_stubs.test_pb2_grpc.TestServiceStub(ch)
        expect_rpc_error(grpc.StatusCode.UNAVAILABLE, stub.EmptyCall, empty_pb.Empty(),
                         timeout=5)


def test_mutual_tls_refuses_a_certificate_from_another_ca(mtls_server, interop_stubs, empty_pb):
    certs = mtls_server.certs
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(certs / "ca.pem").read_bytes(),
        private_key=(certs / "other-client.key").read_bytes(),
        certificate_chain=(certs / "other-client.pem").read_bytes())
    options = [("grpc.ssl_target_name_override", mtls_server.tls_server_name)]
    with grpc.secure_channel(mtls_server.address, credentials, options=options) as ch:
        stub = interop_stubs.test_pb2_grpc.TestServiceStub(ch)
        expect_rpc_error(grpc.StatusCode.UNAVAILABLE, stub.EmptyCall, empty_pb.Empty(),
                         timeout=5)
