"""Data files read into float64 arrays (functional_training/_data_files.py).

Expected values are built independently: files are written with the stdlib
``csv`` module, ``numpy.save``/``savez`` or ``pyarrow.parquet.write_table`` from
known Python lists, and the read arrays are compared with those lists exactly.
Exact equality is right for CSV too: Python writes a float as its shortest
round-trip decimal, and both Python's and Arrow's decimal -> float64 parsing
are correctly rounded, so the text parses back to the very same float64.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from functional_training import _data_files
from functional_training._data_files import (
    FILE_SUFFIXES,
    DataFileError,
    Table,
    check_same_features,
    file_digest,
    is_data_file,
    read_table,
)

HEADER = ["distance_km", "weight_kg", "carrier", "delay_h"]
ROWS = [
    [12.5, 3, "a", 1.5],
    [0.1, 1.25, "b", 1 / 3],
    [40.0, -7, "c", -2.0e-5],
    [123456.789, 0, "d", 1e300],
]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def column(rows: Sequence[Sequence[object]], index: int) -> list[object]:
    return [row[index] for row in rows]


def assert_table(table: Table, x: list[list[float]], y: list[float]) -> None:
    assert table.x.dtype == np.float64 and table.y.dtype == np.float64
    assert table.x.ndim == 2 and table.x.flags.c_contiguous
    assert table.y.shape == (len(y),)
    np.testing.assert_array_equal(table.x, np.array(x, dtype=np.float64).reshape(len(y), -1))
    np.testing.assert_array_equal(table.y, np.array(y, dtype=np.float64))


# ----------------------------------------------------------------------------- happy paths


def test_csv_defaults_target_last_features_the_rest(tmp_path: Path) -> None:
    rows = [[row[0], row[1], row[3]] for row in ROWS]
    path = write_csv(tmp_path / "shipments.csv", ["distance_km", "weight_kg", "delay_h"], rows)
    table = read_table(path)
    assert table.features == ("distance_km", "weight_kg")
    assert table.target == "delay_h"
    assert table.path == str(path) and isinstance(table.path, str)
    assert_table(table, [row[:2] for row in rows], column(rows, 2))


def test_csv_explicit_features_subset_and_order(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "shipments.csv", HEADER, ROWS)
    table = read_table(str(path), features=["weight_kg", "distance_km"], target="delay_h")
    assert table.features == ("weight_kg", "distance_km")
    assert_table(table, [[row[1], row[0]] for row in ROWS], column(ROWS, 3))


def test_csv_target_not_last_and_unselected_text_column_ignored(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "shipments.csv", HEADER, ROWS)
    table = read_table(path, features=["delay_h"], target="distance_km")
    assert (table.features, table.target) == (("delay_h",), "distance_km")
    assert_table(table, [[row[3]] for row in ROWS], column(ROWS, 0))


def test_single_feature_is_two_dimensional(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one.csv", ["x", "y"], [[1.5, 2.0], [3.0, 4.5], [5.0, 6.0]])
    table = read_table(path)
    assert table.x.shape == (3, 1)
    assert_table(table, [[1.5], [3.0], [5.0]], [2.0, 4.5, 6.0])


def test_csv_integers_quotes_blank_lines_and_uppercase_suffix(tmp_path: Path) -> None:
    text = 'a,"b",y\n\n1,-2,3\n"4", 5 ,9007199254740992\n\n-9007199254740992,0,7\n'
    table = read_table(write_text(tmp_path / "INTS.CSV", text))
    assert_table(table, [[1, -2], [4, 5], [-(2**53), 0]], [3, 2**53, 7])


def test_csv_large_decimal_is_not_an_integer_literal(tmp_path: Path) -> None:
    path = write_text(tmp_path / "big.csv", "a,y\n9007199254740993.0,1\n1e300,2\n")
    assert_table(read_table(path), [[9007199254740993.0], [1e300]], [1.0, 2.0])


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet(tmp_path: Path, suffix: str) -> None:
    data = {
        "distance_km": pa.array(column(ROWS, 0), pa.float64()),
        "weight_kg": pa.array([3, 1, -7, 0], pa.int32()),
        "carrier": pa.array(column(ROWS, 2)),
        "count": pa.array([2**53, -(2**53), 0, 1], pa.int64()),
        "small": pa.array([0.5, 0.25, -1.0, 2.0], pa.float32()),
        "delay_h": pa.array(column(ROWS, 3), pa.float64()),
    }
    path = tmp_path / f"shipments{suffix}"
    pq.write_table(pa.table(data), path)
    with pytest.raises(DataFileError, match="'carrier' has type string"):
        read_table(path)  # the default selects the text column: refused
    table = read_table(path, features=["small", "count", "weight_kg", "distance_km"])
    expected = [
        [s, c, w, d]
        for s, c, w, d in zip(
            [0.5, 0.25, -1.0, 2.0],
            [2**53, -(2**53), 0, 1],
            [3, 1, -7, 0],
            column(ROWS, 0),
            strict=True,
        )
    ]
    assert_table(table, expected, column(ROWS, 3))


def test_npy_columns_are_named_by_index(tmp_path: Path) -> None:
    values = [[1.5, 2.0, 3.0], [4.0, 0.1, -6.0]]
    path = tmp_path / "data.npy"
    np.save(path, np.array(values))
    table = read_table(path)
    assert (table.features, table.target) == (("0", "1"), "2")
    assert_table(table, [row[:2] for row in values], column(values, 2))
    table = read_table(path, features=["2", "0"], target="1")
    assert_table(table, [[row[2], row[0]] for row in values], column(values, 1))


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint64, np.float32, np.float16])
def test_npy_numeric_dtypes(tmp_path: Path, dtype: type) -> None:
    values = [[1, 2], [3, 4], [5, 120]]
    path = tmp_path / "data.npy"
    np.save(path, np.array(values, dtype=dtype))
    assert_table(read_table(path), [[1], [3], [5]], [2, 4, 120])


def test_npz_members_are_columns_in_archive_order(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(
        path,
        weight=np.array([1, 2, 3], dtype=np.int64),
        label=np.array(["a", "b", "c"]),
        distance=np.array([0.5, 1.5, 2.5]),
        delay=np.array([9.0, 8.0, 7.0]),
    )
    table = read_table(path, features=["weight", "distance"])
    assert (table.features, table.target) == (("weight", "distance"), "delay")
    assert_table(table, [[1, 0.5], [2, 1.5], [3, 2.5]], [9.0, 8.0, 7.0])
    table = read_table(path, features=["distance"], target="weight")
    assert_table(table, [[0.5], [1.5], [2.5]], [1, 2, 3])


def test_is_data_file() -> None:
    assert FILE_SUFFIXES == (".csv", ".parquet", ".pq", ".npy", ".npz")
    for name in ("a.csv", "A.CSV", "dir/b.Parquet", "c.pq", "d.npy", "e.NPZ"):
        assert is_data_file(name)
    for name in ("a.txt", "csv", "a.csv.gz", "a.npy.bak", ""):
        assert not is_data_file(name)


def test_check_same_features() -> None:
    x, y = np.zeros((2, 2)), np.zeros(2)
    train = Table(x, y, ("a", "b"), "y", "train.csv")
    check_same_features(train, Table(x, y, ("a", "b"), "y", "validation.csv"))
    swapped = Table(x, y, ("b", "a"), "y", "validation.csv")
    fewer = Table(x[:, :1], y, ("a",), "y", "validation.csv")
    for validation in (swapped, fewer):
        with pytest.raises(DataFileError) as info:
            check_same_features(train, validation)
        message = str(info.value)
        assert message.startswith("validation.csv") and "train.csv" in message
        assert "\n" not in message
    with pytest.raises(DataFileError, match="1 feature column "):
        check_same_features(train, fewer)


def test_file_digest_streams_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * 3 + b"tail"
    path = tmp_path / "data.csv"
    path.write_bytes(data)
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert file_digest(path) == expected

    sizes: list[int] = []

    class Recorder:
        def __init__(self, handle) -> None:
            self.handle = handle

        def read(self, size: int = -1) -> bytes:
            sizes.append(size)
            return self.handle.read(size)

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc_info: object) -> None:
            self.handle.close()

    def recording_open(*args, **kwargs) -> Recorder:
        return Recorder(open(*args, **kwargs))

    monkeypatch.setattr(_data_files, "open", recording_open, raising=False)
    assert file_digest(str(path), chunk_size=7) == expected
    assert sizes and set(sizes) == {7}
    assert len(sizes) == len(data) // 7 + 2  # full chunks, the short last one, the empty read


def test_file_digest_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        file_digest(tmp_path / "missing.csv")
    with pytest.raises(DataFileError, match="directory"):
        file_digest(tmp_path)
    with pytest.raises(ValueError, match="chunk_size"):
        file_digest(write_text(tmp_path / "a.csv", "a"), chunk_size=0)


def test_features_given_as_one_string_is_a_type_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["ab", "y"], [[1, 2]])
    with pytest.raises(TypeError, match="sequence of column names"):
        read_table(path, features="ab")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "locked.csv", ["x", "y"], [[1, 2]])
    path.chmod(0)
    try:
        with pytest.raises(DataFileError, match="cannot be read") as info:
            read_table(path)
        assert str(info.value).startswith(str(path))
    finally:
        path.chmod(0o600)


# ----------------------------------------------------------------------------- errors

Build = Callable[[Path], Path]


def csv_file(text: str, name: str = "data.csv") -> Build:
    return lambda folder: write_text(folder / name, text)


def npy_file(array: np.ndarray, name: str = "data.npy") -> Build:
    def build(folder: Path) -> Path:
        path = folder / name
        with open(path, "wb") as handle:
            np.save(handle, array)
        return path

    return build


def npz_file(**arrays: np.ndarray) -> Build:
    def build(folder: Path) -> Path:
        path = folder / "data.npz"
        np.savez(path, **arrays)
        return path

    return build


def parquet_file(data: dict[str, pa.Array], name: str = "data.parquet") -> Build:
    def build(folder: Path) -> Path:
        path = folder / name
        pq.write_table(pa.table(data), path)
        return path

    return build


def raw_file(name: str, content: bytes) -> Build:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return build


def truncated(build: Build, keep: int) -> Build:
    def build_truncated(folder: Path) -> Path:
        path = build(folder)
        path.write_bytes(path.read_bytes()[:keep])
        return path

    return build_truncated


def missing(folder: Path) -> Path:
    return folder / "missing.csv"


def directory(folder: Path) -> Path:
    path = folder / "folder.csv"
    path.mkdir()
    return path


def parent_is_a_file(folder: Path) -> Path:
    return write_text(folder / "plain.csv", "x,y\n1,2\n") / "data.csv"


SHIPMENTS = "a,b,y\n1,2,3\n4,5,6\n"

# (id, file builder, read_table keywords, fragments the message must contain)
ERROR_CASES: list[tuple[str, Build, dict[str, object], tuple[str, ...]]] = [
    ("missing", missing, {}, ("file does not exist",)),
    ("directory", directory, {}, ("is a directory",)),
    ("parent-is-a-file", parent_is_a_file, {}, ("cannot be read",)),
    ("empty", csv_file(""), {}, ("empty file (0 bytes)",)),
    ("unknown-suffix", csv_file(SHIPMENTS, "data.txt"), {}, ("'.txt'", ".csv, .parquet")),
    ("no-suffix", csv_file(SHIPMENTS, "data"), {}, ("no file suffix", ".npz")),
    ("blank-lines-only", csv_file("\n\n"), {}, ("no header row",)),
    ("header-only", csv_file("a,b,y\n"), {}, ("header only", "no data rows")),
    ("header-only-no-newline", csv_file("a,b,y"), {}, ("header only", "no data rows")),
    ("ragged-short", csv_file("a,b,y\n1,2,3\n\n4,5\n"), {}, ("line 4", "2 fields", "has 3")),
    ("ragged-long", csv_file("a,b,y\n1,2,3,4\n"), {}, ("line 2", "4 fields", "has 3")),
    (
        "ragged-unselected-column",
        csv_file("a,b,y\n1,2,3\n4,5\n"),
        {"features": ["a"]},
        ("line 3", "2 fields"),
    ),
    (
        "non-numeric",
        csv_file("x,distance_km,y\n1,2,3\n1,2,3\n1,abc,3\n"),
        {},
        ("line 4 (data row 3)", "column 'distance_km'", "'abc' is not a number"),
    ),
    (
        "non-numeric-after-blank-line",
        csv_file("a,b,y\n1,2,3\n\n4,5,NA\n"),
        {},
        ("line 4 (data row 2)", "column 'y'", "'NA' is not a number"),
    ),
    (
        "non-numeric-whitespace-cell",
        csv_file("a,b,y\n1,2,3\n4, ,6\n"),
        {},
        ("line 3 (data row 2)", "column 'b'", "not a number"),
    ),
    (
        "nan",
        csv_file("a,b,y\n1,2,3\n4,nan,6\n"),
        {},
        ("line 3 (data row 2)", "column 'b'", "NaN"),
    ),
    (
        "inf",
        csv_file("a,b,y\n1,2,3\n4,5,6\n-inf,5,6\n"),
        {},
        ("line 4 (data row 3)", "column 'a'", "-inf"),
    ),
    (
        "overflow-to-inf",
        csv_file("a,b,y\n1,2,1e400\n"),
        {},
        ("line 2 (data row 1)", "column 'y'", "inf"),
    ),
    (
        "empty-cell",
        csv_file("a,b,y\n1,2,3\n4,,6\n"),
        {},
        ("line 3 (data row 2)", "column 'b'", "empty cell"),
    ),
    (
        "empty-quoted-cell",
        csv_file('a,b,y\n1,2,""\n'),
        {},
        ("line 2 (data row 1)", "column 'y'", "empty cell"),
    ),
    (
        "integer-beyond-2**53",
        csv_file("a,b,y\n1,2,3\n4,9007199254740993,6\n"),
        {},
        ("line 3 (data row 2)", "column 'b'", "9007199254740993", "2**53"),
    ),
    (
        "unknown-feature",
        csv_file(SHIPMENTS),
        {"features": ["a", "q"]},
        ("feature column 'q'", "'a', 'b', 'y'"),
    ),
    (
        "unknown-target",
        csv_file(SHIPMENTS),
        {"target": "z"},
        ("target column 'z'", "'a', 'b', 'y'"),
    ),
    (
        "target-among-features",
        csv_file(SHIPMENTS),
        {"features": ["a", "y"]},
        ("target column 'y'", "among the features"),
    ),
    (
        "default-target-among-features",
        csv_file(SHIPMENTS),
        {"features": ["y"]},
        ("target column 'y'", "among the features"),
    ),
    ("duplicate-feature", csv_file(SHIPMENTS), {"features": ["a", "b", "a"]}, ("'a'", "twice")),
    ("empty-features", csv_file(SHIPMENTS), {"features": []}, ("features is empty",)),
    ("only-a-target", csv_file("y\n1\n"), {}, ("no feature columns", "'y'")),
    ("duplicate-header-name", csv_file("a,a,y\n1,2,3\n"), {}, ("'a'", "appears 2 times")),
    ("corrupt-parquet", raw_file("data.parquet", b"not parquet at all"), {}, ("Parquet",)),
    (
        "truncated-parquet",
        truncated(parquet_file({"a": pa.array([1.0]), "y": pa.array([2.0])}), 40),
        {},
        ("cannot be read as Parquet",),
    ),
    (
        "parquet-null",
        parquet_file({"a": pa.array([1.0, None]), "y": pa.array([2.0, 3.0])}, "data.pq"),
        {},
        ("data row 2", "column 'a'", "empty cell"),
    ),
    (
        "parquet-bool",
        parquet_file({"a": pa.array([True, False]), "y": pa.array([2.0, 3.0])}),
        {},
        ("column 'a'", "bool"),
    ),
    (
        "parquet-string",
        parquet_file({"a": pa.array(["1", "2"]), "y": pa.array([2.0, 3.0])}),
        {},
        ("column 'a'", "string"),
    ),
    (
        "parquet-inf",
        parquet_file({"a": pa.array([1.0, 2.0]), "y": pa.array([2.0, float("inf")])}),
        {},
        ("data row 2", "column 'y'", "inf"),
    ),
    (
        "parquet-uint64-beyond-2**53",
        parquet_file({"a": pa.array([2**53 + 1], pa.uint64()), "y": pa.array([2.0])}),
        {},
        ("data row 1", "column 'a'", "2**53"),
    ),
    (
        "parquet-no-rows",
        parquet_file({"a": pa.array([], pa.float64()), "y": pa.array([], pa.float64())}),
        {},
        ("no data rows",),
    ),
    ("corrupt-npy", raw_file("data.npy", b"junk bytes"), {}, (".npy",)),
    (
        "truncated-npy",
        truncated(npy_file(np.zeros((4, 3))), 140),
        {},
        ("cannot be read as .npy",),
    ),
    ("npy-1d", npy_file(np.zeros(3)), {}, ("shape (3,)", "2-D")),
    ("npy-3d", npy_file(np.zeros((2, 2, 2))), {}, ("shape (2, 2, 2)", "2-D")),
    ("npy-bool", npy_file(np.zeros((2, 2), dtype=bool)), {}, ("dtype bool",)),
    ("npy-one-column", npy_file(np.zeros((2, 1))), {}, ("no feature columns", "'0'")),
    ("npy-no-rows", npy_file(np.zeros((0, 3))), {}, ("no data rows",)),
    (
        "npy-nan",
        npy_file(np.array([[1.0, 2.0], [3.0, np.nan]])),
        {},
        ("data row 2", "column '1'", "NaN"),
    ),
    (
        "npy-int-beyond-2**53",
        npy_file(np.array([[1, 2], [-(2**53) - 1, 3]])),
        {},
        ("data row 2", "column '0'", "-9007199254740993", "2**53"),
    ),
    ("npy-unknown-column", npy_file(np.zeros((2, 3))), {"target": "3"}, ("'3'", "'0', '1', '2'")),
    ("corrupt-npz", raw_file("data.npz", b"junk bytes"), {}, (".npz",)),
    (
        "truncated-npz",
        truncated(npz_file(a=np.zeros(50), y=np.zeros(50)), 300),
        {},
        ("cannot be read as .npz",),
    ),
    ("npz-empty-archive", npz_file(), {}, ("no arrays",)),
    (
        "npz-2d-member",
        npz_file(a=np.zeros(2), m=np.zeros((2, 2)), y=np.zeros(2)),
        {},
        ("member 'm'", "shape (2, 2)", "1-D"),
    ),
    (
        "npz-length-mismatch",
        npz_file(a=np.zeros(2), y=np.zeros(3)),
        {},
        ("member 'y'", "3 rows", "'a' has 2"),
    ),
    (
        "npz-text-member",
        npz_file(a=np.array(["x", "y"]), y=np.zeros(2)),
        {},
        ("column 'a'", "dtype <U1"),
    ),
    (
        "npz-nan",
        npz_file(a=np.array([1.0, np.nan, 2.0]), y=np.zeros(3)),
        {},
        ("data row 2", "column 'a'", "NaN"),
    ),
]


@pytest.mark.parametrize(
    ("build", "keywords", "fragments"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_are_one_line_naming_the_file(
    tmp_path: Path, build: Build, keywords: dict[str, object], fragments: tuple[str, ...]
) -> None:
    path = build(tmp_path)
    with pytest.raises(DataFileError) as info:
        read_table(path, **keywords)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{path}: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
