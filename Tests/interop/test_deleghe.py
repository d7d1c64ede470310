"""cassetto.deleghe.v1.Deleghe over the wire with Python grpcio: the state machine (allowed and
refused transitions → FAILED_PRECONDITION), next-day activation in Europe/Rome (CheckAccess at
chosen instants), the delega a intermediario with the OTP read from the PEC the outbox worker
spools as an .eml file in <data-dir>/spool, the OTP brute force stopped at 5 (BLOCCATA),
sub-delega chains, revocation cascading to sub-deleghe and effective at the very next
CheckAccess, idempotent retries, listing with page tokens.

Setup goes through the public RPCs only: subjects and positions through Posizioni.Ingest and
albo registrations through Identity.UpsertAlboRegistrations (a back-end on mutual TLS), an
operator role granted by a bootstrapped IDM manager, SC65/SC62 enablements requested by the
persons and approved by that operator."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import grpc
import pytest

from identity_support import REPO_ROOT, IdentityClient, new_cf, numeric_code

BACKEND_CN = "cassetto-test-backend"
PERMISSIONS = "posizioni.ingest,identity.upsert-albo-registrations,deleghe.check-access"
PROTOS = ("cassetto/common/v1/common.proto", "cassetto/identity/v1/identity.proto",
          "cassetto/posizioni/v1/posizioni.proto", "cassetto/deleghe/v1/deleghe.proto")
ROME = ZoneInfo("Europe/Rome")
PEC_SUBJECT = "Comunicazione inserimento richiesta nuova delega per la posizione "

OWNER, EMP, INTER, SUBEMP, STRANGER, OP, IDM = (new_cf() for _ in range(7))
COMPANY = numeric_code("0755510052")
M1, M2 = "7555100001", "7555100002"


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
        pb=mod("cassetto.deleghe.v1.deleghe_pb2"),
        grpc=mod("cassetto.deleghe.v1.deleghe_pb2_grpc"),
        pos=mod("cassetto.posizioni.v1.posizioni_pb2"),
        pos_grpc=mod("cassetto.posizioni.v1.posizioni_pb2_grpc"),
        identity=SimpleNamespace(
            common=mod("cassetto.common.v1.common_pb2"),
            pb=mod("cassetto.identity.v1.identity_pb2"),
            grpc=mod("cassetto.identity.v1.identity_pb2_grpc")),
    )


def date(y, m, d):
    from google.type import date_pb2
    return date_pb2.Date(year=y, month=m, day=d)


def rome_today() -> dt.date:
    return dt.datetime.now(ROME).date()


def today_date():
    t = rome_today()
    return date(t.year, t.month, t.day)


def at_rome(day: dt.date, hour: int, minute: int = 0):
    from google.protobuf import timestamp_pb2
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=ROME)
                    .astimezone(dt.timezone.utc).replace(tzinfo=None))
    return ts


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    base = tmp_path_factory.mktemp("deleghe")
    stubs = generate_stubs(base / "stubs")
    data = base / "data"
    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data), "--service-identity",
                         f"cn:{BACKEND_CN}=backoffice:{PERMISSIONS}", "--idm-manager",
                         f"{IDM}@7555", tls=True, client_ca=True) as server:
        backend_channel = server.channel(client_cert=True)
        people = IdentityClient(server, data, cassetto_bin, stubs.identity,
                                channel=server.channel(client_cert=True))
        e = SimpleNamespace(
            pb=stubs.pb, common=stubs.common, pos=stubs.pos, people=people, data=data,
            stub=stubs.grpc.DelegheStub(people.channel),
            backend=stubs.grpc.DelegheStub(backend_channel),
            pos_backend=stubs.pos_grpc.PosizioniStub(backend_channel),
            id_backend=stubs.identity.grpc.IdentityStub(backend_channel))
        seed(e)
        yield e
        backend_channel.close()
        people.close()


def seed(e):
    pos, ipb, common = e.pos, e.people.pb, e.common
    records = [
        pos.IngestRecord(subject=pos.Subject(
            fiscal_code=COMPANY, name="Deleghe Test S.r.l.", nature=pos.NATURE_PRIVATE,
            legal_representative=OWNER, pec="deleghe.test@pec.example.it", sede="7555")),
    ] + [
        pos.IngestRecord(posizione=pos.Posizione(
            matricola=m, subject_fiscal_code=COMPANY, fund=common.FUND_PRIVATI_UNIEMENS,
            sede="7555", description="Sede", state=pos.POSIZIONE_STATE_ATTIVA,
            start_date=date(2021, 4, 1)))
        for m in (M1, M2)
    ]
    summary = e.pos_backend.Ingest(iter(records), timeout=15)
    assert summary.accepted == 3, summary
    albo = ipb.AlboRegistration(
        fiscal_code=INTER, albo=ipb.ALBO_CONSULENTI_LAVORO, ordine="Roma",
        registration_number="1234", state=ipb.ALBO_STATE_ACTIVE, registered_on=date(2010, 1, 1),
        given_name="Gina", family_name="Intermedia")
    assert e.id_backend.UpsertAlboRegistrations(iter([albo]), timeout=15).accepted == 1
    e.people.call("GrantOperatorRole", ipb.GrantOperatorRoleRequest(
        fiscal_code=OP, sede_code="7555", role=ipb.ROLE_OPERATOR), who=IDM)
    for who, form, employer in ((EMP, ipb.FORM_SC62, COMPANY), (INTER, ipb.FORM_SC65, ""),
                                (SUBEMP, ipb.FORM_SC62, INTER)):
        req = e.people.call("SubmitAbilitazioneRequest", ipb.SubmitAbilitazioneRequestRequest(
            form=form, scopes=[common.SCOPE_CONTRIBUZIONE_PRIVATI], sede_code="7555",
            employer_fiscal_code=employer), who=who)
        e.people.call("DecideAbilitazioneRequest", ipb.DecideAbilitazioneRequestRequest(
            abilitazione_request_id=req.id, approve=True), who=OP)


def call(e, method, request, who):
    return getattr(e.stub, method)(request, metadata=e.people.metadata(who), timeout=15)


def fails(fn) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value


def check(e, who, matricola, time=None, function=None):
    pb = e.pb
    req = pb.CheckAccessRequest(matricola=matricola,
                                function=function or pb.ACCESS_FUNCTION_READ_POSITION)
    if time is not None:
        req.time.CopyFrom(time)
    return call(e, "CheckAccess", req, who)


def spooled_otp(e, delega_id: str, after: int = 0, timeout: float = 10.0):
    """The OTP of the newest spooled PEC about `delega_id` (waits for the worker), and the
    number of such messages so far."""
    spool = e.data / "spool"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(spool.glob("*.eml")) if spool.exists() else []
        mine = [f.read_text() for f in files if delega_id in f.read_text()]
        if len(mine) > after:
            text = mine[-1]
            otp = re.search(r"Codice OTP: (\d{8})", text)
            assert otp, text
            return otp.group(1), text, len(mine)
        time.sleep(0.1)
    raise AssertionError(f"no spooled PEC for {delega_id}")


def request_intermediario(e, **kw):
    pb = e.pb
    req = pb.RequestDelegaIntermediarioRequest(
        subject_fiscal_code=COMPANY, scope=pb.DelegaScope(all_positions=True),
        delegant=pb.Party(fiscal_code=OWNER, given_name="Olga", family_name="Owner"),
        decorrenza=date(2024, 1, 1), **kw)
    return call(e, "RequestDelegaIntermediario", req, INTER)


# ------------------------------------------------------------------------------------------


def test_delega_dipendente_state_machine_and_next_day_activation(env):
    pb = env.pb
    req = pb.CreateDelegaDipendenteRequest(
        subject_fiscal_code=COMPANY, scope=pb.DelegaScope(matricola=M1),
        delegate=pb.Party(fiscal_code=EMP, given_name="Eva"), decorrenza=date(2024, 1, 1),
        request_id="create-emp-1")
    # Only the subject's owner creates; someone else does not even see the subject.
    assert fails(lambda: call(env, "CreateDelegaDipendente", req, STRANGER)).code() == \
        grpc.StatusCode.NOT_FOUND
    d = call(env, "CreateDelegaDipendente", req, OWNER)
    assert d.state == pb.DELEGA_STATE_DA_ATTIVARE and d.kind == pb.DELEGA_KIND_DIPENDENTE
    # Idempotent retry: the same delega, nothing new.
    assert call(env, "CreateDelegaDipendente", req, OWNER).id == d.id
    assert not check(env, EMP, M1).allowed
    # The delegate cannot activate it; the delegant can, once.
    assert fails(lambda: call(env, "ActivateDelega", pb.ActivateDelegaRequest(id=d.id), EMP)) \
        .code() == grpc.StatusCode.PERMISSION_DENIED
    active = call(env, "ActivateDelega", pb.ActivateDelegaRequest(id=d.id), OWNER)
    assert active.state == pb.DELEGA_STATE_ATTIVA
    tomorrow = rome_today() + dt.timedelta(days=1)
    assert (active.effective_from.year, active.effective_from.month, active.effective_from.day) \
        == (tomorrow.year, tomorrow.month, tomorrow.day)
    err = fails(lambda: call(env, "ActivateDelega", pb.ActivateDelegaRequest(id=d.id), OWNER))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    # Not before the next calendar day in Europe/Rome: denied today at 23:59, allowed
    # tomorrow at 00:00, and only on the delegated position.
    assert not check(env, EMP, M1).allowed
    assert not check(env, EMP, M1, at_rome(rome_today(), 23, 59)).allowed
    ok = check(env, EMP, M1, at_rome(tomorrow, 0, 0))
    assert ok.allowed and [(g.kind, g.reference) for g in ok.chain] == \
        [(pb.GRANT_KIND_DELEGA, d.id)]
    assert not check(env, EMP, M2, at_rome(tomorrow, 12)).allowed
    assert not check(env, EMP, M1, at_rome(tomorrow, 12),
                     pb.ACCESS_FUNCTION_MANAGE_DELEGHE).allowed
    # The owner manages; the delegate renounces (RINUNCIATA), then nothing more is allowed.
    owner_check = check(env, OWNER, M1, function=pb.ACCESS_FUNCTION_MANAGE_DELEGHE)
    assert owner_check.allowed and owner_check.chain[0].kind == pb.GRANT_KIND_OWNER
    ended = call(env, "RevokeDelega", pb.RevokeDelegaRequest(id=d.id, reason="lascio"), EMP)
    assert ended.state == pb.DELEGA_STATE_RINUNCIATA and ended.HasField("retention_end_date")
    assert ended.retention_end_date.year == rome_today().year + 5
    assert not check(env, EMP, M1, at_rome(tomorrow, 12)).allowed
    for method, request in (("RevokeDelega", pb.RevokeDelegaRequest(id=d.id)),
                            ("ActivateDelega", pb.ActivateDelegaRequest(id=d.id))):
        assert fails(lambda: call(env, method, request, OWNER)).code() == \
            grpc.StatusCode.FAILED_PRECONDITION
    assert fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp="12345678", signature_declared=True), EMP)).code() == \
        grpc.StatusCode.NOT_FOUND


def test_delega_intermediario_otp_subdelega_and_cascading_revocation(env):
    pb = env.pb
    d = request_intermediario(env)
    assert d.state == pb.DELEGA_STATE_IN_ATTESA_OTP and d.kind == pb.DELEGA_KIND_INTERMEDIARIO
    otp, text, sent = spooled_otp(env, d.id)
    assert f"Subject: {PEC_SUBJECT}{M1}" in text
    assert "To: <deleghe.test@pec.example.it>" in text
    # Resend at once: rate-limited.
    assert fails(lambda: call(env, "ResendDelegaOtp", pb.ResendDelegaOtpRequest(id=d.id),
                              INTER)).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Not active before confirmation; a sub-delega cannot hang from a pending delega.
    assert not check(env, INTER, M1).allowed
    # The declaration is required; a wrong OTP is refused.
    err = fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=False), INTER))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    wrong = "0" * 8 if otp != "0" * 8 else "1" * 8
    assert fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=wrong, signature_declared=True), INTER)).code() == \
        grpc.StatusCode.FAILED_PRECONDITION
    # The delegant is not the one who confirms.
    assert fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=True), OWNER)).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    active = call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=True), INTER)
    assert active.state == pb.DELEGA_STATE_ATTIVA and active.signature_declared
    assert active.otp_failed_attempts == 1
    assert fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=True), INTER)).code() == \
        grpc.StatusCode.FAILED_PRECONDITION
    assert fails(lambda: call(env, "ResendDelegaOtp", pb.ResendDelegaOtpRequest(id=d.id),
                              INTER)).code() == grpc.StatusCode.FAILED_PRECONDITION
    # Confirmed: in force from today (all positions of the subject).
    for m in (M1, M2):
        ok = check(env, INTER, m)
        assert ok.allowed and ok.chain[0].kind == pb.GRANT_KIND_DELEGA

    # Sub-delega to the intermediary's employee, on M2 only, activated for tomorrow.
    tomorrow = rome_today() + dt.timedelta(days=1)
    sreq = pb.CreateSubdelegaRequest(parent_id=d.id, scope=pb.DelegaScope(matricola=M2),
                                     delegate=pb.Party(fiscal_code=SUBEMP),
                                     decorrenza=today_date())
    # A sub-delega never starts before its parent (confirmed today).
    early = pb.CreateSubdelegaRequest()
    early.CopyFrom(sreq)
    early.decorrenza.CopyFrom(date(2024, 1, 1))
    assert fails(lambda: call(env, "CreateSubdelega", early, INTER)).code() == \
        grpc.StatusCode.INVALID_ARGUMENT
    assert fails(lambda: call(env, "CreateSubdelega", sreq, EMP)).code() == \
        grpc.StatusCode.NOT_FOUND
    sub = call(env, "CreateSubdelega", sreq, INTER)
    assert sub.state == pb.DELEGA_STATE_DA_ATTIVARE and sub.parent_id == d.id
    sub = call(env, "ActivateDelega", pb.ActivateDelegaRequest(id=sub.id), INTER)
    assert sub.state == pb.DELEGA_STATE_ATTIVA
    assert not check(env, SUBEMP, M2).allowed          # from tomorrow
    ok = check(env, SUBEMP, M2, at_rome(tomorrow, 9))
    assert ok.allowed
    assert [(g.kind, g.reference) for g in ok.chain] == \
        [(pb.GRANT_KIND_SUBDELEGA, sub.id), (pb.GRANT_KIND_DELEGA, d.id)]
    assert not check(env, SUBEMP, M1, at_rome(tomorrow, 9)).allowed

    # The delegant revokes the parent: the sub-delega ends in the same transaction, and the
    # very next checks deny.
    revoked = call(env, "RevokeDelega", pb.RevokeDelegaRequest(id=d.id, reason="basta"), OWNER)
    assert revoked.state == pb.DELEGA_STATE_REVOCATA
    assert call(env, "GetDelega", pb.GetDelegaRequest(id=sub.id), INTER).state == \
        pb.DELEGA_STATE_REVOCATA
    assert not check(env, INTER, M1).allowed
    assert not check(env, SUBEMP, M2, at_rome(tomorrow, 9)).allowed
    # A sub-delega cannot be created under a revoked delega.
    assert fails(lambda: call(env, "CreateSubdelega", sreq, INTER)).code() == \
        grpc.StatusCode.FAILED_PRECONDITION


def test_intermediary_revokes_its_subdelega(env):
    pb = env.pb
    d = request_intermediario(env)
    otp, _, _ = spooled_otp(env, d.id)
    call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=True), INTER)
    sub = call(env, "CreateSubdelega", pb.CreateSubdelegaRequest(
        parent_id=d.id, delegate=pb.Party(fiscal_code=SUBEMP), decorrenza=today_date()),
        INTER)
    assert sub.scope.all_positions
    call(env, "ActivateDelega", pb.ActivateDelegaRequest(id=sub.id), INTER)
    tomorrow = rome_today() + dt.timedelta(days=1)
    assert check(env, SUBEMP, M1, at_rome(tomorrow, 9)).allowed
    # The subject's owner cannot act on the intermediary's sub-delega; the intermediary can.
    assert fails(lambda: call(env, "RevokeDelega", pb.RevokeDelegaRequest(id=sub.id), OWNER)) \
        .code() == grpc.StatusCode.NOT_FOUND
    assert call(env, "RevokeDelega", pb.RevokeDelegaRequest(id=sub.id), INTER).state == \
        pb.DELEGA_STATE_REVOCATA
    assert not check(env, SUBEMP, M1, at_rome(tomorrow, 9)).allowed
    assert check(env, INTER, M1).allowed      # the parent is untouched
    call(env, "RevokeDelega", pb.RevokeDelegaRequest(id=d.id), INTER)   # renounce
    assert call(env, "GetDelega", pb.GetDelegaRequest(id=d.id), OWNER).state == \
        pb.DELEGA_STATE_RINUNCIATA


def test_otp_brute_force_is_stopped_at_five(env):
    pb = env.pb
    d = request_intermediario(env)
    otp, _, _ = spooled_otp(env, d.id)
    wrong = "0" * 8 if otp != "0" * 8 else "1" * 8
    codes = []
    for _ in range(5):
        codes.append(fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
            id=d.id, otp=wrong, signature_declared=True), INTER)).code())
    assert codes == [grpc.StatusCode.FAILED_PRECONDITION] * 4 + \
        [grpc.StatusCode.RESOURCE_EXHAUSTED]
    blocked = call(env, "GetDelega", pb.GetDelegaRequest(id=d.id), INTER)
    assert blocked.state == pb.DELEGA_STATE_BLOCCATA and blocked.otp_failed_attempts == 5
    # Even the right OTP no longer works.
    assert fails(lambda: call(env, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
        id=d.id, otp=otp, signature_declared=True), INTER)).code() == \
        grpc.StatusCode.FAILED_PRECONDITION
    assert not check(env, INTER, M1).allowed


def test_requests_need_an_intermediary_and_the_real_delegant(env):
    pb = env.pb
    req = pb.RequestDelegaIntermediarioRequest(
        subject_fiscal_code=COMPANY, scope=pb.DelegaScope(all_positions=True),
        delegant=pb.Party(fiscal_code=OWNER), decorrenza=date(2024, 1, 1))
    assert fails(lambda: call(env, "RequestDelegaIntermediario", req, EMP)).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    req.delegant.fiscal_code = STRANGER
    assert fails(lambda: call(env, "RequestDelegaIntermediario", req, INTER)).code() == \
        grpc.StatusCode.INVALID_ARGUMENT


def test_list_get_and_check_access_callers(env):
    pb = env.pb
    ids = [call(env, "CreateDelegaDipendente", pb.CreateDelegaDipendenteRequest(
        subject_fiscal_code=COMPANY, scope=pb.DelegaScope(all_positions=True),
        delegate=pb.Party(fiscal_code=EMP), decorrenza=date(2024, 1, 1)), OWNER).id
        for _ in range(3)]
    seen, token = [], ""
    while True:
        page = call(env, "ListDeleghe", pb.ListDelegheRequest(
            role=pb.LIST_ROLE_DELEGANT, kind=pb.DELEGA_KIND_DIPENDENTE,
            state=pb.DELEGA_STATE_DA_ATTIVARE, page_size=2, page_token=token), OWNER)
        assert len(page.deleghe) <= 2
        seen += [d.id for d in page.deleghe]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids
    mine = call(env, "ListDeleghe", pb.ListDelegheRequest(
        role=pb.LIST_ROLE_DELEGATE, matricola=M2, state=pb.DELEGA_STATE_DA_ATTIVARE), EMP)
    assert [d.id for d in mine.deleghe] == ids
    assert call(env, "ListDeleghe", pb.ListDelegheRequest(role=pb.LIST_ROLE_DELEGATE),
                STRANGER).deleghe == []
    assert fails(lambda: call(env, "ListDeleghe", pb.ListDelegheRequest(), OWNER)).code() == \
        grpc.StatusCode.INVALID_ARGUMENT
    # The sede's operator lists by subject or position; others may not.
    listed = call(env, "ListDeleghe", pb.ListDelegheRequest(
        role=pb.LIST_ROLE_SEDE_OPERATOR, matricola=M1, state=pb.DELEGA_STATE_DA_ATTIVARE), OP)
    assert [d.id for d in listed.deleghe] == ids
    assert fails(lambda: call(env, "ListDeleghe", pb.ListDelegheRequest(
        role=pb.LIST_ROLE_SEDE_OPERATOR, subject_fiscal_code=COMPANY), STRANGER)).code() == \
        grpc.StatusCode.PERMISSION_DENIED
    assert fails(lambda: call(env, "ListDeleghe", pb.ListDelegheRequest(
        role=pb.LIST_ROLE_SEDE_OPERATOR), OP)).code() == grpc.StatusCode.INVALID_ARGUMENT
    # Parties and the sede's operator see a delega; others get NOT_FOUND.
    assert call(env, "GetDelega", pb.GetDelegaRequest(id=ids[0]), OP).id == ids[0]
    assert fails(lambda: call(env, "GetDelega", pb.GetDelegaRequest(id=ids[0]), STRANGER)) \
        .code() == grpc.StatusCode.NOT_FOUND
    # CheckAccess: a person only for itself; a back-end with deleghe.check-access for anyone.
    assert fails(lambda: call(env, "CheckAccess", pb.CheckAccessRequest(
        fiscal_code=OWNER, matricola=M1, function=pb.ACCESS_FUNCTION_READ_POSITION),
        STRANGER)).code() == grpc.StatusCode.PERMISSION_DENIED
    answer = env.backend.CheckAccess(pb.CheckAccessRequest(
        fiscal_code=OP, matricola=M1, function=pb.ACCESS_FUNCTION_READ_POSITION), timeout=15)
    assert answer.allowed and answer.chain[0].kind == pb.GRANT_KIND_SEDE_OPERATOR
    assert not env.backend.CheckAccess(pb.CheckAccessRequest(
        fiscal_code=STRANGER, matricola=M1, function=pb.ACCESS_FUNCTION_READ_POSITION),
        timeout=15).allowed
    assert fails(lambda: call(env, "CheckAccess", pb.CheckAccessRequest(matricola=M1), OWNER)) \
        .code() == grpc.StatusCode.INVALID_ARGUMENT
    # GetDelegaForm (the PDF form): test_delega_form.py.
