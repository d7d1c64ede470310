"""Helpers for the server wire tests (test_server_*.py): the port of the in-process test
server started by the Swift test `ServerWireTests` (env CASSETTO_SERVER_TEST_PORT), protobuf
encoding of the Echo service's one-field message, and a raw HTTP/2 client built on `h2`."""

from __future__ import annotations

import gzip
import os
import socket
import struct
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import pytest

SERVICE = "cassetto.test.Echo"


def server_port() -> int:
    port = os.environ.get("CASSETTO_SERVER_TEST_PORT")
    if not port:
        pytest.skip("run through the Swift test ServerWireTests (CASSETTO_SERVER_TEST_PORT unset)")
    return int(port)


def echo_text(text: str) -> bytes:
    """`string text = 1;` on the wire."""
    data = text.encode()
    if not data:
        return b""
    length = len(data)
    varint = bytearray()
    while length >= 0x80:
        varint.append((length & 0x7F) | 0x80)
        length >>= 7
    varint.append(length)
    return b"\x0a" + bytes(varint) + data


def frame(message: bytes, compressed: bool = False) -> bytes:
    return struct.pack(">BI", 1 if compressed else 0, len(message)) + message


def unframe(data: bytes) -> list[tuple[bool, bytes]]:
    out = []
    while data:
        flag, length = struct.unpack(">BI", data[:5])
        out.append((flag == 1, data[5 : 5 + length]))
        data = data[5 + length :]
    return out


@dataclass
class RawResponse:
    headers: dict = field(default_factory=dict)
    trailers: dict = field(default_factory=dict)
    data: bytes = b""
    reset: int | None = None

    @property
    def status(self) -> str | None:
        return self.headers.get(":status")

    @property
    def grpc_status(self) -> str | None:
        return self.trailers.get("grpc-status", self.headers.get("grpc-status"))

    @property
    def grpc_message(self) -> str | None:
        return self.trailers.get("grpc-message", self.headers.get("grpc-message"))

    def messages(self) -> list[tuple[bool, bytes]]:
        return unframe(self.data)


def request_headers(method: str = "Get", **overrides) -> list[tuple[str, str]]:
    base = {
        ":method": "POST",
        ":scheme": "http",
        ":path": f"/{SERVICE}/{method}",
        ":authority": "localhost",
        "content-type": "application/grpc",
        "te": "trailers",
    }
    for key, value in overrides.items():
        key = key.replace("_", "-")
        if key.startswith("pseudo-"):
            key = ":" + key[len("pseudo-") :]
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return list(base.items())


def raw_call(
    headers: list[tuple[str, str]],
    chunks: list[bytes] = (),
    end_stream: bool = True,
    port: int | None = None,
    timeout: float = 10.0,
) -> RawResponse:
    """One request on a fresh h2c connection; each chunk goes out as its own DATA frame."""
    port = port or server_port()
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        stream_id = conn.get_next_available_stream_id()
        no_data = not chunks
        conn.send_headers(stream_id, headers, end_stream=end_stream and no_data)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            # Respect flow control for large bodies.
            offset = 0
            while offset < len(chunk) or (offset == 0 and not chunk):
                window = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
                if window <= 0 and chunk:
                    sock.sendall(conn.data_to_send())
                    _pump(conn, sock, None)
                    continue
                piece = chunk[offset : offset + window]
                offset += len(piece)
                conn.send_data(
                    stream_id, piece, end_stream=end_stream and last and offset >= len(chunk)
                )
                if not chunk:
                    break
            sock.sendall(conn.data_to_send())
        sock.sendall(conn.data_to_send())
        response = RawResponse()
        while True:
            done = _pump(conn, sock, (stream_id, response))
            if done:
                return response
    finally:
        sock.close()


def _pump(conn, sock, target) -> bool:
    data = sock.recv(65536)
    if not data:
        return True
    finished = False
    for event in conn.receive_data(data):
        if target is None:
            continue
        stream_id, response = target
        if getattr(event, "stream_id", None) != stream_id:
            continue
        if isinstance(event, h2.events.ResponseReceived):
            response.headers = dict(event.headers)
        elif isinstance(event, h2.events.TrailersReceived):
            response.trailers = dict(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            response.data += event.data
            conn.acknowledge_received_data(event.flow_controlled_length, stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            finished = True
        elif isinstance(event, h2.events.StreamReset):
            response.reset = event.error_code
            finished = True
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    return finished


def assert_normal_call_works(port: int | None = None) -> None:
    """A well-formed unary call on the same server succeeds."""
    response = raw_call(request_headers(), [frame(echo_text("still serving"))], port=port)
    assert response.status == "200", response
    assert response.grpc_status == "0", response
    assert response.messages() == [(False, echo_text("still serving"))]


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data)
