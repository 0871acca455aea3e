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
CSV's), from whole quantities as arrays (:meth:`Trajectory.from_blocks`, the NPZ
file's layout) or from a whole :class:`functional_training.TrajectoryRecord`.

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

import functools
import math
import numbers
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
    is step ``k``; ``None`` leaves a step out), a 1-D NumPy (or JAX) array of
    numbers (every step from 0; held as given, not copied) or a dict ``{step: value}``.

    The values are held one series at a time, each as NumPy arrays (its steps and
    its values), so a run of hundreds of thousands of parameters over hundreds of
    steps costs about 8 bytes a value; :meth:`series_arrays` hands them out whole
    for vectorised use, :attr:`values` one value at a time.

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

    __slots__ = ("_columns",)

    def __init__(self, *, params=None, grads=None, batch_loss=None, train_loss=None,
                 val_loss=None, predictions=None, batches=None, extras=None):
        given = {"params": params, "grads": grads, "batch_loss": batch_loss,
                 "train_loss": train_loss, "val_loss": val_loss, "predictions": predictions,
                 "batches": batches, "extras": extras}
        self._columns = _columns_of(given)

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
        found: dict[tuple[str, str], dict[int, tuple[int, float]]] = {}
        for number, row in rows:
            place = f"row {number}"
            fields = [str(field).strip() for field in row]
            if len(fields) != len(ROW_FIELDS):
                raise TrajectoryError(f"{len(fields)} fields in {place}, expected "
                                      f"{len(ROW_FIELDS)} ({','.join(ROW_FIELDS)})")
            step, quantity, name, value = fields
            _check_quantity(quantity, place)
            name, step = _name(quantity, name, place), _whole(step, "step", place)
            value = _text_cell(quantity, value, place)
            series = found.setdefault((quantity, name), {})
            if step in series:
                raise TrajectoryError(f"a second value for {label_of(quantity, name)} at step "
                                      f"{step} in {place} (the first is in row "
                                      f"{series[step][0]})")
            series[step] = (number, value)
        columns = {}
        for (quantity, name), series in found.items():
            steps = sorted(series)
            numbers_ = np.asarray([series[k][0] for k in steps], dtype=np.int64)
            columns[(quantity, name)] = _Column(
                np.asarray([series[k][1] for k in steps], dtype=_dtype(quantity)),
                np.asarray(steps, dtype=np.int64), numbers_, rows=numbers_)
        return cls._of(columns)

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
    def from_blocks(cls, blocks: Iterable[tuple]) -> Trajectory:
        """From whole quantities ``(quantity, names, steps, block)``, the NPZ file's layout.

        ``block`` is 1-D for a loss (``names`` ``None``), else 2-D with one series a row,
        ``names[i]`` row ``i``'s (a parameter, an extras key; a prediction index or a
        batch position for ``predictions`` and ``batches``); ``steps`` ``None`` (every
        step from 0) or the steps of the values in each row. Checked once a block and held
        as given (rows are views, read-only): a 397,510-parameter run's columns in a
        fraction of a second.

        Example:
          >>> mine = Trajectory.from_blocks([("params", ["w", "b"], np.array([0, 10]),
          ...                                 np.array([[1.0, 0.5], [0.0, 0.25]]))])
          >>> mine.steps_of("params.b"), len(mine)
          ((0, 10), 4)
        """
        columns: dict[tuple[str, str], _Column] = {}
        counter = 0
        for quantity, names, steps, block in blocks:
            _check_quantity(quantity, "a block")
            block = np.asarray(block)
            rank = 1 if quantity not in (*NAMED, *INDEXED) else 2
            if block.ndim != rank or (block.size and block.dtype.kind not in (
                    "iu" if quantity == "batches" else "fiu")):
                raise TrajectoryError(f"{quantity}: expected a {rank}-D array of "
                                      f"{'example indices' if quantity == 'batches' else 'numbers'}"
                                      f", got {block.ndim}-D {block.dtype}")
            if quantity == "batches" and (block < 0).any():
                raise TrajectoryError(f"{quantity}: example indices are whole numbers >= 0")
            count = block.shape[-1]
            if steps is not None:
                steps = _steps_array(steps, quantity)
                if len(steps) != count:
                    raise TrajectoryError(f"{quantity}: {len(steps)} steps for {count} values "
                                          "a series")
                if not count or steps[-1] == count - 1:
                    steps = None  # every step
            held = block.astype(_dtype(quantity), copy=False).view()
            held.flags.writeable = False
            if rank == 1:
                names, held = [""], held[None, :]
            elif names is None or len(names) != len(held):
                raise TrajectoryError(f"{quantity}: {len(held)} series, "
                                      f"{0 if names is None else len(names)} names")
            names = [_name(quantity, name, quantity) for name in names] if (
                quantity not in NAMED or not all(isinstance(n, str) and n for n in names)
            ) else list(names)
            if len(set(names)) != len(names) or any((quantity, n) in columns for n in names):
                raise TrajectoryError(f"{quantity}: a name twice")
            if count:
                columns.update(((quantity, name), _Column(row, steps, counter + i * count))
                               for i, (name, row) in enumerate(zip(names, held, strict=True)))
                counter += held.size
        return cls._of(columns)

    @classmethod
    def _of(cls, columns: dict) -> Trajectory:
        trajectory = cls.__new__(cls)
        trajectory._columns = columns
        return trajectory

    # --- what it holds ---------------------------------------------------------------------

    @property
    def values(self) -> Mapping[Key, float]:
        """``(quantity, name, step) -> value``, in the order given (read-only).

        One value at a time; :meth:`series_arrays` gives whole series at once.
        """
        return _Values(self._columns)

    def series_arrays(self) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
        """Every series held, whole: ``(quantity, name, steps, values)``, in the order given.

        ``steps`` are int64 and increasing; ``values`` float64 (int64 example indices
        for ``batches``); one series per ``(quantity, name)``, a prediction index or a
        batch position being the name of ``predictions`` and ``batches`` values.

        Example:
          >>> [(q, n, s.tolist(), v.tolist()) for q, n, s, v in
          ...  Trajectory(grads={"w": {2: 0.5}}).series_arrays()]
          [('grads', 'w', [2], [0.5])]
        """
        for (quantity, name), column in _in_order(self._columns):
            yield quantity, name, column.step_array(), column.values

    def where(self, key: Key) -> str:
        """Where ``key``'s value came from, for messages: ``row 4``, ``params.w[3]``."""
        quantity, name, step = key
        column = self._columns[(quantity, name)]
        position = column.position(step)
        if position is None:
            raise KeyError(key)
        return column.place(quantity, name, step, position)

    def __len__(self) -> int:
        return sum(len(column.values) for column in self._columns.values())

    def __iter__(self) -> Iterator[Key]:
        return iter(self.values)

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
        held = {quantity for quantity, _ in self._columns}
        return tuple(q for q in QUANTITIES if q in held)

    @property
    def labels(self) -> tuple[str, ...]:
        """The series it holds (``params.w``, ``predictions[0]``, ...), in the order given."""
        return tuple(label_of(q, n) for (q, n), _ in _in_order(self._columns))

    def steps_of(self, label: str) -> tuple[int, ...]:
        """The steps at which series ``label`` holds a value, sorted."""
        for (quantity, name), column in self._columns.items():
            if label_of(quantity, name) == label:
                return tuple(column.step_array().tolist())
        return ()

    def rows(self) -> list[tuple[int, str, str, float]]:
        """Every value as a long row ``(step, quantity, name, value)``, sorted by step.

        Within a step, rows keep the contract's order of quantities and the given
        order of names.
        """
        if not self._columns:
            return []
        keys = list(self._columns)
        columns = [self._columns[key] for key in keys]
        steps = np.concatenate([c.step_array() for c in columns])
        kinds = np.concatenate([np.full(len(c.values), QUANTITIES.index(q))
                                for (q, _), c in zip(keys, columns, strict=True)])
        order = np.concatenate([c.order_array() for c in columns])
        which = np.concatenate([np.full(len(c.values), i) for i, c in enumerate(columns)])
        at = np.concatenate([np.arange(len(c.values)) for c in columns])
        values = [c.values.tolist() for c in columns]
        out = []
        for i in np.lexsort((order, kinds, steps)).tolist():
            column, position = int(which[i]), int(at[i])
            quantity, name = keys[column]
            out.append((int(steps[i]), quantity, name, values[column][position]))
        return out

    def to_json(self) -> dict:
        """The ``TRAJ`` object of what it holds: a list per series, ``null`` where not held.

        :meth:`from_dict` reads it back. Non-finite values are strings, as in the report.

        Example:
          >>> Trajectory(grads={"w": {2: 0.5}}, train_loss=[1.0]).to_json()
          {'grads': {'w': [None, None, 0.5]}, 'train_loss': [1.0]}
        """
        out: dict = {}
        for (quantity, name), column in _in_order(self._columns):
            values = column.values.tolist()
            if quantity != "batches":
                values = [json_float(v) for v in values]
            steps = column.step_array().tolist()
            if quantity in INDEXED:
                rows = out.setdefault(quantity, [])
                for step, value in zip(steps, values, strict=True):
                    _put(rows, step, None, keep=True)
                    if rows[step] is None:
                        rows[step] = []
                    _put(rows[step], int(name), value)
                continue
            if column.steps is None:
                series = values
            else:
                series = [None] * (steps[-1] + 1)
                for step, value in zip(steps, values, strict=True):
                    series[step] = value
            if quantity in NAMED:
                out.setdefault(quantity, {})[name] = series
            else:
                out[quantity] = series
        return {q: out[q] for q in QUANTITIES if q in out}

    # --- against an experiment's reference -----------------------------------------------

    def check_fits(self, reference: TrajectoryRecord, *, what: str = "the experiment") -> None:
        """Raise :class:`TrajectoryError` unless every value has a place in ``reference``.

        The reference backend's run of the experiment says what exists: its
        parameter names, its extras, its steps (``S + 1`` parameter values, ``S``
        gradients), whether it has a validation set, a batch order, predictions.
        The message names the first value, in the order given, that has no place.

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
        if not self._columns:
            raise TrajectoryError("the trajectory holds no values: nothing to compare")
        if self._fits_named(reference):
            return
        series = _reference_series(reference)
        widths = {quantity: max((len(row) for row in series[quantity]), default=0)
                  for quantity in INDEXED if series.get(quantity) is not None}
        problems = []  # (order of the first value with no place, message)
        for (quantity, name), column in self._columns.items():
            label = label_of(quantity, name)
            steps, order = column.step_array(), column.order_array()

            def first_place(bad, column=column, quantity=quantity, name=name, steps=steps,
                            order=order):
                position = int(np.flatnonzero(bad)[np.argmin(order[bad])])
                step = int(steps[position])
                return int(order[position]), column.place(quantity, name, step, position), step

            everywhere = np.ones(len(steps), dtype=bool) if (
                quantity in INDEXED or label not in series) else None
            if quantity in INDEXED:
                if quantity not in widths:
                    at, place, _ = first_place(everywhere)
                    problems.append((at, _absent(quantity, place, what)))
                    continue
                if int(name) >= widths[quantity]:
                    at, place, _ = first_place(everywhere)
                    length = widths[quantity]
                    problems.append((at, f"{_index_word(quantity)} {name} out of range in "
                                         f"{place} ({what} has {length} {_row_noun(quantity)} "
                                         f"per step: {_step_range(length)})"))
                    continue
                length = len(series[quantity])
            elif label not in series:
                at, place, _ = first_place(everywhere)
                problems.append((at, _unknown_name(quantity, name, place, what, series)))
                continue
            else:
                length = len(series[label])
            if steps[-1] >= length:  # steps increase: the last is the largest
                at, place, step = first_place(steps >= length)
                problems.append((at, f"step {step} out of range in {place} "
                                     f"({_ranges(reference, what)})"))
        if problems:
            raise TrajectoryError(min(problems)[1])


    def _fits_named(self, reference: TrajectoryRecord) -> bool:
        """Every value is a parameter's, a gradient's or a loss's with a place in
        ``reference`` (a quick yes, column by column, for a large run: no message)."""
        named = {"params": reference.params, "grads": reference.grads}
        losses = {"batch_loss": reference.batch_loss, "train_loss": reference.train_loss,
                  "val_loss": reference.val_loss}
        for (quantity, name), column in self._columns.items():
            held = named[quantity].get(name) if quantity in named else losses.get(quantity)
            if held is None or column.step_array()[-1] >= len(held):
                return False
        return True


# --- storage: one column per series -------------------------------------------------------------


class _Column:
    """One series: ``values[i]`` at step ``steps[i]`` (increasing), the ``order[i]``-th given.

    ``steps`` ``None`` means ``0..n-1``; ``order`` an int ``o`` means ``o, o+1, ...``;
    ``rows`` are the long rows' numbers (``None`` for the keyword form), for messages.
    """

    __slots__ = ("order", "rows", "steps", "values")

    def __init__(self, values: np.ndarray, steps: np.ndarray | None, order,
                 rows: np.ndarray | None = None) -> None:
        self.values, self.steps, self.order, self.rows = values, steps, order, rows

    def step_array(self) -> np.ndarray:
        return _every_step(len(self.values)) if self.steps is None else self.steps

    def order_array(self) -> np.ndarray:
        if isinstance(self.order, int):
            return np.arange(self.order, self.order + len(self.values))
        return self.order

    def first(self) -> int:
        return self.order if isinstance(self.order, int) else int(self.order.min(initial=0))

    def position(self, step: int) -> int | None:
        if self.steps is None:
            return int(step) if isinstance(step, (int, np.integer)) and not isinstance(
                step, bool) and 0 <= step < len(self.values) else None
        position = int(np.searchsorted(self.steps, step))
        return position if position < len(self.steps) and self.steps[position] == step else None

    def place(self, quantity: str, name: str, step: int, position: int) -> str:
        if self.rows is not None:
            return f"row {int(self.rows[position])}"
        if quantity in NAMED:
            return f"{quantity}.{name}[{step}]"
        if quantity in INDEXED:
            return f"{quantity}[{step}][{name}]"
        return f"{quantity}[{step}]"


class _Values(Mapping):
    """``(quantity, name, step) -> value`` over the columns, in the order given."""

    def __init__(self, columns: dict) -> None:
        self._columns = columns

    def __getitem__(self, key: Key):
        quantity, name, step = key
        column = self._columns[(quantity, name)]
        position = column.position(step)
        if position is None:
            raise KeyError(key)
        return column.values[position].item()

    def __len__(self) -> int:
        return sum(len(column.values) for column in self._columns.values())

    def __iter__(self) -> Iterator[Key]:
        entries = []
        for (quantity, name), column in self._columns.items():
            entries += zip(column.order_array().tolist(), column.step_array().tolist(),
                           [(quantity, name)] * len(column.values), strict=True)
        entries.sort(key=lambda entry: entry[0])
        return ((quantity, name, step) for _, step, (quantity, name) in entries)


def _in_order(columns: dict):
    """The columns' items by the order their first value was given: the dict's own order,
    since every builder adds a column when it meets the column's first value."""
    return columns.items()


def _steps_array(steps, label: str) -> np.ndarray:
    """``steps`` as increasing int64 whole numbers ``>= 0`` (read-only), or a one-line error."""
    array = np.asarray(steps)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu") or (
            len(array) and (array[0] < 0 or (np.diff(array) <= 0).any())):
        shown = ", ".join(str(k) for k in array.reshape(-1)[:4].tolist())
        raise TrajectoryError(f"{label}: steps must increase from 0 or more, got {shown}")
    array = array.astype(np.int64, copy=False).view()
    array.flags.writeable = False
    return array


@functools.lru_cache(maxsize=64)
def _every_step(count: int) -> np.ndarray:
    """``0..count-1``, read-only, shared by every series that holds each of those steps."""
    steps = np.arange(count)
    steps.flags.writeable = False
    return steps


def _dtype(quantity: str):
    return np.int64 if quantity == "batches" else np.float64


def _columns_of(given: Mapping) -> dict[tuple[str, str], _Column]:
    """The keyword form (see :class:`Trajectory`) as one column per series."""
    columns: dict[tuple[str, str], _Column] = {}
    counter = 0

    def add(quantity: str, name: str, column: _Column, place: str) -> None:
        nonlocal counter
        key = (quantity, name)
        if key in columns:
            step = int(column.step_array()[0])
            first = columns[key]
            raise TrajectoryError(
                f"a second value for {label_of(quantity, name)} at step {step} in "
                f"{place}[{step}] (the first is in "
                f"{first.place(quantity, name, step, first.position(step) or 0)})")
        columns[key] = column
        counter += len(column.values)

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
                column = _given_column(quantity, series, place, counter)
                if len(column.values):
                    add(quantity, name, column, place)
        elif quantity in INDEXED:
            block = _row_block(quantity, data)
            if block is not None:
                steps, width = block.shape
                for index in range(width):
                    columns[(quantity, str(index))] = _Column(
                        block[:, index], None, counter + np.arange(steps) * width + index)
                counter += block.size
                continue
            cells: dict[str, dict[int, tuple[int, object]]] = {}
            for step, row in _series(data, quantity):
                place = f"{quantity}[{step}]"
                for index, value in _series(row, place, what="row"):
                    here = f"{place}[{index}]"
                    cell = cells.setdefault(str(index), {})
                    if step in cell:
                        raise TrajectoryError(f"a second value for {label_of(quantity, str(index))}"
                                              f" at step {step} in {here} (the first is in "
                                              f"{here})")
                    cell[step] = (counter, _cell(quantity, value, here))
                    counter += 1
            for name, cell in cells.items():
                steps = sorted(cell)
                columns[(quantity, name)] = _Column(
                    np.asarray([cell[k][1] for k in steps], dtype=_dtype(quantity)),
                    np.asarray(steps, dtype=np.int64),
                    np.asarray([cell[k][0] for k in steps], dtype=np.int64))
        else:
            column = _given_column(quantity, data, quantity, counter)
            if len(column.values):
                add(quantity, "", column, quantity)
    return columns


def _row_block(quantity: str, data) -> np.ndarray | None:
    """Rows of one width, every value a plain number, as a ``(steps, width)`` array; else None."""
    kind = int if quantity == "batches" else float
    if hasattr(data, "tolist") and getattr(data, "ndim", 0) == 2 and quantity != "batches":
        array = np.asarray(data)
        return array.astype(np.float64) if array.dtype.kind in "fiu" and array.size else None
    if not (isinstance(data, list) and data and all(isinstance(row, list) for row in data)):
        return None
    width = len(data[0])
    if not width or any(len(row) != width for row in data) or not all(
            type(value) is kind for row in data for value in row):
        return None
    block = np.array(data, dtype=_dtype(quantity))
    return None if quantity == "batches" and (block < 0).any() else block


def _given_column(quantity: str, data, place: str, first: int) -> _Column:
    """One series of the keyword form: a whole array or list of numbers, or any series."""
    if hasattr(data, "tolist") and getattr(data, "ndim", 0) > 0:  # a NumPy or JAX array
        array = np.asarray(data)
        if array.ndim == 1 and array.dtype.kind in "fiu":
            held = array.astype(np.float64, copy=False).view()
            held.flags.writeable = False
            return _Column(held, None, first)
    elif isinstance(data, list) and all(type(value) is float for value in data):
        return _Column(np.array(data, dtype=np.float64), None, first)
    cells: dict[int, tuple[int, float]] = {}
    for step, value in _series(data, place):
        here = f"{place}[{step}]"
        if step in cells:
                raise TrajectoryError(f"a second value for {place} at step {step} in {here} "
                                  f"(the first is in {here})")
        cells[step] = (first + len(cells), _cell(quantity, value, here))
    steps = sorted(cells)
    values = np.asarray([cells[k][1] for k in steps], dtype=np.float64)
    if steps == list(range(len(steps))) and all(cells[k][0] == first + k for k in steps):
        return _Column(values, None, first)
    return _Column(values, np.asarray(steps, dtype=np.int64),
                   np.asarray([cells[k][0] for k in steps], dtype=np.int64))


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
