"""The files that hold a trajectory: JSON, long CSV, and the JSON's schema.

Three file formats hold a :class:`~comparisons.trajectory.Trajectory`
(:func:`read_trajectory`; :func:`write_trajectory` writes each):

- JSON: the report's ``TRAJ`` object (``TrajectoryRecord.to_json``, and
  ``comparisons/schemas/trajectory.schema.json``), where any key may be left
  out, a list entry may be ``null`` (not recorded), and a series may be an
  object ``{"step": value}`` instead of a list. Non-finite values are the
  strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``. ``grad_norm`` and
  ``first_nonfinite_step``, derived from the rest, are read and ignored.
- CSV: one value per row, with the header ``step,quantity,name,value``
  (``3,grads,w,-1.25``; ``0,batch_loss,,8.0``; ``2,predictions,1,4.4``). Rows
  are counted as a spreadsheet shows them: the header is row 1.
- NPZ (``numpy.savez``), for large runs: one array per quantity, rows being steps.
  ``params``, ``grads`` and ``extras`` are 2-D ``(steps, series)`` float arrays
  with their series' names in ``params.names`` (and so on, 1-D strings);
  ``batch_loss``, ``train_loss``, ``val_loss`` are 1-D; ``predictions`` is
  ``(steps, outputs)`` and ``batches`` ``(steps, batch size)`` of example indices.
  A quantity's rows are steps ``0, 1, ...`` unless ``<quantity>.steps`` lists
  them (1-D integers, increasing). A 397,510-parameter MLP over 100 steps is
  about 640 MB of NPZ against about 1.6 GB of JSON, and reads in a second.

Every problem is one :class:`~comparisons.trajectory.TrajectoryError` line naming
the path and the row (CSV) or the key (JSON).

Example:
  >>> from comparisons.trajectory import Trajectory
  >>> text = trajectory_csv(Trajectory(params={"w": [1.0, 1.8]}, batch_loss=[8.0]))
  >>> print(text, end="")
  step,quantity,name,value
  0,params,w,1.0
  0,batch_loss,,8.0
  1,params,w,1.8
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from importlib.resources import files
from pathlib import Path

import numpy as np

from comparisons.trajectory import (
    INDEXED,
    NAMED,
    QUANTITIES,
    ROW_FIELDS,
    Trajectory,
    TrajectoryError,
    label_of,
    quoted,
)

__all__ = ["CSV_HEADER", "NPZ_SUFFIX", "read_trajectory", "trajectory_csv", "trajectory_npz",
           "trajectory_schema", "write_trajectory"]

CSV_HEADER = ROW_FIELDS
"""The long CSV's header: a long row's fields (:data:`comparisons.trajectory.ROW_FIELDS`)."""


NPZ_SUFFIX = ".npz"
"""The suffix of the binary trajectory file (NumPy's ``savez`` archive)."""

_ZIP_MAGIC = b"PK\x03\x04"


def read_trajectory(path) -> Trajectory:
    """Read a trajectory file: JSON (``.json``), long CSV (``.csv``) or NPZ (``.npz``).

    Other suffixes are read as NPZ when the file is a zip archive, as JSON when the
    text starts with ``{``, else as CSV.

    Raises:
      TrajectoryError: one line naming the path: the file cannot be read, is not
        (strict) JSON, has another CSV header, or a value or row is bad.
    """
    path = Path(path)
    try:
        with path.open("rb") as file:
            is_npz = path.suffix.lower() == NPZ_SUFFIX or file.read(4) == _ZIP_MAGIC
    except OSError as err:
        raise TrajectoryError(f"cannot read trajectory {path}: {err.strerror or err}") from None
    if is_npz:
        try:
            return _npz_trajectory(path)
        except TrajectoryError as err:
            raise TrajectoryError(f"{path}: {err}") from None
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise TrajectoryError(f"cannot read trajectory {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise TrajectoryError(f"{path}: not UTF-8 text") from None
    as_json = path.suffix.lower() == ".json" or (
        path.suffix.lower() != ".csv" and text.lstrip().startswith("{"))
    try:
        if as_json:
            return _json_trajectory(text)
        return _csv_trajectory(text)
    except TrajectoryError as err:
        raise TrajectoryError(f"{path}: {err}") from None


def trajectory_schema() -> dict:
    """The JSON Schema of the trajectory JSON (``comparisons/schemas/trajectory.schema.json``).

    Example:
      >>> sorted(trajectory_schema()["properties"])[:3]
      ['batch_loss', 'batches', 'extras']
    """
    text = files("comparisons").joinpath("schemas", "trajectory.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)


def trajectory_csv(trajectory: Trajectory) -> str:
    """The long CSV text of ``trajectory`` (header first; :func:`read_trajectory` reads it).

    Example:
      >>> print(trajectory_csv(Trajectory(grads={"w": [-1.25]}, batch_loss=[8.0])), end="")
      step,quantity,name,value
      0,grads,w,-1.25
      0,batch_loss,,8.0
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for step, quantity, name, value in trajectory.rows():
        writer.writerow([step, quantity, name, value if quantity == "batches" else repr(value)])
    return buffer.getvalue()


def write_trajectory(path, trajectory: Trajectory) -> Path:
    """Write ``trajectory`` to ``path`` in the format its suffix names: ``.json``, ``.csv``
    or ``.npz`` (:data:`NPZ_SUFFIX`; large runs); :func:`read_trajectory` reads it back.

    What a recorder calls to save a run. NPZ needs each quantity's series at the same
    steps (a whole recorded run has them); JSON and CSV hold any partial trajectory.

    Raises:
      TrajectoryError: another suffix, or a trajectory NPZ cannot hold (one line).

    Example:
      >>> import tempfile, os
      >>> with tempfile.TemporaryDirectory() as folder:
      ...     path = write_trajectory(os.path.join(folder, "run.npz"),
      ...                             Trajectory(params={"w": [1.0, 1.8]}, batch_loss=[8.0]))
      ...     read_trajectory(path).rows()
      [(0, 'params', 'w', 1.0), (0, 'batch_loss', '', 8.0), (1, 'params', 'w', 1.8)]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == NPZ_SUFFIX:
        arrays = trajectory_npz(trajectory)
        with path.open("wb") as file:
            np.savez(file, **arrays)
    elif suffix == ".json":
        path.write_text(json.dumps(trajectory.to_json()), encoding="utf-8")
    elif suffix == ".csv":
        path.write_text(trajectory_csv(trajectory), encoding="utf-8")
    else:
        raise TrajectoryError(f"{path}: write a trajectory as .json, .csv or .npz, "
                              f"not {path.suffix or 'no suffix'}")
    return path


def trajectory_npz(trajectory: Trajectory) -> dict[str, np.ndarray]:
    """The NPZ members of ``trajectory`` (see the module docstring), for ``numpy.savez``.

    Raises:
      TrajectoryError: a quantity whose series are held at different steps.

    Example:
      >>> arrays = trajectory_npz(Trajectory(grads={"w": [-8.0], "b": [-4.0]}))
      >>> arrays["grads"].tolist(), arrays["grads.names"].tolist()
      ([[-8.0, -4.0]], ['w', 'b'])
    """
    held: dict[str, list] = {}
    for quantity, name, steps, values in trajectory.series_arrays():
        held.setdefault(quantity, []).append((name, steps, values))
    arrays: dict[str, np.ndarray] = {}
    for quantity, series in held.items():
        steps = series[0][1]
        for name, other, _ in series:
            if not np.array_equal(other, steps):
                raise TrajectoryError(
                    f"NPZ holds a quantity's series at the same steps; {label_of(quantity, name)} "
                    f"has {_few(other)}, {label_of(quantity, series[0][0])} {_few(steps)}: "
                    "write .json or .csv")
        if quantity in INDEXED:
            series.sort(key=lambda item: int(item[0]))
            if [int(name) for name, _, _ in series] != list(range(len(series))):
                raise TrajectoryError(f"NPZ holds whole rows of {quantity}; some positions "
                                      "are missing: write .json or .csv")
        if quantity in (*NAMED, *INDEXED):
            arrays[quantity] = np.stack([values for _, _, values in series], axis=1)
        else:
            arrays[quantity] = np.asarray(series[0][2])
        if quantity in NAMED:
            arrays[f"{quantity}.names"] = np.asarray([name for name, _, _ in series], dtype=str)
        if not np.array_equal(steps, np.arange(len(steps))):
            arrays[f"{quantity}.steps"] = np.asarray(steps, dtype=np.int64)
    return arrays


def _few(steps: np.ndarray) -> str:
    shown = ", ".join(str(k) for k in steps[:4].tolist())
    return f"steps {shown}{', ...' if len(steps) > 4 else ''}"


def _npz_trajectory(path: Path) -> Trajectory:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise TrajectoryError(f"cannot be read as .npz: {err}") from None
    with archive:
        members = {key: archive[key] for key in archive.files}
    for key in members:
        quantity, _, part = key.partition(".")
        if quantity not in QUANTITIES or part not in ("", "names", "steps") or (
                part == "names" and quantity not in NAMED):
            raise TrajectoryError(f"unknown member {key!r} (expected {', '.join(QUANTITIES)}, "
                                  "<quantity>.steps, params.names, grads.names, extras.names)")
    blocks = []  # (quantity, names, steps, block): whole quantities, never value by value
    for quantity in QUANTITIES:
        if quantity not in members:
            continue
        block = members[quantity]
        rank = 2 if quantity in (*NAMED, *INDEXED) else 1
        kinds = "iu" if quantity == "batches" else "fiu"
        if block.ndim != rank or block.dtype.kind not in kinds:
            raise TrajectoryError(f"{quantity}: expected a {rank}-D array of "
                                  f"{'example indices' if quantity == 'batches' else 'numbers'}"
                                  f", got {block.ndim}-D {block.dtype}")
        steps = _npz_steps(members, quantity, len(block))
        if quantity == "batches" and (block < 0).any():
            row, index = np.argwhere(block < 0)[0].tolist()
            step = row if steps is None else int(steps[row])
            raise TrajectoryError(f"example index {block[row, index]} in "
                                  f"batches[{step}][{index}] is not a whole number >= 0")
        names = None
        if quantity in NAMED:
            names = members.get(f"{quantity}.names")
            if names is None or names.ndim != 1 or names.dtype.kind != "U" or \
                    len(names) != block.shape[1]:
                raise TrajectoryError(f"{quantity}.names: expected {block.shape[1]} names "
                                      f"(1-D strings), one per column of {quantity}")
            names = names.tolist()
        elif quantity in INDEXED:
            names = [str(index) for index in range(block.shape[1])]
        # a series' values side by side (rows: series), as Trajectory.from_blocks holds them
        blocks.append((quantity, names, steps, np.ascontiguousarray(block.T) if rank == 2
                       else block))
    return Trajectory.from_blocks(blocks)


def _npz_steps(members: dict, quantity: str, count: int) -> np.ndarray | None:
    steps = members.get(f"{quantity}.steps")
    if steps is None:
        return None
    if steps.ndim != 1 or steps.dtype.kind not in "iu" or len(steps) != count or (
            len(steps) and (steps[0] < 0 or (np.diff(steps) <= 0).any())):
        raise TrajectoryError(f"{quantity}.steps: expected {count} increasing steps >= 0 "
                              f"(one per row of {quantity})")
    return steps


def _json_trajectory(text: str) -> Trajectory:
    try:
        data = json.loads(text, parse_constant=_bare_constant)
    except json.JSONDecodeError as err:
        raise TrajectoryError(
            f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    if isinstance(data, Mapping) and "experiments" in data and "backends" not in data:
        raise TrajectoryError(
            "this is a whole comparisons report; give one trajectory, e.g. the object at "
            "experiments[0].backends.<name> in a file of its own")
    return Trajectory.from_dict(data)


def _bare_constant(name: str):
    raise TrajectoryError(f'not strict JSON: it contains {name}; write it as the string "{name}"')


def _csv_trajectory(text: str) -> Trajectory:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            raise TrajectoryError(f"empty file: expected the header {','.join(CSV_HEADER)}")
        if tuple(field.strip() for field in header) != CSV_HEADER:
            raise TrajectoryError(f"row 1 is {quoted(','.join(header))}, expected the header "
                                  f"{','.join(CSV_HEADER)}")
        rows: list[tuple[int, list[str]]] = []
        for row in reader:
            if any(field.strip() for field in row):  # blank lines are left out
                rows.append((reader.line_num, row))
    except csv.Error as err:
        raise TrajectoryError(f"not valid CSV in row {reader.line_num}: {err}") from None
    return Trajectory.from_numbered_rows(rows)
