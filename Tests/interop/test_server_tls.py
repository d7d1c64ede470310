"""The server over TLS (ALPN h2) with client certificates, from grpcio; and TLS abuse from
raw `ssl` sockets — no ALPN, a wrong ALPN, a client certificate from an unknown CA, an
aborted handshake, plaintext on the TLS port — each followed by a normal call."""

import os
import socket
import ssl
from pathlib import Path

import grpc
import pytest

from server_wire_support import SERVICE, echo_text, server_port


def certs() -> Path:
    path = os.environ.get("CASSETTO_SERVER_TEST_CERTS")
    if not path:
        pytest.skip("run through the Swift test ServerLifecycleWireTests")
    return Path(path)


def secure_channel(with_client_cert: bool):
    directory = certs()
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(directory / "ca.pem").read_bytes(),
        private_key=(directory / "client.key").read_bytes() if with_client_cert else None,
        certificate_chain=(directory / "client.pem").read_bytes() if with_client_cert else None,
    )
    return grpc.secure_channel(f"localhost:{server_port()}", credentials)


def test_tls_call_sees_the_client_certificate():
    with secure_channel(True) as channel:
        get = channel.unary_unary(f"/{SERVICE}/Get")
        assert get(echo_text("peer"), timeout=10) == echo_text("secure=true cn=cassetto-test-backend")
        assert get(echo_text("hello"), timeout=10) == echo_text("hello")


def test_tls_without_client_certificate_is_allowed_when_not_required():
    with secure_channel(False) as channel:
        get = channel.unary_unary(f"/{SERVICE}/Get")
        assert get(echo_text("peer"), timeout=10) == echo_text("secure=true cn=-")


def test_tls_streaming():
    with secure_channel(True) as channel:
        chat = channel.stream_stream(f"/{SERVICE}/Chat")
        messages = [bytes([i]) * 5000 for i in range(30)]
        assert list(chat(iter(messages), timeout=30)) == messages


def test_cleartext_client_on_tls_port_fails_and_server_survives():
    with grpc.insecure_channel(f"127.0.0.1:{server_port()}") as channel:
        with pytest.raises(grpc.RpcError):
            channel.unary_unary(f"/{SERVICE}/Get")(echo_text("x"), timeout=3)
    test_tls_call_sees_the_client_certificate()


def raw_tls(alpn, cert=None):
    """A TLS handshake with Python's ssl, then the HTTP/2 preface; returns the first bytes the
    server answers (its SETTINGS frame) or raises ssl.SSLError (TLS 1.3 reports a refused
    client certificate at the first read)."""
    directory = certs()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(directory / "ca.pem"))
    if alpn is not None:
        context.set_alpn_protocols(alpn)
    if cert is not None:
        context.load_cert_chain(str(directory / f"{cert}.pem"), str(directory / f"{cert}.key"))
    with socket.create_connection(("127.0.0.1", server_port()), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            return tls.recv(64)


def test_raw_tls_with_alpn_h2_gets_the_server_settings():
    answer = raw_tls(["h2"], cert="client")
    assert answer[3] == 0x04  # a SETTINGS frame


@pytest.mark.parametrize("alpn", [None, ["http/1.1"], ["spdy/3", "http/1.0"]])
def test_no_or_wrong_alpn_is_refused_with_no_application_protocol(alpn):
    with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
        raw_tls(alpn, cert="client")
    test_tls_call_sees_the_client_certificate()


def test_client_certificate_from_an_unknown_ca_is_refused():
    # other-client.pem is signed by other-ca.pem, which the server does not trust.
    with pytest.raises(ssl.SSLError, match="(?i)unknown.ca"):
        raw_tls(["h2"], cert="other-client")
    test_tls_call_sees_the_client_certificate()


def test_aborted_handshakes_do_not_hurt_the_server():
    for partial in (b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"\x16\x03\x01" + b"\xff" * 300):
        with socket.create_connection(("127.0.0.1", server_port()), timeout=5) as sock:
            if partial:
                sock.sendall(partial)
            # then walk away (closed by the with)
    # A handshake left half-way open while others are served.
    hanging = socket.create_connection(("127.0.0.1", server_port()), timeout=5)
    hanging.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    try:
        test_tls_call_sees_the_client_certificate()
    finally:
        hanging.close()
