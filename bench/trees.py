#!/usr/bin/env python3
"""How fast the server runs a tree ensemble, beside scikit-learn and
onnxruntime on the same rows: a random forest of 200 trees of depth 8
(`RandomForestRegressor`, 8 features, trained on 20 000 generated rows) asked
for 10 000 rows at once, and for one row.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -r models/requirements.txt
    /tmp/v/bin/python bench/trees.py [--rounds 7]

The server is the release build (bench/run or scripts/run builds one), given
a models folder holding only this forest; it is asked through the Open
Inference Protocol's binary tensor form (`POST /v2/models/forest/infer`), so
the time is the request's: reading 320 KB of rows, the trees, and the
answer. Every answer is checked against scikit-learn's within 1e-5.
"""

import argparse
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import SERVER, http_raw, start_server  # noqa: E402

ADDR = "127.0.0.1:3905"
FEATURES = 8
ROWS = 10_000


def median_ms(run, rounds):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def write_model(folder, forest):
    model = convert_sklearn(forest, initial_types=[("input", FloatTensorType([None, FEATURES]))],
                            target_opset={"": 17, "ai.onnx.ml": 3})
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    inputs = "".join(f'[[inputs]]\nname = "x{i}"\ndescription = "generated feature {i}"\n'
                     f"min = -4.0\nmax = 4.0\ndefault = 0.0\n\n" for i in range(FEATURES))
    (folder / "model.toml").write_text(
        'description = "A random forest of 200 trees of depth 8, for bench/trees.py."\n'
        'task = "regression"\nversion = "1.0.0"\n\n' + inputs
        + '[[outputs]]\nname = "variable"\ndescription = "the prediction"\n')
    return model


def infer(base, rows):
    """The binary tensor form: a JSON header, then the rows' bytes; the answer's values."""
    header = json.dumps({
        "inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP32",
                    "parameters": {"binary_data_size": rows.nbytes}}],
        "outputs": [{"name": "variable", "parameters": {"binary_data": True}}],
    }).encode()
    status, headers, body = http_raw(
        "POST", f"{base}/v2/models/forest/infer", header + rows.tobytes(),
        {"content-type": "application/octet-stream",
         "inference-header-content-length": str(len(header))})
    if status != 200:
        raise SystemExit(f"infer answered {status}: {body[:300]!r}")
    length = int({k.lower(): v for k, v in headers.items()}["inference-header-content-length"])
    answer = json.loads(body[:length])
    data = body[length:]
    output = answer["outputs"][0]
    fmt = "<%dd" % (len(data) // 8) if output["datatype"] == "FP64" else "<%df" % (len(data) // 4)
    return np.array(struct.unpack(fmt, data))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--server", type=Path, default=SERVER)
    args = ap.parse_args()
    if not args.server.exists():
        raise SystemExit(f"{args.server} is missing: build the release server first (bench/run)")

    x, y = make_regression(n_samples=20_000 + ROWS, n_features=FEATURES, noise=10.0,
                           random_state=0)
    x = x.astype(np.float32)
    train, rows = x[:20_000], x[20_000:]
    start = time.perf_counter()
    forest = RandomForestRegressor(n_estimators=200, max_depth=8, random_state=0)
    forest.fit(train, y[:20_000])
    print(f"trained 200 trees of depth 8 on 20 000 rows in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    expected = forest.predict(rows)

    with tempfile.TemporaryDirectory(prefix="itemserve-trees-") as tmp:
        tmp = Path(tmp)
        model = write_model(tmp / "models" / "forest", forest)
        session = ort.InferenceSession(model.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        process, base = start_server(args.server, ADDR, tmp / "data", models_dir=tmp / "models")
        try:
            got = infer(base, rows)
            worst = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
            if worst > 1e-5:
                raise SystemExit(f"the server's answers are {worst:.2g} from scikit-learn's")
            one = rows[:1]
            results = [
                ("scikit-learn predict (one thread)", lambda r: forest.set_params(n_jobs=1).predict(r)),
                ("onnxruntime", lambda r: session.run(None, {"input": r})),
                ("itemserve, POST /v2/models/forest/infer", lambda r: infer(base, r)),
            ]
            print(f"{'engine':<42} {'10 000 rows':>12} {'1 row':>10}   (median of {args.rounds})")
            for name, run in results:
                many = median_ms(lambda: run(rows), args.rounds)
                single = median_ms(lambda: run(one), args.rounds * 5)
                print(f"{name:<42} {many:9.1f} ms {single:7.2f} ms", flush=True)
            print(f"largest difference from scikit-learn: {worst:.2g} (relative)")
        finally:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
