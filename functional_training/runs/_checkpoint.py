"""Checkpoints: parameters, optimizer state, step and batch-order position, named by content hash.

One checkpoint is one file in a checkpoint directory::

  step-<step, 9 digits>-<sha256 of the file, 64 hex digits>.npz

an uncompressed ``.npz`` (a zip of ``.npy`` members, written with fixed
timestamps so the same state always gives the same bytes and so the same
identifier ``"sha256:<hex>"``) holding:

- ``meta``: a ``uint8`` array of UTF-8 JSON: format, step, batch-order
  position, the run's settings, the parent checkpoint's file name, and for
  ``params`` and ``opt_state`` the pytree structure (``str(treedef)``), each
  leaf's name (:func:`functional_training._names.leaf_names`: ``w``, ``b``; ``layers.0.w``;
  the optimizer
  state's paths such as ``0.mu.layers.0.w``), dtype and shape;
- ``params.<i>`` and ``opt_state.<i>``: the leaves of the two pytrees in
  ``jax.tree.flatten`` order (any model kind's parameters and any optax state
  work: both are pytrees);
- ``records.<name>``: arrays the caller attaches (the training CLI stores the
  trajectory segment since the parent checkpoint, so checkpoints form a
  hash-linked chain that holds the whole history).

Writes are atomic (temporary file, flush, fsync, ``os.replace``), so a killed
writer leaves at most a ``.step-*.tmp`` file, which is never read. Loading
recomputes the sha256 of the file *before* parsing it and refuses, with one
line naming the file, a checkpoint whose hash does not match its name
(corrupt or truncated), that is not a readable ``.npz``, or whose structure,
dtypes or shapes differ from the state the run would start from.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from functional_training._names import leaf_names
from functional_training.runs._digests import sha256_digest
from functional_training.runs._io import write_atomic

CHECKPOINT_FORMAT = "functional-training/checkpoint/1"

_NAME = re.compile(r"^step-(\d{9,})-([0-9a-f]{64})\.npz$")
_RECORD_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]+$")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: fixed, so bytes are reproducible
_STATE_PARTS = ("params", "opt_state")


class Checkpoint(NamedTuple):
    """A verified checkpoint read back by :func:`load_checkpoint`.

    Attributes:
      id: ``"sha256:<hex>"`` of the file: its content hash and identifier.
      path: the file.
      step: optimizer steps taken when it was saved (``params`` is ``theta_step``).
      params: the parameters, with the structure of the template passed to
        :func:`load_checkpoint` and NumPy leaves.
      opt_state: the optimizer state, likewise.
      position: the batch-order position saved with it (JSON values).
      run: the run settings saved with it (JSON values).
      parent: file name of the previous checkpoint of the run, or ``None``.
      records: the caller's arrays (``records.<name>`` members), by name.
      whole_history: the records cover the run from step 0 (so the chain need not
        be followed past this checkpoint, and older ones may be pruned); else they
        cover the steps since ``parent``.
    """

    id: str
    path: Path
    step: int
    params: Any
    opt_state: Any
    position: dict
    run: dict
    parent: str | None
    records: dict[str, np.ndarray]
    whole_history: bool = False


def checkpoint_name(step: int, digest: str) -> str:
    """File name of the checkpoint of ``step`` whose content hash is ``digest``.

    Example:
      >>> checkpoint_name(20, "sha256:" + "ab" * 32)[:23]
      'step-000000020-abababab'
    """
    return f"step-{step:09d}-{digest.removeprefix('sha256:')}.npz"


def checkpoint_id(path) -> str:
    """The identifier ``"sha256:<hex>"`` a checkpoint file name carries.

    Raises:
      ValueError: if the name is not ``step-<digits>-<64 hex>.npz``.

    Example:
      >>> checkpoint_id("ckpt/" + checkpoint_name(3, "sha256:" + "0" * 64)) == "sha256:" + "0" * 64
      True
    """
    match = _NAME.match(Path(path).name)
    if match is None:
        raise ValueError(f"{Path(path).name} is not a checkpoint file name (step-<n>-<sha256>.npz)")
    return "sha256:" + match.group(2)


def list_checkpoints(directory) -> list[Path]:
    """Checkpoint files in ``directory``, oldest step first (other files are ignored).

    Raises:
      ValueError: if two checkpoints claim the same step (two runs mixed in
        one directory); nothing can tell which one to trust.

    Example:
      >>> list_checkpoints("/no/such/dir")
      []
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found: dict[int, Path] = {}
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        step = int(match.group(1))
        if step in found:
            raise ValueError(
                f"checkpoint directory {directory} holds two checkpoints for step {step} "
                f"({found[step].name}, {path.name}); remove the one that does not belong"
            )
        found[step] = path
    return [found[step] for step in sorted(found)]


def latest_checkpoint(directory) -> Path | None:
    """The checkpoint with the highest step in ``directory``, or ``None`` when there is none.

    Only the name is read here; :func:`load_checkpoint` verifies the content.

    Example:
      >>> latest_checkpoint("/no/such/dir") is None
      True
    """
    checkpoints = list_checkpoints(directory)
    return checkpoints[-1] if checkpoints else None


def save_checkpoint(
    directory,
    *,
    step: int,
    params,
    opt_state,
    position: Mapping | None = None,
    run: Mapping | None = None,
    parent: str | None = None,
    records: Mapping[str, Any] | None = None,
    whole_history: bool = False,
) -> Path:
    """Write one checkpoint atomically; return its path (the name holds its content hash).

    Args:
      directory: an existing directory.
      step: optimizer steps taken so far (>= 0).
      params: the parameter pytree (e.g. ``LinearParams``).
      opt_state: the optax state pytree.
      position: where the batch order stands (JSON values), e.g. an epoch
        counter and the NumPy generator state.
      run: the run's settings (JSON values), compared on resume.
      parent: file name of the previous checkpoint in the chain, if any.
      records: extra arrays to store (names of letters, digits, ``_.-[]``).
      whole_history: ``records`` cover the run from step 0, not only the steps
        since ``parent`` (see :attr:`Checkpoint.whole_history`).

    Returns:
      The new checkpoint's path. Saving the same state twice gives the same
      name and bytes.

    Example:
      >>> import tempfile
      >>> params, opt_state = (np.array(1.0), np.array(0.0)), ()
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     path = save_checkpoint(tmp, step=5, params=params, opt_state=opt_state)
      ...     restored = load_checkpoint(path, params=params, opt_state=opt_state)
      >>> restored.step, [float(leaf) for leaf in restored.params]
      (5, [1.0, 0.0])
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"save_checkpoint: step must be an integer >= 0, got {step!r}")
    meta: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "step": step,
        "position": dict(position or {}),
        "run": dict(run or {}),
        "parent": parent,
        "history": "whole" if whole_history else "since-parent",
    }
    members: list[tuple[str, np.ndarray]] = []
    for part, tree in zip(_STATE_PARTS, (params, opt_state), strict=True):
        leaves, treedef = jax.tree.flatten(tree)
        arrays = [np.asarray(leaf) for leaf in leaves]
        meta[part] = {"treedef": str(treedef), "names": leaf_names(tree),
                      "leaves": [_describe(a) for a in arrays]}
        members += [(f"{part}.{i}", array) for i, array in enumerate(arrays)]
    record_names = []
    for name, values in (records or {}).items():
        if not _RECORD_NAME.match(name):
            raise ValueError(
                f"save_checkpoint: record name {name!r} must use letters, digits, _.-[]"
            )
        record_names.append(name)
        members.append((f"records.{name}", np.asarray(values)))
    meta["records"] = record_names
    try:
        meta_bytes = json.dumps(meta, sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise ValueError(f"save_checkpoint: position and run must be strict JSON: {err}") from None
    members.insert(0, ("meta", np.frombuffer(meta_bytes, dtype=np.uint8)))
    payload = _npz_bytes(members)
    path = Path(directory) / checkpoint_name(step, sha256_digest(payload))
    return write_atomic(path, payload)


def load_checkpoint(path, *, params, opt_state) -> Checkpoint:
    """Read a checkpoint, verify it, and rebuild its state in the structure of the templates.

    Verification, in order: the file's sha256 equals the hash in its name
    (catches truncation and any flipped byte), the file is a readable
    ``.npz`` of this format, and its ``params`` / ``opt_state`` have the same
    pytree structure, leaf count, dtypes and shapes as ``params`` and
    ``opt_state`` (pass ``optimizer.init(params)`` for the latter: a
    checkpoint of another optimizer or precision is refused, not reshaped).

    Args:
      path: a checkpoint file (see :func:`latest_checkpoint`).
      params: a parameter pytree of the run that resumes (values unused).
      opt_state: its optimizer state, e.g. ``optimizer.init(params)`` (values unused).

    Returns:
      A :class:`Checkpoint` with NumPy leaves.

    Raises:
      ValueError: one line naming the file and what is wrong; nothing is loaded.
    """
    path = Path(path)
    expected, meta, arrays = _verified_contents(path)
    state = {}
    for part, template in zip(_STATE_PARTS, (params, opt_state), strict=True):
        state[part] = _rebuild(path, part, meta, arrays, template)
    if meta.get("step") != int(path.name.split("-")[1]):
        raise ValueError(f"checkpoint {path}: step {meta.get('step')} inside differs from its name")
    records = {}
    for name in meta.get("records", []):
        key = f"records.{name}"
        if key not in arrays:
            raise ValueError(f"checkpoint {path} is unreadable: record {name!r} is missing")
        records[name] = arrays[key]
    return Checkpoint(
        id=expected,
        path=path,
        step=meta["step"],
        params=state["params"],
        opt_state=state["opt_state"],
        position=meta.get("position", {}),
        run=meta.get("run", {}),
        parent=meta.get("parent"),
        records=records,
        whole_history=meta.get("history") == "whole",
    )


def checkpoint_metadata(path) -> dict:
    """Verify a checkpoint's content hash and return its metadata (no state is rebuilt).

    Lets a run compare its settings with ``meta["run"]`` before loading, so a
    checkpoint of another run is refused with a message naming the setting
    that differs.

    Raises:
      ValueError: as :func:`load_checkpoint` for corrupt or unreadable files.
    """
    return _verified_contents(Path(path))[1]


def _verified_contents(path: Path) -> tuple[str, dict, dict[str, np.ndarray]]:
    expected = checkpoint_id(path)
    try:
        payload = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    actual = sha256_digest(payload)
    if actual != expected:
        raise ValueError(
            f"checkpoint {path} is corrupt or truncated: its content hash {actual[:19]}... "
            f"does not match the {expected[:19]}... in its name; refusing to load it "
            "(delete it to resume from the checkpoint before)"
        )
    try:
        arrays = _read_npz(payload)
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as err:
        raise ValueError(f"checkpoint {path} is unreadable: {err}") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} file")
    return expected, meta, arrays


def checkpoint_chain(path, *, params, opt_state) -> list[Checkpoint]:
    """Load a checkpoint and every ancestor (via ``parent``), oldest first, each verified.

    The chain ends at the first checkpoint without a parent or whose records
    hold the whole history (:attr:`Checkpoint.whole_history`): its ancestors may
    have been pruned (:func:`prune_checkpoints`).

    Raises:
      ValueError: if any link is missing, corrupt, or not in the same directory.
    """
    path = Path(path)
    chain = [load_checkpoint(path, params=params, opt_state=opt_state)]
    while chain[-1].parent is not None and not chain[-1].whole_history:
        parent = path.parent / chain[-1].parent
        if Path(chain[-1].parent).name != chain[-1].parent or not parent.is_file():
            raise ValueError(
                f"checkpoint {chain[-1].path.name} names parent {chain[-1].parent}, "
                f"which is not in {path.parent}; the run's history is incomplete"
            )
        link = load_checkpoint(parent, params=params, opt_state=opt_state)
        if link.step >= chain[-1].step:
            raise ValueError(f"checkpoint {link.path.name}: parent step is not earlier")
        chain.append(link)
    return chain[::-1]


def prune_checkpoints(directory, keep: int | None) -> list[Path]:
    """Remove all but the newest ``keep`` checkpoints in ``directory``; return the removed.

    Call it only after the newest checkpoint is written and holds the whole
    history (:attr:`Checkpoint.whole_history`): the newest is never removed, so
    ``--resume`` always finds what it needs. ``keep=None`` keeps every one.

    Example:
      >>> import tempfile
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     for step in range(1, 5):
      ...         _ = save_checkpoint(tmp, step=step, params=(np.array(float(step)),),
      ...                             opt_state=())
      ...     removed = prune_checkpoints(tmp, 2)
      ...     [p.name[:14] for p in removed], [p.name[:14] for p in list_checkpoints(tmp)]
      (['step-000000001', 'step-000000002'], ['step-000000003', 'step-000000004'])
    """
    if keep is None:
        return []
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an integer >= 1 (or None: keep all), got {keep!r}")
    old = list_checkpoints(directory)[:-keep]
    for path in old:
        path.unlink()
    return old


# --------------------------------------------------------------------------- encoding


def _describe(array: np.ndarray) -> dict:
    return {"dtype": array.dtype.str, "shape": list(array.shape)}


def _npz_bytes(members: list[tuple[str, np.ndarray]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in members:
            member = io.BytesIO()
            # asarray(order='C'), not ascontiguousarray: the latter turns 0-d into 1-d.
            np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buffer.getvalue()


def _read_npz(payload: bytes) -> dict[str, np.ndarray]:
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for name in archive.namelist():
            if not name.endswith(".npy"):
                raise ValueError(f"unexpected member {name!r}")
            with archive.open(name) as member:
                arrays[name.removesuffix(".npy")] = np.lib.format.read_array(
                    member, allow_pickle=False
                )
    return arrays


def _rebuild(path: Path, part: str, meta: dict, arrays: dict, template) -> Any:
    leaves, treedef = jax.tree.flatten(template)
    saved = meta.get(part)
    if not isinstance(saved, dict) or "treedef" not in saved or "leaves" not in saved:
        raise ValueError(f"checkpoint {path} is unreadable: no {part} description")
    if saved["treedef"] != str(treedef):
        raise ValueError(
            f"checkpoint {path} does not match this run: its {part} structure is "
            f"{_clip(saved['treedef'])}, this run's is {_clip(str(treedef))}"
        )
    names = leaf_names(template)
    if saved.get("names", names) != names:
        raise ValueError(
            f"checkpoint {path} does not match this run: its {part} leaves are named "
            f"{_clip(', '.join(map(str, saved['names'])))}, this run's "
            f"{_clip(', '.join(names))}"
        )
    expected = [_describe(np.asarray(leaf)) for leaf in leaves]
    if saved["leaves"] != expected:
        raise ValueError(
            f"checkpoint {path} does not match this run: its {part} leaves are "
            f"{_clip(json.dumps(saved['leaves']))}, this run's are {_clip(json.dumps(expected))}"
        )
    restored = []
    for i, description in enumerate(expected):
        array = arrays.get(f"{part}.{i}")
        if array is None or _describe(array) != description:
            raise ValueError(
                f"checkpoint {path} is unreadable: {part} leaf {i} is missing or wrong"
            )
        restored.append(array)
    return jax.tree.unflatten(treedef, restored)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
