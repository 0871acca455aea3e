"""The run description as JSON: one write/read pair for manifests and reruns of both programs.

:func:`run_spec_to_json` writes every field of a :class:`~functional_training.runs.RunSpec`
(or of a subclass such as ``comparisons``' ``Experiment``) as strict JSON values,
floats exact (tuples become lists); :func:`run_spec_from_json` reads it back
equal, checking only the JSON shape: every key present (keys that older
manifests lack take the field's default), no other key, each value of the right
type, with a one-line message naming the key. Whether the run can run is the
runner's check. A subclass describes its own extra fields with :class:`JsonField`
and passes them as ``extra``. ``files`` (local paths, provenance) is not written:
the rows are the data.

Example:
  >>> from functional_training.runs._run_spec import FROM_TRAJECTORY, LAST_BATCH, RunSpec
  >>> spec = RunSpec("one", "", ((2.0, 6.0),), {"w": 1, "b": 0.0}, "sgd",
  ...                {"learning_rate": 0.1}, 1)
  >>> data = run_spec_to_json(spec)
  >>> data["train"], data["init"], data["trainable"]
  ([[2.0, 6.0]], {'w': 1.0, 'b': 0.0}, ['w', 'b'])
  >>> run_spec_from_json(data) == spec
  True
  >>> run_spec_from_json({**data, "steps": "3"})
  Traceback (most recent call last):
  ...
  ValueError: run.steps: must be an integer, got a string
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from functional_training._numbers import is_int, is_number
from functional_training.runs._run_spec import FROM_TRAJECTORY, LAST_BATCH, RunSpec

_Spec = TypeVar("_Spec", bound=RunSpec)


class JsonField(NamedTuple):
    """How one field is written to and read from JSON.

    Attributes:
      check: ``check(json_value) -> bool``: the JSON value has the right shape.
      expected: what ``check`` wants, in words (``"an integer"``).
      write: field value -> JSON value.
      read: JSON value -> field value.
      optional: older manifests may lack the key; it then takes the field's default.
    """

    check: Callable[[Any], bool]
    expected: str
    write: Callable[[Any], Any] = lambda value: value
    read: Callable[[Any], Any] = lambda value: value
    optional: bool = False


def is_text(value) -> bool:
    """Whether ``value`` is a non-empty string."""
    return isinstance(value, str) and bool(value)


def is_mapping(value, check: Callable[[Any], bool]) -> bool:
    """Whether ``value`` is an object of string keys whose values pass ``check``."""
    return isinstance(value, dict) and all(isinstance(k, str) and check(v)
                                           for k, v in value.items())


def is_rows(value) -> bool:
    """Whether ``value`` is a list of ``[x_1, ..., x_d, target]`` number rows."""
    return isinstance(value, list) and all(
        isinstance(row, list) and len(row) >= 2 and all(map(is_number, row)) for row in value
    )


def optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``check``, or ``None``."""
    return lambda value: value is None or check(value)


def _rows_out(rows):
    return None if rows is None else [[float(v) for v in row] for row in rows]


def _rows_in(rows):
    return None if rows is None else tuple(tuple(float(v) for v in row) for row in rows)


def _floats_out(values):
    return {k: float(v) for k, v in values.items()}


def _optional_floats(values):
    return None if values is None else _floats_out(values)


def is_order(value) -> bool:
    """Whether ``value`` is a list of lists of example indices (integers >= 0)."""
    return isinstance(value, list) and all(
        isinstance(row, list) and all(is_int(i) and i >= 0 for i in row) for row in value)


def _order_out(order):
    return order if order is None or isinstance(order, str) else [list(row) for row in order]


def _order_in(order):
    return order if order is None or isinstance(order, str) else tuple(
        tuple(int(i) for i in row) for row in order)


def _settings_out(settings):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def _settings_in(settings):
    return {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()}


RUN_SPEC_FIELDS: dict[str, JsonField] = {
    "name": JsonField(is_text, "a non-empty string"),
    "description": JsonField(lambda v: isinstance(v, str), "a string"),
    "train": JsonField(is_rows, "a list of [x_1, ..., x_d, target] number rows", _rows_out,
                       _rows_in),
    "validation": JsonField(optional(is_rows), "null or a list of [x_1, ..., x_d, target] rows",
                            _rows_out, _rows_in),
    "init": JsonField(optional(lambda v: is_mapping(v, is_number)),
                      "null (from a trajectory) or an object of name -> number",
                      _optional_floats, _optional_floats),
    "trainable": JsonField(lambda v: isinstance(v, list) and all(map(is_text, v)),
                           "a list of parameter names", list, tuple),
    "optimizer": JsonField(is_text, "a non-empty string"),
    "hyperparams": JsonField(lambda v: is_mapping(v, is_number), "an object of name -> number",
                             _floats_out, _floats_out),
    "steps": JsonField(is_int, "an integer"),
    "batch_size": JsonField(optional(is_int), "null or an integer"),
    "seed": JsonField(is_int, "an integer"),
    "model": JsonField(is_text, "a model kind's name", optional=True),
    "model_settings": JsonField(lambda v: isinstance(v, dict) and all(map(is_text, v)),
                                "an object of the model kind's settings", _settings_out,
                                _settings_in, optional=True),
    "loss": JsonField(is_text, "a loss kind's name", optional=True),
    "l2": JsonField(is_number, "a number", float, float, optional=True),
    "reduction": JsonField(is_text, "mean or sum", optional=True),
    "schedule": JsonField(optional(lambda v: isinstance(v, dict) and is_text(v.get("kind"))),
                          "null or an object with a kind",
                          lambda v: None if v is None else dict(v), optional=True),
    "init_kind": JsonField(is_text, "how init was given (explicit, zeros, seeded)",
                           optional=True),
    "init_seed": JsonField(is_int, "an integer", optional=True),
    "order": JsonField(lambda v: v is None or v == FROM_TRAJECTORY or is_order(v),
                       f'null, "{FROM_TRAJECTORY}" or a list of lists of example indices',
                       _order_out, _order_in, optional=True),
    "last_batch": JsonField(lambda v: v in LAST_BATCH, " or ".join(map(repr, LAST_BATCH)),
                            optional=True),
}
"""Every serialised field of :class:`~functional_training.runs.RunSpec` (all but ``files``)."""


def _table(kind: type[RunSpec], extra: Mapping[str, JsonField]) -> dict[str, JsonField]:
    names = [f.name for f in dataclasses.fields(kind)]
    table = {**RUN_SPEC_FIELDS, **extra}
    unknown = [name for name in table if name not in names]
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {unknown[0]!r}")
    return table


def run_spec_to_json(spec: RunSpec, *, extra: Mapping[str, JsonField] | None = None) -> dict:
    """Every serialised field of ``spec`` as JSON values (``extra``: a subclass's own fields).

    :func:`run_spec_from_json` with the same ``extra`` reads it back equal.
    """
    table = _table(type(spec), extra or {})
    return {name: entry.write(getattr(spec, name)) for name, entry in table.items()}


def run_spec_from_json(data, *, where: str = "run", kind: type[_Spec] = RunSpec,
                       extra: Mapping[str, JsonField] | None = None,
                       order: tuple[str, ...] | None = None) -> _Spec:
    """The ``kind`` (``RunSpec`` or a subclass) a :func:`run_spec_to_json` object describes.

    Args:
      data: the JSON object.
      where: how messages name it (``runs[0].options.experiment``).
      kind: the class to build; ``extra`` describes its fields beyond ``RunSpec``'s.
      order: the order messages list the keys in (default: ``RunSpec``'s, then ``extra``;
        keys it leaves out follow in that order).

    Raises:
      ValueError: one line naming ``where`` and the offending key.
    """
    table = _table(kind, extra or {})
    keys = (*order, *(key for key in table if key not in order)) if order else tuple(table)
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object, got {json_kind(data)}")
    unknown = sorted(set(data) - set(table))
    if unknown:
        raise ValueError(f"{where}.{unknown[0]}: unknown key; expected {', '.join(keys)}")
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(kind) if f.name in table and table[f.name].optional}
    data = {**{name: table[name].write(value) for name, value in defaults.items()}, **data}
    for key in keys:
        if key not in data:
            raise ValueError(f"{where}.{key}: missing")
    for key in keys:
        if not table[key].check(data[key]):
            raise ValueError(f"{where}.{key}: must be {table[key].expected}, got "
                             f"{json_kind(data[key])}")
    return kind(**{key: table[key].read(data[key]) for key in keys})


def json_kind(value) -> str:
    """What a JSON value is, in words, for one-line messages (``"an object"``, ``"null"``).

    Example:
      >>> json_kind(None), json_kind(3), json_kind({})
      ('null', 'an integer', 'an object')
    """
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)
