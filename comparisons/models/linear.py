"""The ``linear`` kind's backend pieces: ``prediction = sum_i w_i x_i + b``.

Parameter names follow ``functional_training.parameter_names("linear", features=d)``:
``w``, ``b`` for one feature, ``w[0]``, ..., ``w[d-1]``, ``b`` for several.
With error signal ``g = dL/dprediction`` for one example, the hand-written
derivative is ``dL/dw_i = g x_i`` and ``dL/db = g``. torch holds the weights in
``nn.Linear(d, 1)``: ``w[i]`` is ``weight[0, i]`` and ``b`` is ``bias[0]``.

Example:
  >>> manual_gradients({"w[0]": 1.0, "w[1]": 2.0, "b": 0.0}, (3.0, 4.0), 0.5)
  {'w[0]': 1.5, 'w[1]': 2.0, 'b': 0.5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from comparisons.engine import Value


def _weight_names(count: int) -> list[str]:
    return ["w"] if count == 1 else [f"w[{i}]" for i in range(count)]


def _check_features(x: Sequence[float], features: int | None) -> None:
    if features is not None and len(x) != features:
        raise ValueError(f"linear: an example has {len(x)} features; the model takes {features}")


def hidden_activations(*, features: int | None = None) -> tuple[str, ...]:
    """None: the line has no hidden layer."""
    return ()


def bias_leaves(*, features: int | None = None) -> tuple[str, ...]:
    """The bias leaf: ``b``."""
    return ("b",)


def manual_predict(params: Mapping[str, float], x: Sequence[float], *,
                   features: int | None = None) -> float:
    """``w_0 x_0 + w_1 x_1 + ... + b``, summed left to right on Python floats.

    ``features`` (the kind's configuration, optional) is checked against ``len(x)``.

    Example:
      >>> manual_predict({"w": 2.0, "b": 1.0}, (3.0,))
      7.0
    """
    _check_features(x, features)
    names = _weight_names(len(x))
    total = params[names[0]] * x[0]
    for name, value in zip(names[1:], x[1:], strict=True):
        total = total + params[name] * value
    return total + params["b"]


def manual_gradients(
    params: Mapping[str, float], x: Sequence[float], error_signal: float, *,
    features: int | None = None
) -> dict[str, float]:
    """``{w_i: g x_i, b: g}`` for one example with ``g = dL/dprediction``."""
    _check_features(x, features)
    grads = {name: error_signal * value for name, value in zip(_weight_names(len(x)), x,
                                                                 strict=True)}
    grads["b"] = error_signal
    return grads


def engine_predict(leaves: Mapping[str, Value], x: Sequence[float], *,
                   features: int | None = None) -> Value:
    """The same sum as a ``Value`` graph (``w * x`` per feature, then ``+ b``).

    Example:
      >>> engine_predict({"w": Value(2.0), "b": Value(1.0)}, (3.0,)).data
      7.0
    """
    _check_features(x, features)
    names = _weight_names(len(x))
    total = leaves[names[0]] * x[0]
    for name, value in zip(names[1:], x[1:], strict=True):
        total = total + leaves[name] * value
    return total + leaves["b"]


def torch_module(torch, *, dtype, features: int):
    """``nn.Linear(features, 1)`` made with ``skip_init`` (torch's global RNG is never touched)."""
    return torch.nn.utils.skip_init(torch.nn.Linear, features, 1, dtype=dtype, device="cpu")


def torch_parameters(module) -> dict[str, tuple]:
    """Where each named scalar lives: ``{name: (tensor, index)}``."""
    features = module.weight.shape[1]
    located = {name: (module.weight, (0, i)) for i, name in enumerate(_weight_names(features))}
    located["b"] = (module.bias, (0,))
    return located


def torch_leaves(module) -> dict[str, object]:
    """The parameter leaves by the kind's leaf names (``w``, ``b``), for freezing."""
    return {"w": module.weight, "b": module.bias}
