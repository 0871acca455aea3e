"""Data sets by name: the lesson's, synthetic shipments at scale, and users' data files.

The kinds of data set (one grammar, :func:`parse_data_name`):

- ``one-shipment``, ``shipments``: the lesson's data (``functional_training``'s
  lesson data, typed once);
- ``synthetic:N``: :func:`functional_training.synthetic_shipments` with ``N`` examples;
- a path ending in ``.csv``, ``.parquet``/``.pq``, ``.npy`` or ``.npz``: a user's
  file, read by :func:`functional_training.read_table` with its ``features`` and
  ``target`` columns; its content hash (:func:`functional_training.file_digest`)
  is kept with the data so a manifest can record it.
"""

from __future__ import annotations

import argparse
import re
from typing import NamedTuple

import numpy as np

from functional_training._data_files import file_digest, is_data_file, read_table
from functional_training._lesson_data import ONE_SHIPMENT, SHIPMENTS
from functional_training._synthetic import synthetic_shipments

_SYNTHETIC = re.compile(r"^synthetic:(\d+(?:_\d+)*)$")  # digits, optionally 1_000-grouped
_NO_VALIDATION = "all examples train; no validation set"

SYNTHETIC_SEED = 0
"""Seed of ``synthetic_shipments`` for ``--data synthetic:N`` (the data, not the batch order)."""

class NamedData(NamedTuple):
    """A data set named on the command line.

    Attributes:
      name: the ``--data`` value, e.g. ``"shipments"`` or ``"synthetic:1000"``.
      x, y: training features and targets (float64 NumPy).
      x_val, y_val: validation set, or ``None``.
      split: the split policy in words (recorded in the manifest).
      init: the lesson's initial ``(w, b)`` for this data.
      features: a file's feature columns (``None`` for named data).
      target: a file's target column (``None`` for named data).
      files: ``(role, "sha256:...")`` pairs: the content hash of each data file read.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    split: str
    init: tuple[float, float]
    features: tuple[str, ...] | None = None
    target: str | None = None
    files: tuple[tuple[str, str], ...] = ()


_LESSON_DATA = ("one-shipment", "shipments")
_EXPECTED = ("expected one-shipment, shipments, synthetic:N with N an integer >= 1, or a data "
             "file (.csv, .parquet, .pq, .npy, .npz)")


def parse_data_name(text: str) -> str:
    """The one data grammar: ``one-shipment``, ``shipments``, ``synthetic:N`` or a file path.

    ``N`` is an integer >= 1, digits optionally grouped with ``_`` (``synthetic:1_000``);
    the canonical name is returned (``synthetic:1000``), so manifests record one
    spelling. A path with a data file suffix is returned as given (the file is
    read by :func:`named_data`). Anything else is a ``ValueError`` naming the text.

    Example:
      >>> parse_data_name("synthetic:1_000")
      'synthetic:1000'
      >>> parse_data_name("synthetic:0")  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      ValueError: unknown data 'synthetic:0'; expected one-shipment, shipments, synthetic:N ...
    """
    if text in _LESSON_DATA:
        return text
    if isinstance(text, str) and is_data_file(text):
        return text
    match = _SYNTHETIC.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1).replace("_", "")) < 1:
        raise ValueError(f"unknown data {text!r}; {_EXPECTED}")
    return f"synthetic:{int(match.group(1).replace('_', ''))}"


def data_argument(text: str) -> str:
    """:func:`parse_data_name` as an argparse ``type=`` (``train`` and ``sweep`` ``--data``).

    Example:
      >>> data_argument("shipments")
      'shipments'
    """
    try:
        return parse_data_name(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def named_data(
    name: str,
    *,
    seed: int = SYNTHETIC_SEED,
    features: list[str] | tuple[str, ...] | None = None,
    target: str | None = None,
) -> NamedData:
    """The data set ``name`` names: ``one-shipment``, ``shipments``, ``synthetic:N`` or a file.

    ``one-shipment`` is the lesson's ``x = 2, y = 6`` (start ``w = 1, b = 0``);
    ``shipments`` its three shipments ``y = 2 x + 1`` (start at zero);
    ``synthetic:N`` is ``functional_training.synthetic_shipments(N, seed=seed)``
    (``train`` and ``sweep`` use seed 0: their ``--seed`` is the batch order's);
    a data file is :func:`functional_training.read_table` with ``features`` and
    ``target`` (every example trains; start at zero). ``x`` has shape ``(n,)``
    for one feature (the lesson's scalar ``w``) and ``(n, d)`` for several.
    ``features`` and ``target`` are for files only.

    Example:
      >>> data = named_data("shipments")
      >>> data.x.tolist(), data.y.tolist(), data.init
      ([1.0, 2.0, 3.0], [3.0, 5.0, 7.0], (0.0, 0.0))
    """
    try:
        name = parse_data_name(name)
    except ValueError as err:
        raise ValueError(f"data: {err}") from None
    if is_data_file(name):
        return _file_data(name, features=features, target=target)
    if features is not None or target is not None:
        raise ValueError(f"data: features and target name columns of a data file, not of {name}")
    if name in _LESSON_DATA:
        pairs = ONE_SHIPMENT if name == "one-shipment" else SHIPMENTS
        x, y = (np.array(column, dtype=np.float64) for column in zip(*pairs, strict=True))
        init = (1.0, 0.0) if name == "one-shipment" else (0.0, 0.0)
        return NamedData(name, x, y, None, None, _NO_VALIDATION, init)
    data = synthetic_shipments(int(name.split(":", 1)[1]), seed=seed)
    split = f"all {data.y.size} examples train (synthetic_shipments seed {seed}); " \
        "no validation set"
    return NamedData(name, data.x, data.y, None, None, split, (0.0, 0.0))


def _file_data(path: str, *, features, target) -> NamedData:
    table = read_table(path, features=features, target=target)
    x = table.x[:, 0] if table.x.shape[1] == 1 else table.x
    split = (f"all {table.y.size} rows of {path} train (features {', '.join(table.features)}; "
             f"target {table.target}); no validation set")
    return NamedData(path, x, table.y, None, None, split, (0.0, 0.0), table.features,
                     table.target, (("train", file_digest(path)),))
