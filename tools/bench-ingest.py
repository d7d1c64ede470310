#!/usr/bin/env python3
"""Measures Posizioni.Ingest over the wire: starts cassetto-server (mutual TLS, a fresh data
directory, a back-end certificate granted posizioni.ingest), streams 1 subject, 1,000
positions and N payments (default 1,000,000) from Python grpcio with pre-serialized messages,
and prints the rate. Not a test.

    swift build -c release --product cassetto-server
    .venv-test/bin/python tools/bench-ingest.py --bin-dir "$(swift build -c release --show-bin-path)" [--payments N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "interop"))

from conftest import _start_server, make_test_certs  # noqa: E402
from identity_support import new_cf, numeric_code  # noqa: E402
from test_posizioni import generate_posizioni_stubs  # noqa: E402

import grpc  # noqa: E402
from google.type import date_pb2  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument(
        "--client", choices=("nghttp", "grpcio"), default="nghttp",
        help="nghttp (default): the whole stream as one HTTP/2 request body from nghttp2's "
        "client, so the client does not limit the rate; grpcio: Python grpcio, one message at "
        "a time (slower than the server)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stubs = generate_posizioni_stubs(tmp / "stubs")
        pb, common = stubs.pb, stubs.common
        certs = make_test_certs(tmp / "certs")
        server = _start_server(Path(args.bin_dir), [
            "--dev", "--no-demo", "--service-identity",
            "cn:cassetto-test-backend=ledger:posizioni.ingest"], True, certs, True, tmp / "srv")
        try:
            company = numeric_code("0712340052")
            records = [pb.IngestRecord(subject=pb.Subject(
                fiscal_code=company, name="Benchmark S.p.A.", nature=pb.NATURE_PRIVATE,
                legal_representative=new_cf())).SerializeToString()]
            for n in range(1000):
                records.append(pb.IngestRecord(posizione=pb.Posizione(
                    matricola=f"49{n:08d}", subject_fiscal_code=company,
                    fund=common.FUND_PRIVATI_UNIEMENS, sede="4900",
                    state=pb.POSIZIONE_STATE_ATTIVA,
                    start_date=date_pb2.Date(year=2000, month=1, day=1))).SerializeToString())
            paid = date_pb2.Date(year=2025, month=2, day=16)
            for n in range(args.payments):
                records.append(pb.IngestRecord(versamento=pb.Versamento(
                    matricola=f"49{n % 1000:08d}", channel=pb.CHANNEL_F24,
                    reference=f"F24-{n:09d}", period=f"{2000 + n % 25}-{1 + n % 12:02d}",
                    amount_cents=100_000 + n % 997, paid_on=paid)).SerializeToString())
            if args.client == "grpcio":
                with server.channel(client_cert=True) as channel:
                    ingest = channel.stream_unary(
                        "/cassetto.posizioni.v1.Posizioni/Ingest",
                        response_deserializer=pb.IngestSummary.FromString)
                    start = time.monotonic()
                    summary = ingest(iter(records), timeout=600)
                    elapsed = time.monotonic() - start
            else:
                body = tmp / "body"
                with open(body, "wb") as out:
                    for record in records:
                        out.write(b"\0" + len(record).to_bytes(4, "big") + record)
                response = tmp / "response"
                start = time.monotonic()
                result = subprocess.run(
                    ["nghttp", "-y", "--cert", str(certs / "client.pem"), "--key",
                     str(certs / "client.key"), "-H", "content-type: application/grpc",
                     "-H", "te: trailers", "-d", str(body),
                     f"https://{server.host}:{server.port}/cassetto.posizioni.v1.Posizioni/Ingest"],
                    capture_output=True, timeout=600)
                elapsed = time.monotonic() - start
                data = result.stdout
                if len(data) < 5:
                    raise SystemExit(f"no response: {result.stderr.decode(errors='replace')}")
                summary = pb.IngestSummary.FromString(data[5:5 + int.from_bytes(data[1:5], "big")])
            fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            server_cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            print(f"records {summary.received}: accepted {summary.accepted}, rejected "
                  f"{summary.rejected} in {elapsed:.1f} s = {summary.received / elapsed:,.0f} "
                  f"records/s (server CPU {server_cpu:.1f} s since its start)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
