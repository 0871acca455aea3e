"""Fault variants at JAX speed: the faults that are settings of one step, all in one program.

:mod:`comparisons.faults.variants` runs each fault as the manual backend with one
method replaced: one pure-Python run per fault, so diagnosing ``mlp/moons``
(2-16-16-1, 100 points, 100 steps) costs some 26 runs of 6 s. Most of those bugs
change a *number* of the step, not its structure. Here they are :class:`Knobs`, the
traced arguments of one float64 training step written with JAX; the steps run as
one jitted ``lax.scan``, ``jax.vmap``-ped over the faults' knob vectors: one
compile, every variant at once. For a batch ``B`` of ``n`` rows, per-example loss
``l`` and penalty ``alpha sum theta^2``, a variant's step ``k`` is::

    g_data = c_leaf * (sum_i d(s l(f(theta, x_i), y_i))/dtheta) / divisor
    g      = g_data + 2 alpha r_grad m theta + 2 alpha' m theta      (recorded, as .grad)
    buffer = (buffer if accumulate else 0) + g
    used   = previous buffer if stale else buffer
    theta += sign * lr_k * (lr(k) if rate_twice else 1)
             * (rule(used + lam_c m theta) - lam_d m theta)             (once, twice or never)

with the knobs' reference values ``s = 1``, ``c_leaf = 1``, ``divisor = n``,
``r_grad = 1``, ``alpha' = 0``, ``lam_c``/``lam_d`` the spec's coupled/decoupled
weight decay, ``m = 1`` on every leaf, ``sign = 1``, ``lr_k`` the spec's rate of step
``k``; ``rule`` is the optimizer's own direction (optax, at rate 1), and each
recorded loss is the data loss (mean, or sum with ``loss_sum``) plus
``r_value alpha sum m theta^2``. The faults, as knobs:

=========================================  =================================================
fault                                      knobs
=========================================  =================================================
gradients-not-cleared                      ``accumulate``
bias-gradient-sign                         ``c_leaf = -1`` on the biases
loss-missing-half                          ``s = 2``
sum-not-mean                               ``divisor = 1``
sum-not-mean-loss-summed                   ``divisor = 1``, ``loss_sum``
batch-size-divided-twice                   ``divisor = n * n``
bias-gradient-not-summed                   the biases' ``g_data``: the last example's
update-before-loss                         ``loss_after_update``: batch loss at the new theta
tanh-derivative-missing-square,            ``activation``: the hidden layers' derivative
relu-gradient-where-negative               (``1 - tanh``; ``1`` where ``z <= 0``)
relu-gradient-where-negative-hinge         ``hinge`` (``-t`` everywhere) and ``activation``
softmax-without-max-subtraction            ``no_max_shift``
double-softmax, sigmoid-applied-twice      ``double_softmax``, ``sigmoid_twice``
hidden-layer-detached (both forms)         ``c_leaf = 0`` on the detached layers
l2-missing-from-gradient                   ``r_grad = 0``
l2-applied-twice                           ``r_value = r_grad = 2``
l2-also-as-weight-decay                    ``lam_c += 2 alpha``
l2-as-weight-decay                         ``r_value = r_grad = 0``, ``lam_c += 2 alpha``
weight-decay-also-in-loss                  ``alpha' = lam_c / 2`` (batch loss and .grad)
bias-left-out-of-weight-decay              ``m = 0`` on the biases
adamw-not-adam                             ``lam_c = 0``, ``lam_d`` = the spec's or 0.01
learning-rate-applied-twice                ``rate_twice``
wrong-learning-rate (any factor c)         ``lr_k = c lr(k)`` (recorded so)
schedule-not-stepped                       ``lr_k = lr(0)``
update-sign-flipped                        ``sign = -1``
gradients-cleared-before-step              ``cleared_before_step``: no step, .grad 0
step-called-twice                          ``step_twice``: the rule applied twice
stale-gradient                             ``stale``
stale-gradient-step-before-backward        none: the reference's run recorded a step late
                                           (params ``k`` and grads ``k`` those of ``k - 1``)
batch-order-not-reshuffled,                the batch indices (an input per variant), where
last-batch-skipped                         every batch has the reference's size
=========================================  =================================================

Not knobs, so not here (:data:`STRUCTURAL`): ``overwrite-not-accumulate`` (the
engine's graph swept with assigning rules: no JAX program computes it),
``update-in-place-before-all-gradients`` (a full backward per parameter leaf per
step: another program, as costly as the leaves are many) and
``validation-in-gradient`` (other rows in the gradient: another data shape). The
diagnosis runs those on the manual path where that is cheap and otherwise says
they were not weighed (:mod:`comparisons.faults.diagnosis`).

Where this applies (:func:`unsupported`): a training run (kind ``train``) of a
model kind of :data:`functional_training.MODEL_KINDS` (``mlp`` or ``linear``), a
mean loss, every batch of one size (the scan's ``(S, B)`` indices). Each variant
equals the manual one to rounding: the tests compare every knob-expressed fault with
:func:`comparisons.faults.variants.run_variant` by the comparator at float64's
tolerance, the criterion the diagnosis itself applies.

Example (``run_jax_variants(e, ["sum-not-mean", None])`` then gives both runs' records,
``-34.0`` and ``-11.333...`` as the first ``grads["w"]``; not run here: a compile):
  >>> from comparisons.experiments import REGISTRY
  >>> from comparisons.faults.variants import fault_variants
  >>> e = REGISTRY["full-batch"]
  >>> knobs = jax_faults(e, [VARIANTS[name] for name in fault_variants(e)])
  >>> len(knobs), sorted(set(fault_variants(e)) - {f.name for f in knobs})
  (15, ['overwrite-not-accumulate', 'update-in-place-before-all-gradients'])
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import functional_training as ft
from comparisons.backends import _common
from comparisons.experiments import Experiment, batch_order
from comparisons.faults import bugs
from comparisons.faults.bugs import TORCH_ADAMW_WEIGHT_DECAY
from comparisons.faults.variants import VARIANTS, FaultVariant
from comparisons.models import bias_leaves, hidden_activations
from functional_training import TrajectoryRecord, leaf_of

__all__ = ["STRUCTURAL", "Knobs", "jax_faults", "run_jax_variants", "unsupported"]

STRUCTURAL = ("overwrite-not-accumulate", "update-in-place-before-all-gradients",
              "validation-in-gradient")
"""The faults that change the step's structure or data, not a setting of it."""

_LOSSES = ("half-squared-error", "squared-error", "binary-cross-entropy",
           "softmax-cross-entropy", "hinge")
_ACTIVATIONS = ("tanh", "relu", "sigmoid")


class Knobs(NamedTuple):
    """One variant's settings of the step (the module docstring's table).

    ``leaf_data``, ``bias_last``, ``decay_mask`` and ``trained`` hold a value per
    parameter (built as the model's pytree, one value per leaf; one vector in the
    program); the others are scalars. A switch is on above 0.5.
    """

    divisor: float
    loss_sum: float
    loss_scale: float
    leaf_data: Any
    bias_last: Any
    activation: float
    hinge: float
    sigmoid_twice: float
    double_softmax: float
    no_max_shift: float
    l2_value: float
    l2_grad: float
    batch_l2: float
    decay_mask: Any
    trained: Any
    coupled: float
    decoupled: float
    sign: float
    rate_twice: float
    accumulate: float
    stale: float
    cleared_before_step: float
    step_twice: float
    loss_after_update: float


_PER_SCALAR = ("leaf_data", "bias_last", "decay_mask", "trained")
"""The knobs held per parameter (pytrees built per leaf; one vector in the program)."""


class _Setup(NamedTuple):
    """What one experiment's program is built from (host side)."""

    experiment: Experiment
    order: list[list[int]] | None
    rates: list[float]  # the spec's rate of each step (the manual rule's)


def unsupported(experiment: Experiment) -> str | None:
    """Why the knob program cannot run ``experiment``'s variants, or ``None``.

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> unsupported(REGISTRY["mlp/moons"]) is None, unsupported(REGISTRY["shared-path"])
      (True, 'a training run (kind train) only, not shared-path')
    """
    e = experiment
    if e.kind != "train":
        return f"a training run (kind train) only, not {e.kind}"
    if e.model not in ft.MODEL_KINDS or e.model not in ("linear", "mlp"):
        return f"model kinds linear and mlp only, not {e.model}"
    if e.loss not in _LOSSES:
        return f"the losses {', '.join(_LOSSES)} only, not {e.loss}"
    if e.reduction != "mean":
        return "a mean loss only (a summed one steps on the nominal batch size)"
    if e.optimizer not in ft.OPTIMIZERS:
        return f"an optimizer of {', '.join(ft.OPTIMIZERS)}, not {e.optimizer}"
    if any(a not in _ACTIVATIONS for a in hidden_activations(e.model, e.model_config)):
        return f"hidden activations {', '.join(_ACTIVATIONS)} only"
    try:
        order = batch_order(e)
    except ValueError as error:
        return str(error)
    if order is not None and len({len(rows) for rows in order}) > 1:
        return "batches of one size only (a lax.scan over (S, B) indices)"
    return None


# --- each fault as knobs ---------------------------------------------------------------------


def _leaf_tree(e: Experiment, value: Callable[[str], float]):
    """The model's parameter pytree holding ``value(leaf)`` at every scalar of each leaf."""
    values = {n: float(value(leaf_of(n))) for n in e.parameter_names}
    return ft.params_from_values(e.model, values, **e.model_config)


def _biases(e: Experiment) -> frozenset[str]:
    return frozenset(bias_leaves(e.model, e.model_config))


def _reference_knobs(e: Experiment) -> Knobs:
    settings = _common.optimizer_settings(e)
    decay = settings.get("weight_decay", 0.0)
    coupled = ft.weight_decay_kind(e.optimizer) == "coupled"
    ones = _leaf_tree(e, lambda leaf: 1.0)
    zeros = _leaf_tree(e, lambda leaf: 0.0)
    return Knobs(divisor=float(e.batch_size or len(e.train)), loss_sum=0.0, loss_scale=1.0,
                 leaf_data=ones, bias_last=zeros, activation=0.0, hinge=0.0,
                 sigmoid_twice=0.0, double_softmax=0.0, no_max_shift=0.0, l2_value=1.0,
                 l2_grad=1.0, batch_l2=0.0, decay_mask=ones,
                 trained=_leaf_tree(e, lambda leaf: float(leaf in e.trainable)),
                 coupled=decay if coupled else 0.0, decoupled=0.0 if coupled else decay,
                 sign=1.0, rate_twice=0.0, accumulate=0.0, stale=0.0,
                 cleared_before_step=0.0, step_twice=0.0,
                 loss_after_update=0.0)


def _detached(e: Experiment, maths: type[bugs.DetachedHiddenLayer]):
    detached = maths(e, "float64").detached  # the fault's own choice of leaves
    return _leaf_tree(e, lambda leaf: 0.0 if leaf in detached else 1.0)


def _knob_changes(e: Experiment, name: str, base: Knobs) -> dict[str, Any] | None:
    """The knobs fault ``name`` changes (``None``: not a knob fault)."""
    biases, alpha = _biases(e), e.l2
    n = base.divisor
    decay = _common.optimizer_settings(e).get("weight_decay", 0.0)
    table: dict[str, Callable[[], dict[str, Any]]] = {
        "gradients-not-cleared": lambda: {"accumulate": 1.0},
        "bias-gradient-sign": lambda: {
            "leaf_data": _leaf_tree(e, lambda leaf: -1.0 if leaf in biases else 1.0)},
        "loss-missing-half": lambda: {"loss_scale": 2.0},
        "sum-not-mean": lambda: {"divisor": 1.0},
        "sum-not-mean-loss-summed": lambda: {"divisor": 1.0, "loss_sum": 1.0},
        "batch-size-divided-twice": lambda: {"divisor": n * n},
        "bias-gradient-not-summed": lambda: {
            "bias_last": _leaf_tree(e, lambda leaf: 1.0 if leaf in biases else 0.0)},
        "update-before-loss": lambda: {"loss_after_update": 1.0},
        "tanh-derivative-missing-square": lambda: {"activation": 1.0},
        "relu-gradient-where-negative": lambda: {"activation": 1.0},
        "relu-gradient-where-negative-hinge": lambda: {  # the one broken relu, everywhere
            "activation": float("relu" in hidden_activations(e.model, e.model_config)),
            "hinge": 1.0},
        "softmax-without-max-subtraction": lambda: {"no_max_shift": 1.0},
        "double-softmax": lambda: {"double_softmax": 1.0},
        "sigmoid-applied-twice": lambda: {"sigmoid_twice": 1.0},
        "hidden-layer-detached": lambda: {
            "leaf_data": _detached(e, bugs.DetachedHiddenLayer)},
        "last-hidden-layer-detached": lambda: {
            "leaf_data": _detached(e, bugs.DetachedLastHiddenLayer)},
        "l2-missing-from-gradient": lambda: {"l2_grad": 0.0},
        "l2-applied-twice": lambda: {"l2_value": 2.0, "l2_grad": 2.0},
        "l2-also-as-weight-decay": lambda: {"coupled": base.coupled + 2 * alpha},
        "l2-as-weight-decay": lambda: {"l2_value": 0.0, "l2_grad": 0.0,
                                       "coupled": base.coupled + 2 * alpha},
        "weight-decay-also-in-loss": lambda: {"batch_l2": decay / 2},
        "bias-left-out-of-weight-decay": lambda: {
            "decay_mask": _leaf_tree(e, lambda leaf: 0.0 if leaf in biases else 1.0)},
        "adamw-not-adam": lambda: {"coupled": 0.0,
                                   "decoupled": decay or TORCH_ADAMW_WEIGHT_DECAY},
        "learning-rate-applied-twice": lambda: {"rate_twice": 1.0},
        "update-sign-flipped": lambda: {"sign": -1.0},
        "gradients-cleared-before-step": lambda: {"cleared_before_step": 1.0},
        "step-called-twice": lambda: {"step_twice": 1.0},
        "stale-gradient": lambda: {"stale": 1.0},
        "stale-gradient-step-before-backward": dict,  # recorded a step late (_late)
        "wrong-learning-rate": dict,  # the rates only (_rates)
        "schedule-not-stepped": dict,
        "batch-order-not-reshuffled": dict,  # the batches only (_variant_order)
        "last-batch-skipped": dict,
    }
    changes = table.get(name)
    return None if changes is None else changes()


def _rates(setup: _Setup, fault: FaultVariant | None) -> list[float]:
    """Each step's rate as the variant's run uses and records it."""
    rates = setup.rates
    if fault is None:
        return rates
    maths = fault.maths
    if issubclass(maths, bugs.WrongLearningRate):
        return [maths.factor * r for r in rates]
    if issubclass(maths, bugs.ScheduleNotStepped):
        return [rates[0]] * len(rates)
    return rates


def _variant_order(setup: _Setup, fault: FaultVariant | None) -> list[list[int]] | None:
    if fault is None or fault.loop is bugs.Loop:
        return setup.order
    if fault.name in ("batch-order-not-reshuffled", "last-batch-skipped"):
        return fault.loop(setup.experiment, None).batches()  # the fault's own order
    return setup.order


def jax_faults(experiment: Experiment, faults: Sequence[FaultVariant]) -> list[FaultVariant]:
    """Those of ``faults`` the knob program runs on ``experiment`` (none if it cannot).

    Example:
      >>> from comparisons.experiments import REGISTRY
      >>> from comparisons.faults.variants import VARIANTS
      >>> faults = [VARIANTS["sum-not-mean"], VARIANTS["overwrite-not-accumulate"]]
      >>> [f.name for f in jax_faults(REGISTRY["full-batch"], faults)]
      ['sum-not-mean']
    """
    if unsupported(experiment) is not None:
        return []
    setup = _setup(experiment)
    base = _reference_knobs(experiment)
    size = None if setup.order is None else len(setup.order[0])
    found = []
    for fault in faults:
        if fault.name in STRUCTURAL or _knob_changes(experiment, fault.name, base) is None:
            continue
        order = _variant_order(setup, fault)
        if (order is None) != (setup.order is None) or (
                order is not None and {len(rows) for rows in order} != {size}):
            continue  # the fault's batches do not stack with the reference's
        found.append(fault)
    return found


def _setup(e: Experiment) -> _Setup:
    rate = _common.learning_rate(e)
    rates = [float(rate(k)) if callable(rate) else float(rate) for k in range(e.steps)]
    return _Setup(e, batch_order(e), rates)


# --- the program -----------------------------------------------------------------------------


def _where(flag, a, b):
    return jax.tree.map(lambda x, y: jnp.where(flag > 0.5, x, y), a, b)


def _times(factor, x):
    """``factor * x``, exactly 0 where ``factor`` is 0 (never ``0 * inf = nan``)."""
    return jnp.where(factor == 0.0, 0.0, factor * x)


@jax.custom_jvp
def _relu(z, broken):
    return jax.nn.relu(z)


@_relu.defjvp
def _relu_jvp(primals, tangents):
    z, broken = primals
    dz, _ = tangents
    return jax.nn.relu(z), jnp.where((z > 0) | (broken > 0.5), dz, 0.0)  # BUG knob: 1 where z <= 0


@jax.custom_jvp
def _tanh(z, broken):
    return jnp.tanh(z)


@_tanh.defjvp
def _tanh_jvp(primals, tangents):
    z, broken = primals
    dz, _ = tangents
    t = jnp.tanh(z)
    return t, jnp.where(broken > 0.5, 1.0 - t, 1.0 - t * t) * dz  # BUG knob: 1 - tanh


@jax.custom_jvp
def _hinge(s, t, broken):
    return jnp.maximum(0.0, 1.0 - t * s)


@_hinge.defjvp
def _hinge_jvp(primals, tangents):
    s, t, broken = primals
    ds, _, _ = tangents
    value = jnp.maximum(0.0, 1.0 - t * s)
    passes = (1.0 - t * s > 0) | (broken > 0.5)  # BUG knob: -t also where 1 - t s <= 0
    return value, jnp.where(passes, -t, 0.0) * ds


class _Program(NamedTuple):
    """The static part of the compiled program (hashable: the jit cache's key)."""

    objective: ft.Objective
    optimizer: optax.GradientTransformation
    activation: str | None
    steps: int
    full_batch: bool


def _outputs(program: _Program, params, x, knobs: Knobs):
    obj = program.objective
    if program.activation is None:
        return obj.outputs(params, x)
    f = {"relu": lambda z: _relu(z, knobs.activation),
         "tanh": lambda z: _tanh(z, knobs.activation),
         "sigmoid": jax.nn.sigmoid}[program.activation]
    a = jnp.asarray(x)
    a = a[:, None] if a.ndim == 1 else a
    *hidden, last = params.layers
    for layer in hidden:
        a = f(a @ layer.w + layer.b[None, :])
    out = a @ last.w + last.b[None, :]
    return out[:, 0] if out.shape[-1] == 1 else out


def _per_example(program: _Program, params, x, y, knobs: Knobs):
    return _loss_of(program, _outputs(program, params, x, knobs), y, knobs)


def _loss_of(program: _Program, s, y, knobs: Knobs):
    """Each example's loss of the outputs ``s``, with the loss's knobs."""
    loss = program.objective.loss
    if loss == "hinge":
        return _hinge(s, y, knobs.hinge)
    if loss == "binary-cross-entropy":
        s = jnp.where(knobs.sigmoid_twice > 0.5, jax.nn.sigmoid(s), s)
    if loss == "softmax-cross-entropy":
        z = jnp.where(knobs.double_softmax > 0.5, jax.nn.softmax(s, axis=1), s)
        shift = jnp.where(knobs.no_max_shift > 0.5, 0.0,
                          jax.lax.stop_gradient(jnp.max(z, axis=1, keepdims=True)))
        chosen = jnp.take_along_axis(z, y.astype(jnp.int32)[:, None], axis=1)[:, 0]
        return jnp.log(jnp.sum(jnp.exp(z - shift), axis=1)) + shift[:, 0] - chosen
    per = ft.LOSS_KINDS[loss].per_example(s, y)
    return _times(knobs.loss_scale, per) if loss == "half-squared-error" else per


def _penalty(params, alpha: float, factor, knobs: Knobs):
    """``factor alpha sum m theta^2`` and its gradient (0 where ``factor`` or ``alpha`` is)."""
    if alpha == 0.0:
        return 0.0, jax.tree.map(jnp.zeros_like, params)
    value = sum(jnp.sum(jnp.where(m > 0.5, p * p, 0.0))
                for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(knobs.decay_mask),
                                strict=True))
    grads = jax.tree.map(lambda p, m: jnp.where(m > 0.5, _times(factor, 2 * alpha * p), 0.0),
                         params, knobs.decay_mask)
    return _times(factor, alpha * value), grads


def _full_loss(program: _Program, params, x, y, knobs: Knobs, alpha: float, outputs=None, *,
               flat):
    """A recorded full loss (train or validation): the data loss and the penalty
    (``flat``: the parameters as one vector, as the masks are)."""
    outputs = _outputs(program, params, x, knobs) if outputs is None else outputs
    total = jnp.sum(_loss_of(program, outputs, y, knobs))
    data = jnp.where(knobs.loss_sum > 0.5, total, total / outputs.shape[0])
    return data + _penalty(flat, alpha, knobs.l2_value, knobs)[0]


def _batch_loss(program: _Program, theta, x, y, knobs: Knobs, alpha: float, unravel):
    """The batch loss alone (``update-before-loss`` records it at the moved parameters)."""
    return (_full_loss(program, unravel(theta), x, y, knobs, alpha, flat=theta)
            + _penalty(theta, 1.0, knobs.batch_l2, knobs)[0])


def _batch_loss_and_grads(program: _Program, theta, x, y, knobs: Knobs, alpha: float, unravel):
    """The batch loss and the gradient as recorded (``.grad``), knobs applied, at the
    parameters ``theta`` as one vector (``unravel(theta)``: the model's pytree).

    One forward; its backward is pulled back twice at once (``vmap`` of the VJP): with
    ones, the per-example sum's gradient, and with the last example's indicator, that
    example's (``bias-gradient-not-summed``).
    """
    per, pull = jax.vjp(lambda t: _per_example(program, unravel(t), x, y, knobs), theta)
    last = jnp.zeros_like(per).at[-1].set(1.0)
    both = jax.vmap(lambda cotangent: pull(cotangent)[0])(jnp.stack([jnp.ones_like(per), last]))
    summed = jnp.sum(per)
    data = jnp.where(knobs.loss_sum > 0.5, summed, summed / per.shape[0])
    c = knobs.leaf_data
    g = jnp.where(c == 0.0, 0.0, c * jnp.where(knobs.bias_last > 0.5, both[1],
                                               both[0] / knobs.divisor))
    pen = _penalty(theta, alpha, knobs.l2_grad, knobs)[1]
    value = _penalty(theta, alpha, knobs.l2_value, knobs)[0]
    extra_value, extra = _penalty(theta, 1.0, knobs.batch_l2, knobs)
    return data + value + extra_value, g + pen + extra


def _apply(program: _Program, params, state, grads, rate, spec_rate, knobs: Knobs):
    """One step of the rule: ``theta + sign lr (rule(g + lam_c m theta) - lam_d m theta)``."""
    into = jax.tree.map(lambda g, p, m: g + jnp.where(m > 0.5, _times(knobs.coupled, p), 0.0),
                        grads, params, knobs.decay_mask)
    direction, state = program.optimizer.update(into, state, params)
    direction = jax.tree.map(
        lambda d, p, m: d - jnp.where(m > 0.5, _times(knobs.decoupled, p), 0.0),
        direction, params, knobs.decay_mask)
    scale = knobs.sign * rate * jnp.where(knobs.rate_twice > 0.5, spec_rate, 1.0)
    updates = jax.tree.map(lambda d, trained: jnp.where(trained > 0.5, scale * d, 0.0),
                           direction, knobs.trained)
    return optax.apply_updates(params, updates), state


def _variant_run(program: _Program, alpha: float, params, data, knobs: Knobs, rates, indices,
                 spec_rates):
    """One variant's run: the parameters as one vector (elementwise knobs, the rule and
    the buffers on one array, not per leaf), the model's pytree for the forward."""
    x, y, x_val, y_val = data
    theta0, unravel = ravel_pytree(params)
    state0 = program.optimizer.init(theta0)
    zeros = jnp.zeros_like(theta0)

    def record(theta):
        p = unravel(theta)
        outputs = _outputs(program, p, x, knobs)
        found = {"params": p, "predictions": outputs,
                 "train_loss": _full_loss(program, p, x, y, knobs, alpha, outputs, flat=theta)}
        if program.objective.classifies:
            found["train_accuracy"] = ft.accuracy_of(program.objective.loss, outputs, y)
        if x_val is not None:
            at_val = _outputs(program, p, x_val, knobs)
            found["val_loss"] = _full_loss(program, p, x_val, y_val, knobs, alpha, at_val,
                                           flat=theta)
            if program.objective.classifies:
                found["val_accuracy"] = ft.accuracy_of(program.objective.loss, at_val, y_val)
        return found

    def apply_twice(theta, state, used, rate, spec_rate, times):
        for go in times:  # unrolled: a nested scan compiles slower than two flat steps
            moved, moved_state = _apply(program, theta, state, used, rate, spec_rate, knobs)
            theta, state = _where(go, moved, theta), _where(go, moved_state, state)
        return theta, state

    def step(carry, inputs):
        theta, state, buffer, late = carry
        rate, spec_rate, rows = inputs
        xb, yb = (x, y) if program.full_batch else (x[rows], y[rows])
        state_k = record(theta)
        loss, g = _batch_loss_and_grads(program, theta, xb, yb, knobs, alpha, unravel)
        buffer = jnp.where(knobs.accumulate > 0.5, buffer + g, g)
        used = jnp.where(knobs.stale > 0.5, late, buffer)
        steps = knobs.cleared_before_step < 0.5
        new, new_state = apply_twice(theta, state, used, rate, spec_rate,
                                     (steps, steps & (knobs.step_twice > 0.5)))
        after = _batch_loss(program, new, xb, yb, knobs, alpha, unravel)
        state_k.update(grads=unravel(jnp.where(knobs.cleared_before_step > 0.5, zeros, buffer)),
                       batch_loss=jnp.where(knobs.loss_after_update > 0.5, after, loss))
        return (new, new_state, buffer, buffer), state_k

    carry, series = jax.lax.scan(step, (theta0, state0, zeros, zeros),
                                 (rates, spec_rates, indices))
    final = record(carry[0])
    return series, final


@functools.lru_cache(maxsize=16)
def _compiled(program: _Program, alpha: float):
    def run(params, data, knobs, rates, indices, spec_rates):
        return jax.vmap(lambda kn, r, i: _variant_run(program, alpha, params, data, kn, r, i,
                                                      spec_rates))(knobs, rates, indices)
    return jax.jit(run)


def _arrays(e: Experiment, rows):
    x = np.asarray([row[:-1] for row in rows], dtype=np.float64)
    kind, config = ft.model_kind(e.model), e.model_config
    if kind.inputs(**config) == 1 and all(s == () for s in kind.shapes(**config).values()):
        x = x[:, 0]  # the lesson's line takes one number per example
    return jnp.asarray(x), jnp.asarray([row[-1] for row in rows], dtype=jnp.float64)


def _optimizer(e: Experiment) -> optax.GradientTransformation:
    """The rule's direction at rate 1 (decays are knobs, so none here)."""
    settings = _common.optimizer_settings(e)
    settings.pop("learning_rate", None)
    settings.pop("weight_decay", None)
    name = "adam" if e.optimizer == "adamw" else e.optimizer
    return ft.make_optimizer(name, learning_rate=1.0, **settings)


def _stack(items: Sequence):
    return jax.tree.map(lambda *leaves: jnp.asarray(np.stack([np.asarray(v, np.float64)
                                                              for v in leaves])), *items)


def run_jax_variants(experiment: Experiment, faults: Sequence[str | FaultVariant | None], *,
                     width: int | None = None) -> dict[str | None, TrajectoryRecord]:
    """Each fault's run of ``experiment`` (``None``: the run without any), one compiled program.

    Every fault must be one :func:`jax_faults` keeps (a name of :data:`VARIANTS`, or a
    :class:`~comparisons.faults.variants.FaultVariant` such as
    :func:`~comparisons.faults.variants.wrong_learning_rate`'s); the records are keyed
    as given (a variant by its name), float64, ``params`` and ``grads`` as read-only
    NumPy series. ``width``: run that many variants (the rest without a fault), so
    that a later call of another length reuses the compiled program of an earlier one.

    Raises:
      ValueError: the program cannot run ``experiment`` (:func:`unsupported`), or a
        fault is not a knob of it.
    """
    e = experiment
    problem = unsupported(e)
    if problem is not None:
        raise ValueError(f"{e.name}: the JAX fault variants take {problem}")
    variants = [VARIANTS[f] if isinstance(f, str) else f for f in faults]
    variants += [None] * max(0, (width or 0) - len(variants))
    keep = {v.name for v in jax_faults(e, [v for v in variants if v is not None])}
    for v in variants:
        if v is not None and v.name not in keep:
            raise ValueError(f"{e.name}: fault {v.name} is not a knob of the JAX program here")
    setup = _setup(e)
    base = _reference_knobs(e)
    knobs = [base if v is None else base._replace(**_knob_changes(e, v.name, base))
             for v in variants]
    orders = [_variant_order(setup, v) for v in variants]
    rates = [_rates(setup, v) for v in variants]
    with ft.float64(), jax.default_matmul_precision("highest"):
        late = [v is not None and v.name == "stale-gradient-step-before-backward"
                for v in variants]
        records = _run(e, setup, knobs, orders, rates, late)
    return {(f if isinstance(f, str) or f is None else f.name): record
            for f, record in zip(faults, records, strict=False)}


def _run(e: Experiment, setup: _Setup, knobs, orders, rates, late
         ) -> list[TrajectoryRecord]:
    objective = _common.objective_of(e)
    activations = hidden_activations(e.model, e.model_config)
    params = jax.tree.map(jnp.asarray, ft.params_from_values(e.model, e.init, **e.model_config))
    program = _Program(objective, _optimizer(e), activations[0] if activations else None,
                       e.steps, setup.order is None)
    x, y = _arrays(e, e.train)
    x_val, y_val = (None, None) if e.validation is None else _arrays(e, e.validation)
    width = 1 if setup.order is None else len(setup.order[0])
    indices = np.zeros((len(knobs), e.steps, width), dtype=np.int32)
    for v, order in enumerate(orders):
        if order is not None:
            indices[v] = np.asarray(order, dtype=np.int32)
    run = _compiled(program, float(e.l2))
    flat = [k._replace(**{field: ravel_pytree(getattr(k, field))[0] for field in _PER_SCALAR})
            for k in knobs]
    series, final = run(params, (x, y, x_val, y_val), _stack(flat),
                        jnp.asarray(np.asarray(rates, dtype=np.float64)), jnp.asarray(indices),
                        jnp.asarray(np.asarray(setup.rates, dtype=np.float64)))
    series, final = jax.device_get((series, final))
    return [_record(e, series, final, v, orders[v], rates[v], late[v])
            for v in range(len(knobs))]


def _late(block: np.ndarray, zero_first: bool) -> np.ndarray:
    """``block`` one step late: entry ``k`` is entry ``k - 1`` (entry 0: itself, or 0)."""
    first = np.zeros_like(block[:1]) if zero_first else block[:1]
    return np.concatenate([first, block[:-1]])


def _series(tree, v: int, final=None, late: bool = False) -> dict[str, np.ndarray]:
    def take(leaf, last):
        block = np.asarray(leaf[v], dtype=np.float64)
        if last is not None:
            block = np.concatenate([block, np.asarray(last[v], dtype=np.float64)[None]])
        return _late(block, zero_first=last is None) if late else block
    if final is None:
        stacked = jax.tree.map(lambda leaf: take(leaf, None), tree)
    else:
        stacked = jax.tree.map(take, tree, final)
    named = ft.named_series(stacked)
    for values in named.values():
        values.flags.writeable = False
    return named


def _record(e: Experiment, series, final, v: int, order, rates, late: bool
            ) -> TrajectoryRecord:
    """Variant ``v``'s record; ``late``: the state and gradient recorded a step late
    (``stale-gradient-step-before-backward``: step ``k`` applies batch ``k - 1``'s
    gradient, taken at the parameters it moves, so its run is the reference's with
    ``params[k] = theta_{k-1}`` and ``grads[k] = g_{k-1}``; the batch loss is batch
    ``k``'s at ``theta_k``, the reference's own)."""
    def along(key):
        block = np.concatenate([np.asarray(series[key][v], np.float64).reshape(e.steps, -1),
                                np.asarray(final[key][v], np.float64).reshape(1, -1)])
        return _late(block, zero_first=False) if late else block

    extras = {}
    if e.schedule is not None:
        extras["learning_rate"] = [float(r) for r in rates]
    for key in ("train_accuracy", "val_accuracy"):
        if key in series:
            extras[key] = along(key)[:, 0].tolist()
    record = TrajectoryRecord(
        params=_series(series["params"], v, final["params"], late),
        grads=_series(series["grads"], v, late=late),
        batch_loss=np.asarray(series["batch_loss"][v], np.float64).tolist(),
        train_loss=along("train_loss")[:, 0].tolist(),
        val_loss=along("val_loss")[:, 0].tolist() if "val_loss" in series else None,
        predictions=along("predictions").tolist(),
        batches=None if order is None else [list(rows) for rows in order],
        extras=extras,
    )
    record.check_lengths()
    return record
