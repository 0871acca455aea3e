"""Checkpoints: exact round trips of any optax state, content-hash names, corruption refused."""

from __future__ import annotations

import hashlib
import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import functional_training as ft
from functional_training import runs


@pytest.fixture
def f64():
    """float64 JAX, without strict promotion: optax's Adam mixes int32 counts with floats."""
    with ft.float64():
        yield


def _state(name: str, *, frozen=(), steps: int = 3, dtype=jnp.float64):
    """Params and a non-trivial optimizer state: ``steps`` updates on the lesson's shipments."""
    optimizer = ft.make_optimizer(name, learning_rate=0.05, frozen=frozen)
    params = ft.LinearParams(jnp.asarray(0.0, dtype), jnp.asarray(0.0, dtype))
    state = optimizer.init(params)
    x, y = jnp.asarray([1.0, 2.0, 3.0], dtype), jnp.asarray([3.0, 5.0, 7.0], dtype)
    for _ in range(steps):
        _, grads = ft.loss_and_grad(params, x, y)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return optimizer, params, state


def _templates(optimizer, dtype=jnp.float64):
    params = ft.LinearParams(jnp.asarray(0.0, dtype), jnp.asarray(0.0, dtype))
    return params, optimizer.init(params)


def _leaves_equal(a, b) -> bool:
    left, right = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(left) == len(right) and all(
        np.asarray(x).dtype == np.asarray(y).dtype and np.array_equal(x, y)
        for x, y in zip(left, right, strict=True)
    )


@pytest.mark.parametrize(
    ("name", "frozen"),
    [("sgd", ()), ("momentum", ()), ("nesterov", ()), ("adam", ()), ("adamw", ()),
     ("adam", ("b",))],
)
def test_round_trip_is_exact_for_every_optimizer(tmp_path, f64, name, frozen):
    optimizer, params, state = _state(name, frozen=frozen)
    path = runs.save_checkpoint(tmp_path, step=3, params=params, opt_state=state,
                              position={"epoch": 1}, run={"optimizer": name})
    template_params, template_state = _templates(optimizer)
    restored = runs.load_checkpoint(path, params=template_params, opt_state=template_state)
    assert restored.step == 3 and restored.position == {"epoch": 1}
    assert restored.run == {"optimizer": name}
    assert jax.tree.structure(restored.opt_state) == jax.tree.structure(state)
    assert _leaves_equal(restored.params, params)
    assert _leaves_equal(restored.opt_state, state)
    # The restored state continues exactly like the original.
    grads = ft.LinearParams(jnp.asarray(0.3), jnp.asarray(-0.2))
    expected, _ = optimizer.update(grads, state, params)
    again, _ = optimizer.update(grads, jax.tree.map(jnp.asarray, restored.opt_state),
                                jax.tree.map(jnp.asarray, restored.params))
    assert _leaves_equal(again, expected)


def test_name_is_the_sha256_of_the_bytes_and_saving_is_deterministic(tmp_path, f64):
    _, params, state = _state("adam")
    first = runs.save_checkpoint(tmp_path / ".", step=7, params=params, opt_state=state)
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert first.name == f"step-000000007-{digest}.npz"
    assert runs.checkpoint_id(first) == "sha256:" + digest
    other = tmp_path / "again"
    other.mkdir()
    second = runs.save_checkpoint(other, step=7, params=params, opt_state=state)
    assert second.name == first.name and second.read_bytes() == first.read_bytes()


def test_checkpoint_is_a_plain_npz(tmp_path, f64):
    _, params, state = _state("momentum")
    path = runs.save_checkpoint(tmp_path, step=1, params=params, opt_state=state,
                              records={"batch_loss": np.array([8.0, 2.0])})
    with np.load(path, allow_pickle=False) as npz:
        assert float(npz["params.0"]) == float(params.w)
        np.testing.assert_array_equal(npz["records.batch_loss"], [8.0, 2.0])
    restored = runs.load_checkpoint(path, params=params, opt_state=state)
    np.testing.assert_array_equal(restored.records["batch_loss"], [8.0, 2.0])


@pytest.fixture
def saved(tmp_path, f64):
    optimizer, params, state = _state("adam")
    path = runs.save_checkpoint(tmp_path, step=4, params=params, opt_state=state)
    return path, optimizer


def _refused(path, optimizer, match, dtype=jnp.float64):
    params, state = _templates(optimizer, dtype)
    with pytest.raises(ValueError, match=match) as info:
        runs.load_checkpoint(path, params=params, opt_state=state)
    assert "\n" not in str(info.value)


def test_flipped_byte_is_refused(saved):
    path, optimizer = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    _refused(path, optimizer, "is corrupt or truncated: its content hash .* does not match")


@pytest.mark.parametrize("keep", [0, 1, 100, -1])
def test_truncated_file_is_refused(saved, keep):
    path, optimizer = saved
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    _refused(path, optimizer, "is corrupt or truncated")


def test_renamed_file_is_refused(saved, tmp_path):
    path, optimizer = saved
    renamed = path.with_name(runs.checkpoint_name(4, "sha256:" + "0" * 64))
    path.rename(renamed)
    _refused(renamed, optimizer, "is corrupt or truncated")


def test_garbage_with_a_matching_name_is_refused(tmp_path, f64):
    optimizer = ft.make_optimizer("sgd", learning_rate=0.1)
    garbage = b"not a zip file at all"
    path = tmp_path / runs.checkpoint_name(2, runs.sha256_digest(garbage))
    path.write_bytes(garbage)
    _refused(path, optimizer, "is unreadable: File is not a zip file")


def test_npz_of_another_kind_is_refused(tmp_path, f64):
    optimizer = ft.make_optimizer("sgd", learning_rate=0.1)
    buffer = tmp_path / "plain.npz"
    np.savez(buffer, meta=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    payload = buffer.read_bytes()
    path = tmp_path / runs.checkpoint_name(2, runs.sha256_digest(payload))
    path.write_bytes(payload)
    _refused(path, optimizer, "is not a functional-training/checkpoint/1 file")


def test_other_optimizer_or_precision_is_refused(saved):
    path, _ = saved
    _refused(path, ft.make_optimizer("sgd", learning_rate=0.1), "opt_state structure is")
    _refused(path, ft.make_optimizer("adam", learning_rate=0.1), "params leaves are",
             dtype=jnp.float32)


def test_not_a_checkpoint_name(tmp_path):
    with pytest.raises(ValueError, match="is not a checkpoint file name"):
        runs.checkpoint_id(tmp_path / "model.npz")


def test_latest_checkpoint_ignores_temporaries_and_other_files(tmp_path, f64):
    assert runs.latest_checkpoint(tmp_path) is None
    _, params, state = _state("sgd")
    paths = [runs.save_checkpoint(tmp_path, step=s, params=params, opt_state=state)
             for s in (10, 2, 30)]
    (tmp_path / ".step-000000040-abc.npz.tmp").write_bytes(b"half a checkpoint")
    (tmp_path / "notes.txt").write_text("")
    assert runs.list_checkpoints(tmp_path) == [paths[1], paths[0], paths[2]]
    assert runs.latest_checkpoint(tmp_path) == paths[2]


def test_two_checkpoints_for_one_step_are_ambiguous(tmp_path, f64):
    _, params, state = _state("sgd")
    runs.save_checkpoint(tmp_path, step=5, params=params, opt_state=state, run={"seed": 1})
    runs.save_checkpoint(tmp_path, step=5, params=params, opt_state=state, run={"seed": 2})
    with pytest.raises(ValueError, match="holds two checkpoints for step 5"):
        runs.latest_checkpoint(tmp_path)


def test_chain_walks_parents_and_refuses_a_missing_link(tmp_path, f64):
    optimizer, params, state = _state("sgd")
    first = runs.save_checkpoint(tmp_path, step=1, params=params, opt_state=state)
    second = runs.save_checkpoint(tmp_path, step=2, params=params, opt_state=state,
                                parent=first.name)
    third = runs.save_checkpoint(tmp_path, step=3, params=params, opt_state=state,
                               parent=second.name)
    template = _templates(optimizer)
    chain = runs.checkpoint_chain(third, params=template[0], opt_state=template[1])
    assert [link.path for link in chain] == [first, second, third]
    second.unlink()
    with pytest.raises(ValueError, match="names parent .* which is not in"):
        runs.checkpoint_chain(third, params=template[0], opt_state=template[1])


def test_chain_stops_at_a_checkpoint_holding_the_whole_history(tmp_path, f64):
    optimizer, params, state = _state("sgd")
    first = runs.save_checkpoint(tmp_path, step=1, params=params, opt_state=state)
    second = runs.save_checkpoint(tmp_path, step=2, params=params, opt_state=state,
                                  parent=first.name, whole_history=True)
    template = _templates(optimizer)
    first.unlink()  # pruned: the second holds everything
    chain = runs.checkpoint_chain(second, params=template[0], opt_state=template[1])
    assert [link.path for link in chain] == [second] and chain[0].whole_history
    assert runs.prune_checkpoints(tmp_path, 1) == []  # only one left: nothing to remove


def test_metadata_is_read_only_after_the_hash_check(saved):
    path, _ = saved
    assert runs.checkpoint_metadata(path)["step"] == 4
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        runs.checkpoint_metadata(path)


def test_failed_save_leaves_nothing(tmp_path, f64, monkeypatch):
    _, params, state = _state("adam")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space left"):
        runs.save_checkpoint(tmp_path, step=1, params=params, opt_state=state)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step": -1}, "step must be an integer >= 0"),
        ({"step": 1, "records": {"bad name!": np.zeros(1)}}, "record name"),
        ({"step": 1, "position": {"x": float("nan")}}, "must be strict JSON"),
    ],
)
def test_save_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        runs.save_checkpoint(tmp_path, params=(np.zeros(1),), opt_state=(), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_members_are_stored_with_fixed_timestamps(saved):
    path, _ = saved
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_STORED}
