"""Content digests: ``"sha256:<hex>"`` identifiers of data sets, trajectories and files.

The data version (:func:`data_version`) is a sha256 over a canonical byte
encoding of the arrays (dtype, shape and little-endian bytes), so any changed
value, order, dtype or shape gives a different version. Trajectory digests
(:func:`trajectory_digest`) hash the canonical JSON of a trajectory; floats
are written as shortest round-trip decimals, so equal digests mean
bit-identical values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from functional_training.runs._io import canonical_json

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def sha256_digest(data: bytes) -> str:
    """``"sha256:<hex>"`` of ``data``: the form of every identifier in a manifest.

    Example:
      >>> sha256_digest(b"")[:19]
      'sha256:e3b0c44298fc'
    """
    return "sha256:" + hashlib.sha256(data).hexdigest()


def is_digest(value: Any) -> bool:
    """Whether ``value`` is a ``"sha256:<64 hex digits>"`` string.

    Example:
      >>> is_digest(sha256_digest(b"x")), is_digest("sha256:abc")
      (True, False)
    """
    return isinstance(value, str) and _DIGEST.match(value) is not None


def data_version(x, y, x_val=None, y_val=None) -> str:
    """Content hash of a data set: the "data version" of a manifest.

    ``sha256(header + b"\\n" + bytes(x) + bytes(y) [+ bytes(x_val) + bytes(y_val)])``
    where ``header`` is compact JSON listing each array's role, dtype (as
    little-endian, e.g. ``"<f8"``) and shape, and ``bytes(a)`` is ``a`` in C
    order, little-endian. The hash covers values, order, dtype and shape: a
    list of ints and the same list of floats are different data.

    Args:
      x, y: training features and targets (anything ``numpy.asarray`` takes).
      x_val, y_val: the validation set, both or neither.

    Returns:
      ``"sha256:<hex>"``.

    Example:
      >>> data_version([2.0], [6.0]) == data_version(np.array([2.0]), np.array([6.0]))
      True
      >>> data_version([2.0], [6.0]) == data_version([2.0], [6.5])
      False
    """
    if (x_val is None) != (y_val is None):
        raise ValueError("data_version: validation data needs both x_val and y_val")
    arrays = [("x", x), ("y", y)]
    if x_val is not None:
        arrays += [("x_val", x_val), ("y_val", y_val)]
    header, blobs = [], []
    for role, values in arrays:
        array = np.asarray(values)
        if array.dtype.hasobject:
            raise TypeError(f"data_version: {role} must be numeric, got dtype {array.dtype}")
        # asarray(order="C"), not ascontiguousarray, which turns 0-d arrays into 1-d.
        array = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
        header.append({"name": role, "dtype": array.dtype.str, "shape": list(array.shape)})
        blobs.append(array.tobytes())
    digest = hashlib.sha256(json.dumps(header, separators=(",", ":")).encode() + b"\n")
    for blob in blobs:
        digest.update(blob)
    return "sha256:" + digest.hexdigest()


def trajectory_digest(trajectory) -> str:
    """Digest of a trajectory's canonical JSON: equal digests mean bit-identical runs.

    Args:
      trajectory: a ``functional_training.TrajectoryRecord`` (anything with
        ``to_json()``) or the JSON object it produces.

    Returns:
      ``"sha256:<hex>"`` of the object as compact JSON with sorted keys.
      Python writes each float as its shortest round-trip decimal, so two
      trajectories share a digest exactly when every value has the same bits
      (``0.0`` and ``-0.0`` differ; all NaNs are ``"NaN"``).

    Example:
      >>> trajectory_digest({"batch_loss": [8.0]}) == trajectory_digest({"batch_loss": [8.0]})
      True
      >>> trajectory_digest({"batch_loss": [8.0]}) == trajectory_digest({"batch_loss": [8.000001]})
      False
    """
    data = trajectory.to_json() if hasattr(trajectory, "to_json") else trajectory
    if not isinstance(data, Mapping):
        raise TypeError(
            f"trajectory_digest: expected a trajectory or its JSON object, "
            f"got {type(data).__name__}"
        )
    return sha256_digest(canonical_json(data))
