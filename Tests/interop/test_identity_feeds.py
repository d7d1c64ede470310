"""The back-end feeds of cassetto.identity.v1.Identity over mutual TLS: the client certificate
(CN cassetto-test-backend, tools/make-test-certs) is mapped to a service with
--service-identity; ImportLegacyAbilitazioni and UpsertAlboRegistrations stream records,
refuse bad ones by index, are idempotent; a lapsed registration removes the intermediary
power. Also: IDM managers bootstrapped from configuration."""

from __future__ import annotations

import grpc
import pytest

from identity_support import IdentityClient, generate_identity_stubs, new_cf

BACKEND_CN = "cassetto-test-backend"
ALL = "identity.import-legacy-abilitazioni,identity.upsert-albo-registrations"


@pytest.fixture(scope="session")
def identity_stubs(tmp_path_factory):
    return generate_identity_stubs(tmp_path_factory.mktemp("identity-feed-stubs"))


BOOTSTRAP_CF = new_cf()


@pytest.fixture(scope="module")
def client(launch_cassetto, tmp_path_factory, cassetto_bin, identity_stubs):
    data = tmp_path_factory.mktemp("identity-feeds") / "data"
    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data),
                         "--service-identity", f"cn:{BACKEND_CN}=registry:{ALL}",
                         "--idm-manager", f"{BOOTSTRAP_CF}@8100",
                         tls=True, client_ca=True) as server:
        c = IdentityClient(server, data, cassetto_bin, identity_stubs,
                           channel=server.channel(client_cert=True))
        yield c
        c.close()


def date(pb_module, y, m, d):
    from google.type import date_pb2
    return date_pb2.Date(year=y, month=m, day=d)


def legacy(client, legacy_id, holder, granted=(2020, 1, 15), **overrides):
    pb = client.pb
    fields = dict(holder_fiscal_code=holder, form=pb.FORM_LEGACY_GDP,
                  scopes=[client.stubs.common.SCOPE_CONTRIBUZIONE_PUBBLICI], sede_code="7500",
                  employer_fiscal_code="00050800523", granted_on=date(pb, *granted),
                  legacy_id=legacy_id)
    fields.update(overrides)
    return pb.LegacyAbilitazione(**fields)


def test_the_certificate_is_the_service(client):
    me = client.call("WhoAmI", client.pb.WhoAmIRequest())
    assert me.service_name == "registry" and me.fiscal_code == ""


def test_import_legacy_abilitazioni(client):
    holder, other = new_cf(), new_cf()
    records = [
        legacy(client, "OLD-A1", holder),
        legacy(client, "OLD-A2", holder, granted=(2023, 4, 1)),       # after the cut-over
        legacy(client, "", other),                                    # no legacy id
        legacy(client, "OLD-A3", "RSSMRA80A01H501X"),                 # bad check character
        legacy(client, "OLD-A4", other, form=client.pb.FORM_RA012,
               scopes=[], ra012_services=[client.pb.RA012_SERVICE_PRESTITI]),
    ]
    summary = client.stream("ImportLegacyAbilitazioni", records)
    assert (summary.received, summary.accepted, summary.rejected) == (5, 2, 3)
    assert [(e.index, e.field) for e in summary.errors] == [
        (1, "granted_on"), (2, "legacy_id"), (3, "holder_fiscal_code")]
    held = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(), holder)
    assert [(a.form, a.legacy, a.employer_fiscal_code) for a in held.abilitazioni] == [
        (client.pb.FORM_LEGACY_GDP, True, "00050800523")]
    # The same feed again changes nothing.
    again = client.stream("ImportLegacyAbilitazioni", records)
    assert (again.accepted, again.rejected) == (2, 3)
    held_again = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(), holder)
    assert held_again == held


def test_import_many_records_in_batches(client):
    holders = [new_cf() for _ in range(5)]
    records = [legacy(client, f"OLD-BULK-{i}", holders[i % 5]) for i in range(250)]
    summary = client.stream("ImportLegacyAbilitazioni", records)
    assert (summary.received, summary.accepted, summary.rejected) == (250, 250, 0)
    held = client.call("ListAbilitazioni", client.pb.ListAbilitazioniRequest(page_size=100),
                       holders[0])
    assert len(held.abilitazioni) == 50


def test_upsert_albo_registrations_and_lapse(client):
    pb, cf = client.pb, new_cf()
    active = pb.AlboRegistration(fiscal_code=cf, albo=pb.ALBO_CONSULENTI_LAVORO, ordine="Siena",
                                 registration_number="CL-77", state=pb.ALBO_STATE_ACTIVE,
                                 registered_on=date(pb, 2015, 6, 1), given_name="Ada",
                                 family_name="Lovelace")
    bad = pb.AlboRegistration(fiscal_code=cf, albo=pb.ALBO_UNSPECIFIED, ordine="Siena",
                              registration_number="X", state=pb.ALBO_STATE_ACTIVE)
    summary = client.stream("UpsertAlboRegistrations", [active, bad])
    assert (summary.accepted, summary.rejected) == (1, 1)
    assert [(e.index, e.field) for e in summary.errors] == [(1, "albo")]
    me = client.call("WhoAmI", pb.WhoAmIRequest(), cf)
    assert [(r.albo, r.registration_number) for r in me.albo_registrations] == [
        (pb.ALBO_CONSULENTI_LAVORO, "CL-77")]
    lapsed = pb.AlboRegistration()
    lapsed.CopyFrom(active)
    lapsed.state = pb.ALBO_STATE_LAPSED
    assert client.stream("UpsertAlboRegistrations", [lapsed]).accepted == 1
    assert list(client.call("WhoAmI", pb.WhoAmIRequest(), cf).albo_registrations) == []


def test_person_calls_over_mtls_are_the_person(client):
    cf = new_cf()
    assert client.call("WhoAmI", client.pb.WhoAmIRequest(), cf).fiscal_code == cf
    with pytest.raises(grpc.RpcError) as info:
        client.stream("UpsertAlboRegistrations", [client.pb.AlboRegistration()], cf)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_idm_manager_from_configuration(client):
    pb = client.pb
    me = client.call("WhoAmI", pb.WhoAmIRequest(), BOOTSTRAP_CF)
    assert [(r.sede_code, r.role, r.granted_by) for r in me.operator_roles] == [
        ("8100", pb.ROLE_IDM_MANAGER, "configuration")]
    granted = client.call("GrantOperatorRole", pb.GrantOperatorRoleRequest(
        fiscal_code=new_cf(), sede_code="8100", role=pb.ROLE_OPERATOR), BOOTSTRAP_CF)
    assert granted.active


def test_a_service_without_the_permission_is_refused(launch_cassetto, tmp_path_factory,
                                                    cassetto_bin, identity_stubs):
    data = tmp_path_factory.mktemp("identity-feeds-none") / "data"
    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data),
                         "--service-identity", f"cn:{BACKEND_CN}=reader",
                         tls=True, client_ca=True) as server:
        c = IdentityClient(server, data, cassetto_bin, identity_stubs,
                           channel=server.channel(client_cert=True))
        try:
            assert c.call("WhoAmI", c.pb.WhoAmIRequest()).service_name == "reader"
            for method, record in (("UpsertAlboRegistrations", c.pb.AlboRegistration()),
                                   ("ImportLegacyAbilitazioni", c.pb.LegacyAbilitazione())):
                with pytest.raises(grpc.RpcError) as info:
                    c.stream(method, [record])
                assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            with pytest.raises(grpc.RpcError) as info:
                c.call("UpdateContacts", c.pb.UpdateContactsRequest())
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        finally:
            c.close()
