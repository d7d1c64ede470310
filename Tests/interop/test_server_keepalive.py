"""Keepalive PINGs on a quiet connection, and GOAWAY at the maximum connection age."""

import socket
import time

import h2.config
import h2.connection
import h2.events

from server_wire_support import assert_normal_call_works, server_port


def test_quiet_connection_is_pinged_then_drained_at_max_age():
    sock = socket.create_connection(("127.0.0.1", server_port()), timeout=10)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    started = time.time()
    first_ping = None
    goaway_at = None
    closed_at = None
    sock.settimeout(0.5)
    while time.time() - started < 8 and closed_at is None:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            closed_at = time.time() - started
            break
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.PingReceived) and first_ping is None:
                first_ping = time.time() - started
            if isinstance(event, h2.events.ConnectionTerminated):
                goaway_at = time.time() - started
        out = conn.data_to_send()
        if out and goaway_at is None:
            sock.sendall(out)  # h2 acknowledges PINGs itself
    sock.close()
    assert first_ping is not None and first_ping < 2.5, first_ping
    assert goaway_at is not None and 1.5 <= goaway_at < 4.5, goaway_at
    assert closed_at is not None
    assert_normal_call_works()
