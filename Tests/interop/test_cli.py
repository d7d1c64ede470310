"""The `cassetto` command-line client end to end: the built binary against a live
`cassetto-server --dev` (demo data set) on an ephemeral port — whoami, search, the delega
lifecycle (to an employee; an intermediary's request confirmed with the OTP read from the
spooled PEC), tables and --json, the token from --token or CASSETTO_TOKEN, TLS with --tls-ca,
and failed calls mapped to 'cassetto: STATUS: message', field violations and the status code
as exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

ACME = "04123450522"


@pytest.fixture(scope="module")
def cli(launch_cassetto, tmp_path_factory, cassetto_bin):
    data = tmp_path_factory.mktemp("cli") / "data"
    data.mkdir()
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        yield Cli(server, data, cassetto_bin)


class Cli:
    def __init__(self, server, data: Path, bin_dir: Path, extra=()):
        self.server = server
        self.data = data
        self.exe = str(bin_dir / "cassetto")
        self.extra = list(extra)
        demo = self.run("demo", "--json", "--data-dir", str(data), server_flags=False)
        assert demo.returncode == 0, demo.stderr
        self.people = {entry["key"]: entry for entry in json.loads(demo.stdout)}

    def token(self, key: str) -> str:
        return self.people[key]["token"]

    def cf(self, key: str) -> str:
        return self.people[key]["fiscal_code"]

    def run(self, *args: str, who: str | None = None, env: dict | None = None,
            server_flags: bool = True) -> subprocess.CompletedProcess:
        command = [self.exe, *args]
        if server_flags:
            command += ["--server", self.server.address, *self.extra]
            if who is not None:
                command += ["--token", self.token(who)]
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CASSETTO_TOKEN", "CASSETTO_SERVER")}
        environment.update(env or {})
        return subprocess.run(command, capture_output=True, text=True, env=environment,
                              timeout=60)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        result = self.run(*args, **kw)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    def json(self, *args: str, **kw):
        return json.loads(self.ok(*args, "--json", **kw).stdout)


def test_whoami_table_json_and_token_sources(cli):
    me = cli.ok("whoami", who="legal-representative").stdout
    assert cli.cf("legal-representative") in me and "Mario Rossi" in me
    assert re.search(r"^ENABLEMENT\s+FORM\s+SCOPES", me, re.M)
    assert re.search(r"demo-abil-0001\s+SC65\s+CONTRIBUZIONE_PRIVATI,MALATTIA_ATTESTATI", me)

    data = cli.json("whoami", who="operator")
    assert data["fiscalCode"] == cli.cf("operator")
    assert data["authMethod"] == "AUTH_METHOD_SPID" and data["spidLevel"] == 2
    assert {"sedeCode": "7500", "role": "ROLE_OPERATOR"}.items() <= data["operatorRoles"][0].items()

    # The token from the environment, and the server too.
    from_env = cli.run("whoami", "--json", server_flags=False, env={
        "CASSETTO_TOKEN": cli.token("labour-consultant"),
        "CASSETTO_SERVER": cli.server.address})
    assert from_env.returncode == 0, from_env.stderr
    albo = json.loads(from_env.stdout)["alboRegistrations"][0]
    assert albo["albo"] == "ALBO_CONSULENTI_LAVORO" and albo["state"] == "ALBO_STATE_ACTIVE"
    # --token wins over the environment.
    both = cli.run("whoami", "--json", who="citizen",
                   env={"CASSETTO_TOKEN": cli.token("operator")})
    assert json.loads(both.stdout)["fiscalCode"] == cli.cf("citizen")


def test_errors_name_the_status_and_exit_with_its_code(cli):
    anonymous = cli.run("whoami")
    assert anonymous.returncode == 16, anonymous
    assert anonymous.stderr.startswith("cassetto: UNAUTHENTICATED: ")
    assert anonymous.stdout == ""

    bad = cli.run("whoami", "--token", "not.a.jwt")
    assert bad.returncode == 16 and "UNAUTHENTICATED" in bad.stderr
    assert "not.a.jwt" not in bad.stderr

    # A filter the server refuses: INVALID_ARGUMENT with the field violation.
    short = cli.run("search", "--name", "A", who="legal-representative")
    assert short.returncode == 3, short
    assert short.stderr.startswith("cassetto: INVALID_ARGUMENT: ")
    assert re.search(r"^  field name_prefix: ", short.stderr, re.M), short.stderr

    missing = cli.run("delega", "get", "no-such-delega", who="legal-representative")
    assert missing.returncode == 5 and "cassetto: NOT_FOUND: " in missing.stderr

    # Nobody listening: UNAVAILABLE (14).
    nobody = subprocess.run([cli.exe, "whoami", "--server", "127.0.0.1:1", "--timeout", "5"],
                            capture_output=True, text=True, timeout=30)
    assert nobody.returncode == 14 and "cassetto: UNAVAILABLE" in nobody.stderr

    # Usage errors are refused before any call.
    usage = cli.run("search", "--fund", "nonsense", who="operator")
    assert usage.returncode == 64 and "--fund must be one of" in usage.stderr


def test_search_positions_table_json_and_pages(cli):
    table = cli.ok("search", who="legal-representative").stdout.splitlines()
    assert table[0].split() == ["MATRICOLA", "SUBJECT", "NAME", "FUND", "SEDE", "STATE",
                                "DESCRIPTION"]
    rows = {line.split()[0]: line for line in table[1:]}
    assert set(rows) == {"7012345601", "7512345602"}
    assert "ACME Costruzioni S.p.A." in rows["7012345601"] and "ATTIVA" in rows["7012345601"]
    assert "CESSATA" in rows["7512345602"]

    data = cli.json("search", "--state", "attiva", who="legal-representative")
    assert [p["matricola"] for p in data["posizioni"]] == ["7012345601"]
    position = data["posizioni"][0]
    assert position["fund"] == "FUND_PRIVATI_UNIEMENS" and position["state"] == "POSIZIONE_STATE_ATTIVA"
    assert position["subject"]["fiscalCode"] == ACME and position["startDate"] == "2015-03-01"

    # The sede 7500 operator sees the sede's positions, one page at a time or all of them.
    first = cli.run("search", "--page-size", "2", who="operator")
    assert first.returncode == 0 and "more: --page-token " in first.stderr
    assert len(first.stdout.splitlines()) == 3
    everything = cli.json("search", "--page-size", "2", "--all", who="operator")
    matricole = [p["matricola"] for p in everything["posizioni"]]
    assert len(matricole) == len(set(matricole)) >= 4 and "nextPageToken" not in everything
    # Someone with no enablement sees nothing.
    assert cli.json("search", who="citizen") == {}


def test_delega_to_an_employee_lifecycle(cli):
    employee = cli.cf("delegated-employee")
    created = cli.json("delega", "create", "--subject", ACME, "--matricola", "7012345601",
                       "--delegate", employee, "--delegate-name", "Giulia",
                       "--delegate-surname", "Bianchi", "--from", "2026-01-01",
                       who="legal-representative")
    assert created["state"] == "DELEGA_STATE_DA_ATTIVARE"
    assert created["kind"] == "DELEGA_KIND_DIPENDENTE"
    assert created["scope"] == {"matricola": "7012345601"}
    delega = created["id"]

    # The delegate may not activate; the delegant may, once.
    refused = cli.run("delega", "activate", delega, who="delegated-employee")
    assert refused.returncode == 7 and "PERMISSION_DENIED" in refused.stderr
    active = cli.ok("delega", "activate", delega, who="legal-representative").stdout
    assert re.search(r"^state\s+ATTIVA$", active, re.M)
    again = cli.run("delega", "activate", delega, who="legal-representative")
    assert again.returncode == 9 and again.stderr.startswith("cassetto: FAILED_PRECONDITION: ")

    listed = cli.ok("delega", "list", "--role", "delegant", "--state", "attiva",
                    who="legal-representative").stdout.splitlines()
    assert listed[0].split()[:3] == ["ID", "KIND", "STATE"]
    assert any(line.startswith(delega) and "ATTIVA" in line for line in listed[1:])
    received = cli.json("delega", "list", "--role", "delegate", who="delegated-employee")
    assert delega in [d["id"] for d in received["deleghe"]]

    revoked = cli.json("delega", "revoke", delega, "--reason", "fine rapporto",
                       who="legal-representative")
    assert revoked["state"] == "DELEGA_STATE_REVOCATA" and "retentionEndDate" in revoked
    assert cli.json("delega", "get", delega, who="legal-representative")["state"] == \
        "DELEGA_STATE_REVOCATA"


def spooled_otp(data: Path, delega_id: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted((data / "spool").glob("*.eml")) if (data / "spool").exists() else []:
            text = path.read_text()
            if delega_id in text:
                match = re.search(r"Codice OTP: (\d{8})", text)
                assert match, text
                return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no spooled PEC for {delega_id}")


def test_delega_intermediario_confirmed_with_the_otp(cli):
    owner = cli.cf("legal-representative")
    requested = cli.json("delega", "create", "--intermediario", "--subject", ACME, "--all",
                         "--delegant", owner, "--delegant-name", "Mario",
                         "--delegant-surname", "Rossi", who="labour-consultant")
    assert requested["state"] == "DELEGA_STATE_IN_ATTESA_OTP"
    assert requested["scope"] == {"allPositions": True}
    delega = requested["id"]
    otp = spooled_otp(cli.data, delega)

    # Without the signature declaration the server refuses, naming the field.
    undeclared = cli.run("delega", "confirm-otp", delega, "--otp", otp, who="labour-consultant")
    assert undeclared.returncode == 3 and "signature_declared" in undeclared.stderr
    wrong = "0" * 8 if otp != "0" * 8 else "1" * 8
    bad = cli.run("delega", "confirm-otp", delega, "--otp", wrong, "--signature-declared",
                  who="labour-consultant")
    assert bad.returncode != 0 and bad.stderr.startswith("cassetto: ")
    confirmed = cli.json("delega", "confirm-otp", delega, "--otp", otp, "--signature-declared",
                         who="labour-consultant")
    assert confirmed["state"] == "DELEGA_STATE_ATTIVA" and confirmed["otpFailedAttempts"] == 1
    # The OTP never shows up in what the CLI printed or in the server's log.
    assert otp not in json.dumps(confirmed)
    assert otp not in cli.server.log()


def test_tls_with_the_test_ca(launch_cassetto, tmp_path_factory, cassetto_bin, test_certs):
    data = tmp_path_factory.mktemp("cli-tls") / "data"
    data.mkdir()
    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data), tls=True) as server:
        tls = Cli(server, data, cassetto_bin,
                  extra=["--tls-ca", str(test_certs / "ca.pem"), "--tls-server-name", "localhost"])
        me = tls.json("whoami", who="citizen")
        assert me["fiscalCode"] == tls.cf("citizen")
        # Plaintext against a TLS port fails as a transport error, not a hang.
        plain = subprocess.run([tls.exe, "whoami", "--server", server.address, "--timeout", "5",
                                "--token", tls.token("citizen")],
                               capture_output=True, text=True, timeout=30)
        assert plain.returncode != 0 and plain.stderr.startswith("cassetto: ")


# ------------------------------------------------------------------------------------------
# Ticketing: slots and booking, requests (create with attachments, get, watch)


@pytest.fixture(scope="module")
def ticketing(cli, tmp_path_factory):
    from test_gateway_contracts import generate_client
    client = generate_client(tmp_path_factory.mktemp("cli-ticketing-stubs"))
    channel = cli.server.channel()
    yield SimpleNamespace(pb=client.ticketing, stub=client.ticketing_grpc.TicketingStub(channel))
    channel.close()


def metadata(cli, key):
    return [("authorization", f"Bearer {cli.token(key)}")]


def publish_slots(cli, ticketing, count=2):
    pb = ticketing.pb
    start = int(time.time()) + 2 * 86400
    slots = [pb.SlotSpec(length_minutes=30, channel=pb.CHANNEL_SPORTELLO, capacity=2)
             for _ in range(count)]
    for index, slot in enumerate(slots):
        slot.start.seconds = start + index * 1800
    request = pb.PublishSlotsRequest(request_id=f"cli-slots-{time.time_ns()}", sede_code="7500",
                                     slots=slots)
    return ticketing.stub.PublishSlots(request, metadata=metadata(cli, "operator"),
                                       timeout=10).slots


def test_slots_of_a_sede_table_json_and_errors(cli, ticketing):
    published = publish_slots(cli, ticketing)
    table = cli.ok("slots", "--sede", "7500", "--page-size", "100", who="operator").stdout
    assert table.splitlines()[0].split() == ["SLOT", "SEDE", "START", "MINUTES", "CHANNEL", "FREE"]
    for slot in published:
        assert re.search(rf"^{re.escape(slot.id)}\s+7500\s+\S+\s+30\s+SPORTELLO\s+2$", table,
                         re.M), table
    data = cli.json("slots", "--sede", "7500", "--page-size", "100", who="operator")
    mine = [s for s in data["slots"] if s["id"] in {p.id for p in published}]
    assert len(mine) == 2 and all(s["channel"] == "CHANNEL_SPORTELLO" and s["capacity"] == 2
                                  for s in mine)
    both = cli.run("slots", "--sede", "7500", "--richiesta", "r-1", who="operator")
    assert both.returncode == 3 and re.search(r"^  field sede_code: ", both.stderr, re.M)


def richieste_or_skip(cli, ticketing):
    """A selectable subject code, or skip while the Richieste service is not built."""
    pb = ticketing.pb
    try:
        # fund 1 = FUND_PRIVATI_UNIEMENS (ACME's 7012345601)
        answer = ticketing.stub.ListSubjects(pb.ListSubjectsRequest(fund=1),
                                             metadata=metadata(cli, "legal-representative"),
                                             timeout=10)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            pytest.skip("Ticketing richieste not implemented yet")
        raise
    return next(s.code for c in answer.classes for s in c.subjects)


def test_richiesta_create_get_watch_and_book(cli, ticketing, tmp_path):
    subject = richieste_or_skip(cli, ticketing)
    pdf = tmp_path / "estratto.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * 150_000)
    created = cli.json("richiesta", "create", "--matricola", "7012345601", "--subject", subject,
                       "--text", "Richiesta di verifica dei versamenti 2025", "--attach", str(pdf),
                       "--email", "mario.rossi@example.it", "--consent-email",
                       who="legal-representative")
    assert created["state"] == "RICHIESTA_STATE_APERTA" and created["matricola"] == "7012345601"
    assert [(a["fileName"], a["size"]) for a in created["attachments"]] == \
        [("estratto.pdf", str(pdf.stat().st_size))]
    shown = cli.ok("richiesta", "get", created["id"], who="legal-representative").stdout
    assert re.search(rf"^id\s+{created['id']}$", shown, re.M) and "APERTA" in shown
    watched = cli.run("richiesta", "watch", created["id"], "--max-events", "1", "--json",
                      who="legal-representative")
    assert watched.returncode == 0, watched.stderr
    first = json.loads(watched.stdout.splitlines()[0])
    assert first["kind"].startswith("RICHIESTA_EVENT_KIND_")
    assert "richiesta" not in first or first["richiesta"]["id"] == created["id"]
    # Somebody else does not see it.
    hidden = cli.run("richiesta", "get", created["id"], who="citizen")
    assert hidden.returncode == 5 and "NOT_FOUND" in hidden.stderr

    slot = publish_slots(cli, ticketing, count=1)[0]
    booked = cli.run("book", "--richiesta", created["id"], "--slot", slot.id, "--json",
                     who="legal-representative")
    if booked.returncode == 0:
        appointment = json.loads(booked.stdout)
        assert appointment["state"] == "APPOINTMENT_STATE_PRENOTATO"
        assert appointment["slot"]["id"] == slot.id
    else:
        # Not eligible yet (answer threshold): refused with a status, never a crash.
        assert booked.returncode in (3, 9) and booked.stderr.startswith("cassetto: ")
