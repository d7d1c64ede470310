"""HTTP/2 abuse the server must survive: rapid reset, CONTINUATION flood, header floods.
After each, a normal call on a new connection succeeds."""

import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
from hyperframe.frame import ContinuationFrame, HeadersFrame

from server_wire_support import (
    assert_normal_call_works,
    echo_text,
    frame,
    raw_call,
    request_headers,
    server_port,
)


@pytest.fixture(autouse=True)
def server_keeps_serving():
    yield
    assert_normal_call_works()


def connect():
    sock = socket.create_connection(("127.0.0.1", server_port()), timeout=10)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def read_until_closed(sock, conn, seconds=5.0):
    """Returns the GOAWAY error code (None if none) once the server closes the socket."""
    goaway = None
    end = time.time() + seconds
    sock.settimeout(0.5)
    while time.time() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return goaway, True
        if not chunk:
            return goaway, True
        try:
            for event in conn.receive_data(chunk):
                if isinstance(event, h2.events.ConnectionTerminated):
                    goaway = event.error_code
        except Exception:
            pass
    return goaway, False


def test_rapid_reset_ends_the_connection():
    sock, conn = connect()
    # Far more HEADERS + RST_STREAM pairs than the reset budget (burst 1000).
    for _ in range(3000):
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, request_headers())
        conn.reset_stream(stream_id)
        data = conn.data_to_send()
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            break
    goaway, closed = read_until_closed(sock, conn)
    sock.close()
    assert goaway is not None and goaway != 0
    assert closed


def test_continuation_flood_ends_the_connection():
    sock, conn = connect()
    encoder = hpack.Encoder()
    block = encoder.encode(request_headers())
    headers = HeadersFrame(1)
    headers.data = block
    headers.flags.add("END_STREAM")  # no END_HEADERS: CONTINUATION frames must follow
    frames = [headers.serialize()]
    for _ in range(100):
        continuation = ContinuationFrame(1)
        continuation.data = b""
        frames.append(continuation.serialize())
    try:
        sock.sendall(b"".join(frames))
    except (BrokenPipeError, ConnectionResetError):
        pass
    started = time.time()
    goaway, closed = read_until_closed(sock, conn)
    sock.close()
    # nghttp2 treats the flood as fatal (NGHTTP2_ERR_TOO_MANY_CONTINUATIONS): the connection
    # is dropped at once, without a GOAWAY.
    assert closed
    assert time.time() - started < 2
    assert goaway in (None, 1, 11)


def test_oversized_header_list_resets_the_stream_only():
    sock, conn = connect()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, request_headers(**{"x-big": "a" * 20000}), end_stream=True)
    sock.sendall(conn.data_to_send())
    reset = None
    end = time.time() + 5
    while reset is None and time.time() < end:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.StreamReset):
                reset = event.error_code
        sock.sendall(conn.data_to_send())
    assert reset is not None
    # The connection itself still works.
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, request_headers())
    conn.send_data(stream_id, frame(echo_text("same connection")), end_stream=True)
    sock.sendall(conn.data_to_send())
    status = None
    while status is None:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.TrailersReceived):
                status = dict(event.headers)["grpc-status"]
        sock.sendall(conn.data_to_send())
    assert status == "0"
    sock.close()


def test_max_concurrent_streams_is_advertised():
    sock, conn = connect()
    sock.settimeout(2)
    settings = None
    while settings is None:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                settings = {k: v.new_value for k, v in event.changed_settings.items()}
        sock.sendall(conn.data_to_send())
    sock.close()
    assert settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] == 100
    assert settings[h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE] == 16384
