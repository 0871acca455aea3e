"""The next lessons' faults: each caught where the gallery says, and each bug the named one.

The faults' MLP runs (the reference's hand-written loop, ``comparisons.faults.variants``,
with one piece replaced) are checked against an independent NumPy float64
computation of the first step's batch (``numpy_step0``): the same network, written
with matrices from the formulas, with the one piece each fault names swapped for its
broken form (``1 - tanh`` for ``1 - tanh^2``, a ReLU slope of 1 everywhere, the last
example's bias gradient, ``exp(z)`` without ``- max z``, no ``2 alpha theta``).

Tolerances: NumPy sums in another order (BLAS matrix products, pairwise sums) than
the hand-written left folds, so the two float64 results differ by a few ulp of the
summed terms; the terms here are O(1) and at most 20 are summed, so the differences
are below 1e-14. ``CLOSE`` is the project's float64 policy, 1e-12 relative and
absolute (the absolute part for gradients that cancel towards 0).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from comparisons.experiments import REGISTRY, batch_order
from comparisons.faults import FAULTS, check_faults

CLOSE = {"rtol": 1e-12, "atol": 1e-12}  # the float64 policy; see the module docstring

NEW = {  # fault -> (step, quantity) of the first mismatch, as the gallery's table says
    "tanh-derivative-missing-square": (0, "grads.layers.0.w[0,0]"),
    "bias-gradient-not-summed": (0, "grads.layers.0.b[0]"),
    "softmax-without-max-subtraction": (0, "grads.layers.0.w[0,2]"),
    "relu-gradient-where-negative": (0, "grads.layers.0.w[0,0]"),
    "l2-missing-from-gradient": (0, "grads.layers.0.w[0,0]"),
}


@pytest.fixture(scope="module")
def results():
    """Every fault checked once (the reference runs each experiment once)."""
    return {r.fault.name: r for r in check_faults()}


def _runs(name):
    fault = FAULTS[name]
    experiment = fault.experiment()
    return (experiment, fault.run(experiment, broken=True),
            fault.run(experiment, broken=False))


# --- an independent NumPy float64 first step ------------------------------------------------


def _arrays(experiment):
    """Per layer ``(W (fan_in, fan_out), b (fan_out,))`` from the experiment's initial values."""
    sizes = experiment.model_settings["sizes"]
    init = experiment.init
    return [
        (np.array([[init[f"layers.{n}.w[{i},{j}]"] for j in range(m)] for i in range(d)]),
         np.array([init[f"layers.{n}.b[{j}]"] for j in range(m)]))
        for n, (d, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    ]


def _batch(experiment):
    order = batch_order(experiment)
    rows = np.array(experiment.train)[slice(None) if order is None else order[0]]
    return rows[:, :-1], rows[:, -1]


def _named(experiment, layer_grads):
    """``{name: value}`` from per-layer ``(dW, db)`` arrays."""
    named = {}
    for n, (dw, db) in enumerate(layer_grads):
        named.update({f"layers.{n}.w[{i},{j}]": dw[i, j] for i in range(dw.shape[0])
                      for j in range(dw.shape[1])})
        named.update({f"layers.{n}.b[{j}]": db[j] for j in range(db.shape[0])})
    return {name: named[name] for name in experiment.parameter_names}


def numpy_step0(experiment, *, slope="exact", bias="mean", softmax="shifted", l2=True):
    """Batch loss and gradient at the initial parameters on batch 0, in NumPy float64.

    Forward ``Z_l = A_l W_l + b_l``, ``A_{l+1} = f(Z_l)``; per example the signal
    ``G = dL/dZ_last`` (half squared error ``Z - y``; hinge ``-y`` where
    ``1 - y Z > 0``; softmax cross-entropy ``softmax(Z) - onehot(y)``); backward
    ``D_{l-1} = f'(Z_{l-1}) * (D_l W_l^T)``, ``dW_l = A_l^T D_l / n``,
    ``db_l = mean(D_l)``; plus ``alpha sum theta^2`` and ``2 alpha theta``.

    Args:
      slope: ``exact`` (``1 - tanh^2``; ``1`` where ``z > 0``, else ``0``), ``1 - tanh``
        or ``ones`` (the derivative 1 everywhere).
      bias: ``mean`` over the batch, or ``last`` (the last example's).
      softmax: ``shifted`` (``exp(z - max z)``) or ``naive`` (``exp(z)``).
      l2: add ``2 alpha theta`` to the gradient.
    """
    x, y = _batch(experiment)
    layers = _arrays(experiment)
    activation = experiment.model_settings.get("activation", "tanh")
    f = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}[activation]
    inputs, pre, a = [], [], x
    for n, (w, b) in enumerate(layers):
        z = a @ w + b
        inputs.append(a)
        pre.append(z)
        a = f(z) if n < len(layers) - 1 else z
    out = pre[-1]
    with np.errstate(over="ignore", invalid="ignore"):
        if experiment.loss == "softmax-cross-entropy":
            shift = out.max(axis=1, keepdims=True) if softmax == "shifted" else 0.0
            exps = np.exp(out - shift)
            total = exps.sum(axis=1, keepdims=True)
            onehot = np.eye(out.shape[1])[y.astype(int)]
            losses = np.log(total[:, 0]) - ((out - shift) * onehot).sum(axis=1)
            signal = exps / total - onehot
        elif experiment.loss == "hinge":
            margin = 1.0 - y * out[:, 0]
            losses = np.maximum(margin, 0.0)
            signal = np.where(margin > 0.0, -y, 0.0)[:, None]
        else:
            error = out[:, 0] - y
            losses = 0.5 * error * error
            signal = error[:, None]
    grads = [None] * len(layers)
    delta = signal
    for n in range(len(layers) - 1, -1, -1):
        w, _ = layers[n]
        db = delta[-1] if bias == "last" else delta.mean(axis=0)
        grads[n] = (inputs[n].T @ delta / len(x), db)
        if n:
            upstream = delta @ w.T
            z, t = pre[n - 1], inputs[n]
            if slope == "ones":
                delta = upstream
            elif slope == "1 - tanh":
                delta = (1.0 - t) * upstream
            elif activation == "tanh":
                delta = (1.0 - t * t) * upstream
            else:
                delta = np.where(z > 0.0, 1.0, 0.0) * upstream
    named = _named(experiment, grads)
    theta = np.array([experiment.init[name] for name in named])
    alpha = experiment.l2
    loss = losses.mean() + alpha * np.sum(theta * theta)
    if l2:
        named = {name: g + 2.0 * alpha * p for (name, g), p in zip(named.items(), theta,
                                                                     strict=True)}
    return loss, named


def _step0_grads(trajectory):
    return {name: values[0] for name, values in trajectory.grads.items()}


def _assert_grads(actual, expected):
    assert list(actual) == list(expected)
    np.testing.assert_allclose(list(actual.values()), list(expected.values()), **CLOSE)


# --- caught, where the table says --------------------------------------------------------


@pytest.mark.parametrize("name", list(NEW))
def test_each_new_fault_is_caught_where_the_gallery_says(results, name):
    result = results[name]
    assert result.caught, result.where()
    m = result.broken.first_mismatch
    assert (m.step, m.quantity) == NEW[name]
    assert result.correct.agree, result.correct.describe()
    assert result.correct.largest_diff <= CLOSE["rtol"]


@pytest.mark.parametrize("name", list(NEW))
def test_each_new_faults_correct_variant_is_the_numpy_first_step(name):
    # The control half of "caught": the bug-free twin computes the textbook step.
    experiment, _, correct = _runs(name)
    loss, grads = numpy_step0(experiment)
    _assert_grads(_step0_grads(correct), grads)
    assert correct.batch_loss[0] == pytest.approx(loss, rel=CLOSE["rtol"], abs=CLOSE["atol"])


def test_cut_down_experiments_are_copies_of_registry_experiments():
    moons = FAULTS["relu-gradient-where-negative"].experiment()
    assert moons is FAULTS["l2-missing-from-gradient"].experiment()  # one reference run
    assert moons.name not in REGISTRY and REGISTRY["mlp/moons"].train[:20] == moons.train
    assert (moons.steps, moons.l2, moons.loss) == (10, 1e-4, "hinge")
    softmax = FAULTS["softmax-without-max-subtraction"].experiment()
    original = REGISTRY["softmax/delay-class"]
    assert softmax.name not in REGISTRY and softmax.train == original.train
    assert softmax.init == {n: 1000.0 * v for n, v in original.init.items()}


# --- each bug is the named one --------------------------------------------------------------


def test_tanh_fault_uses_one_minus_tanh_for_the_derivative():
    experiment, broken, _ = _runs("tanh-derivative-missing-square")
    _, grads = numpy_step0(experiment, slope="1 - tanh")
    _assert_grads(_step0_grads(broken), grads)
    # Only the first layer's gradients go through the derivative; the output layer's agree.
    _, exact = numpy_step0(experiment)
    assert broken.grads["layers.1.w[0,0]"][0] == pytest.approx(exact["layers.1.w[0,0]"],
                                                               rel=CLOSE["rtol"])
    assert not np.isclose(broken.grads["layers.0.w[0,0]"][0], exact["layers.0.w[0,0]"])


def test_bias_fault_takes_the_last_examples_bias_gradient():
    experiment, broken, _ = _runs("bias-gradient-not-summed")
    assert experiment.batch_size == 4
    _, grads = numpy_step0(experiment, bias="last")
    _assert_grads(_step0_grads(broken), grads)
    # The last example's softmax(z) - onehot(y), and the weights' gradients still the mean.
    x, y = _batch(experiment)
    (w, b), = _arrays(experiment)
    z = x[-1] @ w + b
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose([broken.grads[f"layers.0.b[{j}]"][0] for j in range(3)],
                               p - np.eye(3)[int(y[-1])], **CLOSE)


def test_softmax_fault_overflows_to_nan_where_ieee_would_and_does_not_crash():
    experiment, broken, correct = _runs("softmax-without-max-subtraction")
    x, _ = _batch(experiment)
    (w, b), = _arrays(experiment)
    logits = x @ w + b
    assert logits.max() > math.log(np.finfo(np.float64).max)  # 709.78: exp(z) is inf
    loss, grads = numpy_step0(experiment, softmax="naive")
    assert broken.batch_loss[0] == loss == math.inf  # log(inf) - z_t
    actual = np.array(list(_step0_grads(broken).values()))
    expected = np.array(list(grads.values()))
    assert np.isnan(expected).any()
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))  # inf / inf = nan
    np.testing.assert_allclose(actual, expected, **CLOSE)  # equal_nan: the finite ones match
    assert broken.first_nonfinite_step == 0
    assert correct.first_nonfinite_step is None
    assert all(math.isfinite(v) for v in correct.batch_loss)


def test_relu_fault_passes_the_gradient_where_the_input_is_negative():
    experiment, broken, _ = _runs("relu-gradient-where-negative")
    x, _ = _batch(experiment)
    (w0, b0), *_ = _arrays(experiment)
    assert ((x @ w0 + b0) < 0.0).any()  # negative inputs exist, so the bug matters
    _, grads = numpy_step0(experiment, slope="ones")
    _assert_grads(_step0_grads(broken), grads)


def test_l2_fault_keeps_the_penalty_in_the_loss_but_not_in_the_gradient(results):
    experiment, broken, correct = _runs("l2-missing-from-gradient")
    loss, grads = numpy_step0(experiment, l2=False)
    _assert_grads(_step0_grads(broken), grads)
    assert broken.batch_loss[0] == pytest.approx(loss, rel=CLOSE["rtol"])
    assert broken.batch_loss[0] == correct.batch_loss[0]  # the value has the penalty
    # The mismatch is the missing 2 alpha theta. expected - actual cancels the shared
    # data gradient (~1e-2) down to ~4e-5: ~1e-17 absolute error, so rel 1e-9 is ample.
    m = results["l2-missing-from-gradient"].broken.first_mismatch
    theta = experiment.init["layers.0.w[0,0]"]
    assert m.expected - m.actual == pytest.approx(2.0 * experiment.l2 * theta, rel=1e-9)
