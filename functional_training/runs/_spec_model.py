"""Spec files: the ``[model]`` table, derived from the model kind.

The keys a kind takes come from its description
(:class:`functional_training.ModelKind`): its configuration keys (every one but
``features``, which is the data's), its leaves (a plain leaf such as ``w`` is a
key; leaves ``group.i.name`` such as ``layers.0.w`` are one ``[[model.group]]``
table per ``i``), and ``kind``, ``init``, ``seed``, ``trainable``. The kind's
``inputs`` must be the data's width, and messages name the setting that states
a quantity (``ModelKind.stated_by``): no branch on a kind's name here.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

from functional_training._messages import size_text
from functional_training._models import (
    DEFAULT_MODEL,
    INITS,
    MODEL_KINDS,
    initial_values,
    model_kind,
    parameter_names,
)
from functional_training._record import named_series
from functional_training.runs._cli import one_line
from functional_training.runs._spec_toml import (
    SpecError,
    integer_at,
    kind_words,
    number_at,
    only_keys,
    shortened,
)

BYTES_PER_PARAMETER = 2_000
"""Bytes a check holds per parameter whatever its steps: its name and initial value as
Python objects, and a NumPy view per recorded series (``params`` and ``grads``, in the
reference's record, your trajectory and the reference filled with yours)."""

BYTES_PER_VALUE = 64
"""Bytes a check holds per recorded value (one parameter or gradient at one step): 8 per
float64 in about eight arrays at once (the reference's record, your trajectory, the
reference filled with yours, the comparison's stacked blocks and their differences).
Measured: ``benchmarks/large_check.py`` (docs/checking.md gives the figures)."""


def check_bytes(parameters: int, steps: int) -> int:
    """The memory a check of ``parameters`` scalars over ``steps`` steps needs, estimated.

    ``parameters * (BYTES_PER_PARAMETER + 2 (steps + 1) BYTES_PER_VALUE)``: parameters
    and gradients at every step (:data:`BYTES_PER_PARAMETER`, :data:`BYTES_PER_VALUE`).

    Example:
      >>> f"{check_bytes(397_510, 100) / 2**30:.1f} GiB"
      '5.5 GiB'
    """
    return parameters * (BYTES_PER_PARAMETER + 2 * (steps + 1) * BYTES_PER_VALUE)


def memory_limit() -> int:
    """The memory a spec's check may need: half this machine's physical memory."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # no sysconf: assume 8 GiB
        return 4 * 2**30


def size_problem(parameters: int, steps: int) -> str | None:
    """``None``, or why a check of this size does not fit :func:`memory_limit` (one line).

    Example:
      >>> size_problem(9, 20) is None
      True
      >>> size_problem(10**12, 1).startswith("1,000,000,000,000 parameters over 1 step need")
      True
    """
    need, limit = check_bytes(parameters, steps), memory_limit()
    if need <= limit:
        return None
    return (f"{parameters:,} parameters over {steps:,} step{'s' if steps != 1 else ''} need "
            f"about {size_text(need)} to check, more than the {size_text(limit)} this machine "
            "allows (half its memory)")


MAX_PARAMETERS = memory_limit() // check_bytes(1, 1)
"""Upper bound on a spec's number of scalar parameters on this machine (a one-step run:
:func:`size_problem`; more steps allow fewer). A typo such as ``sizes = [2, 1600000000,
1]`` is one line, not an out-of-memory crash; [run].steps is checked the same way."""

MODEL_KEYS = ("kind", "init", "seed", "trainable")
"""The keys of ``[model]`` besides the kind's configuration and leaves."""

_GROUP_LEAF = re.compile(r"([A-Za-z_]\w*)\.(\d+)\.([A-Za-z_]\w*)")  # layers.0.w


def model_table(table: dict, *, features: int, from_trajectory: bool = False
                ) -> tuple[str, dict, tuple, tuple[str, ...]]:
    """``[model]``: the kind, its settings, the initial values, the trainable leaves.

    The initial values are ``(values by scalar name, init kind, seed)``, the init
    kind ``"explicit"``, ``"zeros"`` or ``"seeded"`` (see :class:`RunSpec`). A table
    with neither values nor ``init`` gives ``(None, "trajectory", 0)`` when
    ``from_trajectory`` (a check fills them from the trajectory's step 0), else is
    refused with one line naming the missing values (as a table missing some).

    The keys a kind takes are derived from it: its configuration keys (every one
    but ``features``, which is the data's, is required), its leaves (a plain leaf
    such as ``w`` is a key; leaves ``group.i.name`` such as ``layers.0.w`` are one
    ``[[model.group]]`` table per ``i``), and ``kind``, ``init``, ``seed``, ``trainable``.
    """
    kind_name = table.get("kind", DEFAULT_MODEL)
    if not isinstance(kind_name, str) or kind_name not in MODEL_KINDS:
        raise SpecError(f"[model].kind: unknown model kind {shortened(kind_name)}; expected one of "
                        f"{', '.join(MODEL_KINDS)}")
    kind = model_kind(kind_name)
    settings = _model_settings(table, kind_name, kind.config_keys, features)
    config = {**settings, **({"features": features} if "features" in kind.config_keys else {})}
    shapes = kind.shapes(**config)
    plain, groups = leaf_layout(shapes)
    keys = (*plain, *groups)
    only_keys("model", table, (*dict.fromkeys((*settings, *kind.defaults)), *keys,
                               *MODEL_KEYS))
    count = sum(math.prod(shape) for shape in shapes.values())
    problem = size_problem(count, 1)
    if problem is not None:
        where = f"[model].{next(iter(settings))}" if settings else "[model]"
        raise SpecError(f"{where}: {problem}")
    explicit = [key for key in keys if key in table]
    if "init" in table:
        init = table["init"]
        if init not in INITS:
            raise SpecError(f"[model].init: expected one of {', '.join(map(repr, INITS))}, "
                            f"got {shortened(init)}")
        if explicit:
            raise SpecError(f"[model].{explicit[0]}: give initial values or init, not both")
        seed = 0
        if "seed" in table:
            if init != "seeded":
                raise SpecError('[model].seed: only with init = "seeded"')
            seed = integer_at(table, "model", "seed", low=0, high=None)
        values = initial_values(kind, init=init, seed=seed, **config)
        how = (init, seed)
    else:
        if "seed" in table:
            raise SpecError('[model].seed: only with init = "seeded"')
        missing = [key for key in keys if key not in table]
        wanted = ", ".join(key if key in plain else
                           f"[[model.{key}]] tables ({', '.join(groups[key][0])} in each)"
                           for key in keys)
        if missing and len(missing) == len(keys) and from_trajectory:
            return kind_name, settings, (None, "trajectory", 0), _trainable(table, tuple(shapes))
        if missing:
            left_open = ("; only `comparisons check` takes initial values from a "
                         "trajectory's step-0 params" if len(missing) == len(keys) else "")
            raise SpecError(f"[model].{missing[0]}: missing (give {wanted}, or "
                            f'init = "zeros" or "seeded"){left_open}')
        arrays = {leaf: _leaf_values(table[leaf], leaf, shapes[leaf],
                                     (kind.stated(leaf, **config) or (None, None))[1])
                  for leaf in plain}
        for group, members in groups.items():
            stated = kind.stated(group, **config)
            why = "" if stated is None else f" ({stated[1]})"
            arrays.update(_group_values(table[group], group, members, why))
        values = {name: float(v) for name, v in named_series(
            kind.build({leaf: arrays[leaf] for leaf in shapes}), leading=0).items()}
        how = ("explicit", 0)
    names = parameter_names(kind, **config)
    return (kind_name, settings, ({name: values[name] for name in names}, *how),
            _trainable(table, tuple(shapes)))


def _model_settings(table: dict, kind_name: str, config_keys: tuple[str, ...],
                    features: int) -> dict:
    """The kind's configuration from ``[model]`` (lists as tuples), checked by the kind itself.

    The kind's input width (``ModelKind.inputs``) must be the data's ``d``; the message
    names the setting that states it (``ModelKind.stated_by``), or the data.
    """
    keys = tuple(key for key in config_keys if key != "features")
    defaults = model_kind(kind_name).defaults  # keys that may be left out
    settings = {}
    for key in keys:
        if key not in table:
            if key in defaults:
                continue
            needs = [k for k in keys if k not in defaults]
            raise SpecError(f"[model].{key}: missing ({kind_name} needs {', '.join(needs)})")
        settings[key] = table[key]
    data = {"features": features} if "features" in config_keys else {}
    try:
        model_kind(kind_name).shapes(**settings, **data)
    except (TypeError, ValueError) as err:
        raise SpecError(_config_problem(one_line(err), kind_name, keys)) from None
    # a setting equal to its default is the default: the same run as leaving it out
    settings = {key: tuple(v) if isinstance(v, list) else v for key, v in settings.items()
                if not (key in defaults and v == defaults[key] and type(v) is type(defaults[key]))}
    kind = model_kind(kind_name)
    takes = kind.inputs(**settings, **data)
    if takes != features:
        rows = f"{features} feature{'' if features == 1 else 's'} per row"
        stated = kind.stated("inputs", **settings, **data)
        if stated is not None:
            raise SpecError(f"[model].{stated[0]}: {stated[1]} but the data has {rows}")
        raise SpecError(f"[data].train: the {kind_name} model takes {takes} "
                        f"feature{'' if takes == 1 else 's'} per row, the data has {rows}")
    return settings


def _config_problem(message: str, kind_name: str, keys: tuple[str, ...]) -> str:
    """A kind's configuration error (``mlp: sizes must ...``) as ``[model].sizes: must ...``."""
    text = message.removeprefix(f"{kind_name}: ")
    for key in keys:
        if text.startswith(f"{key} "):
            return f"[model].{key}: {text[len(key) + 1:]}"
    for key in keys:
        if re.search(rf"\b{re.escape(key)}\b", text):
            return f"[model].{key}: {text}"
    return f"[model]: {text}"


def leaf_layout(shapes: dict[str, tuple[int, ...]]) -> tuple[
        tuple[str, ...], dict[str, list[dict[str, tuple[int, ...]]]]]:
    """The kind's leaves as spec keys: plain leaves (``w``, ``b``) and groups.

    A leaf ``group.i.name`` (``layers.0.w``) is key ``name`` of the ``i``-th
    ``[[model.group]]`` table: ``groups[group][i] = {name: shape}``.

    Example:
      >>> leaf_layout({"layers.0.w": (2, 3), "layers.0.b": (3,), "layers.1.w": (3, 1)})
      ((), {'layers': [{'w': (2, 3), 'b': (3,)}, {'w': (3, 1)}]})
    """
    plain, groups = [], {}
    for leaf, shape in shapes.items():
        match = _GROUP_LEAF.fullmatch(leaf)
        if match is None:
            plain.append(leaf)
            continue
        group, index, name = match.group(1), int(match.group(2)), match.group(3)
        members = groups.setdefault(group, [])
        while len(members) <= index:
            members.append({})
        members[index][name] = shape
    return tuple(plain), groups


def _group_values(value, group: str, members: list[dict[str, tuple[int, ...]]],
                  why: str) -> dict[str, np.ndarray]:
    """``[[model.group]]`` tables: one per member, each with exactly the member's leaves.

    ``why`` says where the count comes from (the kind's ``stated_by``), or is empty.
    """
    where = f"[model].{group}"
    count = len(members)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        got = kind_words(value) if not isinstance(value, list) else "a list of non-tables"
        raise SpecError(f"{where}: expected {count} [[model.{group}]] tables{why}, got {got}")
    if len(value) != count:
        raise SpecError(f"{where}: expected {count} [[model.{group}]] tables{why}, "
                        f"got {len(value)}")
    arrays = {}
    for index, (item, shapes) in enumerate(zip(value, members, strict=True)):
        here = f"[model.{group}][{index}]"
        for key in item:
            if key not in shapes:
                raise SpecError(f"{here}.{key}: unknown key; expected {', '.join(shapes)}")
        for key, shape in shapes.items():
            if key not in item:
                raise SpecError(f"{here}.{key}: missing")
            arrays[f"{group}.{index}.{key}"] = _array(item[key], f"{here}.{key}", shape)
    return arrays


def _array(value, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """Nested lists of exactly ``shape`` (rows first) as a float64 array, every number finite."""
    if not shape:
        return np.asarray(number_at(value, where))
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected shape {shape}, got {kind_words(value)}")
    got = _list_shape(value)
    if got != shape:
        raise SpecError(f"{where}: expected shape {shape}, got "
                        f"{'a ragged list' if got is None else got}")
    array = np.empty(shape, dtype=np.float64)
    for index in np.ndindex(*shape):
        item = value
        for i in index:
            item = item[i]
        array[index] = number_at(item, where + "".join(f"[{i}]" for i in index))
    return array


def _list_shape(value) -> tuple[int, ...] | None:
    """The shape of nested lists (``()`` for a non-list), or ``None`` if they are ragged."""
    if not isinstance(value, list):
        return ()
    inner = {_list_shape(item) for item in value}
    if not inner:
        return (0,)
    if len(inner) != 1 or None in inner:
        return None
    return (len(value), *inner.pop())


def _leaf_values(value, leaf: str, shape: tuple[int, ...], why: str | None) -> np.ndarray:
    """``[model].leaf``: a number, or nested lists of exactly ``shape``.

    ``why`` says what the leaf's size follows (the kind's ``stated_by``), or is ``None``.
    """
    where = f"[model].{leaf}"
    because = f" ({why})" if why else ""
    if not shape:
        if isinstance(value, list):
            raise SpecError(f"{where}: expected a number ({why or 'a scalar parameter'}), "
                            "got a list")
        return np.asarray(number_at(value, where))
    if not isinstance(value, list):
        what = f"a list of {shape[0]} numbers{because}" if len(shape) == 1 else f"shape {shape}"
        raise SpecError(f"{where}: expected {what}, got {kind_words(value)}")
    try:
        array = np.asarray(value, dtype=object)
    except ValueError:
        array = None
    if array is None or array.shape != shape:
        got = "a ragged list" if array is None else f"shape {array.shape}"
        what = f"{shape[0]} numbers{because}" if len(shape) == 1 else f"shape {shape}"
        raise SpecError(f"{where}: expected {what}, got {got}")
    return np.asarray([number_at(v, f"{where}[{i}]") for i, v in enumerate(array.reshape(-1))],
                      dtype=np.float64).reshape(shape)


def _trainable(model: dict, leaves: tuple[str, ...]) -> tuple[str, ...]:
    if "trainable" not in model:
        return leaves
    names = model["trainable"]
    where = "[model].trainable"
    listed = ", ".join(leaves)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SpecError(f"{where}: expected a list of parameter names like {list(leaves)}")
    unknown = [n for n in names if n not in leaves]
    if unknown:
        raise SpecError(f"{where}: unknown parameter {unknown[0]!r}; the model has {listed}")
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: lists a parameter twice")
    if not names:
        raise SpecError(f"{where}: is empty; name at least one of {listed}")
    return tuple(p for p in leaves if p in names)


def model_config(kind: str, settings: dict, features: int) -> dict:
    """The kind's full configuration: its settings, plus ``features`` when it takes the data's."""
    takes_features = "features" in model_kind(kind).config_keys
    return {**settings, **({"features": features} if takes_features else {})}
