"""Users' data files read into float64 NumPy arrays, with one-line errors.

A data file is a table of numbers: one column is the target ``y``, some others
are the features ``x``. Five formats are read, chosen by the file's suffix
(case-insensitive, see :data:`FILE_SUFFIXES`):

* ``.csv``: a header row of column names, then one row per example; read with
  ``pyarrow.csv``. Blank lines are skipped; an empty cell is missing data.
* ``.parquet`` / ``.pq``: read with ``pyarrow.parquet``; the selected columns
  must hold integers or floating-point numbers (booleans are refused), no nulls.
* ``.npy``: a 2-D numeric array ``(n, k)``; its columns are named ``"0"``,
  ``"1"``, ..., ``str(k - 1)``.
* ``.npz``: every member is a 1-D array, a column named by its key (in the
  archive's order); all have the same length.

Column rules (every format): ``target`` defaults to the last column and
``features`` to every other column, in file order. Only the selected columns
(features and target) are converted and checked; in a CSV or Parquet file
the other columns may hold anything. Every selected cell must be a finite
number: an empty cell, a non-number, NaN or an infinity is an error naming the
column and the row. Integers are converted exactly; one beyond 2**53 in
magnitude, which float64 cannot represent, is an error (for CSV: a cell written
as an integer literal). Decimal text is parsed to the nearest float64.

Rows in messages: "data row N" counts examples from 1, the header excluded;
for CSV the message also gives the file line ("line 4 (data row 3)"), counting
the header as line 1 and blank lines too.

Every problem is a :class:`DataFileError` (a ``ValueError``) whose message is
one line starting with the path.

Example:
  >>> import os, tempfile
  >>> with tempfile.TemporaryDirectory() as folder:
  ...     path = os.path.join(folder, "shipments.csv")
  ...     with open(path, "w") as f:
  ...         _ = f.write("distance_km,carrier,weight_kg,delay_h\\n12.5,a,3,1.5\\n40,b,1,4\\n")
  ...     table = read_table(path, features=["distance_km", "weight_kg"])
  >>> table.features, table.target
  (('distance_km', 'weight_kg'), 'delay_h')
  >>> table.x.tolist(), table.y.tolist()
  ([[12.5, 3.0], [40.0, 1.0]], [1.5, 4.0])
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from functional_training._messages import clipped_line

FILE_SUFFIXES = (".csv", ".parquet", ".pq", ".npy", ".npz")
"""The suffixes :func:`read_table` reads (matched case-insensitively)."""

_EXACT = 2**53  # every integer of at most this magnitude is exactly a float64
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # what np.load takes for an .npz archive
_MESSAGE_LIMIT = 300  # characters kept of a library's own error message
_LISTED_COLUMNS = 20  # column names listed in an unknown-column message


class DataFileError(ValueError):
    """A data file that cannot be read as a table of numbers.

    The message is one line naming the file and the row/column/problem.
    """


class Table(NamedTuple):
    """A data file read as features and a target.

    Attributes:
      x: ``(n, d)`` float64, C-contiguous, ``d >= 1`` (2-D even for ``d = 1``).
      y: ``(n,)`` float64.
      features: the ``d`` feature column names, in the order of ``x``'s columns.
      target: the target column name.
      path: the path as given, as a ``str``.
    """

    x: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    target: str
    path: str


_Where = Callable[[int], str]  # 0-based data row -> "data row 3" (CSV: "line 4 (data row 3)")


def is_data_file(name: str) -> bool:
    """Whether ``name`` ends with one of :data:`FILE_SUFFIXES`, ignoring case.

    Args:
      name: a file name or path.

    Returns:
      ``True`` for a name :func:`read_table` would read by its suffix.

    Example:
      >>> is_data_file("runs/Shipments.CSV"), is_data_file("data.pq"), is_data_file("a.txt")
      (True, True, False)
    """
    return os.fsdecode(name).lower().endswith(FILE_SUFFIXES)


def read_table(
    path: str | os.PathLike[str],
    *,
    features: Sequence[str] | None = None,
    target: str | None = None,
) -> Table:
    """Read a data file's feature and target columns as float64 arrays.

    Args:
      path: a ``.csv``, ``.parquet``, ``.pq``, ``.npy`` or ``.npz`` file.
      features: the feature column names, in the order wanted for ``x``'s
        columns; default: every column but the target, in file order.
      target: the target column name; default: the last column.

    Returns:
      The :class:`Table`; ``x`` is ``(n, len(features))``, ``y`` is ``(n,)``.

    Raises:
      DataFileError: the file is missing, a directory, unreadable, empty, of an
        unknown type or corrupt; a column name is unknown, repeated or both
        feature and target; ``features`` is empty; or a selected cell is empty,
        not a number, NaN, infinite or an integer beyond 2**53. The message is
        one line starting with the path.
      TypeError: ``features`` is a single string rather than a sequence of names.

    Example:
      >>> import os, tempfile
      >>> with tempfile.TemporaryDirectory() as folder:
      ...     path = os.path.join(folder, "data.npy")
      ...     np.save(path, np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
      ...     table = read_table(path, features=["1"], target="0")
      >>> table.x.tolist(), table.y.tolist(), table.features, table.target
      ([[2.0], [5.0]], [1.0, 4.0], ('1',), '0')
    """
    where = os.fsdecode(path)
    if isinstance(features, str):
        raise TypeError(f"features must be a sequence of column names, not the str {features!r}")
    size = _check_readable(where)
    suffix = _suffix(where)
    if size == 0:
        raise DataFileError(f"{where}: empty file (0 bytes)")
    if suffix == ".csv":
        return _read_csv(where, features, target)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(where, features, target)
    if suffix == ".npy":
        return _read_npy(where, features, target)
    return _read_npz(where, features, target)


def check_same_features(train: Table, validation: Table) -> None:
    """Check that two tables have the same feature columns, in the same order.

    Args:
      train: the training table.
      validation: the validation table, which must match ``train``'s features.

    Raises:
      DataFileError: the feature names or their number differ; the message
        starts with the validation file's path and names the training file.

    Example:
      >>> x, y = np.zeros((1, 1)), np.zeros(1)
      >>> train = Table(x, y, ("a",), "y", "t.csv")
      >>> check_same_features(train, Table(x, y, ("a",), "y", "v.csv"))
      >>> check_same_features(train, Table(x, y, ("b",), "y", "v.csv"))  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      functional_training._data_files.DataFileError: v.csv: feature columns ('b',) differ from ...
    """
    mine, theirs = tuple(validation.features), tuple(train.features)
    if len(mine) != len(theirs):
        raise DataFileError(
            f"{validation.path}: {len(mine)} feature column{'' if len(mine) == 1 else 's'} "
            f"{mine} but {train.path} has {len(theirs)}: {theirs}"
        )
    if mine != theirs:
        raise DataFileError(
            f"{validation.path}: feature columns {mine} differ from those of {train.path}: {theirs}"
        )


def file_digest(path: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> str:
    """The sha256 of a file's bytes, read in chunks (never the whole file at once).

    Args:
      path: the file.
      chunk_size: bytes read at a time (>= 1).

    Returns:
      ``"sha256:"`` followed by 64 lowercase hex digits.

    Raises:
      DataFileError: the file is missing, a directory or unreadable.
      ValueError: ``chunk_size`` is below 1.

    Example:
      >>> import os, tempfile
      >>> with tempfile.TemporaryDirectory() as folder:
      ...     path = os.path.join(folder, "empty.csv")
      ...     open(path, "wb").close()
      ...     file_digest(path, chunk_size=7)
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    where = os.fsdecode(path)
    _check_readable(where)
    digest = hashlib.sha256()
    try:
        with open(where, "rb") as handle:
            while chunk := handle.read(chunk_size):
                digest.update(chunk)
    except OSError as exc:
        raise DataFileError(f"{where}: cannot be read ({_reason(exc)})") from exc
    return f"sha256:{digest.hexdigest()}"


# ----------------------------------------------------------------------------- shared checks


def _library_says(text: object) -> str:
    """A library's error message as one line of at most ``_MESSAGE_LIMIT`` characters."""
    return clipped_line(text, _MESSAGE_LIMIT)


def _reason(exc: OSError) -> str:
    return _library_says(exc.strerror or exc)


def _check_readable(path: str) -> int:
    """The file's size, after checking it exists, is not a directory and can be opened."""
    try:
        info = os.stat(path)
    except FileNotFoundError as exc:
        raise DataFileError(f"{path}: file does not exist") from exc
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({_reason(exc)})") from exc
    if stat.S_ISDIR(info.st_mode):
        raise DataFileError(f"{path}: is a directory, not a data file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({_reason(exc)})") from exc
    return info.st_size


def _suffix(path: str) -> str:
    lowered = path.lower()
    for suffix in FILE_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    found = os.path.splitext(path)[1]
    kind = f"unknown file type {found!r}" if found else "no file suffix"
    raise DataFileError(f"{path}: {kind}; supported: {', '.join(FILE_SUFFIXES)}")


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:_LISTED_COLUMNS])
    if len(names) > _LISTED_COLUMNS:
        shown += f", ... ({len(names)} columns)"
    return shown or "none"


def _select(
    path: str, names: Sequence[str], features: Sequence[str] | None, target: str | None
) -> tuple[tuple[str, ...], str]:
    """The feature names and target name, checked against the file's column names."""
    available = set(names)
    if target is None:
        if not names:
            raise DataFileError(f"{path}: no columns")
        target = names[-1]
    elif target not in available:
        raise DataFileError(f"{path}: no target column {target!r}; columns: {_listing(names)}")
    if features is None:
        chosen = tuple(name for name in names if name != target)
        if not chosen:
            raise DataFileError(
                f"{path}: no feature columns; the only column is the target {target!r}"
            )
    else:
        chosen = tuple(features)
        if not chosen:
            raise DataFileError(f"{path}: features is empty; name at least one feature column")
        for name in chosen:
            if name not in available:
                raise DataFileError(
                    f"{path}: no feature column {name!r}; columns: {_listing(names)}"
                )
    counts = Counter(names)
    for name in (*chosen, target):
        if counts[name] > 1:
            raise DataFileError(
                f"{path}: column {name!r} appears {counts[name]} times among the columns"
            )
    if features is not None:
        seen: set[str] = set()
        for name in chosen:
            if name in seen:
                raise DataFileError(f"{path}: feature {name!r} is listed twice")
            seen.add(name)
        if target in seen:
            raise DataFileError(
                f"{path}: target column {target!r} is also listed among the features"
            )
    return chosen, target


def _in_file_order(names: Sequence[str], features: tuple[str, ...], target: str) -> list[str]:
    wanted = {*features, target}
    return [name for name in names if name in wanted]


def _data_row(row: int) -> str:
    return f"data row {row + 1}"


def _first_cell(flags: Mapping[str, np.ndarray]) -> tuple[int, str] | None:
    """The earliest ``(row, column)`` whose flag is set; ties go to the earlier column."""
    best: tuple[int, str] | None = None
    for name, flagged in flags.items():
        rows = np.flatnonzero(flagged)
        if rows.size and (best is None or rows[0] < best[0]):
            best = (int(rows[0]), name)
    return best


def _is_number_type(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _is_number_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in "iu" or (dtype.kind == "f" and dtype.itemsize <= 8)


def _check_integer_range(path: str, columns: Mapping[str, np.ndarray], where: _Where) -> None:
    """Refuse 64-bit integers beyond 2**53 in magnitude (smaller integer types always fit)."""
    flags = {}
    for name, values in columns.items():
        if values.dtype.kind == "i" and values.dtype.itemsize == 8:
            flags[name] = (values > _EXACT) | (values < -_EXACT)
        elif values.dtype.kind == "u" and values.dtype.itemsize == 8:
            flags[name] = values > _EXACT
    found = _first_cell(flags)
    if found is not None:
        row, name = found
        raise DataFileError(
            f"{path}: {where(row)}, column {name!r}: integer {columns[name][row]} is beyond "
            "2**53 in magnitude, not exactly representable as float64"
        )


def _assemble(
    path: str,
    columns: Mapping[str, np.ndarray],
    features: tuple[str, ...],
    target: str,
    where: _Where,
) -> Table:
    """The Table of numeric columns (in file order), after the integer and finiteness checks."""
    _check_integer_range(path, columns, where)
    n = len(columns[target])
    x = np.empty((n, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        x[:, j] = columns[name]
    y = columns[target].astype(np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        as_float = {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}
        row, name = _first_cell({name: ~np.isfinite(v) for name, v in as_float.items()})
        value = as_float[name][row]
        shown = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        raise DataFileError(
            f"{path}: {where(row)}, column {name!r}: {shown} is not a finite number"
        )
    return Table(x=x, y=y, features=features, target=target, path=path)


def _arrow_columns(
    path: str, table: pa.Table, selected: Sequence[str], where: _Where
) -> dict[str, np.ndarray]:
    """The selected columns of a numeric Arrow table as NumPy arrays, refusing nulls."""
    found = _first_cell(
        {
            name: table.column(name).is_null().to_numpy()
            for name in selected
            if table.column(name).null_count
        }
    )
    if found is not None:
        row, name = found
        raise DataFileError(f"{path}: {where(row)}, column {name!r}: empty cell (no value)")
    return {name: table.column(name).to_numpy() for name in selected}


# ----------------------------------------------------------------------------- CSV


def _csv_open(path: str) -> IO[str]:
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def _csv_records(handle: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """``(first line, fields)`` of each non-blank CSV record, lines counted from 1."""
    reader = csv.reader(handle)
    line = 0
    for fields in reader:
        start, line = line + 1, reader.line_num
        if fields:
            yield start, fields


def _csv_header(path: str) -> list[str]:
    try:
        with _csv_open(path) as handle:
            record = next(_csv_records(handle), None)
    except (OSError, csv.Error) as exc:
        raise DataFileError(f"{path}: cannot read the CSV header ({_library_says(exc)})") from exc
    if record is None:
        raise DataFileError(f"{path}: no header row (only blank lines)")
    return record[1]


def _csv_where(path: str, row: int) -> str:
    """``"line L (data row N)"`` for 0-based data row ``row`` (error path: scans the file)."""
    try:
        with _csv_open(path) as handle:
            for index, (line, _) in enumerate(_csv_records(handle)):
                if index == row + 1:  # record 0 is the header
                    return f"line {line} ({_data_row(row)})"
    except (OSError, csv.Error):
        pass
    return _data_row(row)


def _csv_read(path: str, columns: Sequence[str], kind: pa.DataType) -> pa.Table:
    return pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(columns),
            column_types={name: kind for name in columns},
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )


def _first_unparsable(values: pa.Array) -> int | None:
    """Index of the first non-null text Arrow does not parse as float64 (binary search)."""
    trimmed = pc.utf8_trim_whitespace(values)

    def parses(start: int, stop: int) -> bool:
        try:
            pc.cast(trimmed.slice(start, stop - start), pa.float64())
        except pa.ArrowInvalid:
            return False
        return True

    if parses(0, len(trimmed)):
        return None
    low, high = 0, len(trimmed)  # the first bad text is in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if parses(low, middle):
            low = middle
        else:
            high = middle
    return low


def _fields(count: int) -> str:
    return f"{count} field" if count == 1 else f"{count} fields"


def _csv_failure(path: str, header: list[str], selected: Sequence[str], exc: Exception) -> str:
    """The one-line message for a CSV file Arrow refused (error path: rescans the file)."""
    try:
        with _csv_open(path) as handle:
            records = _csv_records(handle)
            header_line, _ = next(records)
            rows = 0
            for line, fields in records:
                if len(fields) != len(header):
                    return (
                        f"{path}: line {line} has {_fields(len(fields))} but the header "
                        f"(line {header_line}) has {len(header)}"
                    )
                rows += 1
    except (OSError, csv.Error, StopIteration):
        return f"{path}: cannot be read as CSV: {_library_says(exc)}"
    if rows == 0:
        return f"{path}: header only, no data rows"
    try:
        texts = _csv_read(path, selected, pa.string())
    except (pa.ArrowException, OSError):
        return f"{path}: cannot be read as CSV: {_library_says(exc)}"
    bad = {}
    for name in selected:
        values = texts.column(name).combine_chunks()
        index = _first_unparsable(values)
        if index is not None:
            bad[name] = np.arange(len(values)) == index
    found = _first_cell(bad)
    if found is None:
        return f"{path}: cannot be read as CSV: {_library_says(exc)}"
    row, name = found
    text = texts.column(name)[row].as_py()
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    return f"{path}: {_csv_where(path, row)}, column {name!r}: {shown} is not a number"


def _check_csv_integers(
    path: str, columns: Mapping[str, np.ndarray], selected: Sequence[str]
) -> None:
    """Refuse integer literals beyond 2**53 (only rereads the file when a value is that big)."""
    large = {name: np.abs(columns[name]) >= _EXACT for name in selected}
    large = {name: flags for name, flags in large.items() if flags.any()}
    if not large:
        return
    texts = _csv_read(path, list(large), pa.string())
    flags = {}
    for name, candidates in large.items():
        rows = np.flatnonzero(candidates)
        cells = texts.column(name).take(pa.array(rows)).to_pylist()
        flags[name] = np.zeros(len(candidates), dtype=bool)
        for row, text in zip(rows, cells, strict=True):
            flags[name][row] = bool(_INTEGER_TEXT.fullmatch(text)) and abs(int(text)) > _EXACT
    found = _first_cell(flags)
    if found is not None:
        row, name = found
        text = texts.column(name)[row].as_py().strip()
        raise DataFileError(
            f"{path}: {_csv_where(path, row)}, column {name!r}: integer {text} is beyond "
            "2**53 in magnitude, not exactly representable as float64"
        )


def _read_csv(path: str, features: Sequence[str] | None, target: str | None) -> Table:
    header = _csv_header(path)
    chosen, target = _select(path, header, features, target)
    selected = _in_file_order(header, chosen, target)
    try:
        table = _csv_read(path, selected, pa.float64())
    except pa.ArrowInvalid as exc:
        raise DataFileError(_csv_failure(path, header, selected, exc)) from exc
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(f"{path}: cannot be read as CSV: {_library_says(exc)}") from exc
    if table.num_rows == 0:
        raise DataFileError(f"{path}: header only, no data rows")

    def where(row: int) -> str:
        return _csv_where(path, row)

    columns = _arrow_columns(path, table, selected, where)
    result = _assemble(path, columns, chosen, target, where)
    _check_csv_integers(path, columns, selected)
    return result


# ----------------------------------------------------------------------------- Parquet


def _read_parquet(path: str, features: Sequence[str] | None, target: str | None) -> Table:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(f"{path}: cannot be read as Parquet: {_library_says(exc)}") from exc
    chosen, target = _select(path, schema.names, features, target)
    selected = _in_file_order(schema.names, chosen, target)
    for name in selected:
        kind = schema.field(name).type
        if not _is_number_type(kind):
            raise DataFileError(
                f"{path}: column {name!r} has type {kind}; expected integers or "
                "floating-point numbers"
            )
    try:
        table = pq.read_table(path, columns=selected)
    except (pa.ArrowException, OSError) as exc:
        raise DataFileError(f"{path}: cannot be read as Parquet: {_library_says(exc)}") from exc
    if table.num_rows == 0:
        raise DataFileError(f"{path}: no data rows")
    columns = _arrow_columns(path, table, selected, _data_row)
    return _assemble(path, columns, chosen, target, _data_row)


# ----------------------------------------------------------------------------- NumPy


def _numeric_dtype(path: str, what: str, dtype: np.dtype) -> None:
    if not _is_number_dtype(dtype):
        raise DataFileError(
            f"{path}: {what} has dtype {dtype}; expected integers or floating-point numbers"
        )


def _read_npy(path: str, features: Sequence[str] | None, target: str | None) -> Table:
    try:  # np.load is given an open file: on failure it would leave its own unclosed
        with open(path, "rb") as handle:
            magic = handle.read(len(_NPY_MAGIC))
            handle.seek(0)
            array = np.load(handle, allow_pickle=False) if magic == _NPY_MAGIC else None
    except (ValueError, OSError, EOFError) as exc:
        raise DataFileError(f"{path}: cannot be read as .npy: {_library_says(exc)}") from exc
    if array is None:
        raise DataFileError(f"{path}: not a .npy file (no NumPy magic bytes at its start)")
    if array.ndim != 2:
        raise DataFileError(
            f"{path}: array has shape {array.shape}; expected a 2-D array (rows, columns)"
        )
    _numeric_dtype(path, "the array", array.dtype)
    names = [str(k) for k in range(array.shape[1])]
    chosen, target = _select(path, names, features, target)
    if array.shape[0] == 0:
        raise DataFileError(f"{path}: no data rows (shape {array.shape})")
    selected = _in_file_order(names, chosen, target)
    columns = {name: array[:, int(name)] for name in selected}
    return _assemble(path, columns, chosen, target, _data_row)


def _read_npz(path: str, features: Sequence[str] | None, target: str | None) -> Table:
    arrays = None
    try:  # np.load is given an open file: on failure it would leave its own unclosed
        with open(path, "rb") as handle:
            magic = handle.read(len(_ZIP_MAGICS[0]))
            handle.seek(0)
            if magic in _ZIP_MAGICS:
                with np.load(handle, allow_pickle=False) as archive:
                    arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(f"{path}: cannot be read as .npz: {_library_says(exc)}") from exc
    if arrays is None:
        raise DataFileError(f"{path}: not a .npz archive (no zip signature at its start)")
    if not arrays:
        raise DataFileError(f"{path}: the archive holds no arrays")
    names = list(arrays)
    length = None
    for name, values in arrays.items():
        if values.ndim != 1:
            raise DataFileError(
                f"{path}: member {name!r} has shape {values.shape}; every member must be "
                "a 1-D column"
            )
        if length is None:
            length = (name, len(values))
        elif len(values) != length[1]:
            raise DataFileError(
                f"{path}: member {name!r} has {len(values)} rows but {length[0]!r} has {length[1]}"
            )
    chosen, target = _select(path, names, features, target)
    selected = _in_file_order(names, chosen, target)
    for name in selected:
        _numeric_dtype(path, f"column {name!r}", arrays[name].dtype)
    if len(arrays[target]) == 0:
        raise DataFileError(f"{path}: no data rows")
    columns = {name: arrays[name] for name in selected}
    return _assemble(path, columns, chosen, target, _data_row)
