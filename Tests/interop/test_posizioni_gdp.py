"""The GDP services, the dynamic menu and the access audit over the wire with Python grpcio
(issue 5 part A): on the demo data set's Comune di Siena position G750000101 (fund GDP,
sede 7500 SIENA), ListEvidenze, ListNoteRettifica, ListPianiAmmortamento, ListNoteDebito,
ListDenunce, GetDenuncia and GetMenu answer the owner (legal representative), the operator
of the sede and an intermediary whose delega was confirmed by OTP today and who holds the
public-contributions scope; an unrelated person gets NOT_FOUND and the refusal is in the audit
log. The menu shows *Servizi GDP* to that delegate and not to an intermediary holding only
the private-contributions scope (who does not see the GDP position at all) nor to the owner,
who holds no SC65 profile with that scope. Audit.ListAccessEvents shows those reads to the
owner and the operator and to nobody else. Ingest of the GDP records (one bad one refused by
field). A registry with a bad entry stops cassetto-server with a message naming entry and
field."""

from __future__ import annotations

import importlib
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest

from identity_support import REPO_ROOT, IdentityClient, bad_request_fields, new_cf

BACKEND_CN = "cassetto-test-backend"
PROTOS = ("cassetto/common/v1/common.proto", "cassetto/identity/v1/identity.proto",
          "cassetto/posizioni/v1/posizioni.proto", "cassetto/deleghe/v1/deleghe.proto",
          "cassetto/audit/v1/audit.proto")
GDP = "G750000101"
SERVICE = "/cassetto.posizioni.v1.Posizioni/"


def generate_stubs(dest: Path) -> SimpleNamespace:
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
    mod = importlib.import_module
    return SimpleNamespace(
        common=mod("cassetto.common.v1.common_pb2"),
        pb=mod("cassetto.posizioni.v1.posizioni_pb2"),
        grpc=mod("cassetto.posizioni.v1.posizioni_pb2_grpc"),
        deleghe=mod("cassetto.deleghe.v1.deleghe_pb2"),
        deleghe_grpc=mod("cassetto.deleghe.v1.deleghe_pb2_grpc"),
        audit=mod("cassetto.audit.v1.audit_pb2"),
        audit_grpc=mod("cassetto.audit.v1.audit_pb2_grpc"),
        identity=SimpleNamespace(
            common=mod("cassetto.common.v1.common_pb2"),
            pb=mod("cassetto.identity.v1.identity_pb2"),
            grpc=mod("cassetto.identity.v1.identity_pb2_grpc")),
    )


def date(y, m, d):
    from google.type import date_pb2
    return date_pb2.Date(year=y, month=m, day=d)


def spooled_otp(data: Path, delega_id: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spool = data / "spool"
        for f in sorted(spool.glob("*.eml")) if spool.exists() else []:
            text = f.read_text()
            if delega_id in text:
                otp = re.search(r"Codice OTP: (\d{8})", text)
                assert otp, text
                return otp.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no spooled PEC for {delega_id}")


def delegate_intermediary(e, who: str, scope) -> None:
    """`who` (a demo intermediary) gets an approved SC65 with `scope` and an ATTIVA delega on
    Comune di Siena's positions, confirmed by OTP today."""
    ipb, dpb = e.people.pb, e.deleghe
    req = e.people.call("SubmitAbilitazioneRequest", ipb.SubmitAbilitazioneRequestRequest(
        form=ipb.FORM_SC65, scopes=[scope], sede_code="7500"), who=who)
    e.people.call("DecideAbilitazioneRequest", ipb.DecideAbilitazioneRequestRequest(
        abilitazione_request_id=req.id, approve=True), who="operator")
    owner = e.people.demo["public-employer"]
    d = e.delegation.RequestDelegaIntermediario(dpb.RequestDelegaIntermediarioRequest(
        subject_fiscal_code=e.comune, scope=dpb.DelegaScope(all_positions=True),
        delegant=dpb.Party(fiscal_code=owner["fiscal_code"], given_name="Francesca",
                           family_name="Romano"),
        decorrenza=date(2024, 1, 1)), metadata=e.people.metadata(who), timeout=15)
    otp = spooled_otp(e.data, d.id)
    active = e.delegation.ConfirmDelegaOtp(dpb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=True), metadata=e.people.metadata(who), timeout=15)
    assert active.state == dpb.DELEGA_STATE_ATTIVA


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    base = tmp_path_factory.mktemp("posizioni-gdp")
    stubs = generate_stubs(base / "stubs")
    data = base / "data"
    with launch_cassetto("--dev", "--data-dir", str(data), "--service-identity",
                         f"cn:{BACKEND_CN}=ledger:posizioni.ingest,posizioni.read",
                         tls=True, client_ca=True) as server:
        backend_channel = server.channel(client_cert=True)
        people = IdentityClient(server, data, cassetto_bin, stubs.identity,
                                channel=server.channel(client_cert=True))
        e = SimpleNamespace(
            pb=stubs.pb, common=stubs.common, deleghe=stubs.deleghe, audit=stubs.audit,
            people=people, data=data,
            stub=stubs.grpc.PosizioniStub(people.channel),
            delegation=stubs.deleghe_grpc.DelegheStub(people.channel),
            audit_stub=stubs.audit_grpc.AuditStub(people.channel),
            backend=stubs.grpc.PosizioniStub(backend_channel),
            backend_audit=stubs.audit_grpc.AuditStub(backend_channel))
        e.comune = e.stub.GetPosizione(stubs.pb.GetPosizioneRequest(matricola=GDP),
                                       metadata=people.metadata("operator"),
                                       timeout=15).subject_fiscal_code
        delegate_intermediary(e, "labour-consultant", stubs.common.SCOPE_CONTRIBUZIONE_PUBBLICI)
        delegate_intermediary(e, "accountant", stubs.common.SCOPE_CONTRIBUZIONE_PRIVATI)
        yield e
        backend_channel.close()
        people.close()


def call(e, method, request, who):
    return getattr(e.stub, method)(request, metadata=e.people.metadata(who), timeout=15)


def fails(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def audit_rows(e, subject):
    db = sqlite3.connect(f"file:{e.data / 'cassetto.sqlite'}?mode=ro", uri=True)
    try:
        return db.execute(
            "SELECT actor, action, delega_chain, outcome, details FROM audit_events "
            "WHERE subject = ? ORDER BY seq", (subject,)).fetchall()
    finally:
        db.close()


# The legitimate callers: the delegate (labour consultant), the owner, the operator of 7500.
WHO = ("labour-consultant", "public-employer", "operator")


def reads(e):
    pb = e.pb
    return {
        "ListEvidenze": (pb.ListEvidenzeRequest(matricola=GDP),
                         lambda r: [x.id for x in r.evidenze] == ["EV-DEMO-1", "EV-DEMO-2"]),
        "ListNoteRettifica": (pb.ListNoteRettificaRequest(matricola=GDP, period_from="2025-01"),
                              lambda r: [n.amount_cents for n in r.note] == [125_000]),
        "ListPianiAmmortamento": (
            pb.ListPianiAmmortamentoRequest(matricola=GDP),
            lambda r: [(p.benefit, len(p.rate), p.total_cents) for p in r.piani]
            == [(pb.BENEFIT_TFS, 3, 3_000_000)]),
        "ListNoteDebito": (
            pb.ListNoteDebitoRequest(matricola=GDP, kind=pb.NOTA_DEBITO_KIND_ECA),
            lambda r: [(n.id, [p.period for p in n.periods], n.state) for n in r.note]
            == [("ECA-DEMO-2024", ["2024-10", "2024-11"], pb.NOTA_DEBITO_STATE_APERTA)]),
        "ListDenunce": (pb.ListDenunceRequest(matricola=GDP, with_errors_only=True),
                        lambda r: [(d.period, [x.code for x in d.errors]) for d in r.denunce]
                        == [("2025-02", ["E042"])]),
        "GetDenuncia": (pb.GetDenunciaRequest(id="DMA-DEMO-2025-02"),
                        lambda r: len(r.lines) == 2 and r.total_contribution_cents == 142_800
                        and r.kind == pb.DENUNCIA_KIND_DMA),
        "GetMenu": (pb.GetMenuRequest(matricola=GDP),
                    lambda r: "dati-sintetici" in [s.id for s in r.sections]),
    }


def test_legitimate_callers_read_every_gdp_service(env):
    for method, (request, check) in reads(env).items():
        for who in WHO:
            answer = call(env, method, request, who)
            assert check(answer), (method, who, answer)


def test_a_stranger_gets_not_found_and_the_refusal_is_audited(env):
    stranger = new_cf()
    for method, (request, _) in reads(env).items():
        error = fails(lambda: call(env, method, request, stranger))
        assert error.code() == grpc.StatusCode.NOT_FOUND, method
        assert "visible" in error.details()
    refused = [(action, chain, outcome) for actor, action, chain, outcome, _ in
               audit_rows(env, f"posizione:{GDP}") if actor == f"TINIT-{stranger}"]
    assert refused == [(SERVICE + m, None, "denied") for m in reads(env)]
    # The delegate's reads name the delega chain.
    consultant = env.people.cf("labour-consultant")
    chains = {chain for actor, _, chain, outcome, _ in audit_rows(env, f"posizione:{GDP}")
              if actor == f"TINIT-{consultant}" and outcome == "success"}
    assert len(chains) == 1 and next(iter(chains)).startswith("delega:")


def test_lists_page_and_filters_are_validated(env):
    first = call(env, "ListDenunce", env.pb.ListDenunceRequest(matricola=GDP, page_size=2),
                 "labour-consultant")
    assert [d.period for d in first.denunce] == ["2025-01", "2025-02"]
    second = call(env, "ListDenunce", env.pb.ListDenunceRequest(
        matricola=GDP, page_size=2, page_token=first.next_page_token), "labour-consultant")
    assert [d.period for d in second.denunce] == ["2025-03"] and not second.next_page_token
    error = fails(lambda: call(env, "ListDenunce", env.pb.ListDenunceRequest(
        matricola=GDP, period_from="2025-04", period_to="2025-01"), "labour-consultant"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(error) == ["period_to"]


def test_dati_sintetici_counts_debt_errors_alerts(env):
    summary = call(env, "GetDatiSintetici", env.pb.GetDatiSinteticiRequest(matricola=GDP),
                   "labour-consultant")
    assert (summary.debt_balance_cents, summary.declarations_with_errors,
            summary.open_alerts) == (6_250_000, 1, 1)


def menu_sections(menu):
    return {s.id: [i.title for i in s.items] for s in menu.sections}


def test_menu_shows_servizi_gdp_only_with_the_public_scope(env):
    request = env.pb.GetMenuRequest(matricola=GDP)
    delegate = menu_sections(call(env, "GetMenu", request, "labour-consultant"))
    assert delegate["servizi-gdp"][:6] == [
        "Visualizza Versamenti", "Invio Circ.38", "Gest. Note Debito", "Gest. Note Debito ECA",
        "Visualizza Piani ammort.", "Visualizza DMA"]
    # The intermediary with the private-contributions scope only: the GDP position is not
    # visible at all (the rule needs the fund's scope), so no Servizi GDP.
    error = fails(lambda: call(env, "GetMenu", request, "accountant"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    # The owner holds no SC65 profile with the public scope (only a legacy GDP enablement).
    owner = menu_sections(call(env, "GetMenu", request, "public-employer"))
    assert "servizi-gdp" not in owner and "dati-sintetici" in owner
    # The operator sees the GDP views, not the acting ones.
    operator = menu_sections(call(env, "GetMenu", request, "operator"))
    assert "Visualizza DMA" in operator["servizi-gdp"]
    assert "Invio Circ.38" not in operator["servizi-gdp"]


def test_ingest_of_gdp_records(env):
    pb = env.pb
    records = [
        pb.IngestRecord(evidenza=pb.Evidenza(
            id="EV-WIRE-1", matricola="G750000102", code="irreg", description="Irregolarità",
            opened_on=date(2025, 5, 1), open=True)),
        pb.IngestRecord(nota_debito=pb.NotaDebito(
            id="ND-WIRE-1", matricola="G750000102", kind=pb.NOTA_DEBITO_KIND_ECA,
            state=pb.NOTA_DEBITO_STATE_APERTA, period="2025-01", amount_cents=1000,
            issued_on=date(2025, 6, 1), due_on=date(2025, 7, 1))),  # ECA without periods
    ]
    summary = env.backend.Ingest(iter(records), timeout=30)
    assert (summary.accepted, summary.rejected, summary.evidenze) == (1, 1, 1)
    assert [(x.index, x.field) for x in summary.errors] == [(1, "nota_debito.periods")]
    got = call(env, "ListEvidenze", pb.ListEvidenzeRequest(matricola="G750000102",
                                                           open_only=True), "operator")
    assert [(x.id, x.code) for x in got.evidenze] == [("EV-WIRE-1", "IRREG")]


def test_access_events_for_the_owner_and_the_operator_only(env):
    a = env.audit
    call(env, "GetPosizione", env.pb.GetPosizioneRequest(matricola=GDP), "labour-consultant")
    request = a.ListAccessEventsRequest(subject_fiscal_code=env.comune, matricola=GDP,
                                        page_size=500)
    for who in ("public-employer", "operator"):
        events = env.audit_stub.ListAccessEvents(
            request, metadata=env.people.metadata(who), timeout=15).events
        consultant = f"TINIT-{env.people.cf('labour-consultant')}"
        mine = [ev for ev in events if ev.actor == consultant]
        assert mine and mine[-1].rpc == SERVICE + "GetPosizione"
        assert mine[-1].delega_chain.startswith("delega:")
        assert mine[-1].outcome == a.ACCESS_OUTCOME_SUCCESS
        assert any(ev.outcome == a.ACCESS_OUTCOME_DENIED for ev in events)
        assert any(ev.object == "denuncia:DMA-DEMO-2025-02" for ev in events)
    for who in ("labour-consultant", "operator-roma", new_cf()):
        error = fails(lambda: env.audit_stub.ListAccessEvents(
            request, metadata=env.people.metadata(who), timeout=15))
        assert error.code() == grpc.StatusCode.NOT_FOUND, who
    error = fails(lambda: env.backend_audit.ListAccessEvents(request, timeout=15))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


def test_a_bad_registry_stops_the_server(cassetto_bin, tmp_path):
    registry = json.loads((REPO_ROOT / "config" / "applications.json").read_text())
    registry["applications"][3]["funds"] = ["FUND_PUBBLICI"]
    path = tmp_path / "applications.json"
    path.write_text(json.dumps(registry))
    result = subprocess.run(
        [str(cassetto_bin / "cassetto-server"), "--listen", "127.0.0.1:0", "--dev",
         "--data-dir", str(tmp_path / "data"), "--applications", str(path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert 'applications[3] ("versamenti-f24") field "funds"' in message, message
    assert "FUND_PUBBLICI" in message
    # A target that is no RPC of this server stops it too.
    registry = json.loads((REPO_ROOT / "config" / "applications.json").read_text())
    registry["applications"][0]["target"] = "/cassetto.posizioni.v1.Posizioni/ListNothing"
    path.write_text(json.dumps(registry))
    result = subprocess.run(
        [str(cassetto_bin / "cassetto-server"), "--listen", "127.0.0.1:0", "--dev",
         "--data-dir", str(tmp_path / "data"), "--applications", str(path)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert 'applications[0] ("com-bidirezionale") field "target"' in result.stdout + result.stderr
