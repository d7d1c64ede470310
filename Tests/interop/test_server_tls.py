"""The server over TLS (ALPN h2) with client certificates, from grpcio."""

import os
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
