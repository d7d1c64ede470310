"""Metrics and logs over the wire: ``cassetto-server --dev --admin-listen 127.0.0.1:0``
serves Prometheus text on ``GET /metrics``; calls (OK and failing) move
``grpc_server_handled_total`` by exactly the right amounts for the right method/code labels;
the per-call log lines on standard error carry method, status, masked caller and request id,
and never the bearer token or the clear fiscal code; garbage sent to the admin port does not
bring it down."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.request

import grpc
import pytest

from identity_support import IdentityClient, generate_identity_stubs, new_cf

IDENTITY = "cassetto.identity.v1.Identity"
HEALTH = "grpc.health.v1.Health"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict:
    """{(name, frozenset(labels.items())): value} for every sample; fails on a bad line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            if line.startswith("# TYPE"):
                assert len(line.split()) == 4, line
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, _, labels, value = match.groups()
        parsed = dict(LABEL.findall(labels or ""))
        samples[(name, frozenset(parsed.items()))] = float(value)
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def http_get(address, path: str):
    host, port = address
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10) as response:
        return response.status, response.headers, response.read().decode()


def scrape(server) -> dict:
    status, headers, body = http_get(server.admin_address, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse_prometheus(body)


@pytest.fixture(scope="session")
def identity_stubs(tmp_path_factory):
    return generate_identity_stubs(tmp_path_factory.mktemp("obs-identity-stubs"))


@pytest.fixture(scope="module")
def env(launch_cassetto, tmp_path_factory, cassetto_bin, identity_stubs):
    data = tmp_path_factory.mktemp("observability") / "data"
    with launch_cassetto("--dev", "--data-dir", str(data), "--admin-listen", "127.0.0.1:0",
                         "--log-format", "json") as server:
        assert server.admin_address is not None, server.stdout_lines
        client = IdentityClient(server, data, cassetto_bin, identity_stubs)
        yield server, client
        client.close()


def test_counters_move_by_method_and_status(env):
    server, client = env
    before = scrape(server)
    cf = new_cf()
    for _ in range(3):
        client.call("WhoAmI", client.pb.WhoAmIRequest(), cf)
    for _ in range(2):
        with pytest.raises(grpc.RpcError) as info:
            client.call("WhoAmI", client.pb.WhoAmIRequest())  # no token
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        client.call("UpdateContacts", client.pb.UpdateContactsRequest(), cf)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = scrape(server)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    who = dict(grpc_service=IDENTITY, grpc_method="WhoAmI")
    update = dict(grpc_service=IDENTITY, grpc_method="UpdateContacts")
    assert delta("grpc_server_handled_total", grpc_code="OK", **who) == 3
    assert delta("grpc_server_handled_total", grpc_code="UNAUTHENTICATED", **who) == 2
    assert delta("grpc_server_handled_total", grpc_code="INVALID_ARGUMENT", **who) == 0
    assert delta("grpc_server_handled_total", grpc_code="INVALID_ARGUMENT", **update) == 1
    assert delta("grpc_server_handled_total", grpc_code="OK", **update) == 0
    assert delta("grpc_server_started_total", **who) == 5
    assert delta("grpc_server_handling_seconds_count", **who) == 5
    assert delta("grpc_server_handling_seconds_bucket", le="+Inf", **who) == 5
    assert value(after, "grpc_server_in_flight", **who) == 0
    # Buckets are cumulative and end at the count.
    bounds = sorted(
        (float(dict(labels)["le"]), v) for (name, labels), v in after.items()
        if name == "grpc_server_handling_seconds_bucket"
        and dict(labels).get("grpc_method") == "WhoAmI")
    counts = [v for _, v in bounds]
    assert counts == sorted(counts) and counts[-1] == value(
        after, "grpc_server_handling_seconds_count", **who)
    # The client's connection is counted; the families that fill later are registered.
    assert value(after, "cassetto_connections_open") >= 1
    assert value(after, "cassetto_connections_accepted_total") >= 1
    for family in ("cassetto_outbox_backlog", "cassetto_outbox_delivery_failures_total",
                   "cassetto_database_query_seconds_count"):
        assert (family, frozenset()) in after, family
    # The backlog sampler reads at start-up and every 5 s: its probe read is timed.
    assert value(after, "cassetto_database_query_seconds_count") >= 1


def test_side_services_are_counted_too(env):
    server, _ = env
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # grpcio-health-checking
    before = scrape(server)
    with server.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        with pytest.raises(grpc.RpcError) as info:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
    after = scrape(server)
    check = dict(grpc_service=HEALTH, grpc_method="Check")
    for code, expected in (("OK", 1), ("NOT_FOUND", 1)):
        assert value(after, "grpc_server_handled_total", grpc_code=code, **check) - \
            value(before, "grpc_server_handled_total", grpc_code=code, **check) == expected


def test_healthz_and_unknown_paths(env):
    server, _ = env
    status, _, body = http_get(server.admin_address, "/healthz")
    assert (status, body) == (200, "ok\n")
    with pytest.raises(urllib.error.HTTPError) as info:
        http_get(server.admin_address, "/nope")
    assert info.value.code == 404


def raw_exchange(address, payload: bytes, shutdown=True) -> bytes:
    with socket.create_connection(address, timeout=10) as s:
        try:
            if payload:
                s.sendall(payload)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading everything
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except (OSError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_garbage_on_the_admin_port_does_not_crash_it(env):
    server, _ = env
    address = server.admin_address
    assert raw_exchange(address, b"\x00\xff garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert raw_exchange(address, b"POST /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405")
    assert raw_exchange(address, b"GET /metrics\r\n\r\n").startswith(b"HTTP/1.1 400")
    big = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw_exchange(address, big).startswith(b"HTTP/1.1 431")
    assert raw_exchange(address, b"half a request", shutdown=True).startswith(b"HTTP/1.1 400")
    raw_exchange(address, b"")  # connect and close
    # A client that connects and says nothing is dropped after the read timeout.
    started = time.monotonic()
    raw_exchange(address, b"", shutdown=False)
    assert time.monotonic() - started < 9
    # Still serving, and so is gRPC.
    status, _, body = http_get(address, "/metrics")
    assert status == 200 and "grpc_server_handled_total" in body
    assert server.is_running()


def test_log_lines_mask_the_caller_and_never_hold_the_token(env):
    server, client = env
    cf = new_cf()
    token = client.token(cf)
    request_id = "obs-test-" + cf[-4:] + "-42"
    response, call = client.stub.WhoAmI.with_call(
        client.pb.WhoAmIRequest(),
        metadata=[("authorization", f"Bearer {token}"), ("x-request-id", request_id)],
        timeout=15)
    assert ("x-request-id", request_id) in list(call.initial_metadata())
    # Without a client id, the server makes one and returns it.
    _, call = client.stub.WhoAmI.with_call(
        client.pb.WhoAmIRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=15)
    generated = dict(call.initial_metadata()).get("x-request-id")
    assert generated and re.fullmatch(r"[0-9a-f]{32}", generated)
    # A refused token: logged as UNAUTHENTICATED with the reason, never the token itself.
    bad_token = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(grpc.RpcError) as info:
        client.call("WhoAmI", client.pb.WhoAmIRequest(), token=bad_token)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

    masked = cf[:6] + "******" + cf[12:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = server.log()
        if generated in log and "UNAUTHENTICATED" in log and request_id in log:
            break
        time.sleep(0.1)
    log = server.log()
    # Secrets: neither token (nor any of its three parts) nor the clear fiscal code.
    for secret in [token, bad_token, *token.split("."), *bad_token.split(".")]:
        assert secret not in log
    assert cf not in log
    assert masked in log

    lines = []
    for line in log.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    rpc = [entry for entry in lines if entry.get("msg") == "rpc"]
    mine = [entry for entry in rpc if entry.get("request_id") == request_id]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["method"] == f"/{IDENTITY}/WhoAmI"
    assert entry["status"] == "OK"
    assert entry["caller"] == masked
    assert isinstance(entry["duration_ms"], (int, float)) and entry["duration_ms"] >= 0
    assert entry["peer"].startswith("ipv")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    assert [e for e in rpc if e.get("request_id") == generated][0]["caller"] == masked
    refused = [e for e in rpc if e["status"] == "UNAUTHENTICATED" and "token" in e.get("error", "")]
    assert refused, rpc[-5:]
    # Refusals go through the structured logger only: no free-text "refused" line.
    assert not any(line.startswith("cassetto-server: refused") for line in log.splitlines())
