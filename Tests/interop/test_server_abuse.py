"""HTTP/2 abuse the server must survive: rapid reset, CONTINUATION flood, header floods,
PING and SETTINGS floods from a peer that never reads, clients that never read responses
(zero window), thousands of streams opened and abandoned. After each, a normal call on a
new connection succeeds (autouse fixture); where memory is at stake, the growth of the
server process (the Swift test process that started this script) is bounded."""

import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
import hpack
import pytest
import os

from hyperframe.frame import ContinuationFrame, HeadersFrame, PingFrame, SettingsFrame

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


def server_rss_kb():
    """VmRSS of the server: the Swift test process that runs this script."""
    with open(f"/proc/{os.getppid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def flood_without_reading(frame_bytes: bytes, batches: int = 300):
    """Sends `frame_bytes` × 10,000 per batch and never reads; returns whether the server
    ended the connection before we were done, and what it sent before closing."""
    sock, conn = connect()
    batch = frame_bytes * 10000
    ended = False
    try:
        for _ in range(batches):
            sock.sendall(batch)
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        ended = True
    goaway, closed = read_until_closed(sock, conn, seconds=5)
    sock.close()
    return ended or closed, goaway


def test_ping_flood_from_a_peer_that_never_reads_ends_the_connection():
    ping = PingFrame(0)
    ping.opaque_data = b"\0" * 8
    before = server_rss_kb()
    ended, goaway = flood_without_reading(ping.serialize())
    # nghttp2 counts the PING ACKs it could not send (max outbound ACKs): the session is
    # flooded and the connection dropped, whether or not a GOAWAY made it out first.
    assert ended
    assert goaway in (None, 0, 11)  # NO_ERROR or ENHANCE_YOUR_CALM if one was seen
    assert server_rss_kb() - before < 64 * 1024


def test_settings_flood_from_a_peer_that_never_reads_ends_the_connection():
    settings = SettingsFrame(0)
    settings.settings = {SettingsFrame.MAX_CONCURRENT_STREAMS: 100}
    before = server_rss_kb()
    ended, goaway = flood_without_reading(settings.serialize())
    assert ended
    assert goaway in (None, 0, 11)
    assert server_rss_kb() - before < 64 * 1024


def test_clients_that_never_read_responses_cost_bounded_memory():
    """Twenty server streams that would each write 6.5 GB, on a connection whose client
    never reads (and one that advertises a zero window): the handlers suspend at the
    outbound high-water mark, memory stays bounded, other connections are served."""
    before = server_rss_kb()
    stalled = []
    for zero_window in (False, True):
        sock = socket.create_connection(("127.0.0.1", server_port()), timeout=10)
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        conn.initiate_connection()
        if zero_window:
            conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        for index in range(10):
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, request_headers("Flood"))
            conn.send_data(stream_id, frame(f"stall-{zero_window}-{index}".encode()),
                           end_stream=True)
        sock.sendall(conn.data_to_send())
        stalled.append(sock)  # never read from again
    time.sleep(3)
    assert_normal_call_works()
    grown = server_rss_kb() - before
    for sock in stalled:
        sock.close()
    # Unbounded buffering would be gigabytes; the high-water mark is 256 KiB per stream.
    assert grown < 96 * 1024, f"server grew by {grown} KiB"


def test_thousands_of_streams_opened_and_abandoned():
    """Streams opened (HEADERS without END_STREAM) and never finished, far past
    MAX_CONCURRENT_STREAMS: the excess is refused, memory stays bounded, and closing the
    connection frees them."""
    before = server_rss_kb()
    sock, conn = connect()
    sock.settimeout(0.2)
    for _ in range(30):
        for _ in range(100):
            stream_id = conn.get_next_available_stream_id()
            # Bypass h2's own concurrency limit: write the HEADERS frame ourselves.
            headers = HeadersFrame(stream_id)
            headers.data = hpack.Encoder().encode(request_headers("Chat"))
            headers.flags.add("END_HEADERS")
            conn.highest_outbound_stream_id = stream_id
            try:
                sock.sendall(headers.serialize())
            except (BrokenPipeError, ConnectionResetError):
                break
        try:  # drain what the server answers (SETTINGS, RST_STREAM REFUSED_STREAM…)
            while sock.recv(65536):
                pass
        except (socket.timeout, ConnectionResetError):
            pass
    grown = server_rss_kb() - before
    sock.close()
    assert grown < 64 * 1024, f"server grew by {grown} KiB"
