"""The ``mlp`` kind's backend pieces: hidden layers ``f(a @ w + b)``, then a linear last layer.

With ``sizes = [d, h_1, ..., k]`` (``L = len(sizes) - 1`` layers, counted from 0)
and activation ``f`` (``tanh``, ``relu`` or ``sigmoid``) on every hidden layer,
the forward for one example ``x`` is::

    a_0 = x
    z_l[j] = sum_i a_l[i] w_l[i,j] + b_l[j]        (i ascending, then + b)
    a_{l+1} = f(z_l)                                (l < L - 1)
    output = z_{L-1}                                (a float when k = 1, else k logits)

and, with the error signal ``g = dL/doutput`` of that example (a float, or a
list of ``k``), hand-written backpropagation is::

    delta_{L-1} = g
    dL/dw_l[i,j] = a_l[i] delta_l[j]
    dL/db_l[j] = delta_l[j]
    delta_{l-1}[i] = f'(z_{l-1}[i]) * sum_j w_l[i,j] delta_l[j]     (j ascending)

with ``f'`` from the layer's own values: ``tanh' = (1 - t)(1 + t)`` for the
output ``t`` (not ``1 - t t``, whose rounding of ``t t`` loses the digits near
``|t| = 1``; the engine's rule is the same), ``sigmoid' = (1 - s) s`` for the
output ``s``, and ``relu'(z) = 1`` where ``z > 0``, else 0 -- so 0 at ``z = 0``
exactly, as in ``jax.nn.relu``, ``torch.relu`` and the engine's ``relu``. Where
``relu'`` is 0 the delta is an exact 0 even when the sum is infinite (as torch
and the engine: no ``0 * inf = nan``).

Parameter names follow ``functional_training.parameter_names("mlp", sizes=...)``:
``layers.{l}.w[i,j]`` (weights stored ``(fan_in, fan_out)``) and
``layers.{l}.b[j]``. torch holds layer ``l`` in an ``nn.Linear(fan_in, fan_out)``
whose ``weight`` is ``(fan_out, fan_in)``: ``w[i,j]`` is ``weight[j, i]``.

The manual and engine pieces take the kind's configuration as keywords
(``sizes`` required, ``activation`` defaulting to the core's ``tanh``), as
``functional_training`` does: ``manual_predict(params, x, **config)``.

Example:
  >>> params = {"layers.0.w[0,0]": 1.0, "layers.0.b[0]": 0.0,
  ...           "layers.1.w[0,0]": 2.0, "layers.1.b[0]": 0.5}
  >>> manual_predict(params, (0.0,), sizes=[1, 1, 1], activation="relu")
  0.5
  >>> manual_gradients(params, (3.0,), 1.0, sizes=[1, 1, 1], activation="relu")
  {'layers.0.w[0,0]': 6.0, 'layers.0.b[0]': 2.0, 'layers.1.w[0,0]': 3.0, 'layers.1.b[0]': 1.0}
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Mapping, Sequence

from comparisons.engine import Value, weighted_sum
from comparisons.models.activations import ACTIVATIONS as _MANUAL_ACTIVATIONS
from comparisons.models.activations import derivative
from functional_training import lookup, model_kind

_Layout = tuple[tuple[tuple[tuple[str, ...], ...], tuple[str, ...]], ...]


@functools.lru_cache(maxsize=64)
def _layout(sizes: tuple[int, ...], activation: str) -> _Layout:
    """Per layer, ``(w_names[i][j], b_names[j])``; the configuration checked once."""
    model_kind("mlp").shapes(sizes=list(sizes), activation=activation)
    lookup(_MANUAL_ACTIVATIONS, activation, what="mlp activation")
    return tuple(
        (tuple(tuple(f"layers.{layer}.w[{i},{j}]" for j in range(fan_out))
               for i in range(fan_in)),
         tuple(f"layers.{layer}.b[{j}]" for j in range(fan_out)))
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))
    )


def _checked_layout(x: Sequence[float], sizes: Sequence[int], activation: str) -> _Layout:
    layout = _layout(tuple(sizes), activation)
    if len(x) != sizes[0]:
        raise ValueError(f"mlp: an example has {len(x)} features; sizes[0] is {sizes[0]}")
    return layout


def hidden_activations(*, sizes: Sequence[int], activation: str = "tanh") -> tuple[str, ...]:
    """The activations the hidden layers apply (none for ``sizes = [d, k]``).

    Example:
      >>> hidden_activations(sizes=[2, 16, 1], activation="relu"), hidden_activations(sizes=[2, 3])
      (('relu',), ())
    """
    return (activation,) if len(sizes) > 2 else ()


def bias_leaves(*, sizes: Sequence[int], activation: str = "tanh") -> tuple[str, ...]:
    """The bias leaves, one per layer: ``layers.{l}.b``.

    Example:
      >>> bias_leaves(sizes=[2, 3, 1])
      ('layers.0.b', 'layers.1.b')
    """
    return tuple(f"layers.{layer}.b" for layer in range(len(sizes) - 1))


# --- manual: Python floats ---------------------------------------------------------

def _manual_layer(params: Mapping[str, float], a: Sequence[float],
                  w_names, b_names) -> list[float]:
    """``z[j] = sum_i a[i] w[i,j] + b[j]``, summed i ascending, then ``+ b``."""
    z = []
    for j, b_name in enumerate(b_names):
        total = a[0] * params[w_names[0][j]]
        for i in range(1, len(a)):
            total = total + a[i] * params[w_names[i][j]]
        z.append(total + params[b_name])
    return z


def _manual_forward(params, x, layout, f) -> tuple[list[list[float]], list[list[float]]]:
    """The pre-activations ``z_l`` of every layer and the inputs ``a_l`` of every layer."""
    inputs, pre = [[float(v) for v in x]], []
    for depth, (w_names, b_names) in enumerate(layout):
        z = _manual_layer(params, inputs[-1], w_names, b_names)
        pre.append(z)
        if depth < len(layout) - 1:
            inputs.append([f(v) for v in z])
    return pre, inputs


def manual_predict(params: Mapping[str, float], x: Sequence[float], *,
                   sizes: Sequence[int], activation: str = "tanh") -> float | list[float]:
    """The forward (module docstring) on Python floats: a float if ``k = 1``, else ``k`` logits.

    Example:
      >>> p = {"layers.0.w[0,0]": 1.0, "layers.0.w[0,1]": -1.0,
      ...      "layers.0.b[0]": 0.0, "layers.0.b[1]": 0.5}
      >>> manual_predict(p, (2.0,), sizes=[1, 2])
      [2.0, -1.5]
    """
    layout = _checked_layout(x, sizes, activation)
    f, _ = _MANUAL_ACTIVATIONS[activation]
    out = _manual_forward(params, x, layout, f)[0][-1]
    return out[0] if len(out) == 1 else out


def manual_gradients(params: Mapping[str, float], x: Sequence[float],
                     error_signal: float | Sequence[float], *, sizes: Sequence[int],
                     activation: str = "tanh",
                     activation_back: Callable[[str, float, float, float], float] = derivative,
                     ) -> dict[str, float]:
    """Hand-written backpropagation for one example: ``{name: dL/dname}`` in the kind's order.

    Args:
      params: every parameter by name.
      x: the example's ``d`` features.
      error_signal: ``g = dL/doutput`` for this example: a float when ``k = 1``,
        else a sequence of ``k`` floats.
      sizes, activation: the kind's configuration.
      activation_back: ``activation_back(activation, z, f(z), upstream) = f'(z) upstream``,
        the derivative backpropagation applies at every hidden layer
        (:func:`comparisons.models.activations.derivative`; a fault replaces it).

    Example:
      >>> p = {"layers.0.w[0,0]": 2.0, "layers.0.w[1,0]": 3.0, "layers.0.b[0]": 1.0}
      >>> manual_gradients(p, (1.0, -1.0), 0.5, sizes=[2, 1])
      {'layers.0.w[0,0]': 0.5, 'layers.0.w[1,0]': -0.5, 'layers.0.b[0]': 0.5}
    """
    layout = _checked_layout(x, sizes, activation)
    f = _MANUAL_ACTIVATIONS[activation][0]
    pre, inputs = _manual_forward(params, x, layout, f)
    k = len(layout[-1][1])
    if isinstance(error_signal, numbers.Real):
        delta = [float(error_signal)]
    else:
        delta = [float(g) for g in error_signal]
    if len(delta) != k:
        raise ValueError(f"mlp: error_signal has {len(delta)} values; the model has {k} outputs")
    per_layer = [None] * len(layout)
    for depth in range(len(layout) - 1, -1, -1):
        w_names, b_names = layout[depth]
        a = inputs[depth]
        grads = {w_names[i][j]: a[i] * delta[j]
                 for i in range(len(a)) for j in range(len(delta))}
        grads.update(zip(b_names, delta, strict=True))
        per_layer[depth] = grads
        if depth > 0:  # delta of the layer below, through this layer's weights and f'
            below, below_out = pre[depth - 1], inputs[depth]
            delta = [activation_back(activation, below[i], below_out[i],
                                     _weighted_sum(params, w_names[i], delta))
                     for i in range(len(below))]
    return {name: g for grads in per_layer for name, g in grads.items()}


def _weighted_sum(params, w_row: Sequence[str], delta: Sequence[float]) -> float:
    """``sum_j w[i,j] delta[j]``, j ascending."""
    total = params[w_row[0]] * delta[0]
    for j in range(1, len(delta)):
        total = total + params[w_row[j]] * delta[j]
    return total


# --- engine: a Value graph ------------------------------------------------------------

_ENGINE_ACTIVATIONS = {"tanh": Value.tanh, "relu": Value.relu, "sigmoid": Value.sigmoid}


def engine_predict(leaves: Mapping[str, Value], x: Sequence[float], *, sizes: Sequence[int],
                   activation: str = "tanh") -> Value | list[Value]:
    """The same forward as a ``Value`` graph (the same order of sums): one node, or ``k``.

    Each neuron's sum is one :func:`comparisons.engine.weighted_sum` node (the
    values and gradients of the chain of ``*`` and ``+`` nodes it replaces, in a
    thirtieth of the nodes), then the activation's node.

    Example:
      >>> leaves = {"layers.0.w[0,0]": Value(1.0), "layers.0.b[0]": Value(-1.0),
      ...           "layers.1.w[0,0]": Value(2.0), "layers.1.b[0]": Value(0.5)}
      >>> out = engine_predict(leaves, (3.0,), sizes=[1, 1, 1], activation="relu")
      >>> out.backward()
      >>> out.data, leaves["layers.0.w[0,0]"].grad
      (4.5, 6.0)
    """
    layout = _checked_layout(x, sizes, activation)
    f = _ENGINE_ACTIVATIONS[activation]
    a: list = list(x)
    for depth, (w_names, b_names) in enumerate(layout):
        z = [weighted_sum([leaves[w_names[i][j]] for i in range(len(a))], a, leaves[b_name])
             for j, b_name in enumerate(b_names)]
        a = z if depth == len(layout) - 1 else [f(v) for v in z]
    return a[0] if len(a) == 1 else a


# --- torch: the framework's own layers -------------------------------------------------

_TORCH_ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "sigmoid": "Sigmoid"}


def torch_module(torch, *, dtype, sizes: Sequence[int], activation: str = "tanh"):
    """``nn.Sequential(Linear, f, Linear, f, ..., Linear)``, outputs ``(n, k)``.

    Each ``nn.Linear(fan_in, fan_out)`` is made with ``skip_init`` (torch's global
    RNG is never touched; the caller sets every value through
    :func:`torch_parameters`).
    """
    _layout(tuple(sizes), activation)
    layers = []
    for depth, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        if depth:
            layers.append(getattr(torch.nn, _TORCH_ACTIVATIONS[activation])())
        layers.append(torch.nn.utils.skip_init(torch.nn.Linear, fan_in, fan_out,
                                               dtype=dtype, device="cpu"))
    return torch.nn.Sequential(*layers)


def _linear_layers(module) -> list:
    return [layer for layer in module if hasattr(layer, "weight")]


def torch_parameters(module) -> dict[str, tuple]:
    """Where each named scalar lives, ``{name: (tensor, index)}``, in the kind's order.

    ``layers.l.w[i,j]`` is ``(linear_l.weight, (j, i))`` (torch stores ``(out, in)``)
    and ``layers.l.b[j]`` is ``(linear_l.bias, (j,))``.
    """
    located: dict[str, tuple] = {}
    for depth, linear in enumerate(_linear_layers(module)):
        fan_out, fan_in = linear.weight.shape
        for i in range(fan_in):
            for j in range(fan_out):
                located[f"layers.{depth}.w[{i},{j}]"] = (linear.weight, (j, i))
        for j in range(fan_out):
            located[f"layers.{depth}.b[{j}]"] = (linear.bias, (j,))
    return located


def torch_leaves(module) -> dict[str, object]:
    """The parameter leaves by the kind's leaf names (``layers.0.w``, ``layers.0.b``, ...).

    A weight leaf is torch's ``(fan_out, fan_in)`` tensor, the transpose of the
    core's ``(fan_in, fan_out)`` leaf; freezing takes whole leaves, so it does not matter.
    """
    leaves: dict[str, object] = {}
    for depth, linear in enumerate(_linear_layers(module)):
        leaves[f"layers.{depth}.w"] = linear.weight
        leaves[f"layers.{depth}.b"] = linear.bias
    return leaves
