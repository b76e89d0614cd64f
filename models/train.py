#!/usr/bin/env python3
"""Train the models shipped with itemserve and export them to ONNX.

Usage (from the repository root):

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -r models/requirements.txt
    /tmp/v/bin/python models/train.py              # writes models/<name>/
    /tmp/v/bin/python models/train.py --out DIR    # writes DIR/<name>/

For every model it writes a folder holding:

    model.onnx      the exported graph (input "input", shape [N, n_features])
    model.toml      description, task, inputs (with the training data's
                    distribution of each, for the drift check), outputs,
                    provenance
    reference.json  a few input rows with scikit-learn's own outputs

The data come only from scikit-learn itself (load_iris, load_diabetes) or are
generated here with a fixed seed, so a rerun gives the same models. Each export
is checked before it is written: its op types must all be ones the server can
run (UNSUPPORTED_OPS below), and onnxruntime's outputs must match scikit-learn's
on the reference rows and the whole held-out split.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split

# Opsets: standard ONNX 17, ai.onnx.ml 1 (what skl2onnx writes; tract reads both).
TARGET_OPSET = {"": 17, "ai.onnx.ml": 1}

# ai.onnx.ml ops that the server cannot run: tract-onnx 0.23.9 lacks them (checked by
# hand against it), and the server adds only the tree ensembles
# (src/server/inference/trees/). A graph that contains any of them would load but fail
# at into_optimized() in the server.
UNSUPPORTED_OPS = {
    "ZipMap", "Scaler", "TreeEnsemble", "SVMRegressor",
    "SVMClassifier", "Imputer", "LabelEncoder", "OneHotEncoder", "Binarizer",
}

# Largest allowed |onnxruntime - scikit-learn| on any output value.
TOLERANCE = 1e-4

# The example request of the original FastAPI app and its answer there.
LINEAR_EXAMPLE = [1.5, 2.3, 0.8]
LINEAR_EXAMPLE_EXPECTED = 6.876654844185817


@dataclass
class Feature:
    name: str
    description: str
    unit: str = ""


@dataclass
class Spec:
    """Everything needed to export, verify and describe one trained model."""

    name: str
    description: str
    task: str  # "regression" or "classification"
    model: object
    features: list[Feature]
    X_train: np.ndarray
    X_test: np.ndarray
    reference_rows: np.ndarray
    dtype: type  # np.float64 (DoubleTensorType) or np.float32 (FloatTensorType)
    dataset: str
    recipe: str
    metric: str
    outputs: list[tuple[str, str]]  # (name, description) for model.toml
    class_labels: list[str] | None = None
    # (min, max) per feature for model.toml; computed from X_train if None
    ranges: list[tuple[float, float]] | None = None
    range_decimals: int = 3
    # default value per feature for model.toml; the training mean if None
    defaults: list[float] | None = None
    # model.toml's version; bump it when the trained model changes
    version: str = "1.0.0"


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def train_linear() -> Spec:
    """The original FastAPI app's model, by its own recipe (`create_default_model`).

    Exactly the original: 1000 rows with features uniform on [0, 10), the target
    y = 2 x1 + 1.5 x2 + 0.5 x3 + N(0, 0.5) noise, an 80/20 split with
    random_state=42, and a LinearRegression fitted on the 80%. The graph takes and
    returns float64, so the served model answers what the original app answers
    (6.876654844185817 for its example) to within rounding.
    """
    np.random.seed(42)
    n_samples = 1000
    X = np.random.rand(n_samples, 3) * 10
    y = 2 * X[:, 0] + 1.5 * X[:, 1] + 0.5 * X[:, 2] + np.random.randn(n_samples) * 0.5
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    model = LinearRegression().fit(X_train, y_train)
    r2 = r2_score(y_test, model.predict(X_test))

    example = float(model.predict(np.array([LINEAR_EXAMPLE]))[0])
    coef = ", ".join(f"{c:.4f}" for c in model.coef_)
    print(f"[linear] prediction for {LINEAR_EXAMPLE}: {example!r}; coefficients [{coef}], "
          f"intercept {model.intercept_:.4f}, R² on the held-out 20% {r2:.4f}")
    assert abs(example - LINEAR_EXAMPLE_EXPECTED) < 1e-12, example

    # Reference rows: the original example first, a few fixed points, then test rows.
    reference_rows = np.vstack([
        [LINEAR_EXAMPLE, [0.0, 0.0, 0.0], [5.0, 5.0, 5.0], [10.0, 10.0, 10.0]],
        X_test[:3],
    ])
    coeffs = {1: "2.0", 2: "1.5", 3: "0.5"}
    features = [
        Feature(
            f"feature{i}",
            f"Synthetic feature {i}, drawn uniformly from [0, 10) in training "
            f"(true coefficient {coeffs[i]}). Values outside that range are accepted "
            "and extrapolate linearly.",
        )
        for i in (1, 2, 3)
    ]
    return Spec(
        name="linear",
        description=(
            "Linear regression on three synthetic features, the model of the original "
            "FastAPI app, trained by its recipe: y = 2*feature1 + 1.5*feature2 + "
            f"0.5*feature3 + noise. For [1.5, 2.3, 0.8] it predicts {example:.6f}."
        ),
        task="regression",
        model=model,
        features=features,
        X_train=X_train,
        X_test=X_test,
        reference_rows=reference_rows,
        dtype=np.float64,
        dataset="generated by train.py exactly as the original app's train_model.py: "
                "1000 rows, X uniform on [0, 10)^3 (np.random.seed(42)), "
                "y = 2*x1 + 1.5*x2 + 0.5*x3 + 0.5*N(0, 1) noise",
        recipe=(
            "train.py, as the original app's create_default_model: np.random.seed(42); "
            "X = np.random.rand(1000, 3) * 10; "
            "y = 2*X[:,0] + 1.5*X[:,1] + 0.5*X[:,2] + np.random.randn(1000) * 0.5; "
            "train_test_split(X, y, test_size=0.2, random_state=42); "
            "LinearRegression() fitted on the 800 training rows; exported with skl2onnx "
            "(DoubleTensorType input, float64 throughout, opset 17)."
        ),
        metric=f"R² on the held-out 20% (200 rows): {r2:.4f}",
        outputs=[("prediction", "Predicted target value y.")],
        ranges=[(0.0, 10.0)] * 3,
        # The page opens on the original app's example request.
        defaults=list(LINEAR_EXAMPLE),
        # 1.0.0 was fitted on features in [0, 1) and all 1000 rows, unlike the original.
        version="2.0.0",
    )


def train_iris() -> Spec:
    """Logistic regression on the iris flowers, integer labels 0/1/2."""
    data = load_iris()
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=42, stratify=y
    )
    model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
    acc = accuracy_score(y_test, model.predict(X_test))
    print(f"[iris] classes {model.classes_.tolist()}, test accuracy {acc:.4f}")

    # Reference rows: the first two held-out rows of each class.
    picks = np.concatenate([np.flatnonzero(y_test == c)[:2] for c in (0, 1, 2)])
    reference_rows = X_test[picks]

    labels = [str(n) for n in data.target_names]
    features = [
        Feature("sepal_length", "Sepal length of the iris flower.", "cm"),
        Feature("sepal_width", "Sepal width of the iris flower.", "cm"),
        Feature("petal_length", "Petal length of the iris flower.", "cm"),
        Feature("petal_width", "Petal width of the iris flower.", "cm"),
    ]
    return Spec(
        name="iris",
        description=(
            "Logistic regression that classifies an iris flower as setosa, versicolor "
            "or virginica from its sepal and petal measurements in cm."
        ),
        task="classification",
        model=model,
        features=features,
        X_train=X_train,
        X_test=X_test,
        reference_rows=reference_rows,
        dtype=np.float32,
        dataset="scikit-learn load_iris (150 rows, 3 classes of 50, bundled with scikit-learn)",
        recipe=(
            "train.py: load_iris(); train_test_split(test_size=0.2, random_state=42, "
            "stratify=y); LogisticRegression(max_iter=1000) fitted on the 120 training "
            "rows with integer targets 0, 1, 2; exported with skl2onnx (FloatTensorType "
            "input, opset 17, zipmap disabled)."
        ),
        metric=f"accuracy on the held-out 20% (30 rows): {acc:.2f}",
        outputs=[
            ("label", "Predicted class index (int64): 0 = setosa, 1 = versicolor, "
                      "2 = virginica; names in [classes].labels."),
            ("probabilities", "Probability of each class (float32), in the order of "
                              "[classes].labels; each row sums to 1."),
        ],
        class_labels=labels,
        range_decimals=1,  # the measurements are given to 0.1 cm
    )


def diabetes_features(data) -> list[Feature]:
    """The ten load_diabetes features, described for model.toml."""
    scaled = ("already scaled by scikit-learn: mean-centred and divided by "
              "std * sqrt(n_samples), so each column has sum of squares 1")
    meanings = {
        "age": "Age in years",
        "sex": "Sex (two values only, one per sex)",
        "bmi": "Body mass index",
        "bp": "Average blood pressure",
        "s1": "tc, total serum cholesterol",
        "s2": "ldl, low-density lipoproteins",
        "s3": "hdl, high-density lipoproteins",
        "s4": "tch, total cholesterol / HDL",
        "s5": "ltg, possibly log of serum triglycerides level",
        "s6": "glu, blood sugar level",
    }
    assert list(meanings) == list(data.feature_names)
    return [Feature(n, f"{meanings[n]}; {scaled}.") for n in data.feature_names]


DIABETES_OUTPUT = ("prediction", "Predicted disease progression one year after baseline "
                                 "(target range in the data set: 25 to 346).")


def train_diabetes() -> Spec:
    """Ridge regression on the diabetes data (features already scaled by sklearn)."""
    data = load_diabetes()
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    model = Ridge(alpha=0.1).fit(X_train, y_train)
    r2 = r2_score(y_test, model.predict(X_test))
    print(f"[diabetes] test R² {r2:.4f}")

    reference_rows = X_test[:6]
    return Spec(
        name="diabetes",
        description=(
            "Ridge regression predicting a quantitative measure of diabetes progression "
            "one year after baseline from ten baseline variables. The inputs are the "
            "scikit-learn load_diabetes features, which are already scaled (mean-centred, "
            "sum of squares 1 per column), not raw clinical units."
        ),
        task="regression",
        model=model,
        features=diabetes_features(data),
        X_train=X_train,
        X_test=X_test,
        reference_rows=reference_rows,
        dtype=np.float64,
        dataset="scikit-learn load_diabetes (442 rows, 10 pre-scaled features, "
                "bundled with scikit-learn)",
        recipe=(
            "train.py: load_diabetes(); train_test_split(test_size=0.2, random_state=42); "
            "Ridge(alpha=0.1) fitted on the 353 training rows; exported with skl2onnx "
            "(DoubleTensorType input, opset 17)."
        ),
        metric=f"R² on the held-out 20% (89 rows): {r2:.2f}",
        outputs=[DIABETES_OUTPUT],
    )


def train_diabetes_boosting() -> Spec:
    """Gradient boosting on the same data and split as `diabetes`, to compare with it."""
    data = load_diabetes()
    X, y = data.data, data.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    model = GradientBoostingRegressor(
        n_estimators=150, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=42
    ).fit(X_train, y_train)
    r2 = r2_score(y_test, model.predict(X_test))
    print(f"[diabetes_boosting] test R² {r2:.4f}")
    return Spec(
        name="diabetes_boosting",
        description=(
            "Gradient boosting (150 trees of depth 3) predicting the same measure of "
            "diabetes progression as the diabetes model, from the same ten pre-scaled "
            "load_diabetes features, trained on the same rows: ask both to compare a "
            "linear model with a tree ensemble."
        ),
        task="regression",
        model=model,
        features=diabetes_features(data),
        X_train=X_train,
        X_test=X_test,
        reference_rows=X_test[:6],
        # scikit-learn's trees compare float32 features, as this graph does.
        dtype=np.float32,
        dataset="scikit-learn load_diabetes (442 rows, 10 pre-scaled features, "
                "bundled with scikit-learn)",
        recipe=(
            "train.py: load_diabetes(); train_test_split(test_size=0.2, random_state=42); "
            "GradientBoostingRegressor(n_estimators=150, learning_rate=0.05, max_depth=3, "
            "subsample=0.8, random_state=42) fitted on the 353 training rows; exported with "
            "skl2onnx (FloatTensorType input, one ai.onnx.ml TreeEnsembleRegressor node)."
        ),
        metric=f"R² on the held-out 20% (89 rows): {r2:.2f}",
        outputs=[DIABETES_OUTPUT],
    )


# --------------------------------------------------------------------------
# Export and verification
# --------------------------------------------------------------------------

def export(spec: Spec) -> onnx.ModelProto:
    """Convert to ONNX with input "input" of shape [None, n_features]."""
    n = len(spec.features)
    tensor_type = DoubleTensorType if spec.dtype == np.float64 else FloatTensorType
    options = None
    if spec.task == "classification":
        # No ZipMap: outputs are "label" (int64 [N]) and "probabilities" (float [N, k]).
        options = {id(spec.model): {"zipmap": False}}
    onx = convert_sklearn(
        spec.model,
        name=spec.name,
        initial_types=[("input", tensor_type([None, n]))],
        target_opset=TARGET_OPSET,
        options=options,
        doc_string=spec.description,
    )
    # skl2onnx 1.20 lists the default domain twice in opset_import for classifiers
    # (("", 17) twice); keep one entry per domain. Note it also lowers the default-
    # domain opset to the smallest one the graph needs (13 for the regressors).
    seen, imports = set(), []
    for imp in onx.opset_import:
        if imp.domain not in seen:
            seen.add(imp.domain)
            imports.append(onnx.helper.make_opsetid(imp.domain, imp.version))
    del onx.opset_import[:]
    onx.opset_import.extend(imports)
    onnx.checker.check_model(onx, full_check=True)
    return onx


def describe_io(onx: onnx.ModelProto) -> list[str]:
    """Human-readable 'name: dtype [dims]' for each graph input and output."""
    def one(kind, v):
        t = v.type.tensor_type
        dims = [d.dim_param or (str(d.dim_value) if d.HasField("dim_value") else "None")
                for d in t.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        return f"{kind} {v.name}: {dtype} [{', '.join(dims)}]"
    return ([one("input ", v) for v in onx.graph.input]
            + [one("output", v) for v in onx.graph.output])


def sklearn_outputs(spec: Spec, X: np.ndarray) -> dict[str, np.ndarray]:
    """scikit-learn's own answers, named like the ONNX outputs."""
    if spec.task == "classification":
        return {"label": spec.model.predict(X), "probabilities": spec.model.predict_proba(X)}
    return {"variable": spec.model.predict(X)}


def verify(spec: Spec, onx: onnx.ModelProto) -> None:
    """Check op types and compare onnxruntime with scikit-learn."""
    ops = sorted({node.op_type for node in onx.graph.node})
    opsets = ", ".join(f"{i.domain or 'ai.onnx'} {i.version}" for i in onx.opset_import)
    print(f"[{spec.name}] ONNX op types: {ops} (opsets: {opsets})")
    bad = UNSUPPORTED_OPS.intersection(ops)
    assert not bad, f"{spec.name}: ops tract cannot run: {sorted(bad)}"
    for line in describe_io(onx):
        print(f"[{spec.name}]   {line}")

    # The exact graph interface the server relies on.
    assert [i.name for i in onx.graph.input] == ["input"]
    out_names = [o.name for o in onx.graph.output]
    expected = ["label", "probabilities"] if spec.task == "classification" else ["variable"]
    assert out_names == expected, out_names

    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    for what, X in (("reference rows", spec.reference_rows), ("test split", spec.X_test)):
        got = dict(zip(out_names, sess.run(None, {"input": X.astype(spec.dtype)})))
        want = sklearn_outputs(spec, X)
        if spec.task == "classification":
            assert got["label"].dtype == np.int64, got["label"].dtype
            assert got["label"].shape == (len(X),)
            assert got["probabilities"].shape == (len(X), len(spec.class_labels))
            labels_equal = bool(np.array_equal(got["label"], want["label"]))
            diff = float(np.max(np.abs(got["probabilities"] - want["probabilities"])))
            print(f"[{spec.name}] onnxruntime vs scikit-learn on {what} ({len(X)} rows): "
                  f"labels equal {labels_equal}, max abs diff of probabilities {diff:.3g}")
            assert labels_equal
        else:
            assert got["variable"].shape == (len(X), 1), got["variable"].shape
            diff = float(np.max(np.abs(got["variable"][:, 0] - want["variable"])))
            print(f"[{spec.name}] onnxruntime vs scikit-learn on {what} ({len(X)} rows): "
                  f"max abs diff {diff:.3g}")
        assert diff < TOLERANCE, diff


# --------------------------------------------------------------------------
# Metadata files
# --------------------------------------------------------------------------

def toml_value(v) -> str:
    """A TOML literal for a str, float, int or list of those."""
    if isinstance(v, str):
        # JSON string syntax (with \" and \uXXXX escapes) is valid TOML basic-string syntax.
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        assert math.isfinite(v)
        return repr(v + 0.0)  # +0.0 turns -0.0 into 0.0; repr always has '.' or 'e'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(type(v))


def feature_ranges(spec: Spec) -> list[tuple[float, float]]:
    """Training min/max per feature, widened outward to range_decimals."""
    if spec.ranges is not None:
        return spec.ranges
    scale = 10 ** spec.range_decimals
    lo = np.floor(spec.X_train.min(axis=0) * scale + 1e-9) / scale
    hi = np.ceil(spec.X_train.max(axis=0) * scale - 1e-9) / scale
    return [(round(float(a), spec.range_decimals), round(float(b), spec.range_decimals))
            for a, b in zip(lo, hi)]


def training_distribution(column: np.ndarray) -> tuple[list[float], list[float]]:
    """The training data's distribution of one input, for the server's drift
    check: the deciles as bin edges (fewer where values repeat) and the share
    of training rows in each bin. Bin 0 is below the first edge, bin i is
    [edges[i-1], edges[i]), the last bin is from the last edge on: the same
    rule as the server's (numpy's searchsorted with side="right")."""
    edges = np.unique(np.quantile(column, np.linspace(0.1, 0.9, 9)))
    edges = [float(e) for e in edges]
    bins = np.searchsorted(np.array(edges), column, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    shares = [round(float(c) / len(column), 6) for c in counts]
    assert abs(sum(shares) - 1.0) < 1e-4
    return edges, shares


def write_toml(spec: Spec, path: Path) -> None:
    means = spec.X_train.mean(axis=0)
    ranges = feature_ranges(spec)
    lines = [
        f"# {spec.name}: written by models/train.py; edit train.py and rerun rather than this file.",
        f"description = {toml_value(spec.description)}",
        f"task = {toml_value(spec.task)}",
        f"version = {toml_value(spec.version)}",
        "",
    ]
    defaults = spec.defaults or [round(float(m), 3) for m in means]
    for j, (f, (lo, hi), default) in enumerate(zip(spec.features, ranges, defaults)):
        edges, shares = training_distribution(spec.X_train[:, j])
        lines += [
            "[[inputs]]",
            f"name = {toml_value(f.name)}",
            f"description = {toml_value(f.description)}",
            f"unit = {toml_value(f.unit)}",
            f"min = {toml_value(float(lo))}",
            f"max = {toml_value(float(hi))}",
            f"default = {toml_value(float(default))}",
            f"reference = {{ edges = {toml_value(edges)}, shares = {toml_value(shares)} }}",
            "",
        ]
    for name, desc in spec.outputs:
        lines += ["[[outputs]]", f"name = {toml_value(name)}",
                  f"description = {toml_value(desc)}", ""]
    if spec.class_labels is not None:
        lines += ["[classes]", f"labels = {toml_value(spec.class_labels)}", ""]
    lines += [
        "[provenance]",
        f"dataset = {toml_value(spec.dataset)}",
        f"recipe = {toml_value(spec.recipe)}",
        f"metric = {toml_value(spec.metric)}",
        'onnx_input = "input"',
        f"onnx_input_type = {toml_value('float64' if spec.dtype == np.float64 else 'float32')}",
    ]
    text = "\n".join(lines) + "\n"
    parsed = tomllib.loads(text)  # fail here, not in the server, if the TOML is off
    assert [i["name"] for i in parsed["inputs"]] == [f.name for f in spec.features]
    path.write_text(text, encoding="utf-8")


def write_reference(spec: Spec, path: Path) -> None:
    X = spec.reference_rows
    if spec.task == "classification":
        outputs = {
            "label": [int(v) for v in spec.model.predict(X)],
            "probabilities": [[float(p) for p in row] for row in spec.model.predict_proba(X)],
        }
    else:
        outputs = {"prediction": [float(v) for v in spec.model.predict(X)]}
    inputs = [[float(v) for v in row] for row in X]

    # One row per line; json.dumps writes floats with full (round-trip) precision.
    def rows(values, indent):
        if values and isinstance(values[0], list):
            inner = (",\n" + " " * (indent + 2)).join(json.dumps(r) for r in values)
            return "[\n" + " " * (indent + 2) + inner + "\n" + " " * indent + "]"
        return json.dumps(values)

    outs = ",\n".join(f"    {json.dumps(k)}: {rows(v, 4)}" for k, v in outputs.items())
    text = ("{\n"
            f'  "inputs": {rows(inputs, 2)},\n'
            f'  "outputs": {{\n{outs}\n  }}\n'
            "}\n")
    assert json.loads(text) == {"inputs": inputs, "outputs": outputs}
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="directory to write <name>/ folders into (default: models/)")
    args = parser.parse_args()

    for train in (train_linear, train_iris, train_diabetes, train_diabetes_boosting):
        spec = train()
        onx = export(spec)
        verify(spec, onx)  # before writing anything, so a bad export leaves no files

        folder = args.out / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(onx.SerializeToString())
        write_toml(spec, folder / "model.toml")
        write_reference(spec, folder / "reference.json")
        print(f"[{spec.name}] wrote {folder}/ (model.onnx "
              f"{(folder / 'model.onnx').stat().st_size} bytes)\n")
    print("all models exported and verified")


if __name__ == "__main__":
    main()
