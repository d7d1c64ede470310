"""Graceful shutdown: GOAWAY, in-flight calls complete, then the listener is gone."""

import os
import socket
import time

import grpc
import h2.config
import h2.connection
import h2.events
import pytest

from server_wire_support import SERVICE, echo_text, server_port


def own_channel(port):
    # A private subchannel pool: each channel gets its own connection.
    return grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
    )


def test_in_flight_call_completes_after_goaway_and_new_connections_are_refused():
    trigger = os.environ.get("CASSETTO_SERVER_TEST_TRIGGER")
    if not trigger:
        pytest.skip("run through the Swift test ServerLifecycleWireTests")
    port = server_port()

    # An idle raw connection, to watch for the GOAWAY.
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h2.connection.H2Connection(
        config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    )
    conn.initiate_connection()
    idle.sendall(conn.data_to_send())

    # Connection A: a slow call (700 ms) in flight.
    channel_a = own_channel(port)
    slow = channel_a.unary_unary(f"/{SERVICE}/Get").future(echo_text("slow"), timeout=10)
    time.sleep(0.2)

    # Connection B asks the server to shut down gracefully.
    with own_channel(port) as channel_b:
        reply = channel_b.unary_unary(f"/{SERVICE}/Get")(
            echo_text("shutdown"), metadata=[("x-trigger", trigger)], timeout=10
        )
        assert reply == echo_text("shutdown")

    # The idle connection gets GOAWAY (NO_ERROR) and is closed.
    got_goaway = None
    while True:
        chunk = idle.recv(65536)
        if not chunk:
            break
        for event in conn.receive_data(chunk):
            if isinstance(event, h2.events.ConnectionTerminated):
                got_goaway = event.error_code
        if got_goaway is not None:
            break
    idle.close()
    assert got_goaway == 0

    # The call in flight when the shutdown began completes normally.
    assert slow.result() == echo_text("slow")
    channel_a.close()

    # Once drained, the server stops listening.
    deadline = time.time() + 5
    refused = False
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(0.1)
        except OSError:
            refused = True
            break
    assert refused
