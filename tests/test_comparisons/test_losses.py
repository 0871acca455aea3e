"""Every loss's backend pieces (``comparisons.losses``) against the JAX loss kinds.

Expected values come from ``functional_training.LOSS_KINDS`` in float64: each
kind's ``per_example`` for the values and ``jax.grad`` of their sum for the
per-example derivatives (the examples are independent), ``l2_penalty`` for the
penalty, and ``Objective.loss_and_grad`` for the pieces put together.

Tolerance, every closeness check: ``|a - r| <= 1e-12 (1 + |r|)`` elementwise
(``rtol = atol = functional_training.tolerance("float64", 0)``, the project's
float64 tolerance): ``exp``/``log1p`` of the C library, XLA and torch differ by an
ulp or two, and the engine, which has no ``log1p``, loses ``log(1 + e)`` below
1e-16 absolutely. Infinities must match exactly. The hinge's kink is compared
exactly, backend by backend, because there the conventions differ.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functional_training as ft
from comparisons.engine import Value
from comparisons.losses import (
    LOSS_PIECES,
    engine_l2,
    loss_pieces,
    manual_l2,
    torch_l2,
)
from comparisons.models import mlp

TOL = ft.tolerance("float64", 0)  # 1e-12 (module docstring)

SCALAR_LOSSES = ("half-squared-error", "squared-error", "binary-cross-entropy", "hinge")
LARGE = [1000.0, -1000.0, 745.0, -745.0, 40.0, -40.0, 0.0, 1e-300, -0.0]


def assert_close(actual, expected, what: str = "") -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               rtol=TOL, atol=TOL, err_msg=what)


def _targets_for(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    coding = ft.LOSS_KINDS[name].targets
    if coding == "binary":
        return rng.integers(0, 2, n).astype(np.float64)
    if coding == "sign":
        return rng.choice([-1.0, 1.0], n)
    if coding == "class":
        return rng.integers(0, 3, n).astype(np.float64)
    return rng.normal(0.0, 3.0, n)


def _per_example_and_derivative(outputs, targets, name):
    values, vjp = jax.vjp(lambda o: ft.LOSS_KINDS[name].per_example(o, targets), outputs)
    return values, vjp(jnp.ones_like(values))[0]  # examples are independent: dl_i/ds_i


_jax_loss = jax.jit(_per_example_and_derivative, static_argnums=2)


def jax_reference(name: str, outputs, targets) -> tuple[np.ndarray, np.ndarray]:
    """Per-example losses and ``dl/doutputs`` from the core's loss kind, float64."""
    with ft.float64():
        outputs = jnp.asarray(outputs, dtype=jnp.float64)
        targets = jnp.asarray(targets, dtype=jnp.float64)
        if name == "softmax-cross-entropy":
            targets = targets.astype(jnp.int32)
        values, grads = _jax_loss(outputs, targets, name)
    return np.asarray(values), np.asarray(grads)


def cases(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random outputs of every scale plus the large logits, with targets fitting the loss."""
    rng = np.random.default_rng(seed)
    if name == "softmax-cross-entropy":
        z = np.concatenate([rng.normal(0.0, 5.0, (12, 3)),
                            [[1000.0, -1000.0, 0.0], [1000.0, 1000.0, 1000.0],
                             [-1000.0, 0.0, 1000.0], [-1000.0, -1000.0, -999.0]]])
        return z, _targets_for(name, rng, len(z))
    s = np.concatenate([rng.normal(0.0, 3.0, 12), LARGE])
    return s, _targets_for(name, rng, len(s))


def manual_all(name: str, outputs, targets) -> tuple[list, list]:
    pieces = loss_pieces(name)
    results = [pieces.manual(o.tolist() if np.ndim(o) else float(o), float(t))
               for o, t in zip(outputs, targets, strict=True)]
    return [r[0] for r in results], [r[1] for r in results]


def engine_all(name: str, outputs, targets) -> tuple[list, list]:
    pieces = loss_pieces(name)
    values, grads = [], []
    for o, t in zip(outputs, targets, strict=True):
        nodes = [Value(v) for v in np.atleast_1d(o)]
        loss = pieces.engine(nodes if np.ndim(o) else nodes[0], float(t))
        loss.backward()
        values.append(loss.data)
        grads.append([node.grad for node in nodes] if np.ndim(o) else nodes[0].grad)
    return values, grads


def test_every_core_loss_has_pieces_and_names_match():
    assert LOSS_PIECES.keys() == ft.LOSS_KINDS.keys()
    for name, pieces in LOSS_PIECES.items():
        assert pieces.name == name
        assert (pieces.manual_label is None) == (ft.LOSS_KINDS[name].predicted is None)
        assert (pieces.torch_label is None) == (ft.LOSS_KINDS[name].predicted is None)
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        loss_pieces("l1")


@pytest.mark.parametrize("name", list(LOSS_PIECES))
def test_manual_value_and_derivative_match_jax(name):
    outputs, targets = cases(name)
    expected_values, expected_grads = jax_reference(name, outputs, targets)
    values, grads = manual_all(name, outputs, targets)
    assert np.all(np.isfinite(values)), "large logits must give a finite loss"
    assert_close(values, expected_values, f"{name} value")
    assert_close(grads, expected_grads, f"{name} derivative")


@pytest.mark.parametrize("name", list(LOSS_PIECES))
def test_engine_value_and_gradient_match_jax(name):
    outputs, targets = cases(name, seed=1)
    expected_values, expected_grads = jax_reference(name, outputs, targets)
    values, grads = engine_all(name, outputs, targets)
    assert_close(values, expected_values, f"{name} value")
    assert_close(grads, expected_grads, f"{name} gradient")


@pytest.mark.parametrize("name", list(LOSS_PIECES))
def test_torch_value_and_gradient_match_jax(name):
    torch = pytest.importorskip("torch")
    outputs, targets = cases(name, seed=2)
    expected_values, expected_grads = jax_reference(name, outputs, targets)
    out = torch.tensor(outputs, dtype=torch.float64, requires_grad=True)
    losses = loss_pieces(name).torch(torch, out, torch.tensor(targets, dtype=torch.float64))
    assert tuple(losses.shape) == (len(targets),)
    losses.sum().backward()  # examples are independent: each output gets its own dl/ds
    assert_close(losses.detach().numpy(), expected_values, f"{name} value")
    assert_close(out.grad.numpy(), expected_grads, f"{name} gradient")


@pytest.mark.parametrize("name", SCALAR_LOSSES)
def test_torch_refuses_to_broadcast(name):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="refusing to broadcast"):
        loss_pieces(name).torch(torch, torch.zeros(3, dtype=torch.float64),
                                torch.zeros((3, 1), dtype=torch.float64))


def test_softmax_refuses_a_target_outside_the_classes():
    with pytest.raises(ValueError, match="not a class 0..2"):
        loss_pieces("softmax-cross-entropy").manual([0.0, 1.0, 2.0], 3.0)


def test_squares_and_exponents_overflow_to_inf_not_an_exception():
    # Python's ** and math.exp raise OverflowError; a diverged run must record inf.
    assert loss_pieces("squared-error").manual(1e200, 0.0) == (math.inf, 2e200)
    assert loss_pieces("half-squared-error").manual(-1e200, 0.0) == (math.inf, -1e200)
    value, grad = loss_pieces("binary-cross-entropy").manual(-1e308, 1.0)
    assert value == 1e308 and grad == -1.0
    expected_values, expected_grads = jax_reference("squared-error", [1e200], [0.0])
    assert expected_values[0] == math.inf and expected_grads[0] == 2e200


@pytest.mark.parametrize("t", [1.0, -1.0])
def test_hinge_at_the_kink_each_backend_has_its_own_convention(t):
    # At t s = 1 exactly, 1 - t s = 0 is the kink of max(0, .). The value is 0 everywhere;
    # the derivative is a convention: manual and engine (relu'(0) = 0) give 0, torch's
    # clamp(min=0) passes the gradient where its input is >= 0 (-t), and JAX's
    # jnp.maximum splits a tie evenly (-t / 2). Compared exactly: these are conventions.
    s = t  # t s = t * t = 1
    assert loss_pieces("hinge").manual(s, t) == (0.0, 0.0)
    (engine_value,), (engine_grad,) = engine_all("hinge", np.array([s]), np.array([t]))
    assert (engine_value, engine_grad) == (0.0, 0.0)
    jax_values, jax_grads = jax_reference("hinge", [s], [t])
    assert (jax_values[0], jax_grads[0]) == (0.0, -t / 2)
    torch = pytest.importorskip("torch")
    out = torch.tensor([s], dtype=torch.float64, requires_grad=True)
    loss = loss_pieces("hinge").torch(torch, out, torch.tensor([t], dtype=torch.float64))
    loss.sum().backward()
    assert (loss.item(), out.grad.item()) == (0.0, -t)


@pytest.mark.parametrize("t", [1.0, -1.0])
@pytest.mark.parametrize("offset", [-1e-9, -2.0**-52, 2.0**-52, 1e-9, 0.5])
def test_hinge_around_the_kink_all_backends_agree(t, offset):
    s = np.array([t * (1.0 + offset)])
    targets = np.array([t])
    expected_values, expected_grads = jax_reference("hinge", s, targets)
    assert expected_grads[0] == (-t if offset < 0 else 0.0)
    for values, grads in (manual_all("hinge", s, targets), engine_all("hinge", s, targets)):
        assert_close(values, expected_values, "value")
        assert_close(grads, expected_grads, "derivative")


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(SCALAR_LOSSES), s=st.floats(-1e3, 1e3),
       pick=st.integers(0, 1), real_target=st.floats(-1e3, 1e3))
def test_scalar_losses_match_jax_on_drawn_outputs(name, s, pick, real_target):
    coding = ft.LOSS_KINDS[name].targets
    t = {"binary": float(pick), "sign": (1.0, -1.0)[pick], "real": real_target}[coding]
    expected_values, expected_grads = jax_reference(name, [s], [t])
    if name == "hinge" and t * s == 1.0:
        return  # the kink: conventions differ (test above)
    for values, grads in (manual_all(name, np.array([s]), np.array([t])),
                          engine_all(name, np.array([s]), np.array([t]))):
        assert_close(values, expected_values, f"{name} value")
        assert_close(grads, expected_grads, f"{name} derivative")


@settings(max_examples=60, deadline=None)
@given(z=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=5), pick=st.integers(0, 4))
def test_softmax_cross_entropy_matches_jax_on_drawn_logits(z, pick):
    outputs, targets = np.array([z]), np.array([float(pick % len(z))])
    expected_values, expected_grads = jax_reference("softmax-cross-entropy", outputs, targets)
    for values, grads in (manual_all("softmax-cross-entropy", outputs, targets),
                          engine_all("softmax-cross-entropy", outputs, targets)):
        assert_close(values, expected_values, "value")
        assert_close(grads, expected_grads, "derivative")


LABEL_OUTPUTS = {
    "binary-cross-entropy": [-1.0, 0.0, -0.0, 0.5, 1e-300, -1e-300, 1000.0],
    "hinge": [-1.0, 0.0, -0.0, 0.5, 1e-300, -1e-300, 1000.0],
    "softmax-cross-entropy": [[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 3.0, 3.0],
                              [-1.0, -2.0, -1.0], [0.1, 0.2, 0.3], [1.0, math.nan, 2.0]],
}


@pytest.mark.parametrize("name", list(LABEL_OUTPUTS))
def test_labels_match_the_core(name):
    # Exact: a label is a class, no rounding involved (ties pick the first class; 0 is
    # the negative class; a nan logit is the argmax, as in NumPy, JAX and torch).
    outputs = np.array(LABEL_OUTPUTS[name])
    with ft.float64():
        expected = np.asarray(ft.LOSS_KINDS[name].predicted(jnp.asarray(outputs)))
    pieces = loss_pieces(name)
    manual = [pieces.manual_label(o.tolist() if np.ndim(o) else float(o)) for o in outputs]
    assert manual == expected.tolist()
    assert all(type(label) is float for label in manual)
    torch = pytest.importorskip("torch")
    labels = pieces.torch_label(torch, torch.tensor(outputs, dtype=torch.float64))
    assert labels.dtype == torch.float64
    assert labels.tolist() == expected.tolist()


def test_regression_losses_have_no_labels():
    for name in ("half-squared-error", "squared-error"):
        assert loss_pieces(name).manual_label is None
        assert loss_pieces(name).torch_label is None


def _mlp_values(sizes, seed):
    rng = np.random.default_rng(seed)
    names = ft.parameter_names("mlp", sizes=sizes, activation="tanh")
    return {n: float(v) for n, v in zip(names, rng.normal(0.0, 0.7, len(names)), strict=True)}


def test_l2_matches_the_core_in_every_backend():
    sizes, alpha = [2, 3, 1], 0.03
    values = _mlp_values(sizes, seed=7)
    with ft.float64():
        params = ft.params_from_values("mlp", values, sizes=sizes)
        penalty, grads = jax.value_and_grad(ft.l2_penalty)(params, alpha)
        expected_grads = ft.named_series(grads, leading=0)
    expected = [float(expected_grads[n]) for n in values]

    value, manual_grads = manual_l2(values, alpha)
    assert list(manual_grads) == list(values)
    assert_close(value, float(penalty), "manual value")
    assert_close(list(manual_grads.values()), expected, "manual gradient")

    leaves = {n: Value(v) for n, v in values.items()}
    node = engine_l2(leaves, alpha)
    node.backward()
    assert_close(node.data, float(penalty), "engine value")
    assert_close([leaves[n].grad for n in values], expected, "engine gradient")

    torch = pytest.importorskip("torch")
    module = mlp.torch_module(torch, dtype=torch.float64, sizes=sizes, activation="tanh")
    located = mlp.torch_parameters(module)
    with torch.no_grad():
        for name, (tensor, index) in located.items():
            tensor[index] = values[name]
    total = torch_l2(torch, mlp.torch_leaves(module).values(), alpha)
    total.backward()
    assert_close(total.item(), float(penalty), "torch value")
    assert_close([t.grad[i].item() for t, i in located.values()], expected, "torch gradient")


def test_l2_with_alpha_zero_is_exactly_zero_even_for_diverged_parameters():
    values = {"w": math.inf, "b": 1.0}
    assert manual_l2(values, 0.0) == (0.0, {"w": 0.0, "b": 0.0})
    assert engine_l2({n: Value(v) for n, v in values.items()}, 0.0).data == 0.0
    torch = pytest.importorskip("torch")
    zero = torch_l2(torch, [torch.tensor([math.inf], dtype=torch.float64)], 0.0)
    assert zero.item() == 0.0 and zero.dtype == torch.float64


CHAIN = [("mlp", [2, 3, 1], loss) for loss in SCALAR_LOSSES] + [
    ("mlp", [2, 4, 3], "softmax-cross-entropy")]


@pytest.mark.parametrize("model, sizes, loss", CHAIN, ids=[c[2] for c in CHAIN])
def test_pieces_together_match_the_jax_objective(model, sizes, loss):
    # The backends' whole computation of L_B = mean_i l(f(x_i), y_i) + alpha sum theta^2:
    # model pieces, loss pieces and the penalty, for one batch, against Objective.
    rng = np.random.default_rng(11)
    alpha, config = 1e-3, {"sizes": sizes, "activation": "tanh"}
    values = _mlp_values(sizes, seed=12)
    x = rng.normal(0.0, 1.5, (5, sizes[0]))
    y = _targets_for(loss, rng, 5)
    with ft.float64():
        objective = ft.objective(model, loss=loss, l2=alpha, **config)
        params = ft.params_from_values(model, values, **config)
        jax_loss, jax_grads = objective.loss_and_grad(params, jnp.asarray(x), jnp.asarray(y))
        expected_grads = ft.named_series(jax_grads, leading=0)
    names = list(values)
    expected = [float(expected_grads[n]) for n in names]
    pieces, n = loss_pieces(loss), len(y)

    total, grads = 0.0, dict.fromkeys(names, 0.0)
    for row, target in zip(x.tolist(), y.tolist(), strict=True):
        value, signal = pieces.manual(mlp.manual_predict(values, row, **config), target)
        total += value
        for name, g in mlp.manual_gradients(values, row, signal, **config).items():
            grads[name] += g
    penalty, penalty_grads = manual_l2(values, alpha)
    assert_close(total / n + penalty, float(jax_loss), "manual loss")
    assert_close([grads[k] / n + penalty_grads[k] for k in names], expected, "manual grads")

    leaves = {k: Value(v) for k, v in values.items()}
    graph = sum(pieces.engine(mlp.engine_predict(leaves, row, **config), target)
                for row, target in zip(x.tolist(), y.tolist(), strict=True))
    graph = graph / n + engine_l2(leaves, alpha)
    graph.backward()
    assert_close(graph.data, float(jax_loss), "engine loss")
    assert_close([leaves[k].grad for k in names], expected, "engine grads")

    torch = pytest.importorskip("torch")
    module = mlp.torch_module(torch, dtype=torch.float64, **config)
    located = mlp.torch_parameters(module)
    with torch.no_grad():
        for name, (tensor, index) in located.items():
            tensor[index] = values[name]
    out = module(torch.tensor(x, dtype=torch.float64))
    out = out.flatten() if sizes[-1] == 1 else out
    batch = (pieces.torch(torch, out, torch.tensor(y, dtype=torch.float64)).mean()
             + torch_l2(torch, mlp.torch_leaves(module).values(), alpha))
    batch.backward()
    assert_close(batch.item(), float(jax_loss), "torch loss")
    assert_close([t.grad[i].item() for t, i in located.values()], expected, "torch grads")
