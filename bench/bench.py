#!/usr/bin/env python3
"""itemserve benchmark: drives the release server and a bare axum baseline
with wrk from a second process on loopback and prints one table (plus a JSON
file). Every scenario is shown as a ratio to the baseline measured right
before and right after it (their mean), because absolute figures drift on a
shared machine within a run; with `--repeat N` the whole sequence runs N
times and the table shows medians with their range (the spread).

Run it through bench/run, which builds what it needs first.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "target" / "release" / "itemserve"
BASELINE = ROOT / "target" / "bench-baseline" / "release" / "bench-baseline"
SERVER_ADDR = "127.0.0.1:3902"
BASELINE_ADDR = "127.0.0.1:3901"


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    return http_raw(method, url, data, {"content-type": "application/json", **(headers or {})})


def http_raw(method, url, data, headers):
    req = urllib.request.Request(url, data=data, method=method)
    for k, v in headers.items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, dict(resp.headers), resp.read()


BENCH_ADMIN_PASSWORD = "bench-admin-password"


def login(base):
    """A bearer header for the admin, or none for a build without logins."""
    form = urllib.parse.urlencode({"username": "admin", "password": BENCH_ADMIN_PASSWORD}).encode()
    try:
        _, _, body = http_raw("POST", f"{base}/auth/token", form,
                              {"content-type": "application/x-www-form-urlencoded"})
    except urllib.error.HTTPError:
        return {}
    return {"authorization": f"Bearer {json.loads(body)['access_token']}"}


def wait_ready(url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except Exception:
            time.sleep(0.002)
    raise SystemExit(f"server at {url} did not become ready")


PREDICT_ROW = {"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}
V2_ROW = {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1.5, 2.3, 0.8]}]}


def start_server(binary, addr, data_dir, wrapper=(), ready_timeout=30.0, database_url=None,
                 models_dir=None):
    """Starts a release server on `addr` with a new SQLite database in
    `data_dir`, or on `database_url` when given (under `wrapper`, e.g. a
    valgrind command line, when given), serving the models of `models_dir`
    (default: the shipped ones); returns the process and its base URL once
    it is ready."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LEPTOS_SITE_ADDR=addr, LEPTOS_SITE_ROOT=str(ROOT / "target" / "site"),
               LEPTOS_ENV="PROD", DATABASE_URL=database_url or f"sqlite://{data_dir}/bench.db",
               RUST_LOG="warn",
               MODELS_DIR=str(models_dir or ROOT / "models"),
               # The rate limiter stays in the path (its cost is measured) but
               # never refuses: the load comes from one address.
               ITEMSERVE_RATE_LIMIT="1000000000",
               # Writes are made as this admin, with a bearer token, as a
               # script would; reads stay anonymous (public by default).
               ITEMSERVE_ADMIN_PASSWORD=BENCH_ADMIN_PASSWORD)
    process = subprocess.Popen([*wrapper, str(binary)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL if wrapper else None)
    base = f"http://{addr}"
    try:
        wait_ready(f"{base}/readyz", timeout=ready_timeout)
    except BaseException:
        process.kill()
        raise
    return process, base


def bench_database(url):
    """The database URL to run on, and how to clean it up afterwards. For a
    PostgreSQL server, a new database (with psql) so that every run starts
    empty, as the SQLite one does."""
    if not url or not url.startswith(("postgres://", "postgresql://")):
        return url, lambda: None
    base, _, query = url.partition("?")
    server, _, _ = base.rpartition("/")
    name = f"itemserve_bench_{os.getpid()}"

    def psql(sql):
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                       stdout=subprocess.DEVNULL)
    psql(f"CREATE DATABASE {name}")
    return f"{server}/{name}" + (f"?{query}" if query else ""), \
        lambda: psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def seed(base):
    """Logs in as the admin and stores the 100 items the reads use; returns
    the admin's bearer header for the write scenarios."""
    auth = login(base)
    for i in range(100):
        http("POST", f"{base}/items/", headers=auth, body={"name": f"Bench item {i:03}", "description": "x" * 40,
                                        "category": ["Lighting", "Furniture", "Textiles"][i % 3], "price": i + 0.5})
    return auth


def main_wasm():
    """The main WASM module of the last release build: `itemserve.<hash>.wasm`
    as named in the hash file the build writes beside the binary, or the
    plain name of a build without hashes."""
    pkg = ROOT / "target" / "site" / "pkg"
    hash_file = ROOT / "target" / "release" / "hash.txt"
    if hash_file.exists():
        for line in hash_file.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "wasm":
                return pkg / f"itemserve.{value.strip()}.wasm"
    return pkg / "itemserve.wasm"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """Samples a process's RSS every 50 ms while scenarios run."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0, True

    def run(self):
        while self.running:
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.05)


# Deletes a new id each request: the ids stocked for it, one after another.
LUA_DELETE = """
wrk.method = "DELETE"
next_id = {first}
request = function()
  next_id = next_id + 1
  return wrk.format(nil, "/items/" .. next_id)
end
"""

# Items stocked before each DELETE run, per second of it: more than it can
# delete (a run that runs out counts 404s as errors).
DELETE_STOCK_PER_SECOND = 60_000
# Where the stocked ids start (past anything the other scenarios create).
DELETE_IDS = 10_000_000


def stock(base, auth, first, count):
    """Imports items `first + 1` to `first + count`, for deletes."""
    lines = "".join(f'{{"id": {first + n}, "name": "to delete {n}"}}\n' for n in range(1, count + 1))
    http_raw("POST", f"{base}/items/import", lines.encode(),
             {"content-type": "application/x-ndjson", **auth})


def stock_deletes(base, auth, first, seconds):
    """Stocks the items a DELETE run of `seconds` deletes, from id
    `first + 1` on; returns its wrk script and where the next stock starts."""
    count = DELETE_STOCK_PER_SECOND * seconds
    stock(base, auth, first, count)
    return LUA_DELETE.format(first=first), first + count


# The durable writes (made as the admin), as (name, path, method, body);
# a DELETE deletes the ids stocked for it (`stock_deletes`), one a request.
WRITES = [
    ("POST /items/ (durable)", "/items/", "POST", {"name": "bench write", "price": 1.0}),
    ("PUT /items/{id} (durable)", "/items/2", "PUT", {"name": "bench update", "price": 2.0}),
    ("DELETE /items/{id} (durable)", "/items/", "DELETE", None),
]


LUA_BODY = """
wrk.method = "{method}"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{body}]]
"""


def wrk(url, seconds, connections, method="GET", body=None, tmp=None, headers=None, lua=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if body is not None and lua is None:
        lua = LUA_BODY.format(method=method, body=json.dumps(body))
    if lua is not None:
        script = Path(tmp) / f"s{abs(hash((url, method, lua))) % 10**8}.lua"
        script.write_text(lua)
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout

    def latency(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {"rps": rps, "p50_ms": latency(50), "p99_ms": latency(99), "requests": requests, "errors": errors}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=5, help="duration of each scenario")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the whole sequence of scenarios this many times; the table shows "
                         "medians and ranges")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "latest.json"))
    ap.add_argument("--server", type=Path, default=SERVER,
                    help="the itemserve binary to measure (default: the release build), "
                         "e.g. an older build for a before/after comparison")
    ap.add_argument("--database-url",
                    help="run every scenario on this database instead of a new SQLite file, "
                         "e.g. postgres://postgres@127.0.0.1:5432/test; a PostgreSQL server gets "
                         "a new database of its own (dropped afterwards)")
    ap.add_argument("--existing-database", action="store_true",
                    help="use --database-url's PostgreSQL database as it is instead of a new "
                         "one (e.g. one prepared for a comparison); it is not dropped")
    ap.add_argument("--only", action="append", default=[],
                    help="run only scenarios whose name contains this text (repeatable); "
                         "the baseline always runs")
    args = ap.parse_args()
    server_bin = args.server
    for tool in (server_bin, BASELINE):
        if not tool.exists():
            raise SystemExit(f"{tool} is missing: run bench/run, which builds it")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: bench/run installs it (apt-get install wrk)")

    tmp = tempfile.mkdtemp(prefix="itemserve-bench-")
    database_url, drop_database = (
        (args.database_url, lambda: None) if args.existing_database
        else bench_database(args.database_url))
    baseline = subprocess.Popen([str(BASELINE), BASELINE_ADDR], stdout=subprocess.DEVNULL)
    started = time.monotonic()
    server, base = start_server(server_bin, SERVER_ADDR, tmp, database_url=database_url)
    try:
        wait_ready(f"{base}/readyz")
        startup_ms = (time.monotonic() - started) * 1000
        wait_ready(f"http://{BASELINE_ADDR}/items/1")
        time.sleep(0.5)
        rss_idle = rss_kib(server.pid)

        auth = seed(base)

        row = PREDICT_ROW
        batch_1000 = {"instances": [row] * 1000}
        v2_body = V2_ROW
        baseline_url = f"http://{BASELINE_ADDR}/items/1"
        scenarios = [
            ("GET /items/{id}", f"{base}/items/1", "GET", None),
            ("GET /items/?limit=100", f"{base}/items/?limit=100", "GET", None),
            *((name, base + path, method, body) for name, path, method, body in WRITES),
            ("GET / (server-rendered page)", f"{base}/", "GET", None),
            # Signed-in pages are rendered for every request (anonymous
            # ones come from the rendered-page cache until the next write).
            ("GET / signed in (rendered)", f"{base}/", "GET", None),
            ("POST /predict/", f"{base}/predict/", "POST", row),
            ("POST batch predict, 1000 rows", f"{base}/api/models/linear/predict", "POST", batch_1000),
            ("POST /v2/models/linear/infer", f"{base}/v2/models/linear/infer", "POST", v2_body),
        ]
        if args.only:
            scenarios = [s for s in scenarios if any(o in s[0] for o in args.only)]
        sampler = RssSampler(server.pid)
        sampler.start()
        # The baseline runs before the first scenario and after each one, so
        # every scenario has a baseline on either side of it in time.
        baselines = []
        runs = {name: [] for name, *_ in scenarios}
        deleted_from = DELETE_IDS
        for repeat in range(args.repeat):
            before = wrk(baseline_url, args.seconds, args.connections)
            baselines.append(before)
            for name, url, method, body in scenarios:
                as_admin = (method in ("POST", "PUT", "DELETE") and "/items/" in url) \
                    or "signed in" in name
                lua = None
                if method == "DELETE":
                    lua, deleted_from = stock_deletes(base, auth, deleted_from, args.seconds)
                r = wrk(url, args.seconds, args.connections, method, body, tmp,
                        auth if as_admin else None, lua)
                after = wrk(baseline_url, args.seconds, args.connections)
                baselines.append(after)
                r["ratio"] = r["rps"] / ((before["rps"] + after["rps"]) / 2)
                runs[name].append(r)
                before = after
                print(f"  run {repeat + 1}: {name}: {r['rps']:.0f} req/s, "
                      f"{r['ratio']:.0%} of the baseline around it", file=sys.stderr)
        sampler.running = False
        sampler.join()

        # The model's own time for 10 000 rows, from the Server-Timing header.
        # Bodies are encoded before the clock starts: Python's json.dumps of
        # 10 000 rows takes longer than the server's whole answer.
        json_headers = {"content-type": "application/json"}
        big = json.dumps({"instances": [row] * 10_000}).encode()
        inference_ms, request_ms = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            _, headers, _ = http_raw("POST", f"{base}/api/models/linear/predict", big, json_headers)
            request_ms.append((time.perf_counter() - t0) * 1000)
            timing = headers.get("server-timing") or headers.get("Server-Timing") or ""
            m = re.search(r"dur=([\d.]+)", timing)
            if m:
                inference_ms.append(float(m.group(1)))

        # The same 10 000 rows as one flat v2 tensor (no per-row JSON objects).
        v2_big = json.dumps({"inputs": [{"name": "input", "shape": [10_000, 3], "datatype": "FP64",
                                         "data": [1.5, 2.3, 0.8] * 10_000}]}).encode()
        v2_ms = []
        for _ in range(20):
            t0 = time.perf_counter()
            http_raw("POST", f"{base}/v2/models/linear/infer", v2_big, json_headers)
            v2_ms.append((time.perf_counter() - t0) * 1000)

        # The same rows in the v2 binary tensor data extension: a JSON header,
        # then the raw little-endian float64 values, and the output as raw bytes.
        tensor = struct.pack("<30000d", *([1.5, 2.3, 0.8] * 10_000))
        header = json.dumps({
            "inputs": [{"name": "input", "shape": [10_000, 3], "datatype": "FP64",
                        "parameters": {"binary_data_size": len(tensor)}}],
            "outputs": [{"name": "variable", "parameters": {"binary_data": True}}],
        }).encode()
        v2_binary_ms = []
        for _ in range(20):
            t0 = time.perf_counter()
            http_raw("POST", f"{base}/v2/models/linear/infer", header + tensor,
                     {"content-type": "application/octet-stream",
                      "inference-header-content-length": str(len(header))})
            v2_binary_ms.append((time.perf_counter() - t0) * 1000)

        # Server-side render of the item page showing 100 items (a new
        # page each time, so none comes from the rendered-page cache).
        render_ms = []
        for i in range(30):
            t0 = time.perf_counter()
            http("GET", f"{base}/?limit=100&skip={i}")
            render_ms.append((time.perf_counter() - t0) * 1000)

        wasm = main_wasm()
        wasm_raw = wasm.stat().st_size if wasm.exists() else None
        wasm_gz = len(gzip.compress(wasm.read_bytes(), 9)) if wasm.exists() else None
        # What browsers that do not take brotli receive: the build's gzip copy.
        wasm_gz_file = wasm.with_name(wasm.name + ".gz")
        wasm_gz_served = wasm_gz_file.stat().st_size if wasm_gz_file.exists() else None
        # What browsers receive: the build's brotli copy (--precompress).
        wasm_br_file = wasm.with_name(wasm.name + ".br")
        wasm_br = wasm_br_file.stat().st_size if wasm_br_file.exists() else None
    finally:
        server.terminate()
        baseline.terminate()
        server.wait()
        baseline.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        drop_database()

    results = [summarize("baseline: bare axum GET /items/1", baselines, with_ratio=False)]
    results += [summarize(name, measured) for name, measured in runs.items()]
    extras = {
        "database": (database_url or "sqlite").split(":")[0],
        "startup_to_ready_ms": round(startup_ms, 1),
        "rss_idle_mib": round(rss_idle / 1024, 1),
        "rss_peak_under_load_mib": round(sampler.peak / 1024, 1),
        "batch_10000_linear_inference_ms_median": round(statistics.median(inference_ms), 3) if inference_ms else None,
        "batch_10000_linear_request_ms_median": round(statistics.median(request_ms), 1),
        "batch_10000_linear_v2_tensor_request_ms_median": round(statistics.median(v2_ms), 1),
        "batch_10000_linear_v2_binary_request_ms_median": round(statistics.median(v2_binary_ms), 1),
        "ssr_100_items_ms_median": round(statistics.median(render_ms), 2),
        "wasm_bytes": wasm_raw,
        "wasm_gzip_bytes": wasm_gz,
        "wasm_gzip_bytes_served": wasm_gz_served,
        "wasm_brotli_bytes_served": wasm_br,
    }

    print()
    print(f"itemserve benchmark — wrk -t1 -c{args.connections}, {args.seconds}s per scenario, loopback, "
          f"{os.cpu_count()} cores shared by server and load; "
          + (f"medians (range) of {args.repeat} runs; " if args.repeat > 1 else "")
          + "ratio to the mean of the baseline runs just before and after each scenario")
    print()
    print(f"| {'scenario':<34} | {'req/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | {'errors':>6} | {'vs baseline':>17} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 9}|{'-' * 9}|{'-' * 8}|{'-' * 19}|")
    for r in results:
        p50 = f"{r['p50_ms']:.2f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r["p99_ms"] is not None else "-"
        if "ratio" not in r:  # the baseline: its own spread over the run
            spread = f"{r['rps_min']:.0f}–{r['rps_max']:.0f} req/s"
        elif len(r["runs"]) > 1:
            spread = f"{r['ratio']:.0%} ({r['ratio_min']:.0%}–{r['ratio_max']:.0%})"
        else:
            spread = f"{r['ratio']:.0%}"
        print(f"| {r['scenario']:<34} | {r['rps']:>9.0f} | {p50:>7} | {p99:>7} | {r['errors']:>6} | {spread:>17} |")
    print()
    for key, value in extras.items():
        print(f"  {key.replace('_', ' ')}: {value}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"scenarios": results, **extras}, indent=2))
    print(f"\n  JSON: {args.out}")
    if any(r["errors"] for r in results):
        raise SystemExit("some requests failed")


def summarize(name, measured, with_ratio=True):
    """One table row from the runs of a scenario: medians, and the range of
    the ratios (and of the baseline's own requests/s)."""
    def median(key):
        values = [r[key] for r in measured if r[key] is not None]
        return statistics.median(values) if values else None

    row = {"scenario": name, "rps": median("rps"), "p50_ms": median("p50_ms"),
           "p99_ms": median("p99_ms"), "errors": sum(r["errors"] for r in measured),
           "rps_min": min(r["rps"] for r in measured), "rps_max": max(r["rps"] for r in measured),
           "runs": measured}
    if with_ratio:
        row.update(ratio=median("ratio"), ratio_min=min(r["ratio"] for r in measured),
                   ratio_max=max(r["ratio"] for r in measured))
    return row


if __name__ == "__main__":
    main()
