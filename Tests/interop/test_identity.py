"""cassetto.identity.v1.Identity over the wire with Python grpcio: every RPC's success, the
roles it refuses (UNAUTHENTICATED / PERMISSION_DENIED / NOT_FOUND), invalid input with the
field named in google.rpc.BadRequest, idempotent retries with the same request_id.

The server runs with ``--dev`` (development key and demo data set in a temporary data
directory); person tokens come from ``cassetto dev-token`` and ``cassetto demo``."""

from __future__ import annotations

import uuid

import grpc
import pytest

from identity_support import IdentityClient, bad_request_fields, generate_identity_stubs, new_cf

SEDE = "7500"


@pytest.fixture(scope="session")
def identity_stubs(tmp_path_factory):
    return generate_identity_stubs(tmp_path_factory.mktemp("identity-stubs"))


@pytest.fixture(scope="module")
def client(launch_cassetto, tmp_path_factory, cassetto_bin, identity_stubs):
    data = tmp_path_factory.mktemp("identity") / "data"
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        c = IdentityClient(server, data, cassetto_bin, identity_stubs)
        yield c
        c.close()


def code_of(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def error_of(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def rid() -> str:
    return uuid.uuid4().hex


def submit(client, who, sede=SEDE, form=None, scopes=None, employer="", request_id=""):
    pb, common = client.pb, client.stubs.common
    request = pb.SubmitAbilitazioneRequestRequest(
        form=form if form is not None else pb.FORM_SC65,
        scopes=scopes if scopes is not None else [common.SCOPE_CONTRIBUZIONE_PRIVATI],
        sede_code=sede, employer_fiscal_code=employer, request_id=request_id)
    return client.call("SubmitAbilitazioneRequest", request, who)


def decide(client, who, request_id_to_decide, approve=True, reason="", request_id=""):
    return client.call("DecideAbilitazioneRequest", client.pb.DecideAbilitazioneRequestRequest(
        abilitazione_request_id=request_id_to_decide, approve=approve, reason=reason,
        request_id=request_id), who)


def approved_abilitazione(client, holder):
    submitted = submit(client, holder)
    return decide(client, "operator", submitted.id).abilitazione_id


# ------------------------------------------------------------------------------------------
# WhoAmI
# ------------------------------------------------------------------------------------------


def test_whoami_shows_identity_enablements_and_contacts(client):
    me = client.call("WhoAmI", client.pb.WhoAmIRequest(), "legal-representative")
    assert me.fiscal_code == client.cf("legal-representative")
    assert (me.given_name, me.family_name) == ("Mario", "Rossi")
    assert me.auth_method == client.stubs.common.AUTH_METHOD_SPID and me.spid_level == 2
    assert [a.form for a in me.abilitazioni] == [client.pb.FORM_SC65]
    assert me.contacts.email == "mario.rossi@example.it"


def test_whoami_shows_operator_roles_and_registers(client):
    operator = client.call("WhoAmI", client.pb.WhoAmIRequest(), "operator")
    assert [(r.sede_code, r.role) for r in operator.operator_roles] == [
        (SEDE, client.pb.ROLE_OPERATOR)]
    consultant = client.call("WhoAmI", client.pb.WhoAmIRequest(), "labour-consultant")
    assert [r.albo for r in consultant.albo_registrations] == [client.pb.ALBO_CONSULENTI_LAVORO]
    lapsed = client.call("WhoAmI", client.pb.WhoAmIRequest(), "lapsed-lawyer")
    assert list(lapsed.albo_registrations) == []


def test_whoami_records_the_login_method(client):
    cf = new_cf()
    me = client.call("WhoAmI", client.pb.WhoAmIRequest(), token=client.token(cf, 3, "cie"))
    assert (me.fiscal_code, me.auth_method, me.spid_level) == (
        cf, client.stubs.common.AUTH_METHOD_CIE, 3)


def test_whoami_without_credentials_is_unauthenticated(client):
    assert code_of(lambda: client.call("WhoAmI", client.pb.WhoAmIRequest())) == \
        grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------------------------------
# UpdateContacts
# ------------------------------------------------------------------------------------------


def contacts(client, **fields):
    return client.stubs.common.Contacts(**fields)


def test_update_contacts_sets_them(client):
    cf = new_cf()
    result = client.call("UpdateContacts", client.pb.UpdateContactsRequest(
        contacts=contacts(client, email="a@example.it", pec="a@pec.example.it",
                          mobile="+393331112222")), cf)
    assert result.pec == "a@pec.example.it"
    me = client.call("WhoAmI", client.pb.WhoAmIRequest(), cf)
    assert me.contacts.mobile == "+393331112222"


def test_update_contacts_names_the_invalid_fields(client):
    error = error_of(lambda: client.call("UpdateContacts", client.pb.UpdateContactsRequest(
        contacts=contacts(client, email="nope", pec="ok@pec.example.it", mobile="12")), new_cf()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(error) == ["contacts.email", "contacts.mobile"]
    missing = error_of(lambda: client.call(
        "UpdateContacts", client.pb.UpdateContactsRequest(), new_cf()))
    assert bad_request_fields(missing) == ["contacts"]


def test_update_contacts_retry_returns_the_first_result(client):
    cf, key = new_cf(), rid()
    first = client.call("UpdateContacts", client.pb.UpdateContactsRequest(
        contacts=contacts(client, email="first@example.it"), request_id=key), cf)
    again = client.call("UpdateContacts", client.pb.UpdateContactsRequest(
        contacts=contacts(client, email="second@example.it"), request_id=key), cf)
    assert again == first
    assert client.call("WhoAmI", client.pb.WhoAmIRequest(), cf).contacts.email == \
        "first@example.it"


def test_update_contacts_needs_a_person(client):
    assert code_of(lambda: client.call("UpdateContacts", client.pb.UpdateContactsRequest(
        contacts=contacts(client, email="x@example.it")))) == grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------------------------------
# SubmitAbilitazioneRequest
# ------------------------------------------------------------------------------------------


def test_submit_sc62_with_employer(client):
    cf = new_cf()
    request = submit(client, cf, form=client.pb.FORM_SC62, employer="00050800523",
                     scopes=[client.stubs.common.SCOPE_CONTRIBUZIONE_PUBBLICI])
    assert request.state == client.pb.REQUEST_STATE_PENDING
    assert (request.requester_fiscal_code, request.employer_fiscal_code) == (cf, "00050800523")
    assert request.submitted_at.seconds > 0


def test_submit_ra012_names_services(client):
    pb = client.pb
    request = client.call("SubmitAbilitazioneRequest", pb.SubmitAbilitazioneRequestRequest(
        form=pb.FORM_RA012, ra012_services=[pb.RA012_SERVICE_PRESTITI, pb.RA012_SERVICE_TFR_TFS],
        sede_code=SEDE), new_cf())
    assert list(request.ra012_services) == [pb.RA012_SERVICE_PRESTITI, pb.RA012_SERVICE_TFR_TFS]
    assert list(request.scopes) == []


@pytest.mark.parametrize("case,fields", [
    ("sc62-without-employer", ["employer_fiscal_code"]),
    ("ra012-with-scopes", ["scopes", "ra012_services"]),
    ("legacy-form", ["form"]),
    ("no-form", ["form"]),
    ("bad-sede", ["sede_code"]),
    ("bad-employer", ["employer_fiscal_code"]),
    ("unknown-scope", ["scopes[0]"]),
])
def test_submit_names_the_invalid_field(client, case, fields):
    pb, common = client.pb, client.stubs.common
    args = dict(form=pb.FORM_SC65, scopes=[common.SCOPE_CONTRIBUZIONE_PRIVATI], sede_code=SEDE)
    if case == "sc62-without-employer":
        args["form"] = pb.FORM_SC62
    elif case == "ra012-with-scopes":
        args["form"] = pb.FORM_RA012
    elif case == "legacy-form":
        args["form"] = pb.FORM_LEGACY_GDP
    elif case == "no-form":
        args["form"] = pb.FORM_UNSPECIFIED
    elif case == "bad-sede":
        args["sede_code"] = "75000"
    elif case == "bad-employer":
        args["employer_fiscal_code"] = "00050800524"
    elif case == "unknown-scope":
        args["scopes"] = [99]
    error = error_of(lambda: client.call(
        "SubmitAbilitazioneRequest", pb.SubmitAbilitazioneRequestRequest(**args), new_cf()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_request_fields(error) == fields


def test_submit_twice_while_pending_is_already_exists(client):
    cf = new_cf()
    submit(client, cf)
    assert code_of(lambda: submit(client, cf)) == grpc.StatusCode.ALREADY_EXISTS


def test_submit_retry_returns_the_first_request(client):
    cf, key = new_cf(), rid()
    first = submit(client, cf, request_id=key)
    again = submit(client, cf, request_id=key)
    assert again == first
    listed = client.call("ListAbilitazioneRequests", client.pb.ListAbilitazioneRequestsRequest(), cf)
    assert [r.id for r in listed.requests] == [first.id]


def test_submit_needs_a_caller(client):
    assert code_of(lambda: submit(client, None)) == grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------------------------------
# ListAbilitazioneRequests
# ------------------------------------------------------------------------------------------


def test_list_own_requests_pages_through_all(client):
    cf = new_cf()
    ids = [submit(client, cf, sede=f"{1100 + i}").id for i in range(5)]
    seen, token = [], ""
    while True:
        page = client.call("ListAbilitazioneRequests", client.pb.ListAbilitazioneRequestsRequest(
            page_size=2, page_token=token), cf)
        assert len(page.requests) <= 2
        seen += [r.id for r in page.requests]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids


def test_list_own_requests_filters(client):
    cf = new_cf()
    submit(client, cf, sede="1201")
    wanted = submit(client, cf, sede="1202")
    page = client.call("ListAbilitazioneRequests", client.pb.ListAbilitazioneRequestsRequest(
        sede_code="1202", state=client.pb.REQUEST_STATE_PENDING, form=client.pb.FORM_SC65), cf)
    assert [r.id for r in page.requests] == [wanted.id]


def test_operator_lists_the_requests_of_the_sede(client):
    mine = submit(client, new_cf())
    elsewhere = submit(client, new_cf(), sede="7000")
    ids, token = [], ""
    while True:
        page = client.call("ListAbilitazioneRequests", client.pb.ListAbilitazioneRequestsRequest(
            as_operator=True, sede_code=SEDE, page_size=200, page_token=token), "operator")
        ids += [r.id for r in page.requests]
        token = page.next_page_token
        if not token:
            break
    assert mine.id in ids and elsewhere.id not in ids


def test_list_as_operator_refuses_non_operators(client):
    pb = client.pb
    assert code_of(lambda: client.call("ListAbilitazioneRequests", pb.ListAbilitazioneRequestsRequest(
        as_operator=True), new_cf())) == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: client.call("ListAbilitazioneRequests", pb.ListAbilitazioneRequestsRequest(
        as_operator=True, sede_code=SEDE), "operator-roma")) == grpc.StatusCode.PERMISSION_DENIED


def test_list_requests_refuses_a_foreign_page_token(client):
    cf = new_cf()
    for i in range(3):
        submit(client, cf, sede=f"{1300 + i}")
    page = client.call("ListAbilitazioneRequests", client.pb.ListAbilitazioneRequestsRequest(
        page_size=1), cf)
    assert page.next_page_token
    error = error_of(lambda: client.call("ListAbilitazioneRequests",
                                         client.pb.ListAbilitazioneRequestsRequest(
                                             page_size=1, page_token=page.next_page_token,
                                             sede_code="1300"), cf))
    assert bad_request_fields(error) == ["page_token"]
    error = error_of(lambda: client.call("ListAbilitazioneRequests",
                                         client.pb.ListAbilitazioneRequestsRequest(page_size=-1), cf))
    assert bad_request_fields(error) == ["page_size"]


def test_list_requests_needs_a_caller(client):
    assert code_of(lambda: client.call("ListAbilitazioneRequests",
                                       client.pb.ListAbilitazioneRequestsRequest())) == \
        grpc.StatusCode.UNAUTHENTICATED


# ------------------------------------------------------------------------------------------
# DecideAbilitazioneRequest
# ------------------------------------------------------------------------------------------


def test_approval_grants_the_profile_and_scopes(client):
    cf = new_cf()
    common = client.stubs.common
    submitted = submit(client, cf, scopes=[common.SCOPE_MALATTIA_ATTESTATI,
                                           common.SCOPE_CONTRIBUZIONE_PRIVATI])
    decided = decide(client, "operator", submitted.id)
    assert decided.state == client.pb.REQUEST_STATE_APPROVED
    assert decided.decided_by == client.cf("operator")
    mine = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(), cf)
    assert [a.id for a in mine.abilitazioni] == [decided.abilitazione_id]
    granted = mine.abilitazioni[0]
    assert list(granted.scopes) == [common.SCOPE_CONTRIBUZIONE_PRIVATI,
                                    common.SCOPE_MALATTIA_ATTESTATI]
    assert (granted.source_request_id, granted.state, granted.legacy) == (
        submitted.id, client.pb.ABILITAZIONE_STATE_ACTIVE, False)


def test_rejection_needs_a_reason(client):
    submitted = submit(client, new_cf())
    error = error_of(lambda: decide(client, "operator", submitted.id, approve=False))
    assert bad_request_fields(error) == ["reason"]
    rejected = decide(client, "operator", submitted.id, approve=False, reason="documents missing")
    assert rejected.state == client.pb.REQUEST_STATE_REJECTED
    assert rejected.decision_reason == "documents missing" and rejected.abilitazione_id == ""


def test_decide_refusals(client):
    requester = new_cf()
    submitted = submit(client, requester)
    # The requester sees the request but may not decide it.
    assert code_of(lambda: decide(client, requester, submitted.id)) == \
        grpc.StatusCode.PERMISSION_DENIED
    # Neither another person nor an operator of another sede may see it.
    assert code_of(lambda: decide(client, new_cf(), submitted.id)) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: decide(client, "operator-roma", submitted.id)) == \
        grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: decide(client, "operator", "no-such-request")) == \
        grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: decide(client, None, submitted.id)) == grpc.StatusCode.UNAUTHENTICATED
    decide(client, "operator", submitted.id)
    assert code_of(lambda: decide(client, "operator", submitted.id)) == \
        grpc.StatusCode.FAILED_PRECONDITION


def test_decide_retry_grants_once(client):
    cf, key = new_cf(), rid()
    submitted = submit(client, cf)
    first = decide(client, "operator", submitted.id, request_id=key)
    again = decide(client, "operator", submitted.id, request_id=key)
    assert again == first
    mine = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(), cf)
    assert len(mine.abilitazioni) == 1


# ------------------------------------------------------------------------------------------
# ListAbilitazioni, RevokeAbilitazione
# ------------------------------------------------------------------------------------------


def test_operator_lists_a_persons_enablements(client):
    cf = new_cf()
    granted = approved_abilitazione(client, cf)
    seen = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(
        holder_fiscal_code=cf), "operator")
    assert [a.id for a in seen.abilitazioni] == [granted]
    other_sede = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(
        holder_fiscal_code=cf), "operator-roma")
    assert list(other_sede.abilitazioni) == []


def test_list_abilitazioni_refusals(client):
    pb = client.pb
    assert code_of(lambda: client.call("ListAbilitazioni", pb.ListAbilitazioniRequest(
        holder_fiscal_code=client.cf("legal-representative")), new_cf())) == \
        grpc.StatusCode.PERMISSION_DENIED
    error = error_of(lambda: client.call("ListAbilitazioni", pb.ListAbilitazioniRequest(
        holder_fiscal_code="RSSMRA80A01H501X"), "operator"))
    assert bad_request_fields(error) == ["holder_fiscal_code"]
    assert code_of(lambda: client.call("ListAbilitazioni", pb.ListAbilitazioniRequest())) == \
        grpc.StatusCode.UNAUTHENTICATED


def test_revoke_abilitazione(client):
    pb, cf = client.pb, new_cf()
    granted = approved_abilitazione(client, cf)
    revoke = lambda who, key="": client.call("RevokeAbilitazione", pb.RevokeAbilitazioneRequest(
        abilitazione_id=granted, reason="left the company", request_id=key), who)
    assert code_of(lambda: revoke(cf)) == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: revoke(new_cf())) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: revoke("operator-roma")) == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: revoke(None)) == grpc.StatusCode.UNAUTHENTICATED
    key = rid()
    revoked = revoke("operator", key)
    assert revoked.state == pb.ABILITAZIONE_STATE_REVOKED and revoked.revoked_at.seconds > 0
    assert revoke("operator", key) == revoked
    assert code_of(lambda: revoke("operator")) == grpc.StatusCode.FAILED_PRECONDITION
    assert list(client.call("ListAbilitazioni", pb.ListAbilitazioniRequest(), cf).abilitazioni) == []
    assert [a.id for a in client.call("ListAbilitazioni", pb.ListAbilitazioniRequest(
        include_revoked=True), cf).abilitazioni] == [granted]
    error = error_of(lambda: client.call("RevokeAbilitazione", pb.RevokeAbilitazioneRequest(),
                                         "operator"))
    assert bad_request_fields(error) == ["abilitazione_id"]


# ------------------------------------------------------------------------------------------
# GrantOperatorRole, RevokeOperatorRole
# ------------------------------------------------------------------------------------------


def test_idm_manager_grants_and_revokes_an_operator(client):
    pb, newcomer = client.pb, new_cf()
    grant = lambda who, key="": client.call("GrantOperatorRole", pb.GrantOperatorRoleRequest(
        fiscal_code=newcomer, sede_code=SEDE, role=pb.ROLE_OPERATOR, request_id=key), who)
    key = rid()
    granted = grant("idm-manager", key)
    assert (granted.fiscal_code, granted.active, granted.granted_by) == (
        newcomer, True, client.cf("idm-manager"))
    assert grant("idm-manager", key) == granted
    assert code_of(lambda: grant("idm-manager")) == grpc.StatusCode.ALREADY_EXISTS
    # The new operator decides requests of the sede.
    submitted = submit(client, new_cf())
    assert decide(client, newcomer, submitted.id).state == pb.REQUEST_STATE_APPROVED
    revoked = client.call("RevokeOperatorRole", pb.RevokeOperatorRoleRequest(
        fiscal_code=newcomer, sede_code=SEDE, role=pb.ROLE_OPERATOR), "idm-manager")
    assert not revoked.active and revoked.revoked_at.seconds > 0
    assert code_of(lambda: client.call("RevokeOperatorRole", pb.RevokeOperatorRoleRequest(
        fiscal_code=newcomer, sede_code=SEDE, role=pb.ROLE_OPERATOR), "idm-manager")) == \
        grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: decide(client, newcomer, submit(client, new_cf()).id)) == \
        grpc.StatusCode.NOT_FOUND


def test_only_the_idm_manager_of_the_sede_grants_roles(client):
    pb = client.pb
    request = pb.GrantOperatorRoleRequest(fiscal_code=new_cf(), sede_code=SEDE,
                                          role=pb.ROLE_OPERATOR)
    for who in ("operator", "operator-roma", new_cf()):
        assert code_of(lambda: client.call("GrantOperatorRole", request, who)) == \
            grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: client.call("GrantOperatorRole", request)) == \
        grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: client.call("GrantOperatorRole", pb.GrantOperatorRoleRequest(
        fiscal_code=new_cf(), sede_code="4900", role=pb.ROLE_OPERATOR), "idm-manager")) == \
        grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: client.call("RevokeOperatorRole", pb.RevokeOperatorRoleRequest(
        fiscal_code=client.cf("operator"), sede_code=SEDE, role=pb.ROLE_OPERATOR), "operator")) == \
        grpc.StatusCode.PERMISSION_DENIED


def test_grant_role_names_the_invalid_fields(client):
    pb = client.pb
    error = error_of(lambda: client.call("GrantOperatorRole", pb.GrantOperatorRoleRequest(
        fiscal_code="00050800523", sede_code="SIENA"), "idm-manager"))
    assert bad_request_fields(error) == ["fiscal_code", "sede_code", "role"]


def test_the_last_idm_manager_stays(client):
    pb = client.pb
    assert code_of(lambda: client.call("RevokeOperatorRole", pb.RevokeOperatorRoleRequest(
        fiscal_code=client.cf("idm-manager"), sede_code="7000", role=pb.ROLE_IDM_MANAGER),
        "idm-manager")) == grpc.StatusCode.FAILED_PRECONDITION


# ------------------------------------------------------------------------------------------
# Feeds need a back-end: persons are refused here; the mTLS tests are in test_identity_feeds.py
# ------------------------------------------------------------------------------------------


def test_feeds_refuse_persons_and_anonymous_callers(client):
    pb = client.pb
    record = pb.AlboRegistration(fiscal_code=new_cf(), albo=pb.ALBO_AVVOCATI, ordine="Roma",
                                 registration_number="1", state=pb.ALBO_STATE_ACTIVE)
    assert code_of(lambda: client.stream("UpsertAlboRegistrations", [record], "operator")) == \
        grpc.StatusCode.PERMISSION_DENIED
    assert code_of(lambda: client.stream("UpsertAlboRegistrations", [record])) == \
        grpc.StatusCode.UNAUTHENTICATED
    assert code_of(lambda: client.stream("ImportLegacyAbilitazioni", [pb.LegacyAbilitazione()],
                                         "idm-manager")) == grpc.StatusCode.PERMISSION_DENIED
