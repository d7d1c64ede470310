"""Shared fixtures for the interop tests: an independent gRPC implementation (Python grpcio)
talks to `cassetto-server`, or the other way round.

Fixtures (all generic, usable from any test module in this directory):

* ``interop_stubs``   the grpc.testing stubs, generated at test time with grpcio-tools from the
                      interop protos of the offline grpc-swift-nio-transport 2.9.2 copy
                      (nothing generated is committed). Attributes: ``empty_pb2``,
                      ``messages_pb2``, ``test_pb2``, ``test_pb2_grpc``.
* ``test_certs``      a directory of throw-away TLS material written by ``tools/make-test-certs``
                      (ca.pem, server.pem/.key, client.pem/.key, other-ca.pem, other-client.*).
* ``cassetto_bin``    the directory holding the built executables (``$CASSETTO_BIN_DIR``, by
                      default ``.build/debug`` in the repository).
* ``free_port``       a TCP port on 127.0.0.1 that was free a moment ago.
* ``launch_cassetto`` a factory: ``with launch_cassetto("--interop", tls=True) as server:``
                      starts ``cassetto-server --listen 127.0.0.1:0 ...``, waits for its
                      ``cassetto-server listening on HOST:PORT`` line and stops it (SIGTERM,
                      then SIGKILL) at the end. The ``RunningServer`` it yields knows its
                      address and makes grpcio channels to it.

Plain helpers (importable, e.g. by a standalone script: ``from conftest import ...``):
``generate_interop_stubs(dest)``, ``make_test_certs(dest)``, ``pick_free_port()``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator, Optional

# The server wire tests (test_server_*.py) talk to an in-process test server that the Swift
# suite `ServerWireTests` starts and names in CASSETTO_SERVER_TEST_PORT; `swift test` runs
# them. A plain pytest run leaves them out instead of reporting dozens of skips.
collect_ignore_glob = [] if os.environ.get("CASSETTO_SERVER_TEST_PORT") else ["test_server_*.py"]

import grpc
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Where the interop protos come from: the offline grpc-swift-nio-transport mirror, at a tag.
INTEROP_PROTO_GIT_DIR = os.environ.get(
    "INTEROP_PROTO_GIT_DIR", "/opt/swift-packages/grpc/grpc-swift-nio-transport.git"
)
INTEROP_PROTO_REV = os.environ.get("INTEROP_PROTO_REV", "2.9.2")
INTEROP_PROTO_PREFIX = "dev/protos/tests/interoperability/"
INTEROP_PROTO_FILES = ("empty", "messages", "test")

#: How long a server may take to print its listening line.
SERVER_START_TIMEOUT = float(os.environ.get("CASSETTO_START_TIMEOUT", "60"))

LISTENING_LINE = re.compile(r"cassetto-server listening on (\S+)")
#: Printed before the listening line when ``--admin-listen`` is given.
ADMIN_LISTENING_LINE = re.compile(r"cassetto-server admin listening on (\S+)")


# --------------------------------------------------------------------------------------------
# Plain helpers
# --------------------------------------------------------------------------------------------


def generate_interop_stubs(dest: Path) -> SimpleNamespace:
    """Writes the grpc.testing protos under ``dest/src/proto/grpc/testing`` (their imports start
    with ``src/proto/``), runs grpcio-tools' protoc on them, puts ``dest`` on ``sys.path`` and
    returns the imported modules."""
    dest = Path(dest)
    proto_dir = dest / "src" / "proto" / "grpc" / "testing"
    proto_dir.mkdir(parents=True, exist_ok=True)
    for name in INTEROP_PROTO_FILES:
        rel = f"src/proto/grpc/testing/{name}.proto"
        text = subprocess.run(
            ["git", "-C", INTEROP_PROTO_GIT_DIR, "show",
             f"{INTEROP_PROTO_REV}:{INTEROP_PROTO_PREFIX}{rel}"],
            check=True, capture_output=True,
        ).stdout
        (dest / rel).write_bytes(text)
    protos = [f"src/proto/grpc/testing/{name}.proto" for name in INTEROP_PROTO_FILES]
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{dest}", f"--python_out={dest}",
         f"--grpc_python_out={dest}", *protos],
        cwd=dest, capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"grpc_tools.protoc failed:\n{result.stderr}")
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    importlib.invalidate_caches()
    base = "src.proto.grpc.testing"
    return SimpleNamespace(
        empty_pb2=importlib.import_module(f"{base}.empty_pb2"),
        messages_pb2=importlib.import_module(f"{base}.messages_pb2"),
        test_pb2=importlib.import_module(f"{base}.test_pb2"),
        test_pb2_grpc=importlib.import_module(f"{base}.test_pb2_grpc"),
    )


def make_test_certs(dest: Path) -> Path:
    """Runs ``tools/make-test-certs dest`` and returns ``dest``."""
    subprocess.run([str(REPO_ROOT / "tools" / "make-test-certs"), str(dest)], check=True,
                   capture_output=True)
    return Path(dest)


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel handed out a moment ago (it may be taken again by the time it is used:
    prefer ``--listen 127.0.0.1:0`` and the server's listening line where possible)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def default_bin_dir() -> Path:
    configured = os.environ.get("CASSETTO_BIN_DIR")
    path = Path(configured) if configured else REPO_ROOT / ".build" / "debug"
    return path if path.is_absolute() else REPO_ROOT / path


# --------------------------------------------------------------------------------------------
# A running cassetto-server
# --------------------------------------------------------------------------------------------


@dataclass
class RunningServer:
    """A ``cassetto-server`` process that printed its listening line."""

    process: subprocess.Popen
    host: str
    port: int
    tls: bool
    certs: Optional[Path]
    log_path: Path
    args: list = field(default_factory=list)
    stdout_lines: list = field(default_factory=list)

    @property
    def address(self) -> str:
        """``HOST:PORT`` to dial (IPv6 hosts in brackets)."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"

    #: Name the server certificate is issued for (tools/make-test-certs: localhost, 127.0.0.1).
    tls_server_name = "localhost"

    def channel_credentials(self, client_cert: bool = False) -> grpc.ChannelCredentials:
        assert self.tls and self.certs is not None
        root = (self.certs / "ca.pem").read_bytes()
        if client_cert:
            return grpc.ssl_channel_credentials(
                root_certificates=root,
                private_key=(self.certs / "client.key").read_bytes(),
                certificate_chain=(self.certs / "client.pem").read_bytes(),
            )
        return grpc.ssl_channel_credentials(root_certificates=root)

    def channel(self, options: Optional[list] = None, client_cert: bool = False) -> grpc.Channel:
        """A grpcio channel to this server: TLS (trusting the test CA) or plaintext h2c."""
        options = list(options or [])
        if self.tls:
            options.append(("grpc.ssl_target_name_override", self.tls_server_name))
            return grpc.secure_channel(self.address, self.channel_credentials(client_cert),
                                       options=options)
        return grpc.insecure_channel(self.address, options=options)

    @property
    def admin_address(self) -> Optional[tuple]:
        """``(host, port)`` of the admin HTTP listener (``--admin-listen``), or None."""
        for line in self.stdout_lines:
            match = ADMIN_LISTENING_LINE.search(line)
            if match:
                host, _, port = match.group(1).rpartition(":")
                return host.strip("[]"), int(port)
        return None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> Optional[int]:
        """SIGTERM, wait for a graceful exit, then SIGKILL. Returns the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def _start_server(bin_dir: Path, args: list, tls: bool, certs: Optional[Path], client_ca: bool,
                  workdir: Path) -> RunningServer:
    exe = bin_dir / "cassetto-server"
    if not exe.exists():
        pytest.fail(f"{exe} not found: build it first (swift build --product cassetto-server) "
                    f"or set CASSETTO_BIN_DIR")
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(exe), "--listen", "127.0.0.1:0"]
    if "--data-dir" not in args:
        data_dir = workdir / "data"
        data_dir.mkdir(exist_ok=True)
        command += ["--data-dir", str(data_dir)]
    if tls:
        assert certs is not None
        command += ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]
        if client_ca:
            command += ["--tls-client-ca", str(certs / "ca.pem")]
    command += list(args)
    log_path = workdir / "server.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, cwd=workdir)
    log_file.close()

    lines: "queue.Queue[Optional[str]]" = queue.Queue()
    seen: list = []

    def drain() -> None:
        # Keeps reading so the server never blocks on a full stdout pipe.
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, name="cassetto-stdout", daemon=True).start()

    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            process.kill()
            pytest.fail(f"cassetto-server did not print its listening line within "
                        f"{SERVER_START_TIMEOUT}s: {command}\nstdout: {seen}\n"
                        f"stderr:\n{log_path.read_text(errors='replace')}")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            process.wait(timeout=5)
            pytest.fail(f"cassetto-server exited ({process.returncode}) before listening: "
                        f"{command}\nstdout: {seen}\nstderr:\n"
                        f"{log_path.read_text(errors='replace')}")
        match = LISTENING_LINE.search(line)
        if match:
            host, _, port = match.group(1).rpartition(":")
            host = host.strip("[]")
            return RunningServer(process=process, host=host, port=int(port), tls=tls,
                                 certs=certs, log_path=log_path, args=command,
                                 stdout_lines=seen)


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cassetto_bin() -> Path:
    return default_bin_dir()


@pytest.fixture(scope="session")
def interop_stubs(tmp_path_factory) -> SimpleNamespace:
    return generate_interop_stubs(tmp_path_factory.mktemp("interop-stubs"))


@pytest.fixture(scope="session")
def test_certs(tmp_path_factory) -> Path:
    return make_test_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def free_port() -> int:
    return pick_free_port()


@pytest.fixture(scope="session")
def launch_cassetto(cassetto_bin, test_certs, tmp_path_factory):
    """``launch_cassetto(*args, tls=False, client_ca=False)`` → context manager yielding a
    :class:`RunningServer` started with ``--listen 127.0.0.1:0`` and ``args``."""

    @contextlib.contextmanager
    def launch(*args: str, tls: bool = False, client_ca: bool = False) -> Iterator[RunningServer]:
        workdir = tmp_path_factory.mktemp("cassetto-server")
        server = _start_server(cassetto_bin, list(args), tls, test_certs if tls else None,
                               client_ca, workdir)
        try:
            yield server
        finally:
            server.stop()

    return launch
