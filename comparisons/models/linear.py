"""The ``linear`` kind's backend pieces: ``s_j = sum_i w_ij x_i + b_j`` for ``k`` outputs.

Parameter names follow ``functional_training.parameter_names("linear", features=d,
outputs=k)``: for one output (the default) ``w``, ``b`` for one feature and
``w[0]``, ..., ``w[d-1]``, ``b`` for several; for ``k >= 2`` outputs (softmax
regression) ``w[i,j]`` (feature ``i``, output ``j``: ``(fan_in, fan_out)``) and
``b[j]``. With error signal ``g = dL/ds`` for one example (a float, or ``k`` of
them), the hand-written derivative is ``dL/dw_ij = g_j x_i`` and ``dL/db_j = g_j``.
torch holds the weights in ``nn.Linear(d, k)``: ``w[i,j]`` is ``weight[j, i]`` and
``b[j]`` is ``bias[j]`` (one output: ``w[i]`` is ``weight[0, i]``, ``b`` is ``bias[0]``).

Example:
  >>> manual_gradients({"w[0]": 1.0, "w[1]": 2.0, "b": 0.0}, (3.0, 4.0), 0.5)
  {'w[0]': 1.5, 'w[1]': 2.0, 'b': 0.5}
  >>> manual_predict({"w[0,0]": 1.0, "w[0,1]": -1.0, "b[0]": 0.5, "b[1]": 0.0}, (2.0,),
  ...                outputs=2)
  [2.5, -2.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from comparisons.engine import Value


def _weight_names(count: int) -> list[str]:
    return ["w"] if count == 1 else [f"w[{i}]" for i in range(count)]


def _output_names(count: int, output: int) -> tuple[list[str], str]:
    """Output ``output``'s weights (one per feature) and bias, for ``k >= 2`` outputs."""
    return [f"w[{i},{output}]" for i in range(count)], f"b[{output}]"


def _check_features(x: Sequence[float], features: int | None) -> None:
    if features is not None and len(x) != features:
        raise ValueError(f"linear: an example has {len(x)} features; the model takes {features}")


def hidden_activations(*, features: int | None = None, outputs: int = 1) -> tuple[str, ...]:
    """None: the linear model has no hidden layer."""
    return ()


def bias_leaves(*, features: int | None = None, outputs: int = 1) -> tuple[str, ...]:
    """The bias leaf: ``b``."""
    return ("b",)


def _sum(weights, x: Sequence[float], bias):
    """``w_0 x_0 + w_1 x_1 + ... + b``, left to right (floats or ``Value`` nodes)."""
    total = weights[0] * x[0]
    for weight, value in zip(weights[1:], x[1:], strict=True):
        total = total + weight * value
    return total + bias


def manual_predict(params: Mapping[str, float], x: Sequence[float], *,
                   features: int | None = None, outputs: int = 1) -> float | list[float]:
    """``w_0 x_0 + w_1 x_1 + ... + b`` on Python floats: one float, or ``k`` (one per output).

    ``features`` (the kind's configuration, optional) is checked against ``len(x)``.

    Example:
      >>> manual_predict({"w": 2.0, "b": 1.0}, (3.0,))
      7.0
    """
    _check_features(x, features)
    if outputs == 1:
        return _sum([params[n] for n in _weight_names(len(x))], x, params["b"])
    scores = []
    for j in range(outputs):
        weights, bias = _output_names(len(x), j)
        scores.append(_sum([params[n] for n in weights], x, params[bias]))
    return scores


def manual_gradients(
    params: Mapping[str, float], x: Sequence[float], error_signal, *,
    features: int | None = None, outputs: int = 1
) -> dict[str, float]:
    """``{w_ij: g_j x_i, b_j: g_j}`` for one example with ``g = dL/ds`` (float or ``k``)."""
    _check_features(x, features)
    if outputs == 1:
        grads = {name: error_signal * value
                 for name, value in zip(_weight_names(len(x)), x, strict=True)}
        grads["b"] = error_signal
        return grads
    grads = {f"w[{i},{j}]": error_signal[j] * value
             for i, value in enumerate(x) for j in range(outputs)}
    grads.update({f"b[{j}]": error_signal[j] for j in range(outputs)})
    return grads


def engine_predict(leaves: Mapping[str, Value], x: Sequence[float], *,
                   features: int | None = None, outputs: int = 1) -> Value | list[Value]:
    """The same sums as ``Value`` graphs (``w * x`` per feature, then ``+ b``), per output.

    Example:
      >>> engine_predict({"w": Value(2.0), "b": Value(1.0)}, (3.0,)).data
      7.0
    """
    _check_features(x, features)
    if outputs == 1:
        return _sum([leaves[n] for n in _weight_names(len(x))], x, leaves["b"])
    return [_sum([leaves[n] for n in weights], x, leaves[bias])
            for weights, bias in (_output_names(len(x), j) for j in range(outputs))]


def torch_module(torch, *, dtype, features: int, outputs: int = 1):
    """``nn.Linear(features, outputs)`` made with ``skip_init`` (torch's global RNG untouched)."""
    return torch.nn.utils.skip_init(torch.nn.Linear, features, outputs, dtype=dtype,
                                    device="cpu")


def torch_parameters(module) -> dict[str, tuple]:
    """Where each named scalar lives: ``{name: (tensor, index)}``."""
    outputs, features = module.weight.shape
    if outputs == 1:
        located = {name: (module.weight, (0, i))
                   for i, name in enumerate(_weight_names(features))}
        located["b"] = (module.bias, (0,))
        return located
    located = {f"w[{i},{j}]": (module.weight, (j, i))
               for i in range(features) for j in range(outputs)}
    located.update({f"b[{j}]": (module.bias, (j,)) for j in range(outputs)})
    return located


def torch_leaves(module) -> dict[str, object]:
    """The parameter leaves by the kind's leaf names (``w``, ``b``), for freezing."""
    return {"w": module.weight, "b": module.bias}
