#!/usr/bin/env python3
"""What open event streams cost: starts the release server, measures its RSS
and CPU, opens N idle `GET /items/events` streams (default 1 000), measures
again over an idle period, then makes one write and times how long until
every stream has its event (the fan-out). Prints the figures.

    python3 bench/streams.py [--streams 1000] [--database-url postgres://…]

Needs the release build (bench/run or scripts/run builds it).
"""

import argparse
import os
import selectors
import socket
import sys
import tempfile
import time

import bench

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def open_stream(host, port):
    sock = socket.create_connection((host, port))
    sock.sendall(f"GET /items/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    return sock


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle measurement")
    ap.add_argument("--database-url")
    args = ap.parse_args()

    # No logins: argon2's memory for the admin's password hash would blur
    # the RSS figures (the write below is anonymous then).
    os.environ["ITEMSERVE_AUTH"] = "off"
    tmp = tempfile.mkdtemp(prefix="itemserve-streams-")
    database_url, drop_database = bench.bench_database(args.database_url)
    server, base = bench.start_server(bench.SERVER, bench.SERVER_ADDR, tmp, database_url=database_url)
    host, port = bench.SERVER_ADDR.split(":")
    port = int(port)
    sockets = []
    try:
        auth = {}
        time.sleep(2.0)
        rss_before = bench.rss_kib(server.pid)
        cpu_before = cpu_seconds(server.pid)

        started = time.monotonic()
        sockets = [open_stream(host, port) for _ in range(args.streams)]
        # Every stream answered (headers and its first message).
        for sock in sockets:
            sock.settimeout(10)
            if not sock.recv(4096).startswith(b"HTTP/1.1 200"):
                raise SystemExit("a stream was refused")
        opened_s = time.monotonic() - started
        time.sleep(2.0)
        rss_open = bench.rss_kib(server.pid)
        cpu_open = cpu_seconds(server.pid)
        time.sleep(args.idle)
        cpu_idle = cpu_seconds(server.pid) - cpu_open
        rss_idle = bench.rss_kib(server.pid)

        # One write; time until every stream has received its event.
        selector = selectors.DefaultSelector()
        for sock in sockets:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        t0 = time.monotonic()
        bench.http("POST", f"{base}/items/", headers=auth, body={"name": "fan-out"})
        waiting = set(sockets)
        while waiting and time.monotonic() - t0 < 10:
            for key, _ in selector.select(timeout=1):
                data = key.fileobj.recv(65536)
                if b'"created"' in data:
                    waiting.discard(key.fileobj)
                    selector.unregister(key.fileobj)
        fan_out_ms = (time.monotonic() - t0) * 1000

        database = (database_url or "sqlite").split(":")[0]
        print(f"itemserve event streams ({database}), {args.streams} open at once")
        print(f"  RSS before: {rss_before / 1024:.1f} MiB; with the streams open: "
              f"{rss_open / 1024:.1f} MiB (+{(rss_open - rss_before) / args.streams:.1f} KiB per stream); "
              f"after {args.idle:.0f} s idle: {rss_idle / 1024:.1f} MiB")
        print(f"  opening them took {(cpu_open - cpu_before) * 1000:.0f} ms of server CPU "
              f"({opened_s * 1000:.0f} ms in all, one client opening them one by one)")
        print(f"  server CPU while idle: {cpu_idle * 1000:.0f} ms over {args.idle:.0f} s "
              f"({cpu_idle / args.idle * 100:.2f}% of a core)")
        print(f"  one write reached {args.streams - len(waiting)} of {args.streams} streams "
              f"in {fan_out_ms:.0f} ms")
        if waiting:
            raise SystemExit(f"{len(waiting)} streams never got the event")
    finally:
        for sock in sockets:
            sock.close()
        server.terminate()
        server.wait()
        drop_database()


if __name__ == "__main__":
    sys.exit(main())
