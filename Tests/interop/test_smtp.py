"""The outbox worker's configured SMTP channel (libcurl) against a real SMTP server: Python's
aiosmtpd on a loopback port. ``cassetto-server --smtp-url smtp://127.0.0.1:PORT`` sends the PEC
of a delega a intermediario there; the test reads the OTP out of the received message (RFC 5322,
quoted-printable UTF-8 body), confirms the delega with it and checks it is ATTIVA and that the
relay's final reply is recorded as the receipt; that relay requires STARTTLS (verified with
--smtp-ca-file) and then AUTH (--smtp-user / --smtp-password-file). With the relay down the message stays
undelivered, its attempts grow (backoff from --outbox-retry-base), failures are counted, the
server keeps serving, and once the relay is up the message goes through.

The setup (stubs, seed data, the intermediary request) is test_deleghe.py's, imported."""

from __future__ import annotations

import email
import email.policy
import http.client
import re
import sqlite3
import threading
import time
from types import SimpleNamespace

import pytest

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

import test_deleghe as deleghe  # noqa: E402  (shared helpers; its tests are not collected here)
from conftest import pick_free_port  # noqa: E402
from identity_support import IdentityClient  # noqa: E402

FROM = "cassetto-test@pec.example.it"
RECEIPT = "250 2.0.0 Ok: queued as CASSETTO-TEST"


class Inbox:
    """aiosmtpd handler: keeps every message and answers DATA with a recognizable receipt."""

    def __init__(self):
        self.messages: list[SimpleNamespace] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(SimpleNamespace(
                mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                content=bytes(envelope.original_content or envelope.content)))
        return RECEIPT

    def wait_for(self, needle: str, timeout: float = 10.0) -> SimpleNamespace:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if needle.encode() in message.content or needle in parsed_body(message):
                        return message
            time.sleep(0.05)
        raise AssertionError(f"no SMTP message mentioning {needle}")


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.content, policy=email.policy.default)


def parsed_body(message) -> str:
    return parsed(message).get_content()


USER, PASSWORD = "cassetto", "s3cret pa55"


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
          and auth_data.password == PASSWORD.encode())
    return AuthResult(success=ok)


def start_relay(port: int, inbox: Inbox, certs=None):
    """A plain relay, or (``certs``) one that requires STARTTLS and then AUTH."""
    extra = {}
    if certs is not None:
        import ssl
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certs / "server.pem", certs / "server.key")
        extra = dict(authenticator=authenticator, auth_required=True, auth_require_tls=True,
                     require_starttls=True, tls_context=context)
    controller = aiosmtpd_controller.Controller(inbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    return controller


def launch(launch_cassetto, tmp_path_factory, name, *extra):
    base = tmp_path_factory.mktemp(name)
    stubs = deleghe.generate_stubs(base / "stubs")
    data = base / "data"
    server_cm = launch_cassetto(
        "--dev", "--no-demo", "--data-dir", str(data), "--service-identity",
        f"cn:{deleghe.BACKEND_CN}=backoffice:{deleghe.PERMISSIONS}", "--idm-manager",
        f"{deleghe.IDM}@7555", *extra, tls=True, client_ca=True)
    return stubs, data, server_cm


def make_env(server, stubs, data, cassetto_bin):
    backend_channel = server.channel(client_cert=True)
    people = IdentityClient(server, data, cassetto_bin, stubs.identity,
                            channel=server.channel(client_cert=True))
    e = SimpleNamespace(
        pb=stubs.pb, common=stubs.common, pos=stubs.pos, people=people, data=data,
        stub=stubs.grpc.DelegheStub(people.channel),
        backend=stubs.grpc.DelegheStub(backend_channel),
        pos_backend=stubs.pos_grpc.PosizioniStub(backend_channel),
        id_backend=stubs.identity.grpc.IdentityStub(backend_channel))
    deleghe.seed(e)
    return e, backend_channel


def outbox_rows(data):
    db = sqlite3.connect(f"file:{data / 'cassetto.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(
            "SELECT id, recipient, subject, attempts, delivered_at, last_error "
            "FROM outbox_messages ORDER BY id")]
    finally:
        db.close()


def metric(server, name) -> float:
    host, port = server.admin_address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    conn.request("GET", "/metrics")
    body = conn.getresponse().read().decode()
    conn.close()
    match = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", body, re.M)
    assert match, body
    return float(match.group(1))


def test_otp_arrives_by_smtp_and_confirms_the_delega(launch_cassetto, tmp_path_factory,
                                                     cassetto_bin, test_certs):
    port = pick_free_port()
    inbox = Inbox()
    relay = start_relay(port, inbox, certs=test_certs)
    secret = tmp_path_factory.mktemp("smtp-secret") / "password"
    secret.write_text(PASSWORD + "\n")
    try:
        stubs, data, server_cm = launch(
            launch_cassetto, tmp_path_factory, "smtp-ok",
            "--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", FROM,
            "--smtp-starttls", "--smtp-ca-file", str(test_certs / "ca.pem"),
            "--smtp-user", USER, "--smtp-password-file", str(secret))
        with server_cm as server:
            e, backend_channel = make_env(server, stubs, data, cassetto_bin)
            pb = e.pb
            d = deleghe.request_intermediario(e)
            assert d.state == pb.DELEGA_STATE_IN_ATTESA_OTP
            message = inbox.wait_for(d.id)
            assert message.mail_from == FROM
            assert message.rcpt_tos == ["deleghe.test@pec.example.it"]
            mail = parsed(message)
            assert mail["Subject"] == f"{deleghe.PEC_SUBJECT}{deleghe.M1}"
            assert b"\r\nTo: <deleghe.test@pec.example.it>\r\n" in message.content
            assert FROM in mail["From"]
            assert mail["Date"] and mail["Message-ID"].startswith("<outbox-")
            assert mail.get_content_charset() == "utf-8"
            assert mail["Content-Transfer-Encoding"] == "quoted-printable"
            otp = re.search(r"Codice OTP: (\d{8})", mail.get_content())
            assert otp, mail.get_content()
            otp = otp.group(1)
            # Nothing was spooled: the SMTP channel replaces the spool.
            assert not list((data / "spool").glob("*.eml")) if (data / "spool").exists() else True
            active = deleghe.call(e, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
                id=d.id, otp=otp, signature_declared=True), deleghe.INTER)
            assert active.state == pb.DELEGA_STATE_ATTIVA
            got = deleghe.call(e, "GetDelega", pb.GetDelegaRequest(id=d.id), deleghe.INTER)
            assert got.state == pb.DELEGA_STATE_ATTIVA
            # The relay's final reply is the recorded receipt.
            deadline = time.monotonic() + 5
            while True:
                rows = [r for r in outbox_rows(data) if r["delivered_at"] is not None]
                if rows or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert rows and rows[-1]["last_error"] == RECEIPT, rows
            assert rows[-1]["attempts"] == 1
            assert otp not in server.log() and PASSWORD not in server.log()
            backend_channel.close()
            e.people.close()
    finally:
        relay.stop()


def test_relay_down_is_retried_with_backoff_then_delivered(launch_cassetto, tmp_path_factory,
                                                            cassetto_bin):
    port = pick_free_port()  # nothing listens there yet
    stubs, data, server_cm = launch(
        launch_cassetto, tmp_path_factory, "smtp-down",
        "--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", FROM,
        "--outbox-retry-base", "0.3", "--admin-listen", "127.0.0.1:0")
    with server_cm as server:
        e, backend_channel = make_env(server, stubs, data, cassetto_bin)
        pb = e.pb
        d = deleghe.request_intermediario(e)
        deadline = time.monotonic() + 10
        while True:
            rows = outbox_rows(data)
            if (rows and rows[-1]["attempts"] >= 3) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        row = rows[-1]
        assert row["attempts"] >= 3, rows
        assert row["delivered_at"] is None
        assert "curl error" in (row["last_error"] or ""), row
        assert metric(server, "cassetto_outbox_delivery_failures_total") >= 3
        # Still serving.
        assert server.is_running()
        got = deleghe.call(e, "GetDelega", pb.GetDelegaRequest(id=d.id), deleghe.INTER)
        assert got.state == pb.DELEGA_STATE_IN_ATTESA_OTP
        # The relay comes up: the next retry delivers.
        inbox = Inbox()
        relay = start_relay(port, inbox)
        try:
            message = inbox.wait_for(d.id, timeout=15)
            otp = re.search(r"Codice OTP: (\d{8})", parsed_body(message)).group(1)
            active = deleghe.call(e, "ConfirmDelegaOtp", pb.ConfirmDelegaOtpRequest(
                id=d.id, otp=otp, signature_declared=True), deleghe.INTER)
            assert active.state == pb.DELEGA_STATE_ATTIVA
        finally:
            relay.stop()
        assert server.is_running()
        backend_channel.close()
        e.people.close()
