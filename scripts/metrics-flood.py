#!/usr/bin/env python3
"""Measures what unauthenticated requests with made-up methods and paths cost a server.

Starts `provost serve` on a fresh SQLite file, reads its resident memory (VmRSS) and the number
of `provost_http_*` series on /metrics, sends N requests (default 20 000) with random method
names to random paths, and reads both again. Linux only (/proc); Python standard library only.

    cargo build -p provost
    scripts/metrics-flood.py [--binary target/debug/provost] [--requests 20000]
"""

import argparse
import http.client
import os
import random
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def series(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return sum(1 for line in text.splitlines() if line.startswith("provost_http_"))


def word(rng, n):
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def flood(port, count, seed):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(count):
        method = "X" + word(rng, rng.randint(3, 11)).upper()
        path = f"/{word(rng, 8)}/{word(rng, 5)}"
        conn.request(method, path)
        conn.getresponse().read()
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default="target/debug/provost")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PROVOST_JWT_SECRET="flood-secret", PROVOST_LOG="warn")
        server = subprocess.Popen(
            [args.binary, "--database-url", f"sqlite://{tmp}/p.db?mode=rwc",
             "serve", "--listen", f"127.0.0.1:{port}"],
            env=env, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # Warm up: the first of each kind of request allocates what any request needs, and
            # the first scrape adds its own series.
            flood(port, 50, seed=0)
            series(port)
            before = (rss_kib(server.pid), series(port))
            started = time.monotonic()
            per = args.requests // args.connections
            threads = [threading.Thread(target=flood, args=(port, per, i + 1))
                       for i in range(args.connections)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.monotonic() - started
            after = (rss_kib(server.pid), series(port))
        finally:
            server.terminate()
            server.wait()
    sent = per * args.connections
    print(f"binary: {args.binary}")
    print(f"requests: {sent} with made-up methods and paths, {seconds:.1f} s")
    print(f"RSS: {before[0]} KiB before, {after[0]} KiB after ({after[0] - before[0]:+} KiB)")
    print(f"provost_http_* series on /metrics: {before[1]} before, {after[1]} after")


if __name__ == "__main__":
    sys.exit(main())
