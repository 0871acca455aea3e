"""Spec files: the ``[data]`` table (inline rows or data files) and its targets.

``[data]`` holds ``train`` and optional ``validation`` as rows ``[x_1, ..., x_d,
target]`` or as data file paths relative to the spec (CSV, Parquet, ``.npy``,
``.npz``; ``features`` and ``target`` pick the columns). Targets are checked
against the loss row by row, and a message names the spec key, or the file, data
row and column.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from functional_training._data_files import (
    DataFileError,
    Table,
    check_same_features,
    is_data_file,
    read_table,
)
from functional_training._losses import check_targets
from functional_training.runs._cli import one_line
from functional_training.runs._spec_toml import (
    SpecError,
    key_path,
    kind_words,
    number_at,
    shortened,
)

DATA_KEYS = ("train", "validation", "features", "target")
"""The keys of ``[data]``."""


def data_table(table: dict, base: Path) -> tuple[tuple, tuple | None, dict[str, Table]]:
    """``[data]``: inline rows or data files (with ``features`` / ``target``), one width.

    Returns ``(x, y)`` of the train set (``x`` float64 ``(n, d)``), ``(x_val, y_val)``
    (or ``None``) and the tables read from files by key (``train``, ``validation``),
    for messages naming a file's row.
    """
    files = [key for key in ("train", "validation") if isinstance(table.get(key), str)]
    for key in ("features", "target"):
        if key in table and not files:
            raise SpecError(f"[data].{key}: only for data files; inline rows are "
                            "[x_1, ..., x_d, target]")
    features = table.get("features")
    if features is not None and (
        not isinstance(features, list) or not features
        or not all(isinstance(f, str) and f for f in features)
    ):
        raise SpecError('[data].features: expected a non-empty list of column names like ["a"]')
    target = table.get("target")
    if target is not None and (not isinstance(target, str) or not target):
        raise SpecError("[data].target: expected a column name")
    tables = {}
    sets = {}
    for key in ("train", "validation"):
        if key == "validation" and "train" in tables:
            # The validation file's columns are the train file's, picked by name.
            features, target = tables["train"].features, tables["train"].target
        if key not in table:
            if key == "train":
                raise SpecError("[data].train: missing")
            sets[key] = None
        elif isinstance(table[key], str):
            if not is_data_file(table[key]):
                raise SpecError(
                    f"[data].{key}: {table[key]!r} is neither a list of rows nor a data file "
                    "path (.csv, .parquet, .pq, .npy, .npz)"
                )
            path = base / table[key]
            try:
                tables[key] = read_table(path, features=features, target=target)
            except DataFileError as err:
                raise SpecError(f"[data].{key}: {err}") from None
            sets[key] = (np.asarray(tables[key].x, np.float64),
                         np.asarray(tables[key].y, np.float64))
        else:
            rows = np.asarray(_rows(table, key), dtype=np.float64)
            sets[key] = (np.ascontiguousarray(rows[:, :-1]), np.ascontiguousarray(rows[:, -1]))
    if len(tables) == 2:
        try:
            check_same_features(tables["train"], tables["validation"])
        except DataFileError as err:
            raise SpecError(f"[data].validation: {err}") from None
    train, validation = sets["train"], sets["validation"]
    if validation is not None and validation[0].shape[1] != train[0].shape[1]:
        raise SpecError(
            f"[data].validation: {validation[0].shape[1]} feature(s) per row but train has "
            f"{train[0].shape[1]}"
        )
    return train, validation, tables


def _rows(data: dict, key: str) -> tuple[tuple[float, ...], ...]:
    where = key_path("data", key)
    rows = data[key]
    if not isinstance(rows, list):
        raise SpecError(
            f"{where}: expected a list of [x, target] rows or a data file path, "
            f"got {kind_words(rows)}"
        )
    if not rows:
        raise SpecError(f"{where}: is empty; give at least one [x, target] pair")
    parsed = []
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) < 2:
            raise SpecError(
                f"{where}[{i}]: expected a pair [x, target] (or [x_1, ..., x_d, target]), "
                f"got {shortened(row)}"
            )
        if len(row) != len(rows[0]):
            raise SpecError(
                f"{where}[{i}]: has {len(row)} values but {where}[0] has {len(rows[0])}"
            )
        parsed.append(tuple(number_at(v, f"{where}[{i}][{j}]") for j, v in enumerate(row)))
    return tuple(parsed)


def check_spec_targets(loss: str, targets: np.ndarray, *, key: str, file: Table | None,
                   classes: int) -> None:
    """Every target of ``[data].key`` fits the loss, or one line naming the row (and file).

    The check is :func:`functional_training.check_targets`'; its message is re-worded
    to start with the spec's key: ``[data].train[3]: target 0.5 does not fit hinge
    (takes -1 or +1)``, or for a file ``[data].train: PATH: data row 4, column 'y': ...``
    (data rows counted from 1, the header excluded, as the file reader counts them).
    """
    try:
        check_targets(loss, targets, classes=classes)
    except ValueError as err:
        found = re.search(rf"target row (\d+) is .*; {re.escape(loss)} takes (.+)$", str(err))
        if found is None:
            raise SpecError(f"[data].{key}: {one_line(err)}") from None
        row, takes = int(found.group(1)), found.group(2)
        problem = f"target {float(targets[row])!r} does not fit {loss} (takes {takes})"
        if file is None:
            raise SpecError(f"[data].{key}[{row}]: {problem}") from None
        raise SpecError(f"[data].{key}: {file.path}: data row {row + 1}, column "
                        f"{file.target!r}: {problem}") from None
