"""Your own trajectory, whole or partial: the :class:`Trajectory` type.

``python -m comparisons check`` and :func:`comparisons.check` compare a trajectory
that someone else's code recorded with the reference backend's. It may hold
every quantity of the trajectory contract at every step, or any part of it: some
quantities (say parameters and the batch loss), some steps (say the first three).
Only what it holds is compared (``docs/checking.md``).

A trajectory is a set of values, each one number at one step::

    (quantity, name, step) -> value

==============  ==============================  =====================================
quantity        name                            steps (``S`` optimizer steps)
==============  ==============================  =====================================
``params``      a parameter (``w``, ``w[1]``,   0..S: before step k (S: the final)
                ``layers.0.b[2]``)
``grads``       a parameter                     0..S-1: the gradient taken at step k
``batch_loss``  (none)                          0..S-1: the loss whose gradient it is
``train_loss``  (none)                          0..S: the full training loss
``val_loss``    (none)                          0..S: the validation loss

The files that hold one, JSON and long CSV, are read and written by
:mod:`comparisons.trajectory_files`; a :class:`Trajectory` is built from plain
values (the JSON's shape), from long rows ``(step, quantity, name, value)`` (the
CSV's) or from a whole :class:`functional_training.TrajectoryRecord`.

Every problem is one :class:`TrajectoryError` line naming the row or the key:
``unknown quantity 'grad' in row 4 (expected params, grads, ...)``,
``non-numeric value 'abc' in params.w[5]``. What only the experiment knows (its
parameter names, its number of steps) is checked by :meth:`Trajectory.check_fits`.

Example:
  >>> mine = Trajectory(params={"w": [1.0, 1.8]}, grads={"b": {0: -4.0}}, batch_loss=[8.0])
  >>> len(mine), mine.quantities
  (4, ('params', 'grads', 'batch_loss'))
  >>> mine.rows()[1]
  (0, 'grads', 'b', -4.0)
  >>> Trajectory.from_dict({"grads": {"w": [1.0, "abc"]}})
  Traceback (most recent call last):
  ...
  comparisons.trajectory.TrajectoryError: non-numeric value 'abc' in grads.w[1]
"""

from __future__ import annotations

import math
import numbers
import types
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from functional_training import TrajectoryRecord, json_float
from functional_training.runs import json_kind

__all__ = [
    "DERIVED",
    "INDEXED",
    "NAMED",
    "QUANTITIES",
    "ROW_FIELDS",
    "Trajectory",
    "TrajectoryError",
    "label_of",
    "quoted",
]

QUANTITIES = ("params", "grads", "batch_loss", "train_loss", "val_loss", "predictions",
              "batches", "extras")
"""Every quantity a trajectory may hold, in the contract's order."""

NAMED = ("params", "grads", "extras")
"""Quantities whose values are named (a parameter, an extras key)."""

INDEXED = ("predictions", "batches")
"""Quantities whose values are indexed within a step's row (an example, a batch position)."""

DERIVED = ("grad_norm", "first_nonfinite_step")
"""Keys of the report's ``TRAJ`` object computed from the rest: read and ignored."""

ROW_FIELDS = ("step", "quantity", "name", "value")
"""A long row's fields, in this order (the long CSV's columns)."""

_JSON_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

Key = tuple[str, str, int]
"""``(quantity, name, step)``; ``name`` is ``""`` for a loss and the index for ``INDEXED``."""


class TrajectoryError(ValueError):
    """A trajectory that cannot be compared: one line naming the row or the key."""


def label_of(quantity: str, name: str) -> str:
    """The comparator's label of a value: ``params.w``, ``batch_loss``, ``predictions[2]``.

    Example:
      >>> label_of("grads", "w"), label_of("train_loss", ""), label_of("batches", "1")
      ('grads.w', 'train_loss', 'batches[1]')
    """
    if quantity in NAMED:
        return f"{quantity}.{name}"
    if quantity in INDEXED:
        return f"{quantity}[{name}]"
    return quantity


class Trajectory:
    """A recorded trajectory, whole or partial: any quantities, any steps.

    Build one from plain Python values in the shape of the report's ``TRAJ``
    object (the keyword arguments), from that object itself
    (:meth:`from_dict`), from long rows ``(step, quantity, name, value)``
    (:meth:`from_rows`) or from a whole :class:`functional_training.TrajectoryRecord`
    (:meth:`from_record`). In the keyword form a series is a list (entry ``k``
    is step ``k``; ``None`` leaves a step out) or a dict ``{step: value}``.

    Args:
      params: ``{name: series}`` of parameter values, steps 0..S.
      grads: ``{name: series}`` of gradients, steps 0..S-1.
      batch_loss: a series, steps 0..S-1.
      train_loss: a series, steps 0..S.
      val_loss: a series, steps 0..S.
      predictions: a series of rows (each a list or ``{index: value}``), steps 0..S.
      batches: a series of rows of example indices, steps 0..S-1.
      extras: ``{key: series}`` of the experiment's extra series.

    Raises:
      TrajectoryError: a value that is not a number (or ``"NaN"``, ``"Infinity"``,
        ``"-Infinity"``), a step that is not a whole number ``>= 0``, a series of
        the wrong shape.

    Example:
      >>> loop = Trajectory(params={"w": [1.0, 1.8], "b": [0.0, 0.4]}, batch_loss=[8.0])
      >>> loop.labels
      ('params.w', 'params.b', 'batch_loss')
      >>> loop.steps_of("params.w")
      (0, 1)
    """

    __slots__ = ("_values", "_where")

    def __init__(self, *, params=None, grads=None, batch_loss=None, train_loss=None,
                 val_loss=None, predictions=None, batches=None, extras=None):
        given = {"params": params, "grads": grads, "batch_loss": batch_loss,
                 "train_loss": train_loss, "val_loss": val_loss, "predictions": predictions,
                 "batches": batches, "extras": extras}
        values: dict[Key, float] = {}
        where: dict[Key, str] = {}
        for key, value, place in _entries_of(given):
            _add(values, where, key, value, place)
        self._values = types.MappingProxyType(values)
        self._where = types.MappingProxyType(where)

    @classmethod
    def from_dict(cls, data: Mapping) -> Trajectory:
        """From the report's ``TRAJ`` object (any part of it), e.g. parsed JSON.

        Unknown keys are errors; ``grad_norm`` and ``first_nonfinite_step`` are ignored.

        Example:
          >>> Trajectory.from_dict({"train_loss": {"3": "Infinity"}}).rows()
          [(3, 'train_loss', '', inf)]
        """
        if not isinstance(data, Mapping):
            raise TrajectoryError(
                f"a trajectory is an object of quantities, got {json_kind(data)}")
        unknown = [key for key in data if key not in (*QUANTITIES, *DERIVED)]
        if unknown:
            raise TrajectoryError(f"unknown quantity {unknown[0]!r} in the top-level keys "
                                  f"(expected {', '.join(QUANTITIES)})")
        return cls(**{key: data[key] for key in QUANTITIES if key in data})

    @classmethod
    def from_rows(cls, rows: Iterable, *, first_row: int = 1) -> Trajectory:
        """From long rows ``(step, quantity, name, value)``, strings or numbers.

        Args:
          rows: the rows, in the CSV's column order.
          first_row: the number the first row has in messages (2 under a CSV header).

        Example:
          >>> Trajectory.from_rows([("3", "grads", "w", "-1.25")]).rows()
          [(3, 'grads', 'w', -1.25)]
          >>> Trajectory.from_rows([(0, "grad", "w", 1.0)], first_row=4)
          Traceback (most recent call last):
          ...
          comparisons.trajectory.TrajectoryError: unknown quantity 'grad' in row 4 \
(expected params, grads, batch_loss, train_loss, val_loss, predictions, batches, extras)
        """
        return cls.from_numbered_rows(enumerate(rows, first_row))

    @classmethod
    def from_numbered_rows(cls, rows: Iterable[tuple[int, Iterable]]) -> Trajectory:
        """From ``(number, row)`` pairs: long rows, each with the number messages give it.

        The long CSV's reader numbers rows as a spreadsheet does (blank lines
        left out still count); :meth:`from_rows` numbers them one after another.

        Example:
          >>> Trajectory.from_numbered_rows([(7, ("0", "batch_loss", "", "x"))])
          Traceback (most recent call last):
          ...
          comparisons.trajectory.TrajectoryError: non-numeric value 'x' in row 7
        """
        values: dict[Key, float] = {}
        where: dict[Key, str] = {}
        for number, row in rows:
            place = f"row {number}"
            fields = [str(field).strip() for field in row]
            if len(fields) != len(ROW_FIELDS):
                raise TrajectoryError(f"{len(fields)} fields in {place}, expected "
                                      f"{len(ROW_FIELDS)} ({','.join(ROW_FIELDS)})")
            step, quantity, name, value = fields
            _check_quantity(quantity, place)
            key = (quantity, _name(quantity, name, place), _whole(step, "step", place))
            _add(values, where, key, _text_cell(quantity, value, place), place)
        return cls._of(values, where)

    @classmethod
    def from_record(cls, record: TrajectoryRecord) -> Trajectory:
        """Every value of a whole record (a backend's run).

        Example:
          >>> run = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
          ...                        batch_loss=[8.0], train_loss=[8.0, 2.0])
          >>> len(Trajectory.from_record(run))
          6
        """
        return cls(params=record.params, grads=record.grads, batch_loss=record.batch_loss,
                   train_loss=record.train_loss, val_loss=record.val_loss,
                   predictions=record.predictions, batches=record.batches,
                   extras=record.extras)

    @classmethod
    def _of(cls, values: dict[Key, float], where: dict[Key, str]) -> Trajectory:
        trajectory = cls.__new__(cls)
        trajectory._values = types.MappingProxyType(values)
        trajectory._where = types.MappingProxyType(where)
        return trajectory

    # --- what it holds ---------------------------------------------------------------------

    @property
    def values(self) -> Mapping[Key, float]:
        """``(quantity, name, step) -> value``, in the order given (read-only)."""
        return self._values

    def where(self, key: Key) -> str:
        """Where ``key``'s value came from, for messages: ``row 4``, ``params.w[3]``."""
        return self._where[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Key]:
        return iter(self._values)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Trajectory):
            return NotImplemented
        return self.rows() == other.rows()

    __hash__ = None

    def __repr__(self) -> str:
        held = ", ".join(f"{label} ({len(self.steps_of(label))} steps)" for label in self.labels)
        return f"Trajectory({len(self)} values: {held or 'nothing'})"

    @property
    def quantities(self) -> tuple[str, ...]:
        """The quantities it holds, in the contract's order."""
        held = {quantity for quantity, _, _ in self._values}
        return tuple(q for q in QUANTITIES if q in held)

    @property
    def labels(self) -> tuple[str, ...]:
        """The series it holds (``params.w``, ``predictions[0]``, ...), in the order given."""
        return tuple(dict.fromkeys(label_of(q, n) for q, n, _ in self._values))

    def steps_of(self, label: str) -> tuple[int, ...]:
        """The steps at which series ``label`` holds a value, sorted."""
        return tuple(sorted(k for q, n, k in self._values if label_of(q, n) == label))

    def rows(self) -> list[tuple[int, str, str, float]]:
        """Every value as a long row ``(step, quantity, name, value)``, sorted by step.

        Within a step, rows keep the contract's order of quantities and the given
        order of names.
        """
        order = {key: i for i, key in enumerate(self._values)}
        keys = sorted(self._values, key=lambda key: (key[2], QUANTITIES.index(key[0]),
                                                    order[key]))
        return [(k, q, n, self._values[(q, n, k)]) for q, n, k in keys]

    def to_json(self) -> dict:
        """The ``TRAJ`` object of what it holds: a list per series, ``null`` where not held.

        :meth:`from_dict` reads it back. Non-finite values are strings, as in the report.

        Example:
          >>> Trajectory(grads={"w": {2: 0.5}}, train_loss=[1.0]).to_json()
          {'grads': {'w': [None, None, 0.5]}, 'train_loss': [1.0]}
        """
        out: dict = {}
        for (quantity, name, step), value in self._values.items():
            value = value if quantity == "batches" else json_float(value)
            if quantity in NAMED:
                _put(out.setdefault(quantity, {}).setdefault(name, []), step, value)
            elif quantity in INDEXED:
                rows = out.setdefault(quantity, [])
                _put(rows, step, None, keep=True)
                if rows[step] is None:
                    rows[step] = []
                _put(rows[step], int(name), value)
            else:
                _put(out.setdefault(quantity, []), step, value)
        return {q: out[q] for q in QUANTITIES if q in out}

    # --- against an experiment's reference -----------------------------------------------

    def check_fits(self, reference: TrajectoryRecord, *, what: str = "the experiment") -> None:
        """Raise :class:`TrajectoryError` unless every value has a place in ``reference``.

        The reference backend's run of the experiment says what exists: its
        parameter names, its extras, its steps (``S + 1`` parameter values, ``S``
        gradients), whether it has a validation set, a batch order, predictions.

        Args:
          reference: the reference's trajectory of the experiment.
          what: how messages name the experiment (its name: ``full-batch``).

        Example:
          >>> ref = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]},
          ...                        batch_loss=[8.0], train_loss=[8.0, 2.0])
          >>> Trajectory(grads={"w": [-8.0, -3.2]}).check_fits(ref, what="single-update")
          Traceback (most recent call last):
          ...
          comparisons.trajectory.TrajectoryError: step 1 out of range in grads.w[1] \
(single-update runs 1 step: params, train_loss 0..1; grads, batch_loss 0)
        """
        if not self._values:
            raise TrajectoryError("the trajectory holds no values: nothing to compare")
        series = _reference_series(reference)
        for key in self._values:
            quantity, name, step = key
            place = self._where[key]
            label = label_of(quantity, name)
            if quantity in INDEXED:
                rows = series.get(quantity)
                if rows is None:
                    raise TrajectoryError(_absent(quantity, place, what))
                length = max((len(row) for row in rows), default=0)
                if int(name) >= length:
                    raise TrajectoryError(
                        f"{_index_word(quantity)} {name} out of range in {place} ({what} has "
                        f"{length} {_row_noun(quantity)} per step: {_step_range(length)})")
                values = rows
            elif label not in series:
                raise TrajectoryError(_unknown_name(quantity, name, place, what, series))
            else:
                values = series[label]
            if step >= len(values):
                raise TrajectoryError(
                    f"step {step} out of range in {place} ({_ranges(reference, what)})")


# --- building, one value at a time ------------------------------------------------------------


def _add(values: dict, where: dict, key: Key, value: float, place: str) -> None:
    if key in values:
        first = where[key]
        label = label_of(key[0], key[1])
        raise TrajectoryError(f"a second value for {label} at step {key[2]} in {place} "
                              f"(the first is in {first})")
    values[key] = value
    where[key] = place


def _entries_of(given: Mapping) -> Iterator[tuple[Key, float, str]]:
    """Every ``(key, value, where)`` of the keyword form (see :class:`Trajectory`)."""
    for quantity, data in given.items():
        if data is None:
            continue
        if quantity in NAMED:
            if not isinstance(data, Mapping):
                raise TrajectoryError(f"{quantity} must be an object of named series, got "
                                      f"{json_kind(data)}")
            for name, series in data.items():
                place = f"{quantity}.{name}"
                name = _name(quantity, name, place)
                for step, value in _series(series, place):
                    yield ((quantity, name, step), _cell(quantity, value, f"{place}[{step}]"),
                           f"{place}[{step}]")
        elif quantity in INDEXED:
            for step, row in _series(data, quantity):
                place = f"{quantity}[{step}]"
                for index, value in _series(row, place, what="row"):
                    yield ((quantity, str(index), step),
                           _cell(quantity, value, f"{place}[{index}]"), f"{place}[{index}]")
        else:
            for step, value in _series(data, quantity):
                yield (quantity, "", step), _cell(quantity, value, f"{quantity}[{step}]"), \
                    f"{quantity}[{step}]"


def _series(data, place: str, *, what: str = "series") -> Iterator[tuple[int, object]]:
    """``(step, value)`` of a list (``None`` entries left out) or a ``{step: value}`` dict."""
    if hasattr(data, "tolist") and getattr(data, "ndim", 0) > 0:  # a NumPy or JAX array
        data = data.tolist()
    if isinstance(data, Mapping):
        items = ((_whole(step, "step" if what == "series" else "index", place), value)
                 for step, value in data.items())
    elif isinstance(data, (list, tuple)):
        items = enumerate(data)
    else:
        raise TrajectoryError(f"{place} must be a list or an object of steps, "
                              f"got {json_kind(data)}")
    for step, value in items:
        if value is not None:
            yield step, value


def _check_quantity(quantity: str, place: str) -> None:
    if quantity not in QUANTITIES:
        hint = ""
        head = quantity.split(".")[0].split("[")[0]
        if head in QUANTITIES and head != quantity:
            hint = f"; give {head!r} here and the rest in the name column"
        raise TrajectoryError(f"unknown quantity {quantity!r} in {place} "
                              f"(expected {', '.join(QUANTITIES)}{hint})")


def _name(quantity: str, name, place: str) -> str:
    name = str(name)
    if quantity in NAMED:
        if not name:
            noun = "parameter" if quantity != "extras" else "extras key"
            raise TrajectoryError(f"{quantity} needs a {noun} name in {place}")
        return name
    if quantity in INDEXED:
        return str(_whole(name, _index_word(quantity), place))
    if name:
        raise TrajectoryError(f"{quantity} takes no name, got {name!r} in {place}")
    return name


def _whole(text, what: str, place: str) -> int:
    """A whole number ``>= 0`` from an int or its decimal text."""
    if isinstance(text, numbers.Integral) and not isinstance(text, (bool, np.bool_)) and text >= 0:
        return int(text)
    if isinstance(text, float) and text.is_integer() and text >= 0:  # JSON's 3.0
        return int(text)
    if isinstance(text, str) and text.strip().isdigit() and text.strip().isascii():
        return int(text)
    raise TrajectoryError(f"{what} {quoted(text)} in {place} is not a whole number >= 0")


def _cell(quantity: str, value, place: str) -> float:
    """One given value: a number (a NumPy or JAX scalar too) or ``"NaN"``, ``"Infinity"``, ...

    For ``batches``, an example index. :func:`_text_cell` reads the CSV's text.
    """
    if quantity == "batches":
        return _whole(value, "example index", place)
    if isinstance(value, str) and value in _JSON_FLOATS:
        return _JSON_FLOATS[value]
    if isinstance(value, (bool, np.bool_)) or isinstance(value, str):
        raise TrajectoryError(f"non-numeric value {quoted(value)} in {place}")
    if isinstance(value, numbers.Real) or (hasattr(value, "__float__")
                                           and getattr(value, "shape", None) == ()):
        return float(value)
    raise TrajectoryError(f"non-numeric value {quoted(value)} in {place}")


def _text_cell(quantity: str, text: str, place: str) -> float:
    """One CSV value: a decimal number, or ``NaN``, ``inf``, ``-Infinity``, ... (any case)."""
    if quantity == "batches":
        return _whole(text, "example index", place)
    if not text:
        raise TrajectoryError(f"no value in {place}")
    try:
        if "_" in text:  # float() reads 1_000 as a number; a CSV should not
            raise ValueError(text)
        return float(text)
    except ValueError:
        raise TrajectoryError(f"non-numeric value {quoted(text)} in {place}") from None


def _put(values: list, index: int, value, *, keep: bool = False) -> None:
    """``values[index] = value``, padding with ``None`` (``keep``: leave a set entry alone)."""
    while len(values) <= index:
        values.append(None)
    if not (keep and values[index] is not None):
        values[index] = value


def quoted(value) -> str:
    """A value as a message shows it: a string's ``repr``, cut to 40 characters.

    Example:
      >>> quoted("abc"), quoted(3.5)
      ("'abc'", '3.5')
    """
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- messages against the reference --------------------------------------------------------


def _reference_series(reference: TrajectoryRecord) -> dict[str, list]:
    series = dict(reference.series())
    if reference.batches is not None:
        series["batches"] = reference.batches
    return series


def _index_word(quantity: str) -> str:
    return "prediction index" if quantity == "predictions" else "batch position"


def _row_noun(quantity: str) -> str:
    return "predictions" if quantity == "predictions" else "examples in a batch"


def _absent(quantity: str, place: str, what: str) -> str:
    if quantity == "predictions":
        return f"predictions in {place}: {what} records no predictions"
    return f"batches in {place}: {what} trains on the full batch (no batch order)"


def _unknown_name(quantity: str, name: str, place: str, what: str, series: Mapping) -> str:
    if quantity == "val_loss":
        return f"val_loss in {place}: {what} has no validation set"
    if quantity in ("batch_loss", "train_loss"):
        return f"{quantity} in {place}: {what} records no {quantity}"
    prefix = f"{quantity}."
    names = [label[len(prefix):] for label in series if label.startswith(prefix)]
    if quantity == "extras":
        return (f"unknown extras series {name!r} in {place} ({what} records "
                f"{_listing(names) if names else 'none'})")
    return f"unknown parameter {name!r} in {place} ({what} has {_listing(names)})"


def _listing(names: list[str], most: int = 8) -> str:
    if len(names) <= most:
        return ", ".join(names)
    return f"{', '.join(names[:most - 2])}, ..., {names[-1]} ({len(names)} in all)"


def _ranges(reference: TrajectoryRecord, what: str) -> str:
    """``the spec runs 20 steps: params, train_loss 0..20; grads, batch_loss 0..19``."""
    by_length: dict[int, list[str]] = {}
    for label, values in _reference_series(reference).items():
        kind = label.split(".")[0] if not label.startswith("extras.") else label
        names = by_length.setdefault(len(values), [])
        if kind not in names:
            names.append(kind)
    steps = reference.steps
    parts = [f"{', '.join(kinds)} {_step_range(length)}"
             for length, kinds in sorted(by_length.items(), reverse=True)]
    return f"{what} runs {steps} step{'s' if steps != 1 else ''}: {'; '.join(parts)}"


def _step_range(length: int) -> str:
    """``0..19`` for 20 values; ``0`` for one; ``none``."""
    return {0: "none", 1: "0"}.get(length, f"0..{length - 1}")
