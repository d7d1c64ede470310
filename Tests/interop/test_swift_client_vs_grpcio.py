"""gRPC interop test cases the other way round: ``cassetto-interop-client`` (our Swift client
runtime) against an independent server, Python grpcio (``python_interop_server.py``), over h2c
and over TLS (certificates from ``tools/make-test-certs``).

grpcio's Python API cannot see whether a request message was compressed, so this server
cannot reject the ``expect_compressed`` feature probe of the client_compressed_* cases; the
client runs them with ``--compression_probe=false`` (the compressed and uncompressed calls
themselves still run; grpcio must decompress what we send).

Build first: ``swift build --product cassetto-interop-client``; then
``CASSETTO_BIN_DIR=.build/debug .venv-test/bin/pytest Tests/interop/test_swift_client_vs_grpcio.py``
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import generate_interop_stubs

HERE = Path(__file__).resolve().parent
CASE_TIMEOUT = 60

CASES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "cancel_after_first_response",
    "timeout_on_sleeping_server",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
]


class PythonServer:
    def __init__(self, process: subprocess.Popen, port: int, tls: bool, certs: Path | None):
        self.process = process
        self.port = port
        self.tls = tls
        self.certs = certs

    def client_args(self) -> list[str]:
        args = ["--server_host", "127.0.0.1", "--server_port", str(self.port)]
        if self.tls:
            assert self.certs is not None
            args += ["--use_tls=true", "--custom_ca_file", str(self.certs / "ca.pem"),
                     "--server_host_override", "localhost"]
        return args


@pytest.fixture(scope="module")
def stubs_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("client-interop-stubs")
    generate_interop_stubs(directory)
    return directory


@pytest.fixture(scope="module", params=["h2c", "tls"])
def python_server(request, stubs_dir, test_certs):
    tls = request.param == "tls"
    command = [sys.executable, str(HERE / "python_interop_server.py"), "--stubs", str(stubs_dir),
               "--port", "0"]
    if tls:
        command += ["--use_tls", "--cert", str(test_certs / "server.pem"),
                    "--key", str(test_certs / "server.key")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if "listening on" not in line:
            process.kill()
            pytest.fail(f"python interop server did not start: {line!r} {process.stderr.read()}")
        yield PythonServer(process, int(line.split()[-1]), tls, test_certs if tls else None)
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def interop_client(cassetto_bin) -> Path:
    exe = cassetto_bin / "cassetto-interop-client"
    if not exe.exists():
        pytest.fail(f"{exe} not found: build it first (swift build --product "
                    f"cassetto-interop-client) or set CASSETTO_BIN_DIR")
    return exe


def run_client(exe: Path, args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], capture_output=True, text=True,
                          timeout=CASE_TIMEOUT)


@pytest.mark.parametrize("case", CASES)
def test_case_passes(case, python_server, interop_client):
    result = run_client(interop_client, python_server.client_args() + [
        "--test_case", case, "--compression_probe=false"])
    assert result.returncode == 0, (
        f"{case} over {'tls' if python_server.tls else 'h2c'} failed "
        f"(exit {result.returncode}):\n{result.stdout}{result.stderr}")
    assert f"PASS {case}" in result.stdout


def test_unreachable_server_fails_the_case(interop_client, stubs_dir):
    # Nothing listens on port 1: the client must report the failure, not pass.
    result = run_client(interop_client, ["--server_host", "127.0.0.1", "--server_port", "1",
                                         "--test_case", "empty_unary"])
    assert result.returncode != 0
    assert "UNAVAILABLE" in result.stderr


def test_untrusted_server_certificate_is_refused(python_server, interop_client, test_certs):
    if not python_server.tls:
        pytest.skip("TLS only")
    result = run_client(interop_client, [
        "--server_host", "127.0.0.1", "--server_port", str(python_server.port), "--use_tls=true",
        "--custom_ca_file", str(test_certs / "other-ca.pem"), "--server_host_override",
        "localhost", "--test_case", "empty_unary"])
    assert result.returncode != 0
    assert "UNAVAILABLE" in result.stderr
