"""Kill -9 while a client writes: every SubmitAbilitazioneRequest the server acknowledged is
there after a restart, and the audit chain verifies (``cassetto audit-verify``)."""

from __future__ import annotations

import subprocess
import threading
import time

import grpc
import pytest

from identity_support import IdentityClient, generate_identity_stubs, new_cf


@pytest.fixture(scope="session")
def identity_stubs(tmp_path_factory):
    return generate_identity_stubs(tmp_path_factory.mktemp("identity-durability-stubs"))


def test_acknowledged_writes_survive_sigkill(launch_cassetto, tmp_path_factory, cassetto_bin,
                                             identity_stubs):
    data = tmp_path_factory.mktemp("identity-durability") / "data"
    cf = new_cf()
    acknowledged: list = []
    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data)) as server:
        client = IdentityClient(server, data, cassetto_bin, identity_stubs)
        pb = client.pb
        stop = threading.Event()

        def write_loop(worker: int) -> None:
            i = 0
            while not stop.is_set():
                sede = f"{1000 + worker * 4000 + i:04d}"
                i += 1
                try:
                    response = client.call("SubmitAbilitazioneRequest",
                                           pb.SubmitAbilitazioneRequestRequest(
                                               form=pb.FORM_SC65,
                                               scopes=[client.stubs.common.SCOPE_CONTRIBUZIONE_PRIVATI],
                                               sede_code=sede), cf)
                    acknowledged.append(response.id)
                except grpc.RpcError:
                    return  # the server is gone

        threads = [threading.Thread(target=write_loop, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.kill()  # SIGKILL mid-stream
        server.process.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=20)
        client.close()
    assert len(acknowledged) >= 40

    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data)) as server:
        client = IdentityClient(server, data, cassetto_bin, identity_stubs)
        stored, token = set(), ""
        while True:
            page = client.call("ListAbilitazioneRequests", client.pb.ListAbilitazioneRequestsRequest(
                page_size=200, page_token=token), cf)
            stored |= {r.id for r in page.requests}
            token = page.next_page_token
            if not token:
                break
        client.close()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged writes lost"

    verify = subprocess.run([str(cassetto_bin / "cassetto"), "audit-verify", "--data-dir", str(data)],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout
    count = int(verify.stdout.split("intact: ")[1].split(" ")[0])
    assert count >= len(stored)
