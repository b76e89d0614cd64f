#!/usr/bin/env python3
"""itemserve at scale: fills a catalogue of N items (default 10 000 000),
starts the release server on it and prints, for each read path, p50 and p99
over repeated requests each taken right after a write (a live catalogue is
written to all the time, so the caches kept per revision rarely answer).

    bench/scale.py [--items N] [--database-url postgres://...] [--rounds 40]

The items are written straight into the database with the server stopped,
in the shape the server writes them (folded search text; the counts kept by
the database's triggers), each with one revision in its history (as an
import records), and a tenth as many again in the trash, after the server
has created the schema; the time the
server then takes to be ready is printed too. Last, bulk actions on 10 000
random items (`--only bulk` for those alone).

Needs a release build (bench/run or scripts/run builds one) and, for
PostgreSQL, psql.
"""

import argparse
import base64
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import SERVER, bench_database, http, http_raw, login, start_server  # noqa: E402

ADDR = "127.0.0.1:3903"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
         "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]
CATEGORIES = 20
BATCH = 200_000

# The read paths, as in the issue that asked for them; `{id}` is a random
# existing item, `{cursor}` the cursor of the page that `skip=900000` reads
# (the `Link` of the page before it).
READS = [
    ("GET /items/{id}", "/items/{id}"),
    ("GET /items/?limit=20 (by id)", "/items/?limit=20"),
    ("GET /items/?limit=20&sort=name", "/items/?limit=20&sort=name"),
    ("GET /items/?limit=20&sort=-price", "/items/?limit=20&sort=-price"),
    ("GET /items/?limit=20&sort=-updated_at", "/items/?limit=20&sort=-updated_at"),
    ("GET /items/?skip=900000&limit=20", "/items/?skip=900000&limit=20"),
    ("GET /items/?cursor=… (the same page)", "/items/?limit=20&cursor={cursor}"),
    ("GET /search/?q=juliet", "/search/?q=juliet&limit=20"),
    ("GET /search/?q=123456 (rare)", "/search/?q=123456&limit=20"),
    ("GET /search/?q=123456&sort=name (rare)", "/search/?q=123456&sort=name&limit=20"),
    ("GET /search/?q=juliet&sort=-price", "/search/?q=juliet&sort=-price&limit=20"),
    ("GET /search/?q=ju (two characters)", "/search/?q=ju&limit=20"),
    ("GET /search/?q=zq (two characters, none)", "/search/?q=zq&limit=20"),
    ("GET /filter/?category=cat7&price_lt=10", "/filter/?category=cat7&price_lt=10&limit=20"),
    ("GET /items/?category=cat7&sort=-price", "/items/?category=cat7&sort=-price&limit=20"),
    ("GET / (item page)", "/"),
    ("GET /items/{id}/history", "/items/{id}/history?limit=20"),
    ("GET /trash?limit=20", "/trash?limit=20"),
    ("GET /trash?cursor=… (halfway)", "/trash?limit=20&cursor={trash_cursor}"),
    ("GET /trash?q=juliet", "/trash?q=juliet&limit=20"),
]

# A tenth as many items again are in the trash (deleted one a millisecond
# from a day ago, well within the trash's retention), with ids after theirs.
TRASH_SHARE = 10
TRASH_EPOCH = int(time.time()) - 86_400

def row(i, rng):
    """One item: (id, name, description, category, price) with folded text."""
    name = f"item {i} {WORDS[i % len(WORDS)]}"
    description = None if i % 4 == 0 else f"{WORDS[(i * 7) % len(WORDS)]} thing number {i}"
    category = None if i % 9 == 0 else f"cat{i % CATEGORIES}"
    price = None if i % 11 == 0 else round(rng.random() * 1000, 2)
    return i, name, description, category, price


def fill_sqlite(path, n):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    rng = random.Random(7)
    conn.execute("DELETE FROM items")
    conn.execute("DELETE FROM item_revisions")
    start = time.time()
    for first in range(1, n + 1, BATCH):
        rows = []
        for i in range(first, min(first + BATCH, n + 1)):
            i, name, description, category, price = row(i, rng)
            rows.append((i, name, description, category, price, now, now, name.casefold(),
                         description and description.casefold(),
                         category and category.casefold()))
        conn.executemany(
            "INSERT INTO items (id, name, description, category, price, created_at, updated_at, "
            "name_folded, description_folded, category_folded) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        conn.executemany(
            "INSERT INTO item_revisions (item_id, version, action, at, door, name, description, "
            "category, price, created_at, had_before) "
            "VALUES (?, 1, 'import', ?, 'import', ?, ?, ?, ?, ?, 0)",
            [(r[0], now, r[1], r[2], r[3], r[4], now) for r in rows])
        progress(first + len(rows) - 1, n, start)
    trashed = n // TRASH_SHARE
    conn.execute("DELETE FROM item_tombstones")
    for first in range(n + 1, n + trashed + 1, BATCH):
        rows = []
        for i in range(first, min(first + BATCH, n + trashed + 1)):
            i, name, description, category, price = row(i, rng)
            rows.append((i, name, description, category, price, now, trash_time(i - n),
                         name.casefold(), description and description.casefold()))
        conn.executemany(
            "INSERT INTO item_tombstones (id, version, name, description, category, price, "
            "created_at, deleted_at, deleted_by, name_folded, description_folded) "
            "VALUES (?, 2, ?, ?, ?, ?, ?, ?, 'bench', ?, ?)", rows)
    conn.execute("UPDATE item_id_counter SET last = ?", (n + trashed,))
    # Rows written here, past the server, go into the search index in one
    # pass, as the migration that made it does.
    indexing = time.time()
    conn.execute("INSERT INTO item_search (item_search) VALUES ('rebuild')")
    conn.execute("DELETE FROM item_search_pending")
    print(f"\nsearch index built in {time.time() - indexing:.0f} s", file=sys.stderr, end="")
    conn.commit()
    conn.close()
    print(file=sys.stderr)


def fill_postgres(url, n):
    start = time.time()
    # The server builds the search indexes when it starts and finds them
    # missing (the "ready after" figure then includes that build): faster
    # than keeping them row by row through the fill.
    psql(url, "DROP INDEX IF EXISTS items_name_trgm, items_description_trgm")
    psql(url, "DELETE FROM items")
    for first in range(1, n + 1, BATCH * 5):
        last = min(first + BATCH * 5 - 1, n)
        words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
        psql(url, f"""
            INSERT INTO items (id, name, description, category, price, created_at, updated_at,
                               name_folded, description_folded, category_folded)
            SELECT g, n, d, c, p, now, now, n, d, c FROM (
                SELECT g,
                  'item ' || g || ' ' || ({words})[g % {len(WORDS)} + 1] AS n,
                  CASE WHEN g % 4 = 0 THEN NULL ELSE
                    ({words})[(g * 7) % {len(WORDS)} + 1] || ' thing number ' || g END AS d,
                  CASE WHEN g % 9 = 0 THEN NULL ELSE 'cat' || (g % {CATEGORIES}) END AS c,
                  CASE WHEN g % 11 = 0 THEN NULL ELSE round((random() * 1000)::numeric, 2)::float8
                    END AS p,
                  to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS now
                FROM generate_series({first}, {last}) g) s""")
        progress(last, n, start)
    psql(url, "DELETE FROM item_revisions")
    psql(url, """
        INSERT INTO item_revisions (item_id, version, action, at, door, name, description,
                                    category, price, created_at, had_before)
        SELECT id, 1, 'import', created_at, 'import', name, description, category, price,
               created_at, FALSE FROM items""")
    words = "ARRAY[" + ",".join(f"'{w}'" for w in WORDS) + "]"
    trashed = n // TRASH_SHARE
    psql(url, "DELETE FROM item_tombstones")
    psql(url, f"""
        INSERT INTO item_tombstones (id, version, name, description, category, price,
                                     created_at, deleted_at, deleted_by, name_folded,
                                     description_folded)
        SELECT g, 2, n, d, NULL, NULL, at, at, 'bench', n, d FROM (
            SELECT g,
              'item ' || g || ' ' || ({words})[g % {len(WORDS)} + 1] AS n,
              CASE WHEN g % 4 = 0 THEN NULL ELSE
                ({words})[(g * 7) % {len(WORDS)} + 1] || ' thing number ' || g END AS d,
              to_char(timestamp '{time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(TRASH_EPOCH))}'
                      + (g - {n}) * interval '1 millisecond',
                      'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
            FROM generate_series({n + 1}, {n + trashed}) g) s""")
    psql(url, f"SELECT setval('item_ids', {n + trashed})")
    psql(url, "VACUUM ANALYZE item_tombstones")
    psql(url, "VACUUM ANALYZE items")
    psql(url, "VACUUM ANALYZE item_revisions")
    print(file=sys.stderr)


def trash_time(k):
    """When the k-th item of the trash was deleted: a millisecond apart."""
    at = TRASH_EPOCH + k // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{k % 1000:03d}Z"


def trash_cursor(n):
    """The cursor of the position halfway down the trash (as the server
    writes them: base64url of a JSON array)."""
    k = n // TRASH_SHARE // 2
    fields = json.dumps([1, "trash", trash_time(k), n + k], separators=(",", ":"))
    return base64.urlsafe_b64encode(fields.encode()).decode().rstrip("=")


def progress(done, n, start):
    rate = done / max(time.time() - start, 1e-9)
    print(f"\r  {done:,} of {n:,} items ({rate:,.0f} rows/s)", end="", file=sys.stderr, flush=True)


def psql(url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def next_cursor(base, path):
    """The cursor of the `rel="next"` link of the page at `path`."""
    _, headers, _ = http_raw("GET", base + path, None, {})
    link = next(v for k, v in headers.items() if k.lower() == "link")
    target = next(part for part in link.split(", ") if part.endswith('rel="next"'))
    return target.split("cursor=", 1)[1].split(">", 1)[0].split("&", 1)[0]


def measure(base, auth, n, rounds, only=()):
    rng = random.Random(11)
    results = []
    cursor = next_cursor(base, "/items/?skip=899980&limit=20")
    for label, path in READS:
        if only and not any(o in label for o in only):
            continue
        times = []
        for _ in range(rounds):
            target = rng.randint(1, n)
            http("PATCH", f"{base}/items/{target}", {"price": round(rng.random() * 100, 2)},
                 {**auth, "content-type": "application/merge-patch+json"})
            url = (base + path.replace("{id}", str(rng.randint(1, n))).replace("{cursor}", cursor)
                   .replace("{trash_cursor}", trash_cursor(n)))
            start = time.perf_counter()
            try:
                http_raw("GET", url, None, {"accept": "text/html" if path == "/" else "*/*"})
            except urllib.error.HTTPError as e:
                raise SystemExit(f"{label}: {e.code} {e.read()[:200]!r}")
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p50 = statistics.median(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        results.append((label, p50, p99))
        print(f"  {label:<44} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms", flush=True)
    return results


# Bulk actions on this many random items at once (the most one takes).
BULK_ITEMS = 10_000
BULK_ROUNDS = 3


def measure_bulk(base, auth, n):
    """Times `POST /items/bulk` on 10 000 random items: set a category,
    delete them, restore them (each recorded in every item's history)."""
    rng = random.Random(13)
    times = {"set": [], "delete": [], "restore": []}
    for round_ in range(BULK_ROUNDS):
        ids = rng.sample(range(1, n + 1), BULK_ITEMS)
        for action, extra in [("set", {"values": {"category": f"bulk{round_}"}}),
                              ("delete", {}), ("restore", {})]:
            start = time.perf_counter()
            _, _, body = http("POST", f"{base}/items/bulk", {"action": action, "ids": ids, **extra},
                              auth)
            times[action].append((time.perf_counter() - start) * 1000)
            answer = json.loads(body)
            if answer["count"] != BULK_ITEMS:
                raise SystemExit(f"bulk {action}: {answer}")
    for action, spent in times.items():
        label = f"POST /items/bulk {action}, {BULK_ITEMS:,} ids"
        print(f"  {label:<44} p50 {statistics.median(spent):8.1f} ms   "
              f"max {max(spent):8.1f} ms", flush=True)


def run_server(database_url, data_dir):
    start = time.time()
    process, base = start_server(SERVER, ADDR, data_dir, database_url=database_url,
                                 ready_timeout=3600)
    return process, base, time.time() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=10_000_000)
    ap.add_argument("--database-url", help="postgres://... (default: a new SQLite file)")
    ap.add_argument("--rounds", type=int, default=40, help="requests per read path")
    ap.add_argument("--only", action="append", default=[],
                    help="measure only the read paths whose label contains this text (repeatable)")
    args = ap.parse_args()
    if not SERVER.exists():
        raise SystemExit(f"{SERVER} is missing: build the release server first (bench/run)")
    database_url, cleanup = bench_database(args.database_url)
    backend = "postgres" if database_url else "sqlite"
    with tempfile.TemporaryDirectory(prefix="itemserve-scale-") as data_dir:
        target = database_url or f"{data_dir}/bench.db"
        try:
            process, _, _ = run_server(database_url, data_dir)
            process.terminate()
            process.wait()
            print(f"filling {args.items:,} items ({backend})", file=sys.stderr)
            start = time.time()
            (fill_postgres if database_url else fill_sqlite)(target, args.items)
            print(f"filled in {time.time() - start:.0f} s", file=sys.stderr)
            process, base, started = run_server(database_url, data_dir)
            try:
                print(f"{backend}, {args.items:,} items (ready after {started:.1f} s):",
                      flush=True)
                auth = login(base)
                measure(base, auth, args.items, args.rounds, args.only)
                if not args.only or any("bulk" in o for o in args.only):
                    measure_bulk(base, auth, args.items)
            finally:
                process.terminate()
                process.wait()
        finally:
            cleanup()


if __name__ == "__main__":
    main()
