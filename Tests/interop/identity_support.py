"""Helpers for the Identity interop tests: Python stubs for our protos (generated at test time
with grpcio-tools, nothing committed), valid fiscal codes, tokens from ``cassetto dev-token``
and hand-made bad tokens, google.rpc.BadRequest decoding."""

from __future__ import annotations

import base64
import importlib
import json
import random
import string
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_PROTOS = ("cassetto/common/v1/common.proto", "cassetto/identity/v1/identity.proto")
BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest"


def generate_identity_stubs(dest: Path) -> SimpleNamespace:
    """Compiles proto/cassetto/{common,identity} with grpcio-tools into ``dest``; the standard
    imports come from grpcio-tools (google/protobuf) and googleapis-common-protos
    (google/type/date.proto), whose Python modules are already installed."""
    import google.type.date_pb2 as date_pb2
    import grpc_tools

    googleapis = Path(date_pb2.__file__).parents[2]
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{REPO_ROOT / 'proto'}", f"-I{googleapis}",
         f"-I{well_known}", f"--python_out={dest}", f"--grpc_python_out={dest}", *OWN_PROTOS],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed:\n{result.stderr}")
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    importlib.invalidate_caches()
    return SimpleNamespace(
        common=importlib.import_module("cassetto.common.v1.common_pb2"),
        pb=importlib.import_module("cassetto.identity.v1.identity_pb2"),
        grpc=importlib.import_module("cassetto.identity.v1.identity_pb2_grpc"),
    )


# ------------------------------------------------------------------------------------------
# Fiscal codes
# ------------------------------------------------------------------------------------------

_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20,
        11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
_rng = random.Random()


def check_character(first15: str) -> str:
    total = 0
    for i, c in enumerate(first15):
        index = int(c) if c.isdigit() else ord(c) - ord("A") + 10
        total += _ODD[index] if i % 2 == 0 else (index if index < 10 else index - 10)
    return chr(ord("A") + total % 26)


def new_cf() -> str:
    """A fresh, valid 16-character codice fiscale (random letters, born in Rome)."""
    first15 = ("".join(_rng.choices(string.ascii_uppercase, k=6))
               + f"{_rng.randint(40, 99):02d}" + _rng.choice("ABCDEHLMPRST")
               + f"{_rng.randint(1, 28):02d}" + "H501")
    return first15 + check_character(first15)


def numeric_code(first10: str) -> str:
    """An 11-digit fiscal code with its check digit."""
    total = 0
    for i, c in enumerate(first10):
        d = int(c)
        if i % 2 == 0:
            total += d
        else:
            total += d * 2 - 9 if d * 2 > 9 else d * 2
    return first10 + str((10 - total % 10) % 10)


# ------------------------------------------------------------------------------------------
# Tokens
# ------------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_es256(private_key, header: dict, claims: dict) -> str:
    """A JWS signed ES256 (raw r||s) by ``private_key`` (cryptography EC key)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    der = private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def load_dev_key(data_dir: Path):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key((data_dir / "dev-signing-key.pem").read_bytes(), password=None)


def person_claims(cf: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": "urn:cassetto:development", "aud": "cassetto", "iat": now, "nbf": now,
        "exp": now + 3600, "jti": b64url(random.randbytes(12)), "fiscal_number": f"TINIT-{cf}",
        "acr": "https://www.spid.gov.it/SpidL2", "amr": ["spid"],
    }
    claims.update(overrides)
    return claims


# ------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------


def bad_request_fields(error: grpc.RpcError) -> list:
    """The fields named by the google.rpc.BadRequest in grpc-status-details-bin."""
    from google.rpc import error_details_pb2, status_pb2

    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
            fields = []
            for detail in status.details:
                if detail.type_url == BAD_REQUEST_TYPE_URL:
                    bad = error_details_pb2.BadRequest.FromString(detail.value)
                    fields += [v.field for v in bad.field_violations]
            return fields
    return []


class IdentityClient:
    """Calls cassetto.identity.v1.Identity on a running server as a chosen person: ``who`` is
    a demo role key (``operator``), a fiscal code (a dev token is minted for it), a raw token
    (``token=...``) or ``None`` (no credentials)."""

    def __init__(self, server, data_dir: Path, bin_dir: Path, stubs, channel=None):
        self.server = server
        self.data_dir = Path(data_dir)
        self.bin_dir = Path(bin_dir)
        self.stubs = stubs
        self.pb = stubs.pb
        self.channel = channel or server.channel()
        self.stub = stubs.grpc.IdentityStub(self.channel)
        self._tokens: dict = {}
        demo = subprocess.run(
            [str(self.bin_dir / "cassetto"), "demo", "--json", "--data-dir", str(self.data_dir)],
            check=True, capture_output=True, text=True).stdout
        self.demo = {entry["key"]: entry for entry in json.loads(demo)}

    def cf(self, key: str) -> str:
        return self.demo[key]["fiscal_code"]

    def token(self, cf: str, level: int = 2, method: str = "spid") -> str:
        key = (cf, level, method)
        if key not in self._tokens:
            self._tokens[key] = subprocess.run(
                [str(self.bin_dir / "cassetto"), "dev-token", "--cf", cf, "--level", str(level),
                 "--method", method, "--data-dir", str(self.data_dir)],
                check=True, capture_output=True, text=True).stdout.strip()
        return self._tokens[key]

    def metadata(self, who: Optional[str] = None, token: Optional[str] = None):
        if token is None and who is not None:
            token = self.demo[who]["token"] if who in self.demo else self.token(who)
        return [] if token is None else [("authorization", f"Bearer {token}")]

    def call(self, method: str, request, who: Optional[str] = None, token: Optional[str] = None):
        return getattr(self.stub, method)(request, metadata=self.metadata(who, token), timeout=15)

    def stream(self, method: str, requests, who: Optional[str] = None):
        return getattr(self.stub, method)(iter(requests), metadata=self.metadata(who), timeout=30)

    def close(self):
        self.channel.close()
