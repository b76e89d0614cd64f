#!/usr/bin/env python3
"""Writes the tree ensemble cases the server's tree operators are checked
against (src/server/inference/trees/): for each case `<name>.onnx` and
`<name>.json` holding input rows and the outputs expected for them.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -r models/requirements.txt
    /tmp/v/bin/python tests/trees/make.py

Two kinds of case:
- scikit-learn models exported by skl2onnx (random forests, extra trees,
  gradient boosting, histogram gradient boosting with missing values; binary
  and multi-class classifiers, integer and string labels). The expected outputs are scikit-learn's own `predict` and
  `predict_proba`.
- small graphs written here with every branch mode, aggregate function and
  post transform of the ONNX-ML specification. The expected outputs are
  onnxruntime's, except PROBIT's, which is scipy's exact normal quantile
  applied to the untransformed scores (onnxruntime approximates it).

Every scikit-learn case is also run through onnxruntime here, and the script
stops if onnxruntime disagrees with scikit-learn, so a case that the export
itself gets wrong is never written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from scipy.special import ndtri
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_regression
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.model_selection import train_test_split

import skl2onnx.common._container as _container

# skl2onnx 1.20 passes HistGradientBoosting's missing-value tracks to onnx
# 1.23 as booleans, which onnx refuses for an INTS attribute: give it ints.
_make_node = _container.make_node


def _make_node_with_int_flags(*args, **attributes):
    for key, value in attributes.items():
        if isinstance(value, (list, tuple)) and any(
                isinstance(v, (bool, np.bool_)) for v in value):
            attributes[key] = [int(v) for v in value]
    return _make_node(*args, **attributes)


_container.make_node = _make_node_with_int_flags

HERE = Path(__file__).resolve().parent
SEED = 0
ROWS = 120
# How far onnxruntime may be from scikit-learn before a case is refused.
EXPORT_TOLERANCE = 1e-5


def close(a, b, tolerance=EXPORT_TOLERANCE):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.all(np.abs(a - b) <= tolerance * np.maximum(1.0, np.abs(b)))


def as_json_rows(x):
    return [[None if np.isnan(v) else float(v) for v in row] for row in x]


def write(name, model, rows, outputs, source):
    onnx.save_model(model, HERE / f"{name}.onnx")
    case = {"inputs": as_json_rows(rows), "outputs": outputs, "source": source}
    (HERE / f"{name}.json").write_text(json.dumps(case, indent=None) + "\n")
    print(f"  {name}: {len(rows)} rows, {(HERE / f'{name}.onnx').stat().st_size:,} bytes")


def run_ort(model, rows):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: rows}
    return {o.name: r for o, r in zip(session.get_outputs(), session.run(None, feed))}


def split(x, y):
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=SEED)
    return x_train, x_test[:ROWS], y_train


def regressor(name, estimator, x, y):
    # Rows the float export sees exactly: scikit-learn's trees read float32.
    x = x.astype(np.float32).astype(np.float64)
    x_train, x_test, y_train = split(x, y)
    estimator.fit(x_train, y_train)
    expected = estimator.predict(x_test).reshape(len(x_test), -1)
    model = convert_sklearn(
        estimator,
        initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    got = next(iter(run_ort(model, x_test.astype(np.float32)).values()))
    if not close(got, expected):
        raise SystemExit(f"{name}: onnxruntime disagrees with scikit-learn")
    write(name, model, x_test, {"variable": expected.tolist()}, "scikit-learn")


def classifier(name, estimator, x, y):
    x = x.astype(np.float32).astype(np.float64)
    x_train, x_test, y_train = split(x, y)
    estimator.fit(x_train, y_train)
    labels = estimator.predict(x_test)
    probabilities = estimator.predict_proba(x_test)
    model = convert_sklearn(
        estimator,
        initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
        options={id(estimator): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    got = run_ort(model, x_test.astype(np.float32))
    if not close(got["probabilities"], probabilities) or list(got["label"]) != list(labels):
        raise SystemExit(f"{name}: onnxruntime disagrees with scikit-learn")
    outputs = {"label": labels.tolist(), "probabilities": probabilities.tolist()}
    write(name, model, x_test, outputs, "scikit-learn")


def scikit_learn_cases():
    diabetes = load_diabetes()
    x, y = diabetes.data, diabetes.target
    regressor("random_forest_regressor",
              RandomForestRegressor(n_estimators=30, max_depth=8, random_state=SEED), x, y)
    regressor("gradient_boosting_regressor",
              GradientBoostingRegressor(n_estimators=60, random_state=SEED), x, y)
    regressor("extra_trees_regressor",
              ExtraTreesRegressor(n_estimators=30, max_depth=8, random_state=SEED), x, y)
    # Missing values in training and in the rows asked: the trees learn
    # which side a missing value takes.
    rng = np.random.default_rng(SEED)
    holes = x.copy()
    holes[rng.random(holes.shape) < 0.15] = np.nan
    regressor("hist_gradient_boosting_regressor_missing",
              HistGradientBoostingRegressor(max_iter=60, random_state=SEED), holes, y)
    x2, y2 = make_regression(n_samples=400, n_features=5, n_targets=2, noise=5.0,
                             random_state=SEED)
    regressor("random_forest_regressor_two_targets",
              RandomForestRegressor(n_estimators=15, max_depth=6, random_state=SEED), x2, y2)

    iris = load_iris()
    classifier("random_forest_classifier",
               RandomForestClassifier(n_estimators=20, max_depth=5, random_state=SEED),
               iris.data, iris.target)
    names = np.array(["setosa", "versicolor", "virginica"])[iris.target]
    classifier("random_forest_classifier_strings",
               RandomForestClassifier(n_estimators=20, max_depth=5, random_state=SEED),
               iris.data, names)
    cancer = load_breast_cancer()
    classifier("random_forest_classifier_binary",
               RandomForestClassifier(n_estimators=25, max_depth=6, random_state=SEED),
               cancer.data, cancer.target)
    classifier("gradient_boosting_classifier_binary",
               GradientBoostingClassifier(n_estimators=40, random_state=SEED),
               cancer.data, cancer.target)
    classifier("gradient_boosting_classifier",
               GradientBoostingClassifier(n_estimators=30, random_state=SEED),
               iris.data, iris.target)


# Two trees over two features, with a vote per target at every leaf:
#   tree 0: x0 MODE 0.5 ? (x1 <= 0.25 ? leaf 3 : leaf 4) : leaf 2
#   tree 1: x1 MODE -0.5 ? leaf 1 : leaf 2
# A missing x0 in tree 0 takes the true branch (tracked); the rest the false.
def small_trees(mode, targets, scale=1.0):
    nodes = dict(
        nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1],
        nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
        nodes_featureids=[0, 1, 0, 0, 0, 1, 0, 0],
        nodes_modes=[mode, "BRANCH_LEQ", "LEAF", "LEAF", "LEAF", mode, "LEAF", "LEAF"],
        nodes_values=[0.5, 0.25, 0, 0, 0, -0.5, 0, 0],
        nodes_truenodeids=[1, 3, 0, 0, 0, 1, 0, 0],
        nodes_falsenodeids=[2, 4, 0, 0, 0, 2, 0, 0],
        nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0, 0, 0],
    )
    leaves = [(0, 2), (0, 3), (0, 4), (1, 1), (1, 2)]
    weights = {(0, 2): 1.5, (0, 3): -2.0, (0, 4): 0.75, (1, 1): 3.0, (1, 2): -0.5}
    votes = dict(treeids=[], nodeids=[], ids=[], weights=[])
    for leaf in leaves:
        for target in range(targets):
            votes["treeids"].append(leaf[0])
            votes["nodeids"].append(leaf[1])
            votes["ids"].append(target)
            votes["weights"].append(scale * (weights[leaf] * (1 + target) - 0.25 * target))
    return nodes, votes


def graph(op, attributes, outputs, input_type=TensorProto.FLOAT):
    node = helper.make_node(op, ["input"], [o.name for o in outputs], domain="ai.onnx.ml",
                            **attributes)
    g = helper.make_graph([node], "trees",
                          [helper.make_tensor_value_info("input", input_type, [None, 2])],
                          outputs)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


SMALL_ROWS = np.array([[0.0, 0.0], [0.5, 0.25], [0.5, 0.3], [1.0, -0.5], [1.0, -1.0],
                       [-3.0, 2.0], [np.nan, 0.0], [0.2, np.nan], [np.nan, np.nan],
                       [0.49, -0.51]], dtype=np.float32)


def small_regressor(name, mode="BRANCH_LEQ", aggregate="SUM", post="NONE", targets=1,
                    base=None, double=False):
    # The probit's domain is (0, 1): small weights keep the scores in it.
    nodes, votes = small_trees(mode, targets, scale=0.1 if post == "PROBIT" else 1.0)
    attributes = {**nodes, "n_targets": targets, "aggregate_function": aggregate,
                  "post_transform": "NONE" if post == "PROBIT" else post,
                  **{f"target_{k}": v for k, v in votes.items()}}
    if base is not None:
        attributes["base_values"] = base
    if double:
        # ai.onnx.ml version 3: thresholds and weights as double tensors.
        for key in ("nodes_values", "target_weights", "base_values"):
            if key in attributes:
                attributes[f"{key}_as_tensor"] = helper.make_tensor(
                    f"{key}_as_tensor", TensorProto.DOUBLE, [len(attributes[key])],
                    attributes.pop(key))
    out = [helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, targets])]
    # onnxruntime reads double attributes only for double input.
    input_type = TensorProto.DOUBLE if double else TensorProto.FLOAT
    rows = SMALL_ROWS.astype(np.float64) if double else SMALL_ROWS
    model = graph("TreeEnsembleRegressor", attributes, out, input_type)
    scores = run_ort(model, rows)["variable"].astype(np.float64)
    if post == "PROBIT":
        # Scores in (0, 1), as the probit's domain needs.
        for attribute in model.graph.node[0].attribute:
            if attribute.name == "post_transform":
                attribute.s = b"PROBIT"
        scores = ndtri(scores)
    write(name, model, SMALL_ROWS, {"variable": scores.tolist()},
          "scipy" if post == "PROBIT" else "onnxruntime")


def small_classifier(name, labels, post="NONE", base=None, binary=False):
    nodes, votes = small_trees("BRANCH_LEQ", 1 if binary else len(labels))
    if not binary:
        # Each class gets its own, different, weights.
        votes["weights"] = [w if i % 2 else -w / 2 for i, w in enumerate(votes["weights"])]
    attributes = {**nodes, "post_transform": post,
                  **{f"class_{k}": v for k, v in votes.items()}}
    if isinstance(labels[0], str):
        attributes["classlabels_strings"] = labels
        label_type = TensorProto.STRING
    else:
        attributes["classlabels_int64s"] = labels
        label_type = TensorProto.INT64
    if base is not None:
        attributes["base_values"] = base
    out = [helper.make_tensor_value_info("label", label_type, [None]),
           helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(labels)])]
    model = graph("TreeEnsembleClassifier", attributes, out)
    got = run_ort(model, SMALL_ROWS)
    outputs = {"label": [v.decode() if isinstance(v, bytes) else (v if isinstance(v, str) else int(v))
                         for v in got["label"]],
               "probabilities": got["probabilities"].astype(np.float64).tolist()}
    write(name, model, SMALL_ROWS, outputs, "onnxruntime")


def malformed_cases():
    """Graphs the server must refuse to load, with the reason (no expected
    outputs: tests/api/trees.rs serves them)."""
    folder = HERE / "malformed"
    folder.mkdir(exist_ok=True)
    nodes, votes = small_trees("BRANCH_LEQ", 3)
    nodes["nodes_truenodeids"][0] = 126
    attributes = {**nodes, "classlabels_int64s": [0, 1, 2],
                  **{f"class_{k}": v for k, v in votes.items()}}
    out = [helper.make_tensor_value_info("label", TensorProto.INT64, [None]),
           helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 3])]
    onnx.save_model(graph("TreeEnsembleClassifier", attributes, out),
                    folder / "branch_outside_its_tree.onnx")
    print("  malformed/branch_outside_its_tree.onnx")


def small_cases():
    for mode in ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"):
        small_regressor(f"small_{mode.lower()}", mode=mode)
    for aggregate in ("SUM", "AVERAGE", "MIN", "MAX"):
        small_regressor(f"small_{aggregate.lower()}_three_targets", aggregate=aggregate,
                        targets=3, base=[0.5, -1.0, 2.0])
    for post in ("LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"):
        small_regressor(f"small_{post.lower()}", post=post, targets=3)
    small_regressor("small_probit", aggregate="AVERAGE", post="PROBIT", base=[0.5])
    small_regressor("small_double", base=[0.125], double=True)
    small_classifier("small_classifier_softmax", [3, 5, 7], post="SOFTMAX", base=[0.1, 0.2, 0.3])
    small_classifier("small_classifier_strings", ["a", "b", "c"], post="LOGISTIC")
    small_classifier("small_classifier_binary_logistic", [0, 1], post="LOGISTIC", base=[0.25],
                     binary=True)
    small_classifier("small_classifier_binary_none", ["no", "yes"], binary=True)


def main():
    for old in list(HERE.glob("*.onnx")) + list(HERE.glob("*.json")):
        old.unlink()
    print("scikit-learn models:")
    scikit_learn_cases()
    print("hand-written graphs:")
    small_cases()
    malformed_cases()


if __name__ == "__main__":
    main()
