#!/usr/bin/env python3
"""itemserve's bulk import and export at scale: writes a CSV file of N items
(default 10 000 000), imports it into an empty catalogue through
`POST /items/import`, exports the catalogue through `GET /items/export`,
imports that export (every row with its id) into a second empty catalogue
and times the first create after it. Prints rows per second and how much
the server's resident memory grew during each, sampled every 50 ms.

    bench/transfer.py [--items N] [--database-url postgres://...]

Needs a release build (bench/run or scripts/run builds one), curl, and for
PostgreSQL psql.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import SERVER, RssSampler, bench_database, http_raw, login, rss_kib, start_server  # noqa: E402
from scale import row  # noqa: E402

ADDR = "127.0.0.1:3904"
# A rare search this fast reads the search index alone.
FAST_SEARCH_MS = 50
# How long to wait for it (a build without the index never gets there).
GIVE_UP_S = 300


def write_csv(path, n):
    """N items without ids (the server assigns them), as scale.py makes them."""
    rng = random.Random(7)
    start = time.time()
    with open(path, "w", newline="") as f:
        f.write("name,description,category,price\r\n")
        for i in range(1, n + 1):
            _, name, description, category, price = row(i, rng)
            f.write(f"{name},{description or ''},{category or ''},{'' if price is None else price}\r\n")
    size = Path(path).stat().st_size
    print(f"  wrote {n:,} rows, {size / 1e6:,.0f} MB, in {time.time() - start:.0f} s", file=sys.stderr)


def timed_curl(pid, args):
    """Runs curl, sampling the server's RSS; seconds taken, MiB grown, curl's output."""
    before = rss_kib(pid)
    sampler = RssSampler(pid)
    sampler.start()
    start = time.perf_counter()
    out = subprocess.run(["curl", "-sS", "--fail-with-body", *args], check=False,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    sampler.running = False
    sampler.join()
    if out.returncode != 0:
        raise SystemExit(f"curl failed ({out.returncode}): {out.stdout[:500]!r} {out.stderr[:500]!r}")
    return took, max(0, sampler.peak - before) / 1024, out.stdout


def import_file(base, pid, auth, path, n, label):
    headers = [arg for k, v in auth.items() for arg in ("-H", f"{k}: {v}")]
    took, grown, answer = timed_curl(pid, [*headers, "-H", "content-type: text/csv", "-X", "POST",
                                           "-T", str(path), f"{base}/items/import"])
    print(f"  {label:<38} {n / took:>10,.0f} rows/s  {took:7.1f} s  RSS +{grown:5.0f} MiB   "
          f"{answer.decode()[:80]}", flush=True)


def export_file(base, pid, path, n):
    took, grown, _ = timed_curl(pid, ["-o", str(path), f"{base}/items/export?format=csv"])
    size = Path(path).stat().st_size
    lines = sum(1 for _ in open(path, "rb")) - 1
    if lines != n:
        raise SystemExit(f"the export has {lines:,} rows, not {n:,}")
    print(f"  {'export (CSV, by id)':<38} {n / took:>10,.0f} rows/s  {took:7.1f} s  RSS +{grown:5.0f} MiB   "
          f"{size / 1e6 / took:,.0f} MB/s", flush=True)


def after_write(base):
    """The item page and the count, read right after the import."""
    start = time.perf_counter()
    http_raw("GET", f"{base}/", None, {"accept": "text/html"})
    page = (time.perf_counter() - start) * 1000
    print(f"  {'GET / right after the import':<38} {page:10.1f} ms", flush=True)


def search_after(base, n):
    """A rare search right after the import, and how long until it is fast
    again: on SQLite the search index is kept behind the writes, and until
    it has taken in every imported row a search also reads the rows not yet
    in it; on PostgreSQL the index is kept with each write."""
    asked = [n // 2]

    def search_ms():
        # A new item each time: a repeated search could be answered from
        # the cache of the last revision's answers.
        asked[0] += 1
        rare = f"/search/?q={asked[0]}%20"
        start = time.perf_counter()
        status, _, body = http_raw("GET", f"{base}{rare}", None, {})
        if status != 200 or not json.loads(body)["items"]:
            raise SystemExit(f"GET {rare} answered {status}: {body[:200]!r}")
        return (time.perf_counter() - start) * 1000

    start = time.time()
    took = search_ms()
    print(f"  {'rare search right after it':<38} {took:10.1f} ms", flush=True)
    while took > FAST_SEARCH_MS and time.time() - start < GIVE_UP_S:
        time.sleep(0.5)
        took = search_ms()
    if took > FAST_SEARCH_MS:
        print(f"  {'rare search still over %d ms after' % FAST_SEARCH_MS:<38} "
              f"{time.time() - start:10.1f} s ({took:.1f} ms)", flush=True)
    else:
        print(f"  {'rare search under %d ms again after' % FAST_SEARCH_MS:<38} "
              f"{time.time() - start:10.1f} s ({took:.1f} ms)", flush=True)


def first_create(base, auth):
    """The first create after an import of chosen ids crosses the run of ids in use."""
    start = time.perf_counter()
    body = json.dumps({"name": "after the import"}).encode()
    status, _, body = http_raw("POST", f"{base}/items/", body,
                               {**auth, "content-type": "application/json"})
    took = (time.perf_counter() - start) * 1000
    if status != 201:
        raise SystemExit(f"POST /items/ after the import answered {status}: {body[:200]!r}")
    print(f"  {'first POST /items/ after it':<38} {took:10.1f} ms   id {json.loads(body)['id']:,}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=10_000_000)
    ap.add_argument("--database-url", help="postgres://... (default: new SQLite files)")
    ap.add_argument("--server", type=Path, default=SERVER,
                    help="the itemserve binary to measure (default: the release build)")
    args = ap.parse_args()
    if not args.server.exists():
        raise SystemExit(f"{args.server} is missing: build the release server first (bench/run)")
    n = args.items
    backend = "postgres" if args.database_url else "sqlite"
    with tempfile.TemporaryDirectory(prefix="itemserve-transfer-") as tmp:
        tmp = Path(tmp)
        source = tmp / "items.csv"
        print(f"writing {n:,} items to {source}", file=sys.stderr)
        write_csv(source, n)
        print(f"{backend}, {n:,} items:", flush=True)
        for step in ("import", "round trip"):
            database_url, cleanup = bench_database(args.database_url)
            data = tmp / step.replace(" ", "-")
            try:
                os.environ["ITEMSERVE_IMPORT_MAX_BYTES"] = str(1 << 40)
                os.environ["ITEMSERVE_SEED_DEMO_ITEMS"] = "false"
                process, base = start_server(args.server, ADDR, data, database_url=database_url,
                                             ready_timeout=600)
                try:
                    auth = login(base)
                    if step == "import":
                        import_file(base, process.pid, auth, source, n, "import (CSV, ids assigned)")
                        after_write(base)
                        search_after(base, n)
                        export_file(base, process.pid, tmp / "export.csv", n)
                    else:
                        import_file(base, process.pid, auth, tmp / "export.csv", n,
                                    "import of the export (ids given)")
                        first_create(base, auth)
                finally:
                    process.terminate()
                    process.wait()
            finally:
                cleanup()


if __name__ == "__main__":
    main()
