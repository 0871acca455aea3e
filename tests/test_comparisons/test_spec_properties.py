"""Property tests: random valid spec files agree across the four backends; invalid ones exit 2.

Valid specs are drawn in the regime where the comparator's float64 tolerance
(rtol = atol = 1e-12, ``functional_training.tolerance``) must hold for any
correct implementation: inputs ``|x| <= 3``, targets ``|y| <= 10``, initial
values ``|w|, |b| <= 3``, at most 25 steps, and learning rates below the
stability limit of every optimizer drawn (see :func:`_rate`), so every value
stays finite and a few dozen roundings away from the exact one.

Why diverging runs are drawn separately: once a run diverges, its values approach float64's
maximum, and whether a sum of per-example terms overflows to ``inf`` or stays
just below ``1.8e308`` depends on the order of operations, which differs
between correct backends. Drawn at rates up to 1.5 and 400 steps, momentum and
Nesterov runs went non-finite at the same step on every backend (they agree
there), then a few hundred steps later one backend recorded ``grads.b =
-1.755e308`` where another recorded ``-inf``: a finite value against a
non-finite one is a mismatch by the comparator's rule, and no tolerance can
change that. So the comparator stops comparing once the reference and a backend
have both gone non-finite at the same step (comparisons.compare), and
:func:`test_random_diverging_runs_go_non_finite_at_the_same_step_and_agree`
draws runs that must overflow, which agree under that rule.

Invalid specs mutate one key of a valid one (wrong type, out of range, unknown
key, missing key, non-finite number, ragged pair) and must give exit 2 with one
line on stderr naming that key, nothing on stdout, and no traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from comparisons import cli
from comparisons.backends import BACKEND_NAMES
from functional_training import optimizer_hyperparameters

MAX_STEPS = 25
X_MAX, Y_MAX, INIT_MAX = 3.0, 10.0, 3.0
CURVATURE_MAX = X_MAX**2 + 1.0
"""Largest eigenvalue of any batch's loss Hessian [[mean x^2, mean x], [mean x, 1]] here."""


def _floats(limit: float):
    return st.floats(-limit, limit, allow_nan=False, allow_infinity=False, width=64)


def _pairs(min_size: int, max_size: int):
    return st.lists(st.tuples(_floats(X_MAX), _floats(Y_MAX)).map(list), min_size=min_size,
                    max_size=max_size)


def _rate(optimizer: str, hyper: dict[str, float]):
    """Learning rates inside the optimizer's stability region for curvature <= CURVATURE_MAX.

    Gradient descent is stable for ``lr * lambda < 2``; heavy-ball momentum beta
    for ``lr * lambda < 2 (1 + beta)``; Nesterov for
    ``lr * lambda < (2 + 2 beta) / (1 + 2 beta)``; Adam's step is at most about
    ``lr`` per step whatever the curvature, so its rate only bounds the distance
    travelled (``<= 25 * 0.05``). Half of each limit leaves room for mini-batches.
    """
    if optimizer in ("adam", "adamw"):
        return st.floats(1e-4, 0.05)
    beta = hyper.get("momentum", optimizer_hyperparameters(optimizer).get("momentum", 0.0))
    limit = {"sgd": 2.0, "momentum": 2 * (1 + beta),
             "nesterov": (2 + 2 * beta) / (1 + 2 * beta)}[optimizer]
    return st.floats(1e-4, 0.5 * limit / CURVATURE_MAX)


_HYPER = {
    "momentum": st.floats(0.0, 0.95),
    "b1": st.floats(0.0, 0.95),
    "b2": st.floats(0.9, 0.9999),
    "eps": st.floats(1e-10, 1e-4),
    "weight_decay": st.floats(0.0, 0.1),
}


@st.composite
def valid_specs(draw) -> dict:
    """A valid spec as a dict of TOML tables, optional keys sometimes left out."""
    train = draw(_pairs(1, 6))
    data = {"train": train}
    if draw(st.booleans()):
        data["validation"] = draw(_pairs(1, 3))
    model = {"w": draw(_floats(INIT_MAX)), "b": draw(_floats(INIT_MAX))}
    if draw(st.booleans()):
        model["trainable"] = draw(st.sampled_from([["w", "b"], ["w"], ["b"], ["b", "w"]]))
    name = draw(st.sampled_from(["sgd", "momentum", "nesterov", "adam", "adamw"]))
    hyper = {}
    for key in optimizer_hyperparameters(name):
        if draw(st.booleans()):
            hyper[key] = draw(_HYPER[key])
    if name == "nesterov" and hyper.get("momentum", 1.0) == 0.0:
        hyper["momentum"] = 0.5  # 0 is plain SGD, which a spec refuses for nesterov
    optimizer = {"name": name, "learning_rate": draw(_rate(name, hyper)), **hyper}
    run = {"steps": draw(st.integers(1, MAX_STEPS))}
    if draw(st.booleans()):
        run["batch_size"] = draw(st.integers(1, len(train)))
        if draw(st.booleans()):
            run["seed"] = draw(st.integers(0, 2**32))
    spec = {"name": "random-spec", "data": data, "model": model, "optimizer": optimizer,
            "run": run}
    if draw(st.booleans()):
        spec["description"] = "a randomly drawn spec"
    return spec


def to_toml(spec: dict) -> str:
    """TOML text of a spec dict (strings, numbers, booleans, lists, one level of tables)."""
    def value(v) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if math.isnan(v) else ("inf" if v == math.inf else
                                                "-inf" if v == -math.inf else repr(v))
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(item) for item in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(item)}" for k, item in v.items()) + "}"
        raise TypeError(type(v))

    lines = [f"{k} = {value(v)}" for k, v in spec.items() if not isinstance(v, dict)]
    for table, body in spec.items():
        if isinstance(body, dict):
            lines.append(f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def run_spec(text: str, *extra: str) -> tuple[int, str, str, dict | None]:
    """``python -m comparisons run --spec FILE --json REPORT`` in-process."""
    with tempfile.TemporaryDirectory() as tmp:
        path, report = Path(tmp) / "spec.toml", Path(tmp) / "report.json"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["run", "--spec", str(path), "--json", str(report), *extra])
            except SystemExit as stop:
                code = stop.code
        data = json.loads(report.read_text()) if report.exists() else None
        leftovers = sorted(p.name for p in Path(tmp).iterdir())
    assert leftovers in (["report.json", "spec.toml"], ["spec.toml"]), leftovers  # no temp files
    return code, out.getvalue(), err.getvalue(), data


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(spec=valid_specs())
def test_random_valid_specs_run_and_agree_across_all_four_backends(spec):
    code, out, err, report = run_spec(to_toml(spec))
    assert code == 0, (out, err)
    assert report is not None and report["all_agree"] is True
    entry = report["experiments"][0]
    assert set(entry["backends"]) == set(BACKEND_NAMES) and not entry["unavailable"]
    assert entry["tolerance"] == 1e-12
    steps = spec["run"]["steps"]
    for trajectory in entry["backends"].values():
        assert len(trajectory["batch_loss"]) == steps
        assert trajectory["first_nonfinite_step"] is None  # the regime stays finite
    assert entry["backends"]["manual"]["batches"] == (
        None if "batch_size" not in spec["run"] else entry["backends"]["torch"]["batches"])


@st.composite
def diverging_specs(draw) -> dict:
    """Full-batch runs at 2 to 5 times the optimizer's stability limit: they overflow.

    The slowest growth drawn (SGD at ``lr * lambda_max = 4``: a factor 3 per step)
    takes an initial error of 1e-2 to 1e154 in about 330 of the 500 steps.
    """
    import numpy as np

    train = draw(_pairs(1, 4))
    x, y = (np.array(column) for column in zip(*train, strict=True))
    hessian = np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    curvature = float(np.linalg.eigvalsh(hessian)[-1])
    w, b = draw(_floats(INIT_MAX)), draw(_floats(INIT_MAX))
    # The initial gradient must have a part along the top eigenvector for the run to
    # diverge (an exact fit stays put at any rate).
    gradient = [np.mean((w * x + b - y) * x), np.mean(w * x + b - y)]
    assume(abs(float(np.linalg.eigh(hessian)[1][:, -1] @ gradient)) > 1e-2)
    name = draw(st.sampled_from(["sgd", "momentum", "nesterov"]))
    beta = 0.0 if name == "sgd" else draw(st.floats(0.1, 0.95))
    limit = {"sgd": 2.0, "momentum": 2 * (1 + beta),
             "nesterov": (2 + 2 * beta) / (1 + 2 * beta)}[name]  # of lr * lambda_max, see _rate
    optimizer = {"name": name,
                 "learning_rate": draw(st.floats(2.0, 5.0)) * limit / curvature}
    if name != "sgd":
        optimizer["momentum"] = beta
    return {"name": "diverging", "data": {"train": train},
            "model": {"w": w, "b": b}, "optimizer": optimizer, "run": {"steps": 500}}


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(spec=diverging_specs())
def test_random_diverging_runs_go_non_finite_at_the_same_step_and_agree(spec):
    code, out, err, report = run_spec(to_toml(spec))
    assert code == 0, (out, err)
    entry = report["experiments"][0]
    assert entry["agree"] is True, entry["first_mismatch"]
    steps = set(entry["first_nonfinite_step"].values())
    assert len(steps) == 1 and None not in steps, entry["first_nonfinite_step"]


# --- invalid: one key broken --------------------------------------------------------------------

_REQUIRED = [("name",), ("data",), ("model",), ("optimizer",), ("run",), ("data", "train"),
             ("model", "w"), ("model", "b"), ("optimizer", "name"),
             ("optimizer", "learning_rate"), ("run", "steps")]


def _where(path: tuple) -> str:
    """How the spec's messages name a key: ``name``, ``[data]``, ``[run].steps``."""
    if len(path) == 1:
        return path[0] if path[0] in ("name", "description") else f"[{path[0]}]"
    return f"[{path[0]}].{path[1]}"


@st.composite
def invalid_specs(draw) -> tuple[dict, str]:
    """A valid spec with one key broken, and a regex for the key the message must name."""
    spec = draw(valid_specs())
    kind = draw(st.sampled_from(["type", "range", "unknown", "missing", "non-finite", "ragged"]))
    if kind == "missing":
        path = draw(st.sampled_from(_REQUIRED))
        if len(path) == 1:
            del spec[path[0]]
        else:
            del spec[path[0]][path[1]]
        return spec, re.escape(_where(path)) + r": missing"
    if kind == "unknown":
        table = draw(st.sampled_from([None, "data", "model", "optimizer", "run"]))
        key = draw(st.sampled_from(["colour", "epochs", "lr", "momentum_", "weights"]))
        (spec if table is None else spec[table])[key] = 1.0
        where = key if table is None else f"[{table}].{key}"
        return spec, re.escape(where) + r": (unknown key|not a key of)"
    if kind == "type":
        path, bad = draw(st.sampled_from([
            (("name",), 7), (("data", "train"), "pairs"), (("model", "w"), "zero"),
            (("model", "b"), True), (("optimizer", "name"), 1.5),
            (("optimizer", "learning_rate"), "fast"), (("run", "steps"), 2.5),
            (("run", "steps"), "10"), (("model", "trainable"), "w"), (("run", "batch_size"), 1.0),
        ]))
        if len(path) == 1:
            spec[path[0]] = bad
        else:
            spec[path[0]][path[1]] = bad
        # A string where rows belong is taken for a file path: "is neither" rows nor a file.
        return spec, re.escape(_where(path)) + r": (expected|must be|'pairs' is neither)"
    if kind == "range":
        n = len(spec["data"]["train"])
        path, bad = draw(st.sampled_from([
            (("run", "steps"), 0), (("run", "steps"), -3), (("run", "steps"), 10**6),
            (("optimizer", "learning_rate"), 0.0), (("optimizer", "learning_rate"), -0.5),
            (("run", "batch_size"), 0), (("run", "batch_size"), n + 1), (("run", "seed"), -1),
        ]))
        if path == ("run", "seed"):
            spec["run"].setdefault("batch_size", 1)
        spec[path[0]][path[1]] = bad
        return spec, re.escape(_where(path)) + r": "
    if kind == "non-finite":
        bad = draw(st.sampled_from([math.inf, -math.inf, math.nan]))
        target = draw(st.sampled_from(["x", "y", "w", "b", "learning_rate"]))
        if target in ("x", "y"):
            i = draw(st.integers(0, len(spec["data"]["train"]) - 1))
            spec["data"]["train"][i][0 if target == "x" else 1] = bad
            where = rf"\[data\]\.train\[{i}\]\[{0 if target == 'x' else 1}\]"
        elif target == "learning_rate":
            spec["optimizer"]["learning_rate"] = bad
            where = r"\[optimizer\]\.learning_rate"
        else:
            spec["model"][target] = bad
            where = re.escape(f"[model].{target}")
        return spec, where + r": must be finite"
    i = draw(st.integers(0, len(spec["data"]["train"]) - 1))
    row = spec["data"]["train"][i]
    if i > 0 and draw(st.booleans()):  # a row wider than the first: a ragged table
        spec["data"]["train"][i] = row + [1.0]
        return spec, rf"\[data\]\.train\[{i}\]: has 3 values but \[data\]\.train\[0\] has 2"
    spec["data"]["train"][i] = draw(st.sampled_from([row[:1], []]))
    return spec, rf"\[data\]\.train\[{i}\]: expected a pair \[x, target\]"


@settings(max_examples=40, deadline=None)
@given(case=invalid_specs())
def test_random_invalid_specs_exit_2_with_one_line_naming_the_key(case):
    spec, where = case
    code, out, err, report = run_spec(to_toml(spec))
    assert code == 2, (out, err)
    assert out == "" and report is None
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert re.search(r"^error: .*spec\.toml: " + where, err), err


def test_the_toml_writer_round_trips_a_drawn_spec():
    from comparisons.spec import parse_spec

    spec = {"name": "t", "data": {"train": [[1.0, 3.0]]}, "model": {"w": 0.5, "b": -1.0},
            "optimizer": {"name": "adam", "learning_rate": 0.01, "eps": 1e-9},
            "run": {"steps": 2, "batch_size": 1, "seed": 3}}
    experiment = parse_spec(to_toml(spec))
    assert (experiment.train, experiment.init) == (((1.0, 3.0),), {"w": 0.5, "b": -1.0})
    assert experiment.hyperparams == {"learning_rate": 0.01, "b1": 0.9, "b2": 0.999, "eps": 1e-9}
    assert (experiment.steps, experiment.batch_size, experiment.seed) == (2, 1, 3)
