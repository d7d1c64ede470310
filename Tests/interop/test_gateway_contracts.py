"""Gateway contracts (issue 8 item 5): a Python client generated from proto/ at test time with
grpcio-tools calls the server; the google.api.http annotations are in the generated
descriptors; the published descriptor set proto/cassetto.protoset (tools/generate) holds every
public contract with its imports, and every HTTP binding in it is one a gRPC-JSON transcoder
accepts (path variables are singular scalar fields of the request, GET has no body, no
client streaming); a minimal transcoder driven only by the protoset turns REST calls into
gRPC calls on the live server, as Envoy's grpc_json_transcoder does (docs/gateway.md)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTOSET = REPO_ROOT / "proto" / "cassetto.protoset"
PUBLIC = ("identity", "deleghe", "posizioni", "ticketing", "audit")
#: Client-streaming RPCs (feeds and uploads) have no REST binding; everything else has one.
UNBOUND = {
    "cassetto.identity.v1.Identity.ImportLegacyAbilitazioni",
    "cassetto.identity.v1.Identity.UpsertAlboRegistrations",
    "cassetto.posizioni.v1.Posizioni.ContestNotaDebito",
    "cassetto.posizioni.v1.Posizioni.UploadTracciato",
    "cassetto.posizioni.v1.Posizioni.Ingest",
    "cassetto.ticketing.v1.Ticketing.CreateRichiesta",
}
ACME = "04123450522"


def generate_client(dest: Path) -> SimpleNamespace:
    """Every .proto under proto/cassetto compiled with grpcio-tools; google/api, google/type and
    google/rpc come from googleapis-common-protos, google/protobuf from grpcio-tools."""
    import google.api.annotations_pb2 as annotations_pb2
    import grpc_tools

    googleapis = Path(annotations_pb2.__file__).parents[2]
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    dest.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(REPO_ROOT / "proto"))
                    for p in (REPO_ROOT / "proto" / "cassetto").rglob("*.proto"))
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO_ROOT / 'proto'}", f"-I{googleapis}",
         f"-I{well_known}", f"--python_out={dest}", f"--grpc_python_out={dest}", *protos],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    sys.path.insert(0, str(dest))
    importlib.invalidate_caches()
    modules = {}
    for area in PUBLIC:
        modules[area] = importlib.import_module(f"cassetto.{area}.v1.{area}_pb2")
        modules[area + "_grpc"] = importlib.import_module(f"cassetto.{area}.v1.{area}_pb2_grpc")
    modules["annotations"] = annotations_pb2
    return SimpleNamespace(**modules)


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin):
    base = tmp_path_factory.mktemp("gateway")
    client = generate_client(base / "client")
    data = base / "data"
    data.mkdir()
    with launch_cassetto("--dev", "--data-dir", str(data)) as server:
        demo = subprocess.run([str(cassetto_bin / "cassetto"), "demo", "--json", "--data-dir",
                               str(data)], check=True, capture_output=True, text=True).stdout
        people = {e["key"]: e for e in json.loads(demo)}
        channel = server.channel()
        yield SimpleNamespace(client=client, server=server, channel=channel, people=people)
        channel.close()


def bearer(env, key: str):
    return [("authorization", f"Bearer {env.people[key]['token']}")]


def test_generated_python_client_calls_the_server(env):
    c = env.client
    identity = c.identity_grpc.IdentityStub(env.channel)
    me = identity.WhoAmI(c.identity.WhoAmIRequest(), metadata=bearer(env, "legal-representative"),
                         timeout=10)
    assert me.fiscal_code == env.people["legal-representative"]["fiscal_code"]

    posizioni = c.posizioni_grpc.PosizioniStub(env.channel)
    found = posizioni.SearchPosizioni(c.posizioni.SearchPosizioniRequest(fiscal_code=ACME),
                                      metadata=bearer(env, "legal-representative"), timeout=10)
    assert {p.matricola for p in found.posizioni} == {"7012345601", "7512345602"}

    deleghe = c.deleghe_grpc.DelegheStub(env.channel)
    with pytest.raises(grpc.RpcError) as refused:
        deleghe.GetDelega(c.deleghe.GetDelegaRequest(id="nope"),
                          metadata=bearer(env, "legal-representative"), timeout=10)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND

    # The annotations travel in the generated descriptors, with java/go options.
    method = c.posizioni.DESCRIPTOR.services_by_name["Posizioni"].methods_by_name["GetPosizione"]
    assert method.GetOptions().Extensions[c.annotations.http].get == "/v1/posizioni/{matricola}"
    for area in PUBLIC:
        options = getattr(c, area).DESCRIPTOR.GetOptions()
        assert options.java_package == f"it.cassetto.{area}.v1"
        assert options.go_package.startswith(f"github.com/cassetto/cassetto/gen/go/cassetto/{area}/v1;")


def load_protoset():
    fds = descriptor_pb2.FileDescriptorSet.FromString(PROTOSET.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    return fds, pool


def http_rule(method_descriptor):
    from google.api import annotations_pb2, http_pb2
    options = method_descriptor.GetOptions()
    # The pool's options come back as plain MethodOptions with the extension unparsed.
    raw = descriptor_pb2.MethodOptions.FromString(options.SerializeToString())
    rule = raw.Extensions[annotations_pb2.http]
    return rule if rule.WhichOneof("pattern") else None


def bindings(rule):
    yield rule
    yield from rule.additional_bindings


def test_protoset_holds_every_public_contract_with_valid_bindings():
    fds, pool = load_protoset()
    names = {f.name for f in fds.file}
    assert {f"cassetto/{a}/v1/{a}.proto" for a in PUBLIC} <= names
    # Imports included: a gateway needs nothing else.
    assert {"google/api/annotations.proto", "google/api/http.proto",
            "google/protobuf/descriptor.proto", "cassetto/common/v1/common.proto"} <= names
    assert not any(n.startswith("cassetto/testing/") for n in names)
    for f in fds.file:
        assert not f.HasField("source_code_info")

    bound = 0
    scalar = descriptor_pb2.FieldDescriptorProto
    for area in PUBLIC:
        file = pool.FindFileByName(f"cassetto/{area}/v1/{area}.proto")
        for service in file.services_by_name.values():
            for method in service.methods:
                rule = http_rule(method)
                if method.full_name in UNBOUND:
                    assert rule is None and method.client_streaming
                    continue
                assert rule is not None, f"{method.full_name} has no google.api.http binding"
                assert not method.client_streaming
                for binding in bindings(rule):
                    verb = binding.WhichOneof("pattern")
                    path = getattr(binding, verb)
                    assert path.startswith("/v1/"), path
                    if verb == "get":
                        assert binding.body == "", method.full_name
                    for variable in re.findall(r"\{([^}=]+)", path):
                        field = method.input_type.fields_by_name.get(variable)
                        assert field is not None, (method.full_name, variable)
                        assert not field.is_repeated, (method.full_name, variable)
                        assert field.type not in (scalar.TYPE_MESSAGE, scalar.TYPE_GROUP)
                    assert binding.body in ("", "*") or \
                        binding.body in method.input_type.fields_by_name
                bound += 1
    assert bound >= 50


class MiniTranscoder:
    """The part of a gRPC-JSON transcoder this test needs, driven by the protoset alone: match
    VERB /path against the bindings, fill path variables, query parameters and the JSON body
    into the request, call the method, answer proto3 JSON."""

    def __init__(self, channel):
        self.channel = channel
        _, self.pool = load_protoset()
        self.routes = []
        for area in PUBLIC:
            file = self.pool.FindFileByName(f"cassetto/{area}/v1/{area}.proto")
            for service in file.services_by_name.values():
                for method in service.methods:
                    rule = http_rule(method)
                    for binding in bindings(rule) if rule else ():
                        verb = binding.WhichOneof("pattern")
                        template = getattr(binding, verb)
                        pattern = "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/:]+)",
                                               re.escape(template)) + "$"
                        self.routes.append((verb.upper(), re.compile(pattern), binding.body,
                                            method))

    def call(self, verb: str, url: str, body: dict | None = None, metadata=()):
        parsed = urllib.parse.urlsplit(url)
        for route_verb, pattern, body_field, method in self.routes:
            match = pattern.match(parsed.path)
            if route_verb != verb or not match:
                continue
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            values = dict(urllib.parse.parse_qsl(parsed.query))
            if body_field == "*" and body:
                values.update(body)
            values.update(match.groupdict())
            request = json_format.ParseDict(values, request_class())
            rpc = f"/{method.containing_service.full_name}/{method.name}"
            call = (self.channel.unary_stream if method.server_streaming
                    else self.channel.unary_unary)(
                rpc, request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString)
            response = call(request, metadata=list(metadata), timeout=10)
            if method.server_streaming:
                return [json_format.MessageToDict(m) for m in response]
            return json_format.MessageToDict(response)
        raise LookupError(f"no binding for {verb} {url}")


def test_rest_calls_through_the_protoset_reach_the_server(env):
    gateway = MiniTranscoder(env.channel)
    owner = bearer(env, "legal-representative")
    position = gateway.call("GET", "/v1/posizioni/7012345601", metadata=owner)
    assert position["matricola"] == "7012345601" and position["subject"]["fiscalCode"] == ACME
    active = gateway.call("GET", "/v1/posizioni?state=POSIZIONE_STATE_ATTIVA", metadata=owner)
    assert [p["matricola"] for p in active["posizioni"]] == ["7012345601"]
    me = gateway.call("GET", "/v1/whoami", metadata=owner)
    assert me["fiscalCode"] == env.people["legal-representative"]["fiscal_code"]

    employee = env.people["delegated-employee"]["fiscal_code"]
    created = gateway.call("POST", f"/v1/subjects/{ACME}/deleghe", {
        "scope": {"matricola": "7012345601"},
        "delegate": {"fiscalCode": employee, "givenName": "Giulia"},
        "decorrenza": {"year": 2026, "month": 1, "day": 1},
        "requestId": "gateway-test-1"}, metadata=owner)
    assert created["state"] == "DELEGA_STATE_DA_ATTIVARE"
    activated = gateway.call("POST", f"/v1/deleghe/{created['id']}:activate", {},
                             metadata=owner)
    assert activated["state"] == "DELEGA_STATE_ATTIVA"
    listed = gateway.call("GET", "/v1/deleghe?role=LIST_ROLE_DELEGANT", metadata=owner)
    assert created["id"] in [d["id"] for d in listed["deleghe"]]
    # Errors keep their gRPC status (a gateway maps NOT_FOUND to HTTP 404).
    with pytest.raises(grpc.RpcError) as missing:
        gateway.call("GET", "/v1/deleghe/does-not-exist", metadata=owner)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
