"""Person tokens over the wire: every bad token is refused with UNAUTHENTICATED and a message
that never echoes it (expired, not yet valid, wrong audience, wrong issuer, wrong key,
alg none, level 1, tampered, malformed); development keys are trusted only with --dev."""

from __future__ import annotations

import subprocess

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives import serialization

from identity_support import (IdentityClient, b64url, generate_identity_stubs, load_dev_key,
                              new_cf, person_claims, sign_es256)


@pytest.fixture(scope="session")
def identity_stubs(tmp_path_factory):
    return generate_identity_stubs(tmp_path_factory.mktemp("identity-auth-stubs"))


@pytest.fixture(scope="module")
def client(launch_cassetto, tmp_path_factory, cassetto_bin, identity_stubs):
    data = tmp_path_factory.mktemp("identity-auth") / "data"
    with launch_cassetto("--dev", "--no-demo", "--data-dir", str(data)) as server:
        c = IdentityClient(server, data, cassetto_bin, identity_stubs)
        yield c
        c.close()


def whoami(client, token):
    return client.call("WhoAmI", client.pb.WhoAmIRequest(), token=token)


def refused(client, token):
    with pytest.raises(grpc.RpcError) as info:
        whoami(client, token)
    error = info.value
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
    assert max(token.split("."), key=len)[:16] not in (error.details() or "")
    return error.details()


def dev_header(client):
    return {"alg": "ES256", "typ": "JWT"}


def test_a_dev_token_from_the_cli_is_accepted(client):
    cf = new_cf()
    assert whoami(client, client.token(cf)).fiscal_code == cf


def test_a_hand_made_token_with_the_dev_key_is_accepted(client):
    cf = new_cf()
    token = sign_es256(load_dev_key(client.data_dir), dev_header(client), person_claims(cf))
    assert whoami(client, token).fiscal_code == cf


def test_expired_token_is_refused(client):
    claims = person_claims(new_cf(), exp=1_600_000_000, iat=1_599_990_000, nbf=1_599_990_000)
    assert "expired" in refused(client, sign_es256(load_dev_key(client.data_dir),
                                                   dev_header(client), claims))


def test_not_yet_valid_token_is_refused(client):
    claims = person_claims(new_cf())
    claims["nbf"] = claims["iat"] = claims["iat"] + 3600
    claims["exp"] += 3600
    assert "not yet valid" in refused(client, sign_es256(load_dev_key(client.data_dir),
                                                         dev_header(client), claims))


def test_wrong_audience_is_refused(client):
    claims = person_claims(new_cf(), aud="someone-else")
    assert "audience" in refused(client, sign_es256(load_dev_key(client.data_dir),
                                                    dev_header(client), claims))


def test_wrong_issuer_is_refused(client):
    claims = person_claims(new_cf(), iss="https://idp.example")
    refused(client, sign_es256(load_dev_key(client.data_dir), dev_header(client), claims))


def test_wrong_key_is_refused(client):
    other = ec.generate_private_key(ec.SECP256R1())
    refused(client, sign_es256(other, dev_header(client), person_claims(new_cf())))


def test_alg_none_is_refused(client):
    token = (b64url(b'{"alg":"none","typ":"JWT"}') + "." +
             b64url(str(person_claims(new_cf())).replace("'", '"').encode()) + ".")
    refused(client, token)


def test_hs256_with_the_public_key_as_secret_is_refused(client):
    import hashlib
    import hmac
    import json
    public = load_dev_key(client.data_dir).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (b64url(json.dumps({"alg": "HS256"}).encode()) + "." +
                     b64url(json.dumps(person_claims(new_cf())).encode()))
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    refused(client, signing_input + "." + b64url(mac))


def test_level_one_is_refused(client):
    assert "level" in refused(client, client.token(new_cf(), level=1))


def test_tampered_token_is_refused(client):
    token = client.token(new_cf())
    header, payload, signature = token.split(".")
    import base64
    import json
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["fiscal_number"] = "TINIT-" + new_cf()
    refused(client, header + "." + b64url(json.dumps(claims).encode()) + "." + signature)


def test_malformed_authorization_is_refused(client):
    for metadata in ([("authorization", "Basic dXNlcjpwYXNz")], [("authorization", "Bearer")],
                     [("authorization", "Bearer not.a.jwt")]):
        with pytest.raises(grpc.RpcError) as info:
            client.stub.WhoAmI(client.pb.WhoAmIRequest(), metadata=metadata, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_stays_open_without_credentials(client):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    response = health_pb2_grpc.HealthStub(client.channel).Check(
        health_pb2.HealthCheckRequest(service="cassetto.identity.v1.Identity"), timeout=10)
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_without_dev_the_dev_key_is_not_trusted(client, launch_cassetto):
    token = client.token(new_cf())
    with launch_cassetto("--data-dir", str(client.data_dir)) as production:
        channel = production.channel()
        try:
            stub = client.stubs.grpc.IdentityStub(channel)
            with pytest.raises(grpc.RpcError) as info:
                stub.WhoAmI(client.pb.WhoAmIRequest(),
                            metadata=[("authorization", f"Bearer {token}")], timeout=10)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        finally:
            channel.close()


def test_without_dev_the_dev_key_is_refused_as_a_trusted_key(client, cassetto_bin, tmp_path):
    public = tmp_path / "dev-public.pem"
    public.write_bytes(load_dev_key(client.data_dir).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result = subprocess.run(
        [str(cassetto_bin / "cassetto-server"), "--listen", "127.0.0.1:0", "--data-dir",
         str(client.data_dir), "--trusted-key", str(public), "--token-issuer", "https://idp"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "development key" in result.stderr


def test_a_configured_gateway_key_is_trusted_without_dev(client, launch_cassetto, tmp_path):
    gateway = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "gateway.pem"
    public.write_bytes(gateway.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cf = new_cf()
    token = sign_es256(gateway, {"alg": "ES256"},
                       person_claims(cf, iss="https://idp.example", aud="cassetto-prod"))
    with launch_cassetto("--trusted-key", str(public), "--token-issuer", "https://idp.example",
                         "--token-audience", "cassetto-prod") as production:
        channel = production.channel()
        try:
            stub = client.stubs.grpc.IdentityStub(channel)
            me = stub.WhoAmI(client.pb.WhoAmIRequest(),
                             metadata=[("authorization", f"Bearer {token}")], timeout=10)
            assert me.fiscal_code == cf
        finally:
            channel.close()


def test_reflection_lists_the_identity_service_without_credentials(client):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    stub = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    responses = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    names = [s.name for r in responses for s in r.list_services_response.service]
    assert "cassetto.identity.v1.Identity" in names


def test_demo_data_needs_dev(cassetto_bin, tmp_path):
    result = subprocess.run(
        [str(cassetto_bin / "cassetto-server"), "--listen", "127.0.0.1:0", "--data-dir",
         str(tmp_path / "data"), "--demo"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "--dev" in result.stderr
