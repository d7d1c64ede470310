"""cassetto-server's configuration: one file (docs/configuration.md), CASSETTO_* environment
variables and flags, precedence flags > environment > file > defaults; bad values refused at
start-up (exit 78) with the setting and its source named; --print-config shows the effective
configuration with secrets masked; a server configured by its file alone serves."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

EX_CONFIG = 78


def server(cassetto_bin: Path, *args: str, env: dict | None = None,
           cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CASSETTO_")}
    environment.update(env or {})
    return subprocess.run([str(cassetto_bin / "cassetto-server"), *args], capture_output=True,
                          text=True, env=environment, timeout=60, cwd=cwd)


def effective(output: str) -> dict:
    """`name = value  # source` lines of --print-config → {name: (value, source)}."""
    result = {}
    for line in output.splitlines():
        match = re.match(r"^([a-z0-9-]+) = (.*?)  # (.*)$", line)
        if match:
            result[match.group(1)] = (match.group(2), match.group(3))
    return result


def refused(result: subprocess.CompletedProcess, setting: str, source: str) -> str:
    assert result.returncode == EX_CONFIG, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(f"cassetto-server: configuration: setting {setting} ({source}"), line
    return line


def test_precedence_flags_over_environment_over_file_over_defaults(cassetto_bin, tmp_path):
    config = tmp_path / "cassetto.conf"
    config.write_text(
        "# a comment\n"
        "listen = \"127.0.0.1:7001\"\n"
        "idle-timeout = 120   # trailing comment\n"
        "log_format = json\n"
        "service-identity = [\"cn:a=ledger:posizioni.ingest\", \"cn:b=other\"]\n"
        "dev = true\n")
    only_file = effective(server(cassetto_bin, "--config", str(config), "--print-config").stdout)
    assert only_file["listen"] == ('"127.0.0.1:7001"', f"file {config}:2")
    assert only_file["idle-timeout"] == ("120", f"file {config}:3")
    assert only_file["log-format"] == ('"json"', f"file {config}:4")
    assert only_file["service-identity"][0] == '["cn:a=ledger:posizioni.ingest", "cn:b=other"]'
    assert only_file["dev"] == ("true", f"file {config}:6")
    assert only_file["max-concurrent-streams"] == ("100", "default")

    env = {"CASSETTO_CONFIG": str(config), "CASSETTO_LISTEN": "127.0.0.1:7002",
           "CASSETTO_DEV": "false"}
    with_env = effective(server(cassetto_bin, "--print-config", env=env).stdout)
    assert with_env["listen"] == ('"127.0.0.1:7002"', "environment CASSETTO_LISTEN")
    assert with_env["dev"] == ("false", "environment CASSETTO_DEV")
    assert with_env["idle-timeout"][0] == "120"

    with_flag = effective(server(cassetto_bin, "--print-config", "--listen", "127.0.0.1:7003",
                                 "--dev", env=env).stdout)
    assert with_flag["listen"] == ('"127.0.0.1:7003"', "command line")
    assert with_flag["dev"] == ("true", "command line")

    defaults = effective(server(cassetto_bin, "--print-config").stdout)
    assert defaults["listen"] == ('"127.0.0.1:50051"', "default")
    assert defaults["log-format"] == ('"logfmt"', "default")


def test_bad_values_are_refused_naming_the_setting_and_source(cassetto_bin, tmp_path):
    config = tmp_path / "bad.conf"
    config.write_text("listen = 127.0.0.1:0\nmax-concurrent-streams = lots\n")
    refused(server(cassetto_bin, "--config", str(config)), "max-concurrent-streams",
            f"file {config}:2")

    typo = tmp_path / "typo.conf"
    typo.write_text("listen = 127.0.0.1:0\nlisten-adress = 127.0.0.1:1\n")
    result = server(cassetto_bin, "--config", str(typo))
    assert result.returncode == EX_CONFIG
    assert f"{typo}:2: unknown setting 'listen-adress'" in result.stderr

    refused(server(cassetto_bin, "--listen", "127.0.0.1:0",
                   env={"CASSETTO_LOG_FORMAT": "xml"}),
            "log-format", "environment CASSETTO_LOG_FORMAT")
    refused(server(cassetto_bin, "--listen", "127.0.0.1:0", env={"CASSETTO_DEV": "maybe"}),
            "dev", "environment CASSETTO_DEV")
    line = refused(server(cassetto_bin, "--admin-listen", "nowhere"), "admin-listen",
                   "command line")
    assert "'nowhere' must be HOST:PORT" in line
    refused(server(cassetto_bin, "--tls-cert", str(tmp_path / "missing.pem"), "--tls-key",
                   str(tmp_path / "missing.key")), "tls-cert", "command line")
    refused(server(cassetto_bin, "--idm-manager", "nobody@7500"), "idm-manager", "command line")
    refused(server(cassetto_bin, "--stream-reset-burst", "0"), "stream-reset-burst",
            "command line")
    rates = tmp_path / "rates.json"
    rates.write_text('[{"from": "2024-01-01", "basisPoints": 100}, {"from": "2023-01-01", "basisPoints": 5}]')
    line = refused(server(cassetto_bin, "--sanzioni-rates", str(rates)), "sanzioni-rates",
                   "command line")
    assert "dates must increase" in line

    missing = server(cassetto_bin, "--config", str(tmp_path / "absent.conf"))
    assert missing.returncode == EX_CONFIG and "absent.conf: cannot be read" in missing.stderr
    # Cross-setting rules stay: demo data only in development mode.
    demo = server(cassetto_bin, "--demo", "--data-dir", str(tmp_path / "data"))
    assert demo.returncode == EX_CONFIG and "--dev" in demo.stderr


def test_print_config_masks_secrets(cassetto_bin, tmp_path):
    config = tmp_path / "secret.conf"
    config.write_text(
        "smtp-url = \"smtp://mailer:url-pass-123@relay.example:587\"\n"
        "smtp-user = mailer\n"
        "smtp-password = \"hunter2-from-file\"\n")
    result = server(cassetto_bin, "--config", str(config), "--print-config")
    assert result.returncode == 0, result.stderr
    assert "hunter2-from-file" not in result.stdout and "url-pass-123" not in result.stdout
    settings = effective(result.stdout)
    assert settings["smtp-password"] == ('"********"', f"file {config}:3")
    assert settings["smtp-url"][0] == '"smtp://mailer:********@relay.example:587"'

    from_env = server(cassetto_bin, "--config", str(config), "--print-config",
                      env={"CASSETTO_SMTP_PASSWORD": "env-secret-456"})
    assert "env-secret-456" not in from_env.stdout + from_env.stderr
    assert effective(from_env.stdout)["smtp-password"] == \
        ('"********"', "environment CASSETTO_SMTP_PASSWORD")
    # A secret is never a flag (it would show in ps).
    flag = server(cassetto_bin, "--smtp-password", "x", "--print-config")
    assert flag.returncode != 0 and "x" not in flag.stdout


def test_a_server_configured_by_its_file_serves(launch_cassetto, tmp_path, interop_stubs):
    config = tmp_path / "serve.conf"
    config.write_text(
        f"data-dir = \"{tmp_path / 'data'}\"\n"
        "admin-listen = \"127.0.0.1:0\"\n"
        "interop = true\n")
    with launch_cassetto("--config", str(config)) as running:
        assert running.admin_address is not None
        channel = running.channel()
        try:
            stub = interop_stubs.test_pb2_grpc.TestServiceStub(channel)
            stub.EmptyCall(interop_stubs.empty_pb2.Empty(), timeout=10)
        finally:
            channel.close()
