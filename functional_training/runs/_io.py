"""Files: atomic writes, strict JSON in and out, output paths checked before a run.

Every writer here is atomic (:func:`write_atomic`): a temporary file in the
target's directory, flushed and fsynced, then ``os.replace``; a failed or
killed write leaves the previous file (or none), never half of one. JSON is
strict both ways: no ``NaN``/``Infinity`` literals are written
(:func:`json_floats` spells non-finite numbers as strings) or accepted
(:func:`read_json`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from functional_training._interrupts import raise_if_interrupted

_FILE_MODE = 0o644


def canonical_json(data) -> bytes:
    """``data`` as compact strict JSON with sorted keys: the bytes a digest hashes.

    Python writes each float as its shortest round-trip decimal, so equal bytes
    mean bit-identical values (``0.0`` and ``-0.0`` differ).

    Raises:
      ValueError: a float is NaN or infinite (spell it with :func:`json_floats`).

    Example:
      >>> canonical_json({"b": [1.0, -0.0], "a": 1})
      b'{"a":1,"b":[1.0,-0.0]}'
    """
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        raise ValueError("not strict JSON: a float is NaN or infinite (use json_float)") from None


def json_floats(values) -> float | str | list:
    """Numbers (any shape) as strict-JSON values: nested lists, non-finite as strings.

    Example:
      >>> json_floats([1.5, float("inf"), float("nan")])
      [1.5, 'Infinity', 'NaN']
    """
    array = np.asarray(values, np.float64)
    text = np.where(np.isnan(array), "NaN", np.where(array > 0, "Infinity", "-Infinity"))
    return np.where(np.isfinite(array), array.astype(object), text).tolist()


def write_atomic(path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    A temporary file is created in the same directory (same filesystem, so the
    rename is atomic), written, flushed and fsynced, given mode 0644, then
    moved over ``path`` with ``os.replace``; the directory is fsynced so the
    rename survives a crash. On any failure the temporary file is removed
    and the error re-raised; ``path`` is untouched. After a Ctrl-C, even one
    that library code swallowed, it writes nothing and raises
    ``KeyboardInterrupt`` (``functional_training._interrupts``).

    Returns:
      ``path`` as a ``Path``.

    Example:
      >>> import pathlib
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     target = write_atomic(pathlib.Path(tmp) / "out.txt", "hello\\n")
      ...     print(target.read_text(), end="")
      ...     print(sorted(p.name for p in pathlib.Path(tmp).iterdir()))
      hello
      ['out.txt']
    """
    raise_if_interrupted()  # an interrupted run writes nothing, even if the interrupt was lost
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    directory = path.parent
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise OSError(f"cannot write {path}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    return path


def _fsync_directory(directory: Path) -> None:
    # POSIX: the rename is durable once the directory entry is on disk. Some
    # platforms (Windows) cannot open a directory; the rename is still atomic there.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_json_atomic(path, obj) -> Path:
    """Write ``obj`` as strict JSON (indent 2, no NaN/Infinity literals) with :func:`write_atomic`.

    Raises:
      ValueError: if ``obj`` holds a non-finite float (convert with
        ``functional_training.json_float`` first); nothing is written.

    Example:
      >>> import pathlib
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     print(write_json_atomic(pathlib.Path(tmp) / "r.json", {"a": 1}).read_text(), end="")
      {
        "a": 1
      }
    """
    try:
        text = json.dumps(obj, indent=2, allow_nan=False)
    except ValueError:
        raise ValueError(
            f"cannot write {path}: a float is NaN or infinite (not strict JSON)"
        ) from None
    return write_atomic(path, text + "\n")


def check_output_path(path, *, option: str) -> Path:
    """Check before a run that ``path`` can be written, so no work is lost at the end.

    The directory must exist and accept a new file (probed by creating and
    removing a temporary file: permission bits alone say nothing for root or
    read-only mounts), and ``path`` must not be a directory.

    Args:
      path: the output file the user asked for.
      option: how the user named it (``"--json"``, ``"--manifest"``), for the message.

    Raises:
      ValueError: one line naming ``option``, the path and what is wrong.

    Example:
      >>> check_output_path("/no/such/dir/out.json", option="--json")
      Traceback (most recent call last):
      ...
      ValueError: --json: directory /no/such/dir does not exist
    """
    path = Path(path)
    directory = path.parent
    if path.is_dir():
        raise ValueError(f"{option}: {path} is a directory, expected a file path")
    if not directory.exists():
        raise ValueError(f"{option}: directory {directory} does not exist")
    if not directory.is_dir():
        raise ValueError(f"{option}: {directory} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as err:
        raise ValueError(
            f"{option}: directory {directory} is not writable ({err.strerror or err})"
        ) from None
    return path


def check_output_paths(outputs: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
                       ) -> None:
    """:func:`check_output_path` for each ``{option: path}`` given; no path twice; no input.

    Two options naming one file would leave only the one written last, and an
    output naming an input (data, spec, trajectory, manifest, checkpoint
    directory) would replace it: both are refused, however the path is spelt
    (a symlink, ``./``, an absolute path: :func:`same_path`).

    Args:
      outputs: option -> output path (``None``: not asked for).
      inputs: option -> a path the command reads (``None`` entries are skipped).

    Raises:
      ValueError: one line naming the option (and the other option, for a shared path).

    Example:
      >>> check_output_paths({"--json": "/tmp/run.json", "--manifest": "/tmp/run.json"})
      Traceback (most recent call last):
      ...
      ValueError: --manifest: /tmp/run.json is also the --json file; give each its own
      >>> check_output_paths({"--json": "/tmp/../tmp/s.toml"}, inputs={"--spec": "/tmp/s.toml"})
      Traceback (most recent call last):
      ...
      ValueError: --json: /tmp/../tmp/s.toml is the --spec file; an output never replaces an input
    """
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        check_not_inputs({option: path}, inputs or {})
        check_output_path(path, option=option)
        same = seen.setdefault(os.path.realpath(path), option)
        if same != option:
            raise ValueError(f"{option}: {path} is also the {same} file; give each its own")


def check_not_inputs(outputs: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """No output names an input (:func:`same_path`); the outputs are not probed again.

    For inputs known only later (the data files a spec names), after
    :func:`check_output_paths` has checked the outputs themselves.

    Raises:
      ValueError: one line naming the output's option and the input's.
    """
    for option, path in outputs.items():
        for source, read in inputs.items():
            if path is not None and read is not None and same_path(path, read):
                raise ValueError(f"{option}: {path} is the {source} file; an output never "
                                 "replaces an input")


def same_path(a, b) -> bool:
    """Whether two spellings name one file: the same inode, or the same real path.

    A symlink, a relative spelling (``./x``, ``d/../x``) and an absolute path all
    name the file they resolve to; a path that does not exist yet is compared by
    its real path.

    Example:
      >>> same_path("/tmp/x.json", "/tmp/./x.json"), same_path("/tmp/x.json", "/tmp/y.json")
      (True, False)
    """
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def read_json(path, *, what: str) -> Any:
    """Parse a JSON file, turning every failure into one ``ValueError`` line.

    Args:
      path: the file.
      what: what the file should be (``"manifest"``, ``"report"``), for the message.

    Example:
      >>> read_json("/no/such/file.json", what="manifest")
      Traceback (most recent call last):
      ...
      ValueError: cannot read manifest /no/such/file.json: No such file or directory
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read {what} {path}: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{what} {path} is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except _NonStrictJSON as err:
        raise ValueError(f"{what} {path} is not strict JSON: it contains {err}") from None


class _NonStrictJSON(ValueError):
    pass


def _reject_constant(name: str):
    raise _NonStrictJSON(name)
