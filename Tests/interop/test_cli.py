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
