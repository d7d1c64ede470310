#!/usr/bin/env python3
"""Helpers for tools/bench-rpc.

Subcommands (the first three need only the standard library):
  body OUT [--payload N] [--response-size N]
      Write the gRPC frame of grpc.testing.SimpleRequest{response_size, payload{body: N zero
      bytes}} to OUT (1 byte compressed flag, 4 bytes big-endian length, protobuf bytes).
  free-port
      Print a TCP port on 127.0.0.1 that is free right now.
  wait-port PORT [--timeout S] [--pid PID]
      Wait until 127.0.0.1:PORT accepts a connection (exit 1 on timeout or if PID dies).
  cpu-busy [--seconds S]
      Print how busy each CPU is (percent, over S seconds, from /proc/stat), e.g. "cpu0=3 cpu1=1".
  run RUSAGE_OUT -- CMD...
      Run CMD, write its CPU seconds (user + sys, from wait4) to RUSAGE_OUT, exit with its status.
  cpu-snap OUT [--pid PID]
      Save per-CPU tick counters (/proc/stat) and PID's CPU ticks to OUT.
  cpu-others SNAP_A SNAP_B --client-seconds S
      How busy CPU 0 and CPU 1 were between the snapshots with work that was NOT the server
      (PID of the snapshot, pinned to CPU 0) or the client (S CPU seconds, pinned to CPU 1):
      other processes, interrupts, hypervisor steal. Prints e.g. "cpu0=2% cpu1=1% steal=0%".
  parse-h2load OUT [--log LOG]
      Parse h2load's text output (and optionally its --log-file) and print shell
      assignments: RPS, SUCCEEDED, FAILED, ERRORED, NON2XX, MEAN_US, SD_US, MAX_US, and,
      with --log, P50_US / P99_US computed from the per-request times.
  table RESULTS.tsv
      Print the results table written by tools/bench-rpc, with the ratios of our server
      (row "cassetto") to each peer.
  check TARGET BODYFILE [--count N] [--response-size N]
      With grpcio (run it from the bench venv): send the request in BODYFILE N times to
      /grpc.testing.TestService/UnaryCall and require grpc-status 0 and a SimpleResponse
      whose payload body is --response-size bytes. Exit 1 on any mismatch.
"""

import argparse
import os
import re
import socket
import struct
import sys
import time

METHOD = "/grpc.testing.TestService/UnaryCall"


# --- protobuf wire format, by hand (only what SimpleRequest/SimpleResponse need) -------

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_varint(buf, i):
    shift = 0
    value = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf):
    """Yield (field_number, wire_type, value) for a protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 2:
            length, i = _read_varint(buf, i)
            if i + length > len(buf):
                raise ValueError("truncated length-delimited field")
            value = buf[i:i + length]
            i += length
        elif wire == 1:
            value = buf[i:i + 8]
            i += 8
        elif wire == 5:
            value = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, wire, value


def simple_request(response_size, payload_size):
    # SimpleRequest: response_size = 2 (int32), payload = 3 (Payload{type = 1, body = 2}).
    # Payload.type is left at its default (COMPRESSABLE = 0), so only the body is written.
    payload = b"\x12" + _varint(payload_size) + b"\x00" * payload_size
    msg = b""
    if response_size:
        msg += b"\x10" + _varint(response_size)
    msg += b"\x1a" + _varint(len(payload)) + payload
    return msg


def grpc_frame(message):
    return struct.pack(">BI", 0, len(message)) + message


def response_payload_size(message):
    """Length of SimpleResponse.payload.body, validating the message on the way."""
    size = 0
    for number, wire, value in _fields(message):
        if number == 1 and wire == 2:
            for pnum, pwire, pvalue in _fields(value):
                if pnum == 2 and pwire == 2:
                    if pvalue.count(0) != len(pvalue):
                        raise ValueError("payload body is not all zero bytes")
                    size = len(pvalue)
    return size


# --- subcommands ----------------------------------------------------------------------

def cmd_body(args):
    data = grpc_frame(simple_request(args.response_size, args.payload))
    with open(args.out, "wb") as f:
        f.write(data)
    print("%s: %d bytes" % (args.out, len(data)))


def cmd_free_port(_args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def cmd_wait_port(args):
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if args.pid:
            try:
                os.kill(args.pid, 0)
            except OSError:
                print("process %d exited" % args.pid, file=sys.stderr)
                return 1
            # A zombie still answers kill(0); look at its state.
            try:
                with open("/proc/%d/stat" % args.pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        print("process %d exited" % args.pid, file=sys.stderr)
                        return 1
            except OSError:
                return 1
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=0.5):
                return 0
        except OSError:
            time.sleep(0.1)
    print("port %d not open after %.0fs" % (args.port, args.timeout), file=sys.stderr)
    return 1


def _cpu_times():
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                cols = line.split()
                vals = [int(v) for v in cols[1:]]
                idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
                out[cols[0]] = (sum(vals), idle)
    return out


def cmd_cpu_busy(args):
    a = _cpu_times()
    time.sleep(args.seconds)
    b = _cpu_times()
    parts = []
    for cpu in sorted(b, key=lambda c: int(c[3:])):
        total = b[cpu][0] - a.get(cpu, (0, 0))[0]
        idle = b[cpu][1] - a.get(cpu, (0, 0))[1]
        parts.append("%s=%d" % (cpu, round(100.0 * (total - idle) / total) if total else 0))
    print(" ".join(parts))


def cmd_run(args):
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(args.rusage_out, "w") as f:
        f.write("%.3f\n" % (usage.ru_utime + usage.ru_stime))
    return os.waitstatus_to_exitcode(status) & 0xFF


def cmd_cpu_snap(args):
    fields = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                cols = line.split()
                fields[cols[0]] = [int(v) for v in cols[1:]]
    pid_ticks = 0
    if args.pid:
        with open("/proc/%d/stat" % args.pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
            pid_ticks = int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
    with open(args.out, "w") as f:
        for cpu, vals in fields.items():
            f.write("%s %s\n" % (cpu, " ".join(map(str, vals))))
        f.write("pid %d\n" % pid_ticks)


def _read_snap(path):
    out = {}
    with open(path) as f:
        for line in f:
            cols = line.split()
            out[cols[0]] = [int(v) for v in cols[1:]]
    return out


def cmd_cpu_others(args):
    a, b = _read_snap(args.snap_a), _read_snap(args.snap_b)
    hz = os.sysconf("SC_CLK_TCK")
    parts = []
    steal = 0.0
    for cpu, own in (("cpu0", (b["pid"][0] - a["pid"][0])), ("cpu1", args.client_seconds * hz)):
        if cpu not in a or cpu not in b:
            continue
        d = [y - x for x, y in zip(a[cpu], b[cpu])]
        total = sum(d[:8]) or 1  # user nice system idle iowait irq softirq steal
        busy = d[0] + d[1] + d[2] + d[5] + d[6]
        steal = max(steal, 100.0 * d[7] / total)
        parts.append("%s=%d%%" % (cpu, max(0, round(100.0 * (busy - own) / total))))
    parts.append("steal=%d%%" % round(steal))
    if "cpu0" in a and "cpu0" in b:
        # The server's and the client's own use of their CPU: a server below ~95% while the
        # client is near 100% means the client, not the server, set the pace.
        total0 = sum(y - x for x, y in zip(a["cpu0"][:8], b["cpu0"][:8])) or 1
        total1 = sum(y - x for x, y in zip(a.get("cpu1", [0] * 8)[:8], b.get("cpu1", [0] * 8)[:8])) or 1
        parts.append("(server %d%%, h2load %d%%)" % (round(100.0 * (b["pid"][0] - a["pid"][0]) / total0),
                                                    round(100.0 * args.client_seconds * hz / total1)))
    print(" ".join(parts))


_UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1000000.0}


def _to_us(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s)", text)
    if not m:
        raise ValueError("bad time %r" % text)
    return float(m.group(1)) * _UNITS_US[m.group(2)]


def cmd_parse_h2load(args):
    with open(args.out) as f:
        text = f.read()
    values = {}
    m = re.search(r"^finished in [^,]+, ([0-9.]+) req/s", text, re.M)
    if not m:
        print("no 'finished in' line in h2load output", file=sys.stderr)
        return 1
    values["RPS"] = "%.0f" % float(m.group(1))
    m = re.search(r"^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                  r"(\d+) failed, (\d+) errored", text, re.M)
    if m:
        values["SUCCEEDED"], values["FAILED"], values["ERRORED"] = m.group(4), m.group(5), m.group(6)
    m = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text, re.M)
    if m:
        values["NON2XX"] = str(int(m.group(2)) + int(m.group(3)) + int(m.group(4)))
    m = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    if m:
        values["MAX_US"] = "%.0f" % _to_us(m.group(2))
        values["MEAN_US"] = "%.0f" % _to_us(m.group(3))
        values["SD_US"] = "%.0f" % _to_us(m.group(4))
    if args.log:
        rows = []
        with open(args.log) as f:
            for line in f:
                cols = line.split("\t")
                if len(cols) >= 3:
                    rows.append((cols[1], int(cols[2])))
        # The log also holds the warm-up requests; with one h2load thread its rows are in
        # end-of-response order, so the measured ones are the last `done` rows.
        m = re.search(r"^requests: \d+ total, \d+ started, (\d+) done", text, re.M)
        if m and 0 < int(m.group(1)) < len(rows):
            rows = rows[len(rows) - int(m.group(1)):]
        times = [t for status, t in rows if status.startswith("2")]
        if times:
            times.sort()

            def pct(p):
                # nearest-rank percentile
                k = max(0, min(len(times) - 1, int(round(p / 100.0 * len(times) + 0.5)) - 1))
                return times[k]

            values["P50_US"] = str(pct(50))
            values["P99_US"] = str(pct(99))
            values["LOGGED"] = str(len(times))
    for key, value in values.items():
        print("%s=%s" % (key, value))
    return 0


def _fmt_us(v):
    if not v:
        return "—"
    v = float(v)
    return "%.2f ms" % (v / 1000) if v >= 1000 else "%d µs" % v


def _fmt_mb(v):
    return "%.1f MB" % (float(v) / 1024) if v else "—"


def cmd_table(args):
    import csv

    with open(args.results, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    ours = next((r for r in rows if r["server"] == "cassetto" and r["status"] != "unavailable"
                 and r["req_per_s"]), None)
    header = ["server", "req/s", "c1m1 mean", "c1m1 p99", "peak RSS", "our ratio (req/s, mean)",
              "other work cpu0/cpu1"]

    def others(r):
        m = re.search(r"cpu0=(\d+)%.*cpu1=(\d+)%", r.get("other_cpu") or "")
        return "%s%%/%s%%" % m.groups() if m else "—"

    table = []
    for r in rows:
        if r["status"] == "unavailable":
            table.append([r["label"], "—", "—", "—", "—", "not available", "—"])
            continue
        if ours is None or not r["req_per_s"]:
            ratio = "—"
        elif r is ours:
            ratio = "1 (ours)"
        else:
            def quotient(a, b):
                try:
                    return "%.2fx" % (float(a) / float(b))
                except (ValueError, ZeroDivisionError):
                    return "—"

            ratio = "%s, %s" % (quotient(ours["req_per_s"], r["req_per_s"]),
                                quotient(ours["c1m1_mean_us"], r["c1m1_mean_us"]))
        if r["status"] != "ok":
            ratio += " (%s)" % r["status"].upper()
        table.append([r["label"], r["req_per_s"] or "—", _fmt_us(r["c1m1_mean_us"]),
                      _fmt_us(r["c1m1_p99_us"]), _fmt_mb(r["peak_rss_kb"]), ratio, others(r)])
    widths = [max(len(row[i]) for row in [header] + table) for i in range(len(header))]
    right = [False, True, True, True, True, False, True]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if rj else c.ljust(w)
                                 for c, w, rj in zip(cells, widths, right)) + " |"

    print(line(header))
    print("|" + "|".join(("-" * (w + 1) + ":") if rj else "-" * (w + 2)
                         for w, rj in zip(widths, right)) + "|")
    for row in table:
        print(line(row))
    return 0


def cmd_check(args):
    import grpc  # from the bench venv

    with open(args.bodyfile, "rb") as f:
        frame = f.read()
    flag, length = struct.unpack(">BI", frame[:5])
    request = frame[5:5 + length]
    if flag != 0 or len(request) != length:
        print("bad request body file", file=sys.stderr)
        return 1
    with grpc.insecure_channel(args.target) as channel:
        call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        bad = 0
        first_error = None
        for _ in range(args.count):
            try:
                response, rpc = call.with_call(request, timeout=5)
                code = rpc.code()
                if code != grpc.StatusCode.OK:
                    raise RuntimeError("grpc-status %s" % code)
                size = response_payload_size(response)
                if size != args.response_size:
                    raise RuntimeError("payload of %d bytes, expected %d" % (size, args.response_size))
            except grpc.RpcError as e:  # non-OK status
                bad += 1
                first_error = first_error or "grpc-status %s %r" % (e.code(), e.details())
            except Exception as e:  # noqa: BLE001 - report any mismatch
                bad += 1
                first_error = first_error or str(e)
    if bad:
        print("%d/%d calls failed; first: %s" % (bad, args.count, first_error))
        return 1
    print("%d/%d calls OK (grpc-status 0, %d-byte payload)" % (args.count, args.count, args.response_size))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("body")
    p.add_argument("out")
    p.add_argument("--payload", type=int, default=100)
    p.add_argument("--response-size", type=int, default=100)
    p.set_defaults(func=cmd_body)
    p = sub.add_parser("free-port")
    p.set_defaults(func=cmd_free_port)
    p = sub.add_parser("wait-port")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=10)
    p.add_argument("--pid", type=int)
    p.set_defaults(func=cmd_wait_port)
    p = sub.add_parser("cpu-busy")
    p.add_argument("--seconds", type=float, default=1.0)
    p.set_defaults(func=cmd_cpu_busy)
    p = sub.add_parser("run")
    p.add_argument("rusage_out")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("cpu-snap")
    p.add_argument("out")
    p.add_argument("--pid", type=int)
    p.set_defaults(func=cmd_cpu_snap)
    p = sub.add_parser("cpu-others")
    p.add_argument("snap_a")
    p.add_argument("snap_b")
    p.add_argument("--client-seconds", type=float, default=0.0)
    p.set_defaults(func=cmd_cpu_others)
    p = sub.add_parser("parse-h2load")
    p.add_argument("out")
    p.add_argument("--log")
    p.set_defaults(func=cmd_parse_h2load)
    p = sub.add_parser("table")
    p.add_argument("results")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("check")
    p.add_argument("target")
    p.add_argument("bodyfile")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--response-size", type=int, default=100)
    p.set_defaults(func=cmd_check)
    args = parser.parse_args()
    sys.exit(args.func(args) or 0)


if __name__ == "__main__":
    main()
