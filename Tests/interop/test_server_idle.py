"""Connection management: an idle connection gets GOAWAY and is closed."""

import socket
import time

import h2.config
import h2.connection
import h2.events

from server_wire_support import assert_normal_call_works, server_port


def test_idle_connection_gets_goaway_then_close():
    sock = socket.create_connection(("127.0.0.1", server_port()), timeout=10)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    started = time.time()
    goaway = None
    closed = False
    while time.time() - started < 8:
        chunk = sock.recv(65536)
        if not chunk:
            closed = True
            break
        if goaway is not None:
            continue
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.ConnectionTerminated):
                goaway = event.error_code
        out = conn.data_to_send()
        if out and goaway is None:
            sock.sendall(out)
    elapsed = time.time() - started
    sock.close()
    assert goaway == 0
    assert closed
    assert 0.9 <= elapsed <= 4, elapsed
    assert_normal_call_works()
