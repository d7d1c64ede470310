"""cassetto.posizioni.v1.Posizioni over the wire with Python grpcio: Ingest from a back-end
over mutual TLS (client certificate mapped with --service-identity to posizioni.ingest), bad
records refused one by one with index and field while good ones are kept, idempotent
re-ingest; SearchPosizioni / GetPosizione as the owner, as an operator of the sede and as a
back-end with posizioni.read; NOT_FOUND for an unrelated person; UNAUTHENTICATED without a
token; INVALID_ARGUMENT with google.rpc.BadRequest on bad filters; ListVersamenti (period
range, page tokens) and GetDatiSintetici with the same visibility; the access audit of every
position read (granted or denied) read back from the SQLite file, and `cassetto audit-verify`
still intact. The GDP services, the menu and the access audit are in test_posizioni_gdp.py. The server runs with --dev (demo data) in a temporary data directory."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from identity_support import REPO_ROOT, IdentityClient, bad_request_fields, new_cf, numeric_code

BACKEND_CN = "cassetto-test-backend"
PROTOS = ("cassetto/common/v1/common.proto", "cassetto/identity/v1/identity.proto",
          "cassetto/posizioni/v1/posizioni.proto")


def generate_posizioni_stubs(dest: Path) -> SimpleNamespace:
    import google.type.date_pb2 as date_pb2
    import grpc_tools

    dest.mkdir(parents=True, exist_ok=True)
    googleapis = Path(date_pb2.__file__).parents[2]
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO_ROOT / 'proto'}", f"-I{googleapis}",
         f"-I{well_known}", f"--python_out={dest}", f"--grpc_python_out={dest}", *PROTOS],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed:\n{result.stderr}")
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    importlib.invalidate_caches()
    return SimpleNamespace(
        common=importlib.import_module("cassetto.common.v1.common_pb2"),
        pb=importlib.import_module("cassetto.posizioni.v1.posizioni_pb2"),
        grpc=importlib.import_module("cassetto.posizioni.v1.posizioni_pb2_grpc"),
        identity=SimpleNamespace(
            common=importlib.import_module("cassetto.common.v1.common_pb2"),
            pb=importlib.import_module("cassetto.identity.v1.identity_pb2"),
            grpc=importlib.import_module("cassetto.identity.v1.identity_pb2_grpc")),
    )


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    base = tmp_path_factory.mktemp("posizioni")
    stubs = generate_posizioni_stubs(base / "stubs")
    data = base / "data"
    with launch_cassetto("--dev", "--data-dir", str(data), "--service-identity",
                         f"cn:{BACKEND_CN}=ledger:posizioni.ingest,posizioni.read",
                         tls=True, client_ca=True) as server:
        # The server asks every client for a certificate (mutual TLS); a person's token wins
        # over the certificate, so persons call on a certificate channel with their token.
        backend_channel = server.channel(client_cert=True)
        people = IdentityClient(server, data, cassetto_bin, stubs.identity,
                                channel=server.channel(client_cert=True))
        yield SimpleNamespace(
            pb=stubs.pb, common=stubs.common, people=people, data=data, bin=cassetto_bin,
            stub=stubs.grpc.PosizioniStub(people.channel),
            backend=stubs.grpc.PosizioniStub(backend_channel))
        backend_channel.close()
        people.close()


def call(env, method, request, who=None):
    return getattr(env.stub, method)(request, metadata=env.people.metadata(who), timeout=15)


def code_of(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def date(y, m, d):
    from google.type import date_pb2
    return date_pb2.Date(year=y, month=m, day=d)


def subject(env, cf, name, rep, sede="7500"):
    return env.pb.IngestRecord(subject=env.pb.Subject(
        fiscal_code=cf, name=name, nature=env.pb.NATURE_PRIVATE, legal_representative=rep,
        pec="ufficio@pec.example.it", sede=sede))


def position(env, matricola, cf, sede="4900"):
    return env.pb.IngestRecord(posizione=env.pb.Posizione(
        matricola=matricola, subject_fiscal_code=cf, fund=env.common.FUND_PRIVATI_UNIEMENS,
        sede=sede, description="Sede", state=env.pb.POSIZIONE_STATE_ATTIVA,
        start_date=date(2021, 4, 1)))


def payment(env, matricola, ref, period="2025-03", cents=150_000):
    return env.pb.IngestRecord(versamento=env.pb.Versamento(
        matricola=matricola, channel=env.pb.CHANNEL_F24, reference=ref, period=period,
        amount_cents=cents, paid_on=date(2025, 4, 16)))


OWNER = new_cf()
COMPANY = numeric_code("0712340052")


def test_ingest_refuses_bad_records_by_index_and_keeps_good_ones(env):
    records = [
        subject(env, COMPANY, "Società Àlfa Ingest S.r.l.", OWNER),       # 0
        subject(env, "RSSMRA80A01H501X", "Bad", OWNER),                   # 1 bad check char
        position(env, "4912345601", COMPANY),                             # 2
        position(env, "4912345602", numeric_code("0799999999")),          # 3 unknown subject
        payment(env, "4912345601", "F24-A"),                              # 4
        payment(env, "4912345601", "F24-B", period="2025-13"),            # 5 bad period
        payment(env, "4912345601", "F24-C", cents=0),                     # 6 bad amount
        payment(env, "4999999999", "F24-D"),                              # 7 unknown position
    ]
    summary = env.backend.Ingest(iter(records), timeout=30)
    assert (summary.received, summary.accepted, summary.rejected) == (8, 3, 5)
    assert (summary.subjects, summary.posizioni, summary.versamenti) == (1, 1, 1)
    assert [(e.index, e.field) for e in summary.errors] == [
        (1, "subject.fiscal_code"), (3, "posizione.subject_fiscal_code"),
        (5, "versamento.period"), (6, "versamento.amount_cents"), (7, "versamento.matricola")]
    # Idempotent: the same feed again, same answer, nothing duplicated.
    again = env.backend.Ingest(iter(records), timeout=30)
    assert (again.accepted, again.rejected) == (3, 5)
    found = call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(fiscal_code=COMPANY), OWNER)
    assert [p.matricola for p in found.posizioni] == ["4912345601"]
    assert found.posizioni[0].subject.name == "Società Àlfa Ingest S.r.l."


def test_ingest_needs_the_permission(env):
    error = code_of(lambda: env.stub.Ingest(
        iter([subject(env, COMPANY, "X", OWNER)]), metadata=env.people.metadata(OWNER),
        timeout=15))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_owner_sees_and_gets_the_demo_positions(env):
    found = call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(), "legal-representative")
    assert [p.matricola for p in found.posizioni] == ["7012345601", "7512345602"]
    got = call(env, "GetPosizione", env.pb.GetPosizioneRequest(matricola="7012345601"),
               "legal-representative")
    assert got.subject.name == "ACME Costruzioni S.p.A."
    assert got.fund == env.common.FUND_PRIVATI_UNIEMENS
    assert (got.start_date.year, got.start_date.month, got.start_date.day) == (2015, 3, 1)


def test_operator_sees_the_positions_of_the_sede(env):
    found = call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(
        fund=env.common.FUND_PUBBLICI_GDP), "operator")
    assert [p.matricola for p in found.posizioni] == ["G750000101", "G750000102", "G750000201"]
    got = call(env, "GetPosizione", env.pb.GetPosizioneRequest(matricola="G750000201"), "operator")
    assert got.subject.altri_responsabili == [env.people.cf("public-employer")]
    # An operator of ROMA EUR does not see SIENA's positions.
    error = code_of(lambda: call(env, "GetPosizione", env.pb.GetPosizioneRequest(
        matricola="G750000201"), "operator-roma"))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_search_by_name_prefix_with_pages(env):
    first = call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(
        name_prefix="comune DI SIÈNA", page_size=1), "operator")
    assert [p.matricola for p in first.posizioni] == ["G750000101"]
    assert first.next_page_token
    second = call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(
        name_prefix="comune DI SIÈNA", page_size=1, page_token=first.next_page_token), "operator")
    assert [p.matricola for p in second.posizioni] == ["G750000102"]
    assert second.next_page_token == ""


def test_backend_with_read_permission_sees_everything(env):
    found = env.backend.SearchPosizioni(env.pb.SearchPosizioniRequest(page_size=100), timeout=15)
    assert {"7012345601", "G750000201", "4912345601"} <= {p.matricola for p in found.posizioni}


def test_unrelated_person_gets_not_found(env):
    stranger = new_cf()
    for matricola in ("7012345601", "0000000000"):
        error = code_of(lambda: call(env, "GetPosizione", env.pb.GetPosizioneRequest(
            matricola=matricola), stranger))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "visible" in error.details()
    assert call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(), stranger).posizioni == []


def test_without_token_unauthenticated(env, launch_cassetto, tmp_path_factory):
    requests = (("SearchPosizioni", env.pb.SearchPosizioniRequest()),
                ("GetPosizione", env.pb.GetPosizioneRequest(matricola="7012345601")))
    for method, request in requests:
        error = code_of(lambda: getattr(env.stub, method)(
            request, metadata=[("authorization", "Bearer not.a.token")], timeout=15))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    # No credentials at all: a plaintext server (no client certificate possible).
    data = tmp_path_factory.mktemp("posizioni-plain") / "data"
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        with server.channel() as channel:
            stub = env.stub.__class__(channel)
            for method, request in requests:
                error = code_of(lambda: getattr(stub, method)(request, timeout=15))
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED
            error = code_of(lambda: stub.Ingest(iter([]), timeout=15))
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_bad_filters_are_invalid_argument(env):
    error = code_of(lambda: call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(
        fiscal_code="NOTACODE", name_prefix="x", page_token="garbage!"), "operator"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(bad_request_fields(error)) == {"fiscal_code", "name_prefix"}
    error = code_of(lambda: call(env, "SearchPosizioni", env.pb.SearchPosizioniRequest(
        page_token="garbage!"), "operator"))
    assert bad_request_fields(error) == ["page_token"]


def audit_rows(env, matricola):
    import sqlite3
    db = sqlite3.connect(f"file:{env.data / 'cassetto.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT actor, action, delega_chain, outcome FROM audit_events WHERE subject = ? "
            "ORDER BY seq", (f"posizione:{matricola}",)).fetchall()
    finally:
        db.close()


def test_list_versamenti_pages_a_period_range(env):
    periods, token, pages = [], "", 0
    while True:
        page = call(env, "ListVersamenti", env.pb.ListVersamentiRequest(
            matricola="7012345601", period_from="2025-02", period_to="2025-11", page_size=4,
            page_token=token), "legal-representative")
        periods += [v.period for v in page.versamenti]
        assert all(v.amount_cents > 1_000_000 and v.channel == env.pb.CHANNEL_F24
                   for v in page.versamenti)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert periods == [f"2025-{m:02d}" for m in range(2, 12)]
    assert pages == 3
    # The operator of the sede and the back-end see them; a stranger and ROMA EUR do not.
    siena = call(env, "ListVersamenti", env.pb.ListVersamentiRequest(matricola="G750000101"),
                 "operator")
    assert len(siena.versamenti) == 6
    assert siena.versamenti[0].channel == env.pb.CHANNEL_BANCA_ITALIA
    assert len(env.backend.ListVersamenti(env.pb.ListVersamentiRequest(
        matricola="7012345601", page_size=100), timeout=15).versamenti) == 12
    for who in (new_cf(), "operator-roma"):
        error = code_of(lambda: call(env, "ListVersamenti", env.pb.ListVersamentiRequest(
            matricola="G750000101"), who))
        assert error.code() == grpc.StatusCode.NOT_FOUND
    error = code_of(lambda: call(env, "ListVersamenti", env.pb.ListVersamentiRequest(
        matricola="7012345601", period_from="2025-13", period_to="2024-01"),
        "legal-representative"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "period_from" in bad_request_fields(error)


def test_dati_sintetici_last_payment(env):
    summary = call(env, "GetDatiSintetici", env.pb.GetDatiSinteticiRequest(
        matricola="7012345601"), "legal-representative")
    assert summary.matricola == "7012345601"
    assert summary.last_payment.period == "2025-12"
    assert (summary.last_payment.paid_on.year, summary.last_payment.paid_on.month) == (2026, 1)
    assert (summary.debt_balance_cents, summary.declarations_with_errors,
            summary.open_alerts) == (0, 0, 0)
    assert (summary.payments_count, summary.total_paid_cents) == (12, 12 * 1_234_567 + 78_000)
    spring = call(env, "GetDatiSintetici", env.pb.GetDatiSinteticiRequest(
        matricola="7012345601", period_from="2025-03", period_to="2025-05"), "legal-representative")
    assert (spring.payments_count, spring.total_paid_cents) == (3, 3 * 1_234_567 + 12_000)
    error = code_of(lambda: call(env, "GetDatiSintetici", env.pb.GetDatiSinteticiRequest(
        matricola="7012345601", period_from="2025-06", period_to="2025-05"),
        "legal-representative"))
    assert bad_request_fields(error) == ["period_to"]
    error = code_of(lambda: call(env, "GetDatiSintetici", env.pb.GetDatiSinteticiRequest(
        matricola="7012345601"), new_cf()))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_every_position_read_is_audited(env):
    owner = env.people.cf("legal-representative")
    stranger = new_cf()
    before = len(audit_rows(env, "7512345602"))
    acme = call(env, "GetPosizione", env.pb.GetPosizioneRequest(matricola="7512345602"),
                "legal-representative").subject_fiscal_code
    call(env, "GetDatiSintetici", env.pb.GetDatiSinteticiRequest(matricola="7512345602"),
         "legal-representative")
    call(env, "ListVersamenti", env.pb.ListVersamentiRequest(matricola="7512345602"),
         "legal-representative")
    code_of(lambda: call(env, "ListVersamenti", env.pb.ListVersamentiRequest(
        matricola="7512345602"), stranger))
    rows = audit_rows(env, "7512345602")[before:]
    service = "/cassetto.posizioni.v1.Posizioni/"
    assert rows == [
        (f"TINIT-{owner}", service + "GetPosizione", f"owner:{acme}", "success"),
        (f"TINIT-{owner}", service + "GetDatiSintetici", f"owner:{acme}", "success"),
        (f"TINIT-{owner}", service + "ListVersamenti", f"owner:{acme}", "success"),
        (f"TINIT-{stranger}", service + "ListVersamenti", None, "denied"),
    ]
    verify = subprocess.run([str(env.bin / "cassetto"), "audit-verify", "--data-dir",
                             str(env.data)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout
