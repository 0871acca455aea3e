"""functional_training/runs/_run_spec.py: the one run description, its arrays and its replay."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from functional_training.runs import FROM_TRAJECTORY, RunSpec

ROWS = ((0.5, 1.0, 2.1), (1.0, 2.0, 2.8), (2.0, 0.5, 4.9))


def _spec(**changes) -> RunSpec:
    fields = dict(name="three", description="", train=ROWS,
                  init={"w[0]": 0.0, "w[1]": 0.0, "b": 0.0}, optimizer="sgd",
                  hyperparams={"learning_rate": 0.1}, steps=2)
    return RunSpec(**{**fields, **changes})


def test_the_arrays_are_the_rows_split_into_features_and_targets():
    spec = _spec()
    np.testing.assert_array_equal(spec.x, [[0.5, 1.0], [1.0, 2.0], [2.0, 0.5]])
    np.testing.assert_array_equal(spec.y, [2.1, 2.8, 4.9])
    assert spec.features == 2 and spec.x_val is None and spec.y_val is None
    assert spec.model_config == {"features": 2}
    assert spec.parameter_names == ("w[0]", "w[1]", "b")


def test_from_arrays_keeps_the_arrays_and_makes_the_rows():
    x, y = np.array([[0.5, 1.0], [1.0, 2.0], [2.0, 0.5]]), np.array([2.1, 2.8, 4.9])
    spec = RunSpec.from_arrays(x, y, **{f.name: getattr(_spec(), f.name)
                                        for f in dataclasses.fields(RunSpec)
                                        if f.name not in ("train", "validation")})
    assert spec.train == ROWS and spec == _spec()
    assert spec.x is not None and np.shares_memory(spec.x, spec.x)  # the cached array itself


def test_provenance_is_not_part_of_equality():
    assert _spec(files={"train": "a.csv"}, feature_names=("a", "b")) == _spec()
    assert _spec(init_kind="zeros") == _spec()
    assert _spec(steps=3) != _spec()


def test_what_a_spec_leaves_to_the_trajectory_and_the_replay_that_fills_it():
    open_spec = _spec(init=None, init_kind=FROM_TRAJECTORY, order=FROM_TRAJECTORY)
    assert open_spec.left_to_trajectory() == ("initial values", "batches")
    filled = open_spec.replaying(init={"w[0]": 1, "w[1]": 2, "b": 3}, order=[[2], [0, 1]])
    assert filled.left_to_trajectory() == ()
    assert filled.init == {"w[0]": 1.0, "w[1]": 2.0, "b": 3.0}
    assert filled.order == ((2,), (0, 1))  # rows of any length, as tuples
    assert _spec().left_to_trajectory() == ()


def test_of_copies_every_field_into_a_subclass():
    @dataclasses.dataclass(frozen=True)
    class WithKind(RunSpec):
        kind: str = "train"

    copy = WithKind.of(_spec(), kind="gradient-check")
    assert isinstance(copy, WithKind) and copy.kind == "gradient-check"
    assert RunSpec.of(copy) == _spec()


def test_the_line_on_one_feature_has_xs():
    spec = _spec(train=((2.0, 6.0), (1.0, 3.0)), init={"w": 0.0, "b": 0.0})
    assert spec.xs == [2.0, 1.0] and spec.ys == [6.0, 3.0]
    with pytest.raises(ValueError, match="has 2 features; use x_rows"):
        _ = _spec().xs
