"""``functional_training.runs._training``: the chunked loop behind the line's flags and specs.

The line's flags and a spec of the same run give the same run description and the
same trajectory bit for bit; a spec run of any kind checkpoints its parameter pytree
by leaf name; memory grows with the records, not the steps. (How a run is described
and bounded before it starts: test_train_settings.py.)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from specs import MLP_SPEC

from functional_training import float64, make_optimizer, make_schedule, params_from_values
from functional_training._datasets import named_data
from functional_training.runs import list_checkpoints, load_checkpoint, parse_run_spec
from functional_training.runs._manifest import run_spec_record
from functional_training.runs._train_settings import (
    make_settings,
    spec_settings,
)
from functional_training.runs._training import run_training

SHIPMENTS_SPEC = """
name = "shipments-sgd"
[data]
train = [[1.0, 3.0], [2.0, 5.0], [3.0, 7.0]]
[model]
w = 0.0
b = 0.0
[optimizer]
name = "momentum"
learning_rate = 0.05
[run]
steps = 25
batch_size = 2
seed = 4
"""

def test_the_line_flags_and_a_spec_of_the_same_run_are_one_run_description():
    data = named_data("shipments")
    flags = make_settings(data, optimizer="momentum", learning_rate=0.05, steps=25,
                          batch_size=2, seed=4)
    spec = spec_settings(parse_run_spec(SHIPMENTS_SPEC), path="s.toml", text=SHIPMENTS_SPEC)
    described = {k: v for k, v in run_spec_record(spec.run).items()
                 if k not in ("name", "description")}
    assert described == {k: v for k, v in run_spec_record(flags.run).items()
                         if k not in ("name", "description")}
    # The spec holds x as (n, 1); the line's one-feature w is a scalar and takes (n,):
    # the same trajectory, bit for bit.
    assert run_training(spec, spec.run).trajectory == run_training(flags, data).trajectory


def test_a_spec_run_checkpoints_its_parameter_pytree_by_leaf_name(tmp_path):
    spec = parse_run_spec(MLP_SPEC)
    settings = spec_settings(spec, path="m.toml", text=MLP_SPEC, chunk_steps=8)
    outcome = run_training(settings, spec, checkpoint_dir=tmp_path)
    checkpoints = list_checkpoints(tmp_path)
    assert [int(p.name.split("-")[1]) for p in checkpoints] == [8, 16, 24]
    with float64():  # templates of the run's structure and dtypes
        params, opt_state = _params(spec), _opt_state(spec)
    meta = load_checkpoint(checkpoints[-1], params=params, opt_state=opt_state)
    assert sorted(n for n in meta.records if n.startswith("params.")) == [
        "params.layers.0.b", "params.layers.0.w", "params.layers.1.b", "params.layers.1.w"]
    assert {"learning_rate", "train_accuracy"} <= set(meta.records)  # every recorded series
    final = {name: values[-1] for name, values in outcome.trajectory.params.items()}
    assert final["layers.1.b[0]"] == float(meta.params.layers[1].b[0])


def _params(spec):
    return params_from_values(spec.model, spec.init, **spec.model_config)


def _opt_state(spec):
    schedule = make_schedule(**spec.schedule)
    return make_optimizer(spec.optimizer, learning_rate=schedule, **spec.hyperparams).init(
        _params(spec))


def _resident_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_memory_grows_with_the_records_not_the_steps():
    data = named_data("shipments")
    small = make_settings(data, optimizer="sgd", learning_rate=0.08, steps=2000,
                          eval_every=100, chunk_steps=100)
    run_training(small, data)  # compile and warm the allocator first
    settings = make_settings(data, optimizer="sgd", learning_rate=0.08, steps=10**7,
                             eval_every=10**4, chunk_steps=10**4)
    before = _resident_mib()
    trajectory = run_training(settings, data).trajectory
    grown = _resident_mib() - before
    assert trajectory.record_steps == [*range(0, 10**7, 10**4), 10**7 - 1]
    assert len(trajectory.batch_loss) == 1001 and len(trajectory.train_loss) == 1002
    # 1,000 chunks: a few KiB each for the chunk's records. Keeping each chunk's device
    # buffers alive (zero-copy views) grew about 50 MiB here; recording every step would
    # hold 10**7 x 6 values (record_bytes: about 2.7 GiB).
    assert grown < 30, f"resident memory grew {grown:.1f} MiB over 1,000 chunks"
