#!/usr/bin/env python3
"""Compares two builds of the itemserve server on the hot paths, the way a
change's cost should be judged on a noisy shared machine: both builds and
the bare axum baseline run at once, and each round measures the baseline,
build A and build B back to back (the order rotating from round to round).
Every figure is a ratio to the baseline of its own round; the table shows
the median over the rounds and the range, and B's median against A's. A
second table shows the CPU time each build's process spent per request
(kernel time for its sockets included, read from /proc/PID/task/*/schedstat
around each wrk run): it moves much less with the machine's load than
requests/s do, and unlike the instruction count it sees the syscalls and
the larger responses.

    bench/compare.py --a OLD_BINARY --b target/release/itemserve --rounds 5

With `--instructions`, each build instead runs alone under valgrind's
callgrind and the table shows the instructions its own code executes per
request (N sequential requests per scenario, after a warm-up): a figure
that does not move with the machine's load, for changes too small for
requests/s to show through the noise. It leaves out the kernel's work and
the client's, which the requests/s include.

The durable writes (`--scenario "DELETE /items/{id} (durable)"`, ...) are
made as the admin; `--data-dir /dev/shm` keeps their databases off the
disk, whose fsyncs vary far more from run to run than the server's work.

Both binaries must have been built with the site in target/site (bench/run
builds the current one; build an older commit with `git worktree add` and
`cargo build --release --features ssr`).
"""

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench

SCENARIOS = {
    "GET /items/{id}": ("/items/1", "GET", None),
    "GET /items/?limit=100": ("/items/?limit=100", "GET", None),
    "POST /predict/": ("/predict/", "POST", bench.PREDICT_ROW),
    "POST /v2/models/linear/infer": ("/v2/models/linear/infer", "POST", bench.V2_ROW),
    "GET / (server-rendered page)": ("/", "GET", None),
    # Made as the admin; each DELETE run deletes ids stocked for it.
    **{name: (path, method, body) for name, path, method, body in bench.WRITES},
}
DURABLE = {name for name, *_ in bench.WRITES}
DEFAULT = ["GET /items/{id}", "POST /predict/", "POST /v2/models/linear/infer"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="the build to compare against (before)")
    ap.add_argument("--b", required=True, help="the build being judged (after)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3, help="duration of each measurement")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                    help=f"scenarios to run (default: {', '.join(DEFAULT)})")
    ap.add_argument("--instructions", type=int, metavar="N", default=0,
                    help="count instructions per request over N requests under callgrind instead")
    ap.add_argument("--data-dir", help="where the builds' SQLite databases go (default: a new "
                    "temporary folder); /dev/shm takes the disk out of the durable writes")
    args = ap.parse_args()
    if args.instructions:
        return compare_instructions(args)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: bench/run installs it (apt-get install wrk)")

    tmp = tempfile.mkdtemp(prefix="itemserve-compare-", dir=args.data_dir)
    processes = [subprocess.Popen([str(bench.BASELINE), bench.BASELINE_ADDR], stdout=subprocess.DEVNULL)]
    servers = {}
    pids = {"baseline": processes[0].pid}
    auth = {"baseline": {}}
    next_delete = {"A": bench.DELETE_IDS, "B": bench.DELETE_IDS}
    try:
        for label, binary, addr in (("A", args.a, "127.0.0.1:3903"), ("B", args.b, "127.0.0.1:3904")):
            process, base = bench.start_server(binary, addr, f"{tmp}/{label}")
            processes.append(process)
            servers[label] = base
            pids[label] = process.pid
        bench.wait_ready(f"http://{bench.BASELINE_ADDR}/items/1")
        for label, base in servers.items():
            auth[label] = bench.seed(base)

        ratios = {name: {"A": [], "B": []} for name in args.scenario or DEFAULT}
        cpu = {name: {"A": [], "B": [], "baseline": []} for name in ratios}
        for round_no in range(args.rounds):
            for name in ratios:
                path, method, body = SCENARIOS[name]
                targets = [("baseline", f"http://{bench.BASELINE_ADDR}/items/1", "GET", None)]
                targets += [(label, base + path, method, body) for label, base in servers.items()]
                shift = round_no % len(targets)
                rps = {}
                for label, url, m, b in targets[shift:] + targets[:shift]:
                    writes, lua = label != "baseline" and name in DURABLE, None
                    if writes and m == "DELETE":
                        lua, next_delete[label] = bench.stock_deletes(
                            servers[label], auth[label], next_delete[label], args.seconds)
                    cpu_before = cpu_ns(pids[label])
                    r = bench.wrk(url, args.seconds, args.connections, m, b, tmp,
                                  auth[label] if writes else None, lua)
                    if r["errors"]:
                        raise SystemExit(f"{label} {name}: {r['errors']} failed requests")
                    rps[label] = r["rps"]
                    cpu[name][label].append((cpu_ns(pids[label]) - cpu_before) / r["requests"] / 1000)
                for label in ("A", "B"):
                    ratios[name][label].append(rps[label] / rps["baseline"])
                print(f"  round {round_no + 1}: {name}: baseline {rps['baseline']:.0f}, "
                      f"A {rps['A']:.0f}, B {rps['B']:.0f} req/s", file=sys.stderr)
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"A = {args.a}\nB = {args.b}")
    print(f"{args.rounds} rounds, wrk -t1 -c{args.connections} {args.seconds}s; ratio to the baseline "
          "of the same round: median (min–max)")
    print()
    print(f"| {'scenario':<30} | {'A':>17} | {'B':>17} | {'B vs A':>7} |")
    print(f"|{'-' * 32}|{'-' * 19}|{'-' * 19}|{'-' * 9}|")

    def cell(values):
        return f"{statistics.median(values):.1%} ({min(values):.0%}–{max(values):.0%})"

    for name, by in ratios.items():
        change = statistics.median(by["B"]) / statistics.median(by["A"]) - 1
        print(f"| {name:<30} | {cell(by['A']):>17} | {cell(by['B']):>17} | {change:>+7.1%} |")

    print()
    print("server CPU time per request (µs, kernel included): median (min–max); the baseline "
          "answers GET /items/1 in every scenario")
    print()
    print(f"| {'scenario':<30} | {'baseline':>17} | {'A':>17} | {'B':>17} | {'B vs A':>7} |")
    print(f"|{'-' * 32}|{'-' * 19}|{'-' * 19}|{'-' * 19}|{'-' * 9}|")

    def micros(values):
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    for name, by in cpu.items():
        change = statistics.median(by["B"]) / statistics.median(by["A"]) - 1
        print(f"| {name:<30} | {micros(by['baseline']):>17} | {micros(by['A']):>17} | "
              f"{micros(by['B']):>17} | {change:>+7.1%} |")


def cpu_ns(pid):
    """Nanoseconds the process's threads have spent on a CPU so far."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total


def requests(addr, path, method, body, n):
    """Sends `n` requests one after another on one keep-alive connection."""
    host, port = addr.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    data = json.dumps(body) if body is not None else None
    headers = {"content-type": "application/json"} if body is not None else {}
    for _ in range(n):
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{method} {path}: {response.status}")
    connection.close()


def instructions_per_request(binary, scenarios, n, tmp):
    """Runs `binary` under callgrind; instructions per request by scenario."""
    addr = "127.0.0.1:3905"
    out = Path(tmp) / "callgrind"
    out.mkdir()
    process, _ = bench.start_server(binary, addr, tmp,
                                    wrapper=("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg.%p"),
                                    ready_timeout=180)
    counts = {}
    try:
        for name in scenarios:
            path, method, body = SCENARIOS[name]
            requests(addr, path, method, body, 200)
            subprocess.run(["callgrind_control", "--zero", str(process.pid)], check=True, capture_output=True)
            requests(addr, path, method, body, n)
            before = set(out.iterdir())
            subprocess.run(["callgrind_control", "--dump", str(process.pid)], check=True, capture_output=True)
            deadline = time.monotonic() + 30
            while not (set(out.iterdir()) - before) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
            (dump,) = set(out.iterdir()) - before
            summary = next(line for line in dump.read_text().splitlines()
                           if line.startswith(("summary:", "totals:")))
            counts[name] = int(summary.split()[1]) / n
    finally:
        process.terminate()
        process.wait()
    return counts


def compare_instructions(args):
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is missing: apt-get install valgrind")
    scenarios = args.scenario or DEFAULT
    writes = [name for name in scenarios if name in DURABLE]
    if writes:
        raise SystemExit(f"{', '.join(writes)}: the durable writes are compared by requests/s "
                         "(without --instructions): their cost is mostly the disk's")
    tmp = tempfile.mkdtemp(prefix="itemserve-instructions-")
    try:
        results = {}
        for label, binary in (("A", args.a), ("B", args.b)):
            (Path(tmp) / label).mkdir()
            results[label] = instructions_per_request(binary, scenarios, args.instructions, f"{tmp}/{label}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"A = {args.a}\nB = {args.b}")
    print(f"instructions per request in the server process (callgrind), {args.instructions} sequential requests")
    print()
    print(f"| {'scenario':<30} | {'A':>9} | {'B':>9} | {'B vs A':>7} |")
    print(f"|{'-' * 32}|{'-' * 11}|{'-' * 11}|{'-' * 9}|")
    for name in scenarios:
        a, b = results["A"][name], results["B"][name]
        print(f"| {name:<30} | {a:>9.0f} | {b:>9.0f} | {b / a - 1:>+7.1%} |")


if __name__ == "__main__":
    main()
