"""Backpressure both ways and cancellation by RST_STREAM, observed with raw h2 frames."""

import socket
import time
import uuid

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings

from server_wire_support import SERVICE, frame, raw_call, request_headers, server_port


def open_connection(initial_window=65535):
    sock = socket.create_connection(("127.0.0.1", server_port()), timeout=10)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.local_settings = h2.settings.Settings(
        client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window}
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def progress(token: str) -> str:
    response = raw_call(request_headers("Progress"), [frame(token.encode())])
    assert response.grpc_status == "0", response
    return response.messages()[0][1].decode()


def test_slow_reader_suspends_the_writer_and_rst_stream_cancels_it():
    token = uuid.uuid4().hex
    sock, conn = open_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, request_headers("Flood"))
    conn.send_data(stream_id, frame(token.encode()), end_stream=True)
    sock.sendall(conn.data_to_send())
    # Read what arrives, but never open the window again.
    sock.settimeout(0.2)
    end = time.time() + 1.5
    while time.time() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        conn.receive_data(chunk)
    def written_so_far() -> int:
        return int(progress(token).split()[0].split("=")[1])

    # On a loaded machine the handler may still be on its way to the point where it
    # suspends: wait (bounded) until the count stops moving, then check the bound.
    written = written_so_far()
    settle_deadline = time.time() + 10
    while time.time() < settle_deadline:
        time.sleep(0.3)
        now = written_so_far()
        if now == written:
            break
        written = now
    # 64 KiB window + the server's bounded per-stream buffer: a handful of 64 KiB messages,
    # nowhere near the 100 000 the handler would write without backpressure.
    assert 1 <= written <= 16, written
    time.sleep(0.5)
    assert written_so_far() == written  # still suspended

    conn.reset_stream(stream_id, error_code=h2.errors.ErrorCodes.CANCEL)
    sock.sendall(conn.data_to_send())
    deadline = time.time() + 5
    while "cancelled" not in progress(token) and time.time() < deadline:
        time.sleep(0.05)
    assert "cancelled" in progress(token)
    sock.close()


def test_handler_that_does_not_read_closes_the_client_window():
    sock, conn = open_connection()
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, request_headers("Stall"))
    sock.sendall(conn.data_to_send())
    message = frame(b"s" * 8000)
    sent = 0
    sock.settimeout(0.1)
    end = time.time() + 1.0  # the handler sleeps 1.5 s before reading
    while time.time() < end:
        window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
        if window >= len(message):
            conn.send_data(stream_id, message)
            sent += len(message)
            sock.sendall(conn.data_to_send())
            continue
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        for event in conn.receive_data(chunk):
            pass
        sock.sendall(conn.data_to_send())
    # The server grants its initial 1 MiB window plus a bounded backlog, then stops.
    assert sent < 3 * 1024 * 1024, sent
    assert sent >= 512 * 1024, sent

    # Once the handler reads, the window opens again and the call completes.
    for _ in range(20):
        while conn.local_flow_control_window(stream_id) < len(message):
            sock.settimeout(5)
            for event in conn.receive_data(sock.recv(65536)):
                pass
            sock.sendall(conn.data_to_send())
        conn.send_data(stream_id, message)
        sent += len(message)
        sock.sendall(conn.data_to_send())
    conn.end_stream(stream_id)
    sock.sendall(conn.data_to_send())
    body = b""
    status = None
    done = False
    while not done:
        for event in conn.receive_data(sock.recv(65536)):
            if isinstance(event, h2.events.DataReceived):
                body += event.data
            elif isinstance(event, h2.events.TrailersReceived):
                status = dict(event.headers)["grpc-status"]
            elif isinstance(event, h2.events.StreamEnded):
                done = True
        sock.sendall(conn.data_to_send())
    assert status == "0"
    assert body[5:].decode() == str(sent // len(message) * (len(message) - 5))
    sock.close()
