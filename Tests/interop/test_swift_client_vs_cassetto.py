"""Our interop client against our own server: ``cassetto-interop-client`` runs every client
case against ``cassetto-server --interop`` over h2c and TLS, feature probes included (our
server sees each request message's compressed flag, grpcio's Python API does not).

The independent checks are the two other directions (grpcio client → cassetto-server in
``test_interop_server.py``, our client → grpcio server in ``test_swift_client_vs_grpcio.py``);
this one catches a client and server that drift apart together.

Build first: ``swift build --product cassetto-interop-client --product cassetto-server``.
"""

from __future__ import annotations

import subprocess

import pytest

from test_swift_client_vs_grpcio import CASE_TIMEOUT, CASES


@pytest.fixture(scope="module", params=["h2c", "tls"])
def cassetto(request, launch_cassetto):
    with launch_cassetto("--interop", tls=request.param == "tls") as running:
        yield running


@pytest.fixture(scope="module")
def interop_client(cassetto_bin):
    exe = cassetto_bin / "cassetto-interop-client"
    if not exe.exists():
        pytest.fail(f"{exe} not found: swift build --product cassetto-interop-client")
    return exe


@pytest.mark.parametrize("case", CASES)
def test_case_passes_against_cassetto_server(case, cassetto, interop_client):
    args = [str(interop_client), "--server_host", cassetto.host, "--server_port",
            str(cassetto.port), "--test_case", case]
    if cassetto.tls:
        args += ["--use_tls=true", "--custom_ca_file", str(cassetto.certs / "ca.pem"),
                 "--server_host_override", cassetto.tls_server_name]
    result = subprocess.run(args, capture_output=True, text=True, timeout=CASE_TIMEOUT)
    assert result.returncode == 0, (
        f"{case} over {'tls' if cassetto.tls else 'h2c'} failed (exit {result.returncode}):\n"
        f"{result.stdout}{result.stderr}\nserver log:\n{cassetto.log()}")
    assert cassetto.is_running()
