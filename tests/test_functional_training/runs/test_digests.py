"""functional_training/runs/_digests.py: sha256 digests of data, trajectories and bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from functional_training import runs

# ----------------------------------------------------------------------------- data version


def test_data_version_is_sha256_of_the_documented_encoding():
    # Independent computation from the docstring's definition: compact JSON header
    # (role, little-endian dtype, shape), a newline, then each array's bytes.
    x, y = np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.0])
    header = '[{"name":"x","dtype":"<f8","shape":[3]},{"name":"y","dtype":"<f8","shape":[3]}]'
    expected = hashlib.sha256(header.encode() + b"\n" + x.tobytes() + y.tobytes()).hexdigest()
    assert runs.data_version(x, y) == "sha256:" + expected


def test_data_version_sees_values_order_dtype_shape_and_validation():
    base = runs.data_version([1.0, 2.0], [3.0, 5.0])
    variants = [
        runs.data_version([1.0, 2.0], [3.0, 5.000000000000001]),  # one ulp
        runs.data_version([2.0, 1.0], [5.0, 3.0]),  # order
        runs.data_version(np.float32([1.0, 2.0]), np.float32([3.0, 5.0])),  # dtype
        runs.data_version([[1.0], [2.0]], [3.0, 5.0]),  # shape (n, 1) vs (n,)
        runs.data_version([1.0, 2.0], [3.0, 5.0], [1.0], [2.0]),  # a validation set
    ]
    assert len({base, *variants}) == len(variants) + 1


def test_data_version_ignores_how_the_bytes_are_held():
    big_endian = np.array([1.0, 2.0], dtype=">f8"), np.array([3.0, 5.0], dtype=">f8")
    strided = np.array([1.0, 9.0, 2.0])[::2], np.array([3.0, 5.0])
    reference = runs.data_version([1.0, 2.0], [3.0, 5.0])
    assert runs.data_version(*big_endian) == reference
    assert runs.data_version(*strided) == reference


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([1.0], [2.0], [1.0], None), ValueError, "both x_val and y_val"),
        ((np.array(["a"], dtype=object), [2.0]), TypeError, "numeric"),
    ],
)
def test_data_version_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        runs.data_version(*args)


# ----------------------------------------------------------------------------- digests


def test_trajectory_digest_equal_exactly_when_bits_are():
    def digest(value):
        return runs.trajectory_digest({"batch_loss": [value]})

    assert digest(0.1 + 0.2) != digest(0.3)  # 0.30000000000000004 vs 0.3
    assert digest(0.0) != digest(-0.0)
    assert digest(1.0) != digest(float(np.nextafter(1.0, 2.0)))
    assert digest(0.5) == digest(float(np.float32(0.5)))  # same float64 bits
    assert runs.trajectory_digest({"a": 1, "b": 2}) == runs.trajectory_digest({"b": 2, "a": 1})


def test_trajectory_digest_accepts_the_trajectory_class():
    from functional_training import TrajectoryRecord

    traj = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]}, batch_loss=[8.0],
                      train_loss=[8.0, 2.0])
    assert runs.trajectory_digest(traj) == runs.trajectory_digest(traj.to_json())


def test_trajectory_digest_refuses_non_strict_json():
    with pytest.raises(ValueError, match="not strict JSON"):
        runs.trajectory_digest({"batch_loss": [float("nan")]})
    with pytest.raises(TypeError, match="expected a trajectory"):
        runs.trajectory_digest([1.0])


# ----------------------------------------------------------------------------- environment
