"""The files that hold a trajectory: JSON, long CSV, and the JSON's schema.

Two file formats hold a :class:`~comparisons.trajectory.Trajectory`
(:func:`read_trajectory`):

- JSON: the report's ``TRAJ`` object (``TrajectoryRecord.to_json``, and
  ``comparisons/schemas/trajectory.schema.json``), where any key may be left
  out, a list entry may be ``null`` (not recorded), and a series may be an
  object ``{"step": value}`` instead of a list. Non-finite values are the
  strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``. ``grad_norm`` and
  ``first_nonfinite_step``, derived from the rest, are read and ignored.
- CSV: one value per row, with the header ``step,quantity,name,value``
  (``3,grads,w,-1.25``; ``0,batch_loss,,8.0``; ``2,predictions,1,4.4``). Rows
  are counted as a spreadsheet shows them: the header is row 1.

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

from comparisons.trajectory import ROW_FIELDS, Trajectory, TrajectoryError, quoted

__all__ = ["CSV_HEADER", "read_trajectory", "trajectory_csv", "trajectory_schema"]

CSV_HEADER = ROW_FIELDS
"""The long CSV's header: a long row's fields (:data:`comparisons.trajectory.ROW_FIELDS`)."""


def read_trajectory(path) -> Trajectory:
    """Read a trajectory file: JSON (``.json``) or long CSV (``.csv``).

    Other suffixes are read as JSON when the text starts with ``{``, else as CSV.

    Raises:
      TrajectoryError: one line naming the path: the file cannot be read, is not
        (strict) JSON, has another CSV header, or a value or row is bad.
    """
    path = Path(path)
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
