"""cassetto.ticketing.v1.Ticketing, richieste half, over the wire with Python grpcio against
``cassetto-server --dev`` (demo data: ACME's position 7012345601 at sede 7000 ROMA EUR):
a request created by client stream with a PDF attachment, downloaded back as one zip that
Python's zipfile opens, watched (snapshot, then the operator's steps), searched, and the
refusals of an oversized attachment and of a stranger."""

from __future__ import annotations

import io
import threading
import zipfile

import grpc
import pytest

from test_ticketing_agenda import MATRICOLA, generate_stubs
from identity_support import IdentityClient

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n" + b" " * 100_000 + b"\n%%EOF\n"


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    stubs = generate_stubs(tmp_path_factory.mktemp("richieste-stubs"))
    data = tmp_path_factory.mktemp("richieste-data")
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        people = IdentityClient(server, data, cassetto_bin, stubs.identity)
        yield stubs.pb, stubs.grpc.TicketingStub(people.channel), people
        people.close()


def parts(pb, files, subject="P01.02", declared=None):
    header = pb.CreateRichiestaHeader(
        matricola=MATRICOLA, subject_code=subject, text="Verifica versamenti 2025",
        contacts=pb.RichiestaContacts(email="mario.rossi@example.it", consent_email=True),
        attachments=[pb.AttachmentInfo(file_name=name, size=declared or len(body))
                     for name, body in files])
    yield pb.CreateRichiestaRequest(header=header)
    for index, (_, body) in enumerate(files):
        for offset in range(0, len(body), 64 * 1024):
            yield pb.CreateRichiestaRequest(
                chunk=pb.AttachmentChunk(index=index, data=body[offset:offset + 64 * 1024]))


def test_create_download_watch_and_search(env):
    pb, stub, people = env
    owner = people.metadata("legal-representative")
    created = stub.CreateRichiesta(parts(pb, [("estratto.pdf", PDF)]), metadata=owner, timeout=15)
    assert created.state == pb.RICHIESTA_STATE_APERTA and created.sede.code == "7000"
    assert created.protocol_number.startswith("7000-")
    assert [(a.file_name, a.content_type) for a in created.attachments] == \
        [("estratto.pdf", "application/pdf")]

    zipped = b"".join(chunk.data for chunk in stub.DownloadAllegati(
        pb.DownloadAllegatiRequest(id=created.id), metadata=owner, timeout=15))
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        assert archive.testzip() is None
        assert archive.read("estratto.pdf") == PDF

    events = []
    watch = stub.WatchRichiesta(pb.WatchRichiestaRequest(id=created.id), metadata=owner,
                                timeout=15)
    def read():
        try:
            for event in watch:
                events.append(event.kind)
        except grpc.RpcError:
            pass  # cancelled below

    reader = threading.Thread(target=read)
    reader.start()
    operator = people.metadata("operator-roma")
    stub.TakeInCharge(pb.TakeInChargeRequest(id=created.id), metadata=operator, timeout=15)
    stub.CloseRichiesta(pb.CloseRichiestaRequest(id=created.id, esito=pb.ESITO_ACCOLTA,
                                                 comment="Verificato."),
                        metadata=operator, timeout=15)
    deadline = threading.Event()
    for _ in range(100):
        if pb.RICHIESTA_EVENT_KIND_CLOSED in events:
            break
        deadline.wait(0.05)
    watch.cancel()
    reader.join(5)
    assert events[:3] == [pb.RICHIESTA_EVENT_KIND_SNAPSHOT, pb.RICHIESTA_EVENT_KIND_TAKEN_IN_CHARGE,
                          pb.RICHIESTA_EVENT_KIND_CLOSED]

    found = stub.SearchRichieste(pb.SearchRichiesteRequest(
        matricola=MATRICOLA, state=pb.RICHIESTA_STATE_CHIUSA), metadata=owner, timeout=15)
    assert [r.id for r in found.richieste] == [created.id]
    queue = stub.ListQuesiti(pb.ListQuesitiRequest(state=pb.RICHIESTA_STATE_CHIUSA),
                             metadata=operator, timeout=15)
    assert created.id in [q.id for q in queue.quesiti]


def test_refusals(env):
    pb, stub, people = env
    with pytest.raises(grpc.RpcError) as big:
        stub.CreateRichiesta(parts(pb, [("big.pdf", PDF)], declared=3 * 1024 * 1024 + 1),
                             metadata=people.metadata("legal-representative"), timeout=15)
    assert big.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    with pytest.raises(grpc.RpcError) as stranger:
        stub.CreateRichiesta(parts(pb, []), metadata=people.metadata("citizen"), timeout=15)
    assert stranger.value.code() == grpc.StatusCode.NOT_FOUND


def test_sms_notices_go_to_the_http_gateway(launch_cassetto, tmp_path, cassetto_bin):
    """With --sms-gateway-url, the registration SMS is POSTed as JSON to the gateway (and the
    e-mail still goes to the spool)."""
    import json
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received = []

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.headers["Content-Type"],
                             json.loads(self.rfile.read(length))))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    gateway = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    stubs = generate_stubs(tmp_path / "stubs")
    data = tmp_path / "data"
    try:
        with launch_cassetto("--dev", "--data-dir", str(data), "--sms-gateway-url",
                             f"http://127.0.0.1:{gateway.server_port}/sms") as server:
            people = IdentityClient(server, data, cassetto_bin, stubs.identity)
            pb = stubs.pb
            header = pb.CreateRichiestaHeader(
                matricola=MATRICOLA, subject_code="P06.02", text="Pagamenti F24 di marzo",
                contacts=pb.RichiestaContacts(mobile="+393331234567", consent_sms=True,
                                              email="mario.rossi@example.it", consent_email=True))
            created = stubs.grpc.TicketingStub(people.channel).CreateRichiesta(
                iter([pb.CreateRichiestaRequest(header=header)]),
                metadata=people.metadata("legal-representative"), timeout=15)
            for _ in range(100):
                if received:
                    break
                threading.Event().wait(0.05)
            people.close()
    finally:
        gateway.shutdown()
    assert len(received) == 1
    path, content_type, body = received[0]
    assert path == "/sms" and content_type == "application/json"
    assert body["to"] == "+393331234567" and created.protocol_number in body["text"]
    spool = list((data / "spool").glob("*.eml"))
    assert any(created.protocol_number in p.read_text() for p in spool)
    assert not any("X-Cassetto-Channel: sms" in p.read_text() for p in spool)


def test_answer_thresholds_are_configuration(launch_cassetto, tmp_path, cassetto_bin):
    """--ticketing-thresholds sets a subject's answer threshold; ListSubjects shows it; a bad
    file stops the server naming the setting."""
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text('{"P06.02": 7}')
    stubs = generate_stubs(tmp_path / "stubs")
    data = tmp_path / "data"
    with launch_cassetto("--dev", "--data-dir", str(data), "--ticketing-thresholds",
                         str(thresholds)) as server:
        people = IdentityClient(server, data, cassetto_bin, stubs.identity)
        tree = stubs.grpc.TicketingStub(people.channel).ListSubjects(
            stubs.pb.ListSubjectsRequest(fund=1), metadata=people.metadata("citizen"),
            timeout=15)
        days = {s.code: s.answer_threshold_days for c in tree.classes for s in c.subjects}
        people.close()
    assert days["P06.02"] == 7 and days["P06.01"] == 30
    import subprocess
    thresholds.write_text('{"P99.99": 7}')
    refused = subprocess.run([f"{cassetto_bin}/cassetto-server", "--listen", "127.0.0.1:0",
                              "--ticketing-thresholds", str(thresholds)],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 78 and "ticketing-thresholds" in refused.stderr
