"""The four backends: agreement with the manual backend, the lesson's numbers, float32,
divergence, availability, and the optax / torch.optim convention table.

Tolerances: float64 comparisons use ``functional_training.tolerance("float64", S)``
(1e-12: independent float64 implementations of a few dozen flops per step agree
to a few ulps, while a convention difference shows at 1e-3); float32 ones use
``tolerance("float32", S)`` (32 eps32 per step, added up linearly). Both are the
project's one precision policy, never inline numbers.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import subprocess
import sys
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from lesson_fixture import lesson_blocks
from numpy_reference import numpy_sgd

import functional_training as ft
from comparisons.backends import (
    BACKEND_NAMES,
    BackendUnavailable,
    available_backends,
    get_backend,
    jax_backend,
    run_loop,
)
from comparisons.backends.update_rules import update_rule
from comparisons.experiments import REGISTRY, Experiment, batch_order
from functional_training import ONE_SHIPMENT, SHIPMENTS, TrajectoryRecord

LESSON = lesson_blocks()
OTHERS = tuple(b for b in BACKEND_NAMES if b != "manual")
FLOAT32_EPS = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def runs():
    """``runs(backend, experiment_name, dtype)``: each run once per module, then reused."""
    cache: dict[tuple[str, str, str], TrajectoryRecord] = {}

    def run(backend: str, name: str, dtype: str = "float64") -> TrajectoryRecord:
        key = (backend, name, dtype)
        if key not in cache:
            cache[key] = get_backend(backend).run(REGISTRY[name], dtype=dtype)
        return cache[key]

    return run


# --- the local comparison ----------------------------------------------------------


def _same(actual: float, expected: float, tol: float) -> bool:
    """``|a - e| <= tol + tol |e|``, or both the same non-finite value (NaN, +inf, -inf)."""
    if not (math.isfinite(actual) and math.isfinite(expected)):
        return (math.isnan(actual) and math.isnan(expected)) or actual == expected
    return abs(actual - expected) <= tol + tol * abs(expected)


def mismatches(actual: TrajectoryRecord, reference: TrajectoryRecord, tol: float) -> list[str]:
    """Every series and step where ``actual`` differs from ``reference`` (empty: they agree)."""
    found = []
    mine, theirs = dict(actual.series()), dict(reference.series())
    if set(mine) != set(theirs):
        found.append(f"series differ: {sorted(set(mine) ^ set(theirs))}")
    if actual.batches != reference.batches:
        found.append("batches differ")
    for label in sorted(set(mine) & set(theirs)):
        a_values, r_values = mine[label], theirs[label]
        if len(a_values) != len(r_values):
            found.append(f"{label}: {len(a_values)} entries, reference {len(r_values)}")
            continue
        for k, (a, r) in enumerate(zip(a_values, r_values, strict=True)):
            a_row, r_row = (a, r) if isinstance(a, list) else ([a], [r])
            if len(a_row) != len(r_row) or not all(map(_same, a_row, r_row, [tol] * len(a_row))):
                found.append(f"{label}[{k}]: {a} vs reference {r}")
    return found


def test_local_comparison_catches_any_single_changed_value(runs):
    reference = runs("manual", "train-validation")
    tol = ft.tolerance("float64", reference.steps)
    data = reference.to_json()
    checked = 0
    for label, values in reference.series():
        for k, value in enumerate(values):
            changed = TrajectoryRecord.from_json(data)  # a fresh copy of every list
            target = dict(changed.series())[label]
            if isinstance(value, list):
                target[k][-1] = value[-1] * (1 + 1e-9) + 1e-9
            else:
                target[k] = value * (1 + 1e-9) + 1e-9
            assert mismatches(changed, reference, tol), (label, k)
            checked += 1
    assert checked > 30
    assert mismatches(TrajectoryRecord.from_json(data), reference, tol) == []
    nan = replace(reference, batch_loss=[math.nan] * reference.steps)
    assert mismatches(nan, nan, tol) == []  # the same non-finite value agrees
    assert mismatches(nan, reference, tol)


# --- every registry experiment, every backend, float64 ------------------------------


ENGINE_SHORTENED = ("multi-feature/d2l", "mlp/moons")
"""Registry experiments the engine runs here on their first 16 examples for 10 steps: at full
size (d2l's 1000 examples; micrograd's 100 moons through a 2-16-16-1 network) the scalar
engine takes one to two minutes each, and that full-size agreement is asserted by the
README's `python -m comparisons all` (tests/test_comparisons/test_cli.py), which runs every
registry experiment on every backend."""


def _shortened(experiment: Experiment) -> Experiment:
    return replace(experiment, train=experiment.train[:16], steps=10)


@pytest.mark.parametrize(("backend", "name"), [
    (backend, name) for name in REGISTRY for backend in OTHERS
])
def test_backend_agrees_with_manual_in_float64(runs, backend, name):
    if backend == "engine" and name in ENGINE_SHORTENED:
        experiment = _shortened(REGISTRY[name])
        reference = get_backend("manual").run(experiment, dtype="float64")
        trajectory = get_backend("engine").run(experiment, dtype="float64")
        assert trajectory.steps == 10 and len(trajectory.predictions[0]) == 16 * experiment.outputs
    else:
        reference, trajectory = runs("manual", name), runs(backend, name)
    trajectory.check_lengths()
    assert mismatches(trajectory, reference, ft.tolerance("float64", reference.steps)) == []


@pytest.mark.parametrize("name", list(REGISTRY))
def test_manual_trajectory_has_the_contract_shape(runs, name):
    traj, experiment = runs("manual", name), REGISTRY[name]
    traj.check_lengths()
    assert traj.steps == experiment.steps
    assert traj.batches == batch_order(experiment)
    assert (traj.val_loss is None) == (experiment.validation is None)
    if experiment.kind == "shared-path":
        assert traj.predictions is None
    else:
        # one output per example, k logits per example for softmax (flattened row by row)
        width = len(experiment.train) * experiment.outputs
        assert [len(row) for row in traj.predictions] == [width] * (traj.steps + 1)
    if experiment.kind == "gradient-check":
        assert set(traj.extras) == {"numeric.w", "numeric.b"}
        assert all(len(v) == traj.steps for v in traj.extras.values())


SGD_RUNS = [n for n, e in REGISTRY.items()
            if e.optimizer == "sgd" and e.kind == "train" and e.features == 1]
# (several features: tests/test_comparisons/test_spec_data.py, numpy_linear)


@pytest.mark.parametrize("name", SGD_RUNS)
def test_manual_matches_the_numpy_reference(runs, name):
    """The reference backend itself checked against tests/numpy_reference.py (NumPy float64)."""
    e, traj = REGISTRY[name], runs("manual", name)
    ref = numpy_sgd(e.init["w"], e.init["b"], e.xs, e.ys, e.learning_rate, e.steps,
                    batch_indices=batch_order(e), train_bias="b" in e.trainable)
    tol = ft.tolerance("float64", e.steps)
    for mine, theirs in [(traj.params["w"], ref["w"]), (traj.params["b"], ref["b"]),
                         (traj.grads["w"], ref["grad_w"]), (traj.grads["b"], ref["grad_b"]),
                         (traj.batch_loss, ref["batch_loss"]),
                         (traj.train_loss, ref["train_loss"])]:
        np.testing.assert_allclose(mine, theirs, rtol=tol, atol=tol)


def test_optimizer_runs_are_not_sgd_in_disguise(runs):
    # Guards the agreement tests above: the five optimizers give five different paths.
    finals = {name: runs("manual", name).params["w"][-1]
              for name in ("full-batch", "optimizer/momentum", "optimizer/nesterov",
                           "optimizer/adam", "optimizer/adamw")}
    assert len({round(v, 6) for v in finals.values()}) == 5, finals


def _numpy_adamw(x, y, *, lr, steps, b1, b2, eps, weight_decay):
    """AdamW from its formulas in NumPy float64 (optax's form: decay inside the lr step)."""
    x, y = np.asarray(x), np.asarray(y)
    p, m, v, ws = np.zeros(2), np.zeros(2), np.zeros(2), [0.0]
    for t in range(1, steps + 1):
        err = p[0] * x + p[1] - y
        g = np.array([np.mean(err * x), np.mean(err)])
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * (mhat / (np.sqrt(vhat) + eps) + weight_decay * p)
        ws.append(p[0])
    return ws


def test_omitted_hyperparameters_take_optax_defaults():
    """An experiment that leaves adamw's settings out runs optax's defaults in every backend.

    Reference: AdamW in NumPy with optax's defaults written out (b1 0.9, b2 0.999,
    eps 1e-8, weight decay 1e-4 -- not torch's 1e-2, which moves w by ~1e-3 here).
    """
    e = replace(REGISTRY["optimizer/adamw"], hyperparams={"learning_rate": 0.1})
    ref_w = _numpy_adamw(e.xs, e.ys, lr=0.1, steps=e.steps, b1=0.9, b2=0.999, eps=1e-8,
                         weight_decay=1e-4)
    tol = ft.tolerance("float64", e.steps)
    for backend in BACKEND_NAMES:
        np.testing.assert_allclose(get_backend(backend).run(e).params["w"], ref_w,
                                   rtol=tol, atol=tol, err_msg=backend)


@pytest.mark.parametrize("name", ft.OPTIMIZER_NAMES)
def test_hand_written_rules_take_exactly_the_one_tables_settings(name):
    """The update rules read functional_training.OPTIMIZERS: its keys, nothing else."""
    defaults = ft.OPTIMIZERS[name].defaults
    rule = update_rule(name, learning_rate=0.1, **defaults)
    assert rule.update({"w": 1.0}, rule.init({"w": 0.0}), {"w": 0.0})[0]["w"] < 0
    with pytest.raises(TypeError, match="takes .* got extra"):
        update_rule(name, learning_rate=0.1, **defaults, extra=1.0)


# --- the lesson's printed numbers ---------------------------------------------------


def _lesson_lines(name: str, run) -> list[str]:
    """The lesson block ``name`` printed from trajectories (the lesson's own f-strings)."""
    if name == "learning-rates":
        lines = []
        for rate in ("0.01", "0.1", "0.5"):
            losses = run(f"learning-rates/lr={rate}").batch_loss
            lines.append(f"lr={float(rate):.2f}: " + ", ".join(f"{v:.3f}" for v in losses))
        return lines
    t = run(name)
    if name == "shared-path":
        return [f"a*a={t.batch_loss[0]:.1f}", f"d(a*a)/da={t.grads['a'][0]:.1f}"]
    w, b, gw, gb, pred = t.params["w"], t.params["b"], t.grads["w"], t.grads["b"], t.predictions
    if name == "single-update":
        return [f"before: prediction={pred[0][0]:.1f} loss={t.train_loss[0]:.1f}",
                f"gradients: dL/dw={gw[0]:.1f} dL/db={gb[0]:.1f}",
                f"after: prediction={pred[1][0]:.1f} loss={t.train_loss[1]:.1f}"]
    if name == "five-steps":
        return [f"step {k}: prediction={pred[k][0]:.3f} loss={t.batch_loss[k]:.3f} "
                f"w={w[k + 1]:.3f} b={b[k + 1]:.3f}" for k in range(5)]
    if name == "gradient-check":
        nw, nb = t.extras["numeric.w"][0], t.extras["numeric.b"][0]
        return [f"dL/dw analytic={gw[0]:.6f} numeric={nw:.6f}",
                f"dL/db analytic={gb[0]:.6f} numeric={nb:.6f}",
                f"checks pass: {abs(gw[0] - nw) < 1e-8 and abs(gb[0] - nb) < 1e-8}"]
    if name == "scalar-autograd":
        return [f"prediction={pred[0][0]:.1f} loss={t.batch_loss[0]:.1f}",
                f"dL/dw={gw[0]:.1f} dL/db={gb[0]:.1f}"]
    if name == "full-batch":
        return [f"step {k:2d}: loss={t.batch_loss[k]:.4f} w={w[k + 1]:.3f} b={b[k + 1]:.3f}"
                for k in (0, 1, 19)]
    if name == "train-validation":
        return [f"step {k}: train={t.train_loss[k + 1]:.3f} "
                f"validation={t.val_loss[k + 1]:.3f} w={w[k + 1]:.3f}" for k in range(4)]
    if name == "pytorch-step":
        return [f"before={t.batch_loss[0]:.3f}",
                f"weight gradient={gw[0]:.3f} bias gradient={gb[0]:.3f}",
                f"after={t.train_loss[1]:.3f}"]
    if name == "gradient-accumulation":
        return [f"first backward: {gw[0]:.1f}", f"without zeroing: {gw[1]:.1f}",
                f"after zeroing again: {gw[2]:.1f}"]
    raise KeyError(name)


@pytest.mark.parametrize("block", list(LESSON))
@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_backend_prints_the_lessons_numbers(runs, backend, block):
    assert _lesson_lines(block, lambda name: runs(backend, name)) == LESSON[block]


def test_pytorch_step_gradients_are_the_closed_form(runs):
    # x = (1, 2, 3), y = (3, 5, 7), w = b = 0: dL/dw = -mean(x y) = -34/3, dL/db = -mean(y) = -5.
    tol = ft.tolerance("float64", 1)
    for backend in BACKEND_NAMES:
        traj = runs(backend, "pytorch-step")
        assert math.isclose(traj.grads["w"][0], -34 / 3, rel_tol=tol, abs_tol=tol), backend
        assert math.isclose(traj.grads["b"][0], -5.0, rel_tol=tol, abs_tol=tol), backend


# --- float32 -----------------------------------------------------------------------

FLOAT32_RUNS = [n for n, e in REGISTRY.items() if e.kind != "gradient-check"]


@pytest.mark.parametrize("name", FLOAT32_RUNS)
@pytest.mark.parametrize("backend", ("torch", "jax"))
def test_float32_run_agrees_with_manual(runs, backend, name):
    reference, trajectory = runs("manual", name), runs(backend, name, "float32")
    assert mismatches(trajectory, reference, ft.tolerance("float32", reference.steps)) == []
    # ... and really ran in float32: every recorded parameter is a float32 number.
    for values in trajectory.params.values():
        assert all(float(np.float32(v)) == v for v in values)


def test_float32_runs_differ_from_float64(runs):
    # The float32 comparison above is not vacuous: float32 rounding is visible.
    for backend in ("torch", "jax"):
        assert runs(backend, "learning-rates/lr=0.01", "float32").params["w"] != runs(
            "manual", "learning-rates/lr=0.01").params["w"]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_gradient_check_refuses_float32(backend):
    with pytest.raises(ValueError, match="float64 only"):
        get_backend(backend).run(REGISTRY["gradient-check"], dtype="float32")


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_bad_dtype_is_a_value_error(backend):
    with pytest.raises(ValueError, match="dtype must be one of float64, float32, got 'float16'"):
        get_backend(backend).run(REGISTRY["five-steps"], dtype="float16")


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_rate_beyond_float32_is_a_value_error(backend):
    e = replace(REGISTRY["five-steps"], hyperparams={"learning_rate": 1e300})
    with pytest.raises(ValueError, match="learning_rate = 1e\\+300 overflows float32"):
        get_backend(backend).run(e, dtype="float32")


def test_torch_adam_step_size_must_fit_the_dtype():
    # torch applies Adam with addcdiv_(value=-lr / (1 - b1^t)), a scalar cast to the
    # parameter dtype: 1e38 / (1 - 0.9) overflows float32. A clear refusal, not a crash;
    # JAX runs the same experiment and records the overflow as data.
    e = replace(REGISTRY["optimizer/adam"],
                hyperparams={**REGISTRY["optimizer/adam"].hyperparams, "learning_rate": 1e38})
    with pytest.raises(ValueError, match="step size lr / \\(1 - b1\\) overflows float32"):
        get_backend("torch").run(e, dtype="float32")
    assert get_backend("jax").run(e, dtype="float32").first_nonfinite_step is not None


# --- divergence is data ------------------------------------------------------------


def _diverging(train, validation=None) -> Experiment:
    return Experiment("diverging", "learning rate 0.5 for 1000 steps", train, {"w": 1.0, "b": 0.0},
                      "sgd", {"learning_rate": 0.5}, 1000, validation=validation)


def test_diverging_run_goes_non_finite_at_the_same_step_everywhere():
    # Closed form: x = 2, lr = 0.5 multiplies the error by 1 - lr (x^2 + 1) = -1.5 per
    # step, e_k = -4 (-1.5)^k, so e_k * e_k = 16 * 2.25^k first overflows float64 at:
    predicted = next(k for k in range(2000) if 16 * 2.25**k > sys.float_info.max)
    trajectories = {b: get_backend(b).run(_diverging(ONE_SHIPMENT)) for b in BACKEND_NAMES}
    for backend, traj in trajectories.items():
        traj.check_lengths()
        assert traj.first_nonfinite_step == predicted == 872, backend
        assert math.isinf(traj.batch_loss[predicted]), backend
        assert math.isfinite(traj.batch_loss[predicted - 1]), backend
        assert math.isinf(traj.train_loss[-1]), backend
    for backend in OTHERS:  # finite values agree, and so does every inf / nan after them
        assert mismatches(trajectories[backend], trajectories["manual"],
                          ft.tolerance("float64", 1000)) == [], backend


def test_diverging_multi_example_run_agrees_through_the_overflow():
    # Three shipments: the 1/2 must be applied per example before the mean in every
    # backend, or a sum of squares overflows one step early (docs/conventions.md).
    trajectories = {b: get_backend(b).run(_diverging(SHIPMENTS, validation=SHIPMENTS))
                    for b in BACKEND_NAMES}
    first = trajectories["manual"].first_nonfinite_step
    assert first is not None
    for backend in OTHERS:
        assert trajectories[backend].first_nonfinite_step == first, backend
        assert mismatches(trajectories[backend], trajectories["manual"],
                          ft.tolerance("float64", 1000)) == [], backend


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_huge_adam_rate_finishes_with_non_finite_values(backend):
    e = replace(REGISTRY["optimizer/adam"], hyperparams={"learning_rate": 1e300}, steps=5)
    traj = get_backend(backend).run(e)
    assert traj.first_nonfinite_step == 1  # w = 1e300 after one step: the loss overflows


# --- availability, registry, imports ------------------------------------------------


def test_unknown_backend_names_the_choices():
    with pytest.raises(ValueError) as err:
        get_backend("no-such-backend")
    assert str(err.value).startswith(
        "unknown backend 'no-such-backend'; expected one of manual, engine, torch, jax")


def test_all_backends_available_here():
    assert {k: v for k, v in available_backends().items() if k in BACKEND_NAMES} == {
        name: None for name in BACKEND_NAMES}  # plug-ins a developer installed may follow


def test_missing_torch_is_reported_not_raised_on_import(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    assert available_backends() == {"manual": None, "engine": None,
                                    "torch": "pip install torch==2.13.0", "jax": None}
    backend = get_backend("torch")
    with pytest.raises(BackendUnavailable) as err:
        backend.run(REGISTRY["five-steps"])
    message = str(err.value)
    assert message.startswith("torch backend unavailable: cannot import torch")
    assert message.endswith("; install with: pip install torch==2.13.0")
    assert "\n" not in message
    assert get_backend("manual").run(REGISTRY["five-steps"]).steps == 5


@pytest.mark.slow
def test_importing_the_backends_does_not_import_torch():
    """torch is an optional extra, imported only when the torch backend runs.

    JAX is a dependency of the project (comparisons builds on functional_training),
    so it may be imported; torch and matplotlib may not.
    """
    code = ("import sys, comparisons.backends as b\n"
            "from comparisons.experiments import REGISTRY\n"
            "for name in ('manual', 'engine'):\n"
            "    b.get_backend(name).run(REGISTRY['five-steps'])\n"
            "for name in b.BACKEND_NAMES: b.get_backend(name)\n"
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_jax_backend_leaves_global_jax_config_alone():
    import jax

    before = (jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision)
    get_backend("jax").run(REGISTRY["five-steps"])
    assert (jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision) == before


@pytest.mark.parametrize("backend", BACKEND_NAMES)
def test_bad_experiments_are_refused_with_one_line(backend):
    bad = [
        (replace(REGISTRY["five-steps"], optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
        (replace(REGISTRY["five-steps"], hyperparams={}), "needs a learning_rate"),
        (replace(REGISTRY["optimizer/adam"], hyperparams={"learning_rate": 0.1, "b1": 1.0}),
         "b1 must lie in"),
        (replace(REGISTRY["gradient-accumulation"], zero_grad=(True,)), "zero_grad"),
        (replace(REGISTRY["five-steps"], train=()), "train data is empty"),
        # What the kinds state (input width, output count, the outputs a loss needs):
        (replace(REGISTRY["mlp/tanh-regression"],
                 model_settings={**REGISTRY["mlp/tanh-regression"].model_settings,
                                 "sizes": [2, 8, 1]}),
         r"the mlp takes 2 feature\(s\) but the data has 1"),
        (replace(REGISTRY["mlp/tanh-regression"],
                 model_settings={**REGISTRY["mlp/tanh-regression"].model_settings,
                                 "sizes": [1, 8, 2]}),
         "loss half-squared-error scores one output per example, the model has 2"),
    ]
    for experiment, message in bad:
        with pytest.raises(ValueError, match=message) as err:
            get_backend(backend).run(experiment)
        assert "\n" not in str(err.value)


# --- the convention table (docs/conventions.md): each row's claim -----------------


def _torch_path(make, grads, *, p0=1.0, dtype=torch.float64):
    """Parameter values after each of ``grads`` (fed as .grad) through a torch optimizer."""
    p = torch.tensor(p0, dtype=dtype, requires_grad=True)
    opt = make([p])
    path = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=dtype)
        opt.step()
        path.append(p.item())
    return path


def _optax_path(opt, grads, *, p0=1.0, dtype=jnp.float64):
    """As :func:`_torch_path` for optax; float64 inside ``ft.float64()``, float32 without x64."""
    with ft.float64() if dtype == jnp.float64 else contextlib.nullcontext():
        p = jnp.asarray(p0, dtype)
        state = opt.init(p)
        path = []
        for g in grads:
            updates, state = opt.update(jnp.asarray(g, dtype), state, p)
            p = optax.apply_updates(p, updates)
            path.append(float(p))
    return path


GRADS = [0.5, -1.0, 2.0, 0.25, -0.75]
CONVENTION_TOL = ft.tolerance("float64", len(GRADS))


def _agree(a, b):
    return np.allclose(a, b, rtol=CONVENTION_TOL, atol=CONVENTION_TOL)


def test_convention_momentum_dampening_and_lr_placement():
    torch_zero = _torch_path(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.0),
                             GRADS)
    assert _agree(torch_zero, _optax_path(optax.sgd(0.1, momentum=0.9), GRADS))
    torch_damped = _torch_path(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.9),
                               GRADS)
    assert not _agree(torch_damped, torch_zero)
    # torch's default is dampening 0, the optax trace convention.
    assert inspect.signature(torch.optim.SGD).parameters["dampening"].default == 0


def test_convention_nesterov():
    torch_path = _torch_path(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                             GRADS)
    assert _agree(torch_path, _optax_path(optax.sgd(0.1, momentum=0.9, nesterov=True), GRADS))
    assert not _agree(torch_path, _optax_path(optax.sgd(0.1, momentum=0.9), GRADS))


def test_convention_adam_eps_outside_the_root():
    tiny = [g * 1e-9 for g in GRADS]  # gradients near eps make the placement visible
    torch_path = _torch_path(lambda p: torch.optim.Adam(p, lr=0.1, eps=1e-8), tiny)
    assert _agree(torch_path, _optax_path(optax.adam(0.1, eps=1e-8), tiny))
    inside = _optax_path(optax.adam(0.1, eps=0.0, eps_root=1e-8), tiny)
    assert not _agree(torch_path, inside)
    assert inspect.signature(optax.adam).parameters["eps_root"].default == 0.0


def test_convention_adamw_weight_decay_defaults_and_coupling():
    assert inspect.signature(torch.optim.AdamW).parameters["weight_decay"].default == 1e-2
    assert inspect.signature(optax.adamw).parameters["weight_decay"].default == 1e-4
    torch_path = _torch_path(lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.01), GRADS)
    assert _agree(torch_path, _optax_path(optax.adamw(0.1, weight_decay=0.01), GRADS))
    assert not _agree(torch_path, _optax_path(optax.adamw(0.1), GRADS))  # defaults differ


def test_convention_torch_adam_weight_decay_is_l2_not_decoupled():
    torch_path = _torch_path(lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.01), GRADS)
    l2 = optax.chain(optax.add_decayed_weights(0.01), optax.adam(0.1))
    assert _agree(torch_path, _optax_path(l2, GRADS))
    assert not _agree(torch_path, _optax_path(optax.adamw(0.1, weight_decay=0.01), GRADS))


def test_convention_sgd_weight_decay_is_added_to_the_gradient():
    torch_path = _torch_path(lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01), GRADS)
    coupled = optax.chain(optax.add_decayed_weights(0.01), optax.sgd(0.1))
    assert _agree(torch_path, _optax_path(coupled, GRADS))
    assert not _agree(torch_path, _optax_path(optax.sgd(0.1), GRADS))


def test_convention_float32_adam_bias_correction():
    # First Adam step with g = 1 is exactly -lr in exact arithmetic. Without x64 (how the
    # jax backend runs float32) optax computes 1 - b2^t in float32, where 1 - 0.999 keeps
    # ~5 digits; torch computes it in Python float64.
    first = -1.0
    optax_step = _optax_path(optax.adam(1.0, eps=0.0), [1.0], p0=0.0, dtype=jnp.float32)[0]
    torch_step = _torch_path(lambda p: torch.optim.Adam(p, lr=1.0, eps=0.0), [1.0], p0=0.0,
                             dtype=torch.float32)[0]
    assert abs(torch_step - first) <= 2 * FLOAT32_EPS
    assert abs(optax_step - first) > 10 * FLOAT32_EPS


def test_convention_adam_near_overflow():
    # |g| = 2e154: g * g overflows float64. optax squares first (nu = inf, update 0);
    # torch's addcmul multiplies (1 - b2) * g first (finite nu, the usual first step -lr).
    torch_path = _torch_path(lambda p: torch.optim.Adam(p, lr=0.1), [2e154], p0=0.0)
    optax_path = _optax_path(optax.adam(0.1), [2e154], p0=0.0)
    assert math.isclose(torch_path[0], -0.1, rel_tol=CONVENTION_TOL)
    assert optax_path[0] == 0.0
    # Once v overflows in both, torch's addcdiv_ forms lr * m before dividing by
    # denom = inf (inf / inf = NaN); optax divides first (update 0, theta kept).
    torch_path = _torch_path(lambda p: torch.optim.Adam(p, lr=1e10), [1.0, 1e300], p0=0.0)
    optax_path = _optax_path(optax.adam(1e10), [1.0, 1e300], p0=0.0)
    assert math.isnan(torch_path[1])
    assert optax_path[1] == optax_path[0]


def test_convention_half_before_the_mean():
    # 0.5 * MSELoss(mean) sums e^2 before halving: three errors of 1e154 overflow there,
    # while the mean of 0.5 e^2 (the lesson's loss, every backend's) stays finite.
    pred = torch.full((3, 1), 1e154, dtype=torch.float64)
    target = torch.zeros((3, 1), dtype=torch.float64)
    lesson_form = 0.5 * torch.nn.MSELoss(reduction="mean")(pred, target)
    backend_form = (0.5 * torch.nn.MSELoss(reduction="none")(pred, target)).mean()
    assert math.isinf(lesson_form.item())
    assert math.isclose(backend_form.item(), 0.5e308, rel_tol=CONVENTION_TOL)


def test_convention_tf32_defaults():
    # CPU only here: these are the defaults that keep float32 matmuls in full precision.
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.get_float32_matmul_precision() == "highest"


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "adamw"])
def test_backends_and_functional_training_accept_the_same_settings(name):
    # Two validators (the stdlib backends need no JAX), one set of bounds: probe each
    # hyperparameter at and around its bounds and require the same verdict.
    from comparisons.backends._common import optimizer_settings

    for key in ft.optimizer_hyperparameters(name):
        for value in (-0.5, 0.0, 0.5, 0.999, 1.0, 1.5, float("inf"), float("nan")):
            experiment = replace(REGISTRY[f"optimizer/{name}"],
                                 hyperparams={"learning_rate": 0.1, key: value})
            try:
                optimizer_settings(experiment)
                backends_accept = True
            except (ValueError, TypeError):
                backends_accept = False
            try:
                ft.check_hyperparameters(name, {key: value})
                ft_accepts = True
            except (ValueError, TypeError):
                ft_accepts = False
            assert backends_accept == ft_accepts, (name, key, value)


# --- weight_decay as torch.optim and optax mean it (coupled; decoupled for adamw) -------

DECAY_ROWS = ((1.0, 0.5, 3.0), (2.0, -1.0, 5.0), (3.0, 0.0, 7.0), (-1.0, 2.0, 0.5),
              (0.5, 1.5, 2.0))
DECAY_HYPER = {
    "sgd": {"learning_rate": 0.05},
    "momentum": {"learning_rate": 0.02, "momentum": 0.8},
    "nesterov": {"learning_rate": 0.02, "momentum": 0.8},
    "adam": {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-8},
    "adamw": {"learning_rate": 0.05, "b1": 0.8, "b2": 0.99, "eps": 1e-8},
}
DECAY_STEPS = 8


def _decayed(name: str) -> Experiment:
    """Two features, mini-batches of 2, weights far from zero: the decay shows at step 0."""
    return Experiment(f"decay/{name}", "weight decay", DECAY_ROWS,
                      {"w[0]": 1.5, "w[1]": -2.0, "b": 0.5}, name,
                      {**DECAY_HYPER[name], "weight_decay": 0.3}, DECAY_STEPS, batch_size=2,
                      seed=3)


def _numpy_decayed(e: Experiment) -> dict[str, np.ndarray]:
    """NumPy float64 from the documented algorithms: the data gradient ``g`` (recorded), then
    ``g + lam theta`` into SGD / momentum / Nesterov / Adam, or AdamW's ``+ lam theta``
    beside Adam's direction."""
    h, name = e.hyperparams, e.optimizer
    data = np.asarray(e.train)
    x, y = data[:, :-1], data[:, -1]
    theta = np.array([e.init["w[0]"], e.init["w[1]"], e.init["b"]])
    v, m, s = np.zeros(3), np.zeros(3), np.zeros(3)
    out = {"params": [theta.copy()], "grads": []}
    for t, rows in enumerate(batch_order(e), start=1):
        err = x[rows] @ theta[:2] + theta[2] - y[rows]
        g = np.append(x[rows].T @ err / len(rows), np.mean(err))
        out["grads"].append(g)
        if name != "adamw":
            g = g + h["weight_decay"] * theta
        if name == "sgd":
            step = g
        elif name in ("momentum", "nesterov"):
            v = h["momentum"] * v + g
            step = g + h["momentum"] * v if name == "nesterov" else v
        else:
            m = h["b1"] * m + (1 - h["b1"]) * g
            s = h["b2"] * s + (1 - h["b2"]) * g * g
            step = (m / (1 - h["b1"] ** t)) / (np.sqrt(s / (1 - h["b2"] ** t)) + h["eps"])
            if name == "adamw":
                step = step + h["weight_decay"] * theta
        theta = theta - h["learning_rate"] * step
        out["params"].append(theta.copy())
    return {key: np.asarray(values) for key, values in out.items()}


def _torch_decayed(e: Experiment) -> dict[str, np.ndarray]:
    """torch float64 as a user writes it: ``torch.optim``'s own ``weight_decay``, ``.grad``."""
    h, name = e.hyperparams, e.optimizer
    data = torch.tensor(e.train, dtype=torch.float64)
    x, y = data[:, :-1], data[:, -1]
    w = torch.tensor([e.init["w[0]"], e.init["w[1]"]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(e.init["b"], dtype=torch.float64, requires_grad=True)
    if name in ("sgd", "momentum", "nesterov"):
        opt = torch.optim.SGD([w, b], lr=h["learning_rate"], momentum=h.get("momentum", 0.0),
                              nesterov=name == "nesterov", weight_decay=h["weight_decay"])
    else:
        kind = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        opt = kind([w, b], lr=h["learning_rate"], betas=(h["b1"], h["b2"]), eps=h["eps"],
                   weight_decay=h["weight_decay"])
    out = {"params": [np.append(w.detach().numpy(), b.item())], "grads": []}
    for rows in batch_order(e):
        opt.zero_grad()
        loss = (0.5 * (x[rows] @ w + b - y[rows]) ** 2).mean()
        loss.backward()
        out["grads"].append(np.append(w.grad.numpy(), b.grad.item()))
        opt.step()
        out["params"].append(np.append(w.detach().numpy(), b.item()))
    return {key: np.asarray(values) for key, values in out.items()}


def _as_array(traj: TrajectoryRecord, series: str) -> np.ndarray:
    values = getattr(traj, series)
    return np.stack([values["w[0]"], values["w[1]"], values["b"]], axis=1)


@pytest.mark.parametrize("name", ft.OPTIMIZER_NAMES)
def test_weight_decay_agrees_with_torch_and_numpy(name):
    """``weight_decay`` in every backend is torch.optim's own (coupled for sgd, momentum,
    nesterov and adam, decoupled for adamw), and the recorded gradient is ``.grad``:
    the data gradient, no decay term. Tolerance: ft.tolerance("float64", S), the
    project's float64 policy (a decay applied the other way, or recorded, moves the
    values by more than 1e-3 here)."""
    e = _decayed(name)
    tol = ft.tolerance("float64", DECAY_STEPS)
    numpy_ref, torch_ref = _numpy_decayed(e), _torch_decayed(e)
    for ref in (numpy_ref, torch_ref):
        for backend in BACKEND_NAMES:
            traj = get_backend(backend).run(e)
            for series in ("params", "grads"):
                np.testing.assert_allclose(_as_array(traj, series), ref[series], rtol=tol,
                                           atol=tol, err_msg=f"{backend} {series}")
    undecayed = _numpy_decayed(replace(e, hyperparams={**e.hyperparams, "weight_decay": 0.0}))
    assert np.max(np.abs(undecayed["params"] - numpy_ref["params"])) > 1e-3


# --- [loss] reduction = "sum": d2l's l.sum().backward(), param -= lr * grad / batch_size ----

SUM_ROWS = ((1.0, 0.5, 3.0), (2.0, -1.0, 5.0), (3.0, 0.0, 7.0), (-1.0, 2.0, 0.5),
            (0.5, 1.5, 2.0))
SUM_INIT = {"w[0]": 0.3, "w[1]": -0.2, "b": 0.1}


def _summed(batch_size: int | None, steps: int, *, l2: float = 0.0) -> Experiment:
    return Experiment("summed", "d2l's summed loss", SUM_ROWS, SUM_INIT, "sgd",
                      {"learning_rate": 0.03}, steps, batch_size=batch_size, seed=1,
                      l2=l2, reduction="sum")


def _numpy_d2l(e: Experiment, order: list[list[int]]) -> dict[str, np.ndarray]:
    """d2l's scratch loop in NumPy float64: per-example ``0.5 (y_hat - y)^2`` (plus the
    penalty per example), summed over the batch for the loss and its gradient, and
    ``theta -= lr * grad / batch_size`` with the nominal batch size, also for a short batch."""
    data = np.asarray(e.train)
    x, y = data[:, :-1], data[:, -1]
    theta = np.array([e.init["w[0]"], e.init["w[1]"], e.init["b"]])
    nominal = e.batch_size or len(e.train)
    out = {"params": [theta.copy()], "grads": [], "batch_loss": []}
    for rows in order:
        err = x[rows] @ theta[:2] + theta[2] - y[rows]
        penalty = e.l2 * np.sum(theta * theta)
        out["batch_loss"].append(np.sum(0.5 * err * err + penalty))
        grad = np.append(x[rows].T @ err, np.sum(err)) + len(rows) * 2 * e.l2 * theta
        out["grads"].append(grad)
        theta = theta - e.hyperparams["learning_rate"] * grad / nominal
        out["params"].append(theta.copy())
    return {key: np.asarray(values) for key, values in out.items()}


def _assert_d2l(traj: TrajectoryRecord, ref: dict, tol: float, label: str) -> None:
    for series in ("params", "grads"):
        np.testing.assert_allclose(_as_array(traj, series), ref[series], rtol=tol, atol=tol,
                                   err_msg=f"{label} {series}")
    np.testing.assert_allclose(traj.batch_loss, ref["batch_loss"], rtol=tol, atol=tol,
                               err_msg=f"{label} batch_loss")


@pytest.mark.parametrize("batch_size,l2", [(2, 0.0), (None, 0.05)])
def test_summed_loss_records_sums_and_steps_on_the_mean(batch_size, l2):
    """reduction = "sum": batch_loss and grads are the batch's sums (d2l's raw .grad), the
    step divides by batch_size; every backend against NumPy float64 at
    ft.tolerance("float64", S) (a sum recorded as a mean is off by a factor n)."""
    e = _summed(batch_size, 6, l2=l2)
    order = batch_order(e) or [list(range(len(SUM_ROWS)))] * e.steps
    ref = _numpy_d2l(e, order)
    tol = ft.tolerance("float64", e.steps)
    for backend in BACKEND_NAMES:
        _assert_d2l(get_backend(backend).run(e), ref, tol, backend)
    # declared or not, the parameters are the mean loss's: only what is recorded differs
    mean = get_backend("manual").run(replace(e, reduction="mean"))
    np.testing.assert_allclose(_as_array(mean, "params"), ref["params"], rtol=tol, atol=tol)


def test_summed_loss_divides_a_short_last_batch_by_the_nominal_batch_size():
    """A short last batch (5 rows in batches of 2) is summed over its 1 example and divided
    by 2, as d2l's sgd(params, lr, batch_size) does: manual, engine and torch against
    NumPy float64 (ragged orders drive the loop through Loop.batches)."""
    from comparisons.backends._loop import Loop, run_loop
    from comparisons.backends.engine import EngineMaths
    from comparisons.backends.manual import ManualMaths
    from comparisons.backends.torch_backend import TorchMaths

    order = [[4, 1], [0, 3], [2], [3, 2], [1, 0], [4]]

    class Ragged(Loop):
        def batches(self):
            return order

    e = _summed(2, len(order))
    ref = _numpy_d2l(e, order)
    tol = ft.tolerance("float64", e.steps)
    for maths in (ManualMaths, EngineMaths, TorchMaths):
        _assert_d2l(run_loop(e, maths, loop=Ragged), ref, tol, maths.__name__)
    # the short batch's step is half the mean's: not what a mean loss would do
    mean = run_loop(replace(e, reduction="mean"), ManualMaths, loop=Ragged)
    assert abs(mean.params["b"][3] - ref["params"][3, 2]) > 1e-3


def test_reduction_is_checked():
    with pytest.raises(ValueError, match="^reduction must be one of mean, sum, got 'max'$"):
        get_backend("manual").run(replace(_summed(2, 2), reduction="max"))
    with pytest.raises(ValueError, match="applies to train experiments"):
        get_backend("manual").run(replace(REGISTRY["gradient-accumulation"], reduction="sum"))


# --- softmax regression: linear with k outputs, no sizes, no activation ------------------

SOFTMAX_ROWS = ((1.0, 0.5, 0.0), (2.0, -1.0, 1.0), (0.0, 1.0, 2.0), (0.3, 0.2, 1.0),
                (-1.0, 0.4, 0.0), (0.7, -0.6, 2.0))


def test_softmax_regression_agrees_with_numpy_in_every_backend():
    """A linear model with 3 outputs and softmax-cross-entropy, Adam on mini-batches, against
    softmax regression in NumPy float64 (params, grads, batch_loss) at
    ft.tolerance("float64", S)."""
    init = {**{f"w[{i},{j}]": 0.1 * (i - j) for i in range(2) for j in range(3)},
            **{f"b[{j}]": 0.05 * j for j in range(3)}}
    h = {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
    e = Experiment("softmax-regression", "softmax regression", SOFTMAX_ROWS, init, "adam", h,
                   6, batch_size=3, seed=2, model_settings={"outputs": 3},
                   trainable=("w", "b"), loss="softmax-cross-entropy")
    data = np.asarray(SOFTMAX_ROWS)
    x, t = data[:, :2], data[:, 2].astype(int)
    theta = np.array([init[n] for n in e.parameter_names])  # w[0,0..2], w[1,0..2], b[0..2]
    m, v = np.zeros(9), np.zeros(9)
    ref = {"params": [theta.copy()], "grads": [], "batch_loss": []}
    for step, rows in enumerate(batch_order(e), start=1):
        w, b = theta[:6].reshape(2, 3), theta[6:]
        z = x[rows] @ w + b
        ref["batch_loss"].append(np.mean(np.log(np.sum(np.exp(z), 1)) - z[np.arange(3),
                                                                            t[rows]]))
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(3), t[rows]] -= 1.0
        g = np.append((x[rows].T @ p / 3).reshape(-1), p.mean(0))
        ref["grads"].append(g)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        theta = theta - 0.1 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        ref["params"].append(theta.copy())
    tol = ft.tolerance("float64", e.steps)
    for backend in BACKEND_NAMES:
        traj = get_backend(backend).run(e)
        for series in ("params", "grads"):
            got = np.stack([getattr(traj, series)[n] for n in e.parameter_names], axis=1)
            np.testing.assert_allclose(got, np.asarray(ref[series]), rtol=tol, atol=tol,
                                       err_msg=f"{backend} {series}")
        np.testing.assert_allclose(traj.batch_loss, ref["batch_loss"], rtol=tol, atol=tol)


def test_jax_scales_a_short_summed_batch_in_its_compiled_run():
    """The jax backend's compiled run steps on (n_k / B) of the mean's gradient for a summed
    loss's short batch (what Loop.step_scale asks of the other backends); exact halves."""
    from comparisons.backends.jax_backend import _summed_steps

    e = _summed(2, 3)
    base = optax.sgd(1.0)
    assert _summed_steps(e, [[0, 1], [2, 3], [4, 0]], base) is base  # every batch full
    opt = _summed_steps(e, [[0, 1], [2], [3, 4]], base)
    params = jnp.asarray(0.0)
    state = opt.init(params)
    steps = []
    for _ in range(3):
        updates, state = opt.update(jnp.asarray(1.0), state, params)
        steps.append(float(updates))
    assert steps == [-1.0, -0.5, -1.0]


@pytest.mark.parametrize("name", ["mlp/moons", "softmax/delay-class", "train-validation"])
def test_jax_whole_run_records_what_the_loop_records(name):
    # A large run returns the compiled run's record as it is (jax_backend.WholeRun) instead
    # of reading it back through the loop; on a small run the two records are equal, value
    # for value (a schedule, accuracy, validation and batches included). If the loop ever
    # records something else, WholeRun must too.
    experiment = REGISTRY[name]
    with ft.precision("float64"), jax.default_matmul_precision("highest"):
        looped = run_loop(experiment, jax_backend.JaxMaths)
        whole = run_loop(experiment, jax_backend.JaxMaths, loop=jax_backend.WholeRun)
    assert whole == looped


def test_a_large_jax_record_holds_the_named_values_the_converter_gives(monkeypatch):
    # A large run's params and grads are taken as one block each (jax_backend._record),
    # named by the experiment's parameter names: the converter's record, value for value
    # (the converter names each element itself). Forced large on a small MLP.
    experiment = REGISTRY["softmax/delay-class"]
    with ft.precision("float64"), jax.default_matmul_precision("highest"):
        maths = jax_backend.JaxMaths(experiment, "float64")
        monkeypatch.setattr(ft, "holds_arrays", lambda parameters, steps: True)
        maths.start(batch_order(experiment))
    blocked = maths.record
    monkeypatch.undo()
    with ft.precision("float64"), jax.default_matmul_precision("highest"):
        converted = run_loop(experiment, jax_backend.JaxMaths)
    for quantity in ("params", "grads"):
        mine, theirs = getattr(blocked, quantity), getattr(converted, quantity)
        assert list(mine) == list(theirs)
        assert all(isinstance(v, np.ndarray) and not v.flags.writeable for v in mine.values())
        assert {n: v.tolist() for n, v in mine.items()} == theirs
    assert replace(blocked, params={}, grads={}) == replace(converted, params={}, grads={})


def test_summed_loss_with_a_kept_short_last_batch_in_every_backend():
    """d2l's data_iter keeps the short last batch: last_batch = "keep" (5 rows in batches of
    2: 2, 2, 1 per epoch) with reduction = "sum", every backend (jax steps eagerly through
    batches of different sizes) against d2l's loop in NumPy float64."""
    e = replace(_summed(2, 6), last_batch="keep")
    order = batch_order(e)
    assert sorted(len(rows) for rows in order)[0] == 1  # a short batch is in the run
    ref = _numpy_d2l(e, order)
    tol = ft.tolerance("float64", e.steps)
    for backend in BACKEND_NAMES:
        _assert_d2l(get_backend(backend).run(e), ref, tol, backend)
