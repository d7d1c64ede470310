#!/usr/bin/env python3
"""Idle RSS and memory per idle HTTP/2 connection of cassetto-server (issue 9 goals:
idle RSS under 30 MB, 10,000 idle connections under 60 KB each).

  tools/bench/idle-memory.py [--bin PATH] [--connections 10000] [--args "--event-loops 1"]

Starts `cassetto-server --interop --listen 127.0.0.1:PORT` (default binary: the release
build of tools/bench-rpc, .build-bench/swift/release/cassetto-server), waits for it to
settle and reads VmRSS (idle RSS). Then opens N plaintext connections, each sending the
HTTP/2 client preface and an empty SETTINGS frame and reading the server's SETTINGS (so
the server has created its nghttp2 session), keeps them open, and reads VmRSS again:
(RSS with N connections − idle RSS) ÷ N is the cost of one idle connection. Raises its own
and the server's open-file limit to fit N.
"""
import argparse, os, resource, shlex, socket, subprocess, sys, time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(repo, ".build-bench/swift/release/cassetto-server"))
    p.add_argument("--connections", type=int, default=10000)
    p.add_argument("--args", default="", help="extra cassetto-server arguments")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to wait before reading RSS")
    a = p.parse_args()

    need = a.connections + 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(need, soft), max(need, hard)))
    port = free_port()
    workdir = subprocess.check_output(["mktemp", "-d"]).decode().strip()
    cmd = [a.bin, "--interop", "--listen", f"127.0.0.1:{port}"] + shlex.split(a.args)
    server = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    sys.exit("server did not start")
                time.sleep(0.1)
        time.sleep(a.settle)
        idle = rss_kb(server.pid)
        threads = len(os.listdir(f"/proc/{server.pid}/task"))
        print(f"idle RSS: {idle / 1024:.1f} MB ({threads} threads)")
        conns = []
        t0 = time.time()
        for i in range(a.connections):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(PREFACE)
            conns.append(s)
        for s in conns:  # the server's SETTINGS: its session exists
            s.settimeout(10)
            s.recv(4096)
        time.sleep(a.settle)
        loaded = rss_kb(server.pid)
        alive = server.poll() is None
        per = (loaded - idle) * 1024 / max(1, a.connections)
        print(f"with {a.connections} idle connections: RSS {loaded / 1024:.1f} MB, "
              f"{per / 1024:.1f} KB per connection (opened in {time.time() - t0:.1f} s; "
              f"server {'alive' if alive else 'DIED'})")
        print(f"peak RSS (VmHWM): {rss_kb(server.pid, 'VmHWM') / 1024:.1f} MB")
        for s in conns:
            s.close()
        return 0 if alive else 1
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        subprocess.call(["rm", "-rf", workdir])


if __name__ == "__main__":
    sys.exit(main())
