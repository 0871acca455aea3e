"""functional_training/runs/_train_settings.py: how a run is carried out, checked before it starts.

``record_bytes`` counts every value a run would record (48 bytes a float in memory);
a run whose records cannot fit in ``MAX_RECORD_BYTES`` is refused before its first
step with the ``--eval-every`` that fits, and a run without ``--eval-every`` records
at most ``MAX_DEFAULT_RECORDS`` evenly spaced steps and its last one. A spec's run table
may be overridden; the default ``eval_every`` always fits an explicit ``chunk_steps``
(issue 21: a default never makes an explicit option invalid).
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from cli_helpers import run_cli
from hypothesis import given
from hypothesis import strategies as st
from specs import MLP_SPEC

from functional_training._datasets import named_data
from functional_training._record_plan import MAX_RECORD_BYTES
from functional_training.runs import parse_run_spec
from functional_training.runs._train_settings import (
    SettingError,
    eval_every_for_chunks,
    make_settings,
    record_bytes,
    spec_settings,
)


def _ft(capsys, *argv):
    """``python -m functional_training ARGV`` in this process: (exit code, stdout, stderr)."""
    return run_cli(capsys, "functional_training", *argv)


def test_a_train_whose_records_cannot_fit_is_refused_before_it_starts(capsys, tmp_path):
    started = time.monotonic()
    code, out, err = _ft(capsys, "train", "--data", "shipments", "--optimizer",
                          "sgd", "--learning-rate", "0.08", "--steps", "1000000000",
                          "--eval-every", "1", "--json", tmp_path / "run.json")
    assert (code, out) == (2, "")
    fits = MAX_RECORD_BYTES // (6 * 48)  # 6 values per recorded step, 48 bytes each
    assert err == ("error: --steps: 1000000000 steps recorded every 1 would record 6e+09 "
                   "values (6 per recorded step), about 268 GiB in memory, over the 4 GiB "
                   f"limit: at most {fits} recorded steps fit; pass --eval-every >= "
                   f"{-(-10**9 // (fits - 1))}\n")
    assert time.monotonic() - started < 30 and list(tmp_path.iterdir()) == []
    # --epochs is named when it is what the user gave.
    code, _, err = _ft(capsys, "train", "--data", "shipments", "--optimizer", "sgd",
                        "--learning-rate", "0.08", "--epochs", "1000000000", "--eval-every", "1")
    assert code == 2 and err.startswith("error: --epochs: 1000000000 steps recorded every 1")


def test_a_billion_step_train_records_a_bounded_number_of_steps_by_default():
    data = named_data("shipments")
    settings = make_settings(data, optimizer="sgd", learning_rate=0.08, steps=10**9)
    # 100,000 evaluations at most (MAX_DEFAULT_RECORDS), evenly spaced, and the last step.
    assert settings.eval_every == 10**4 and settings.chunk_steps % settings.eval_every == 0
    assert record_bytes(data, steps=10**9, batch_size=None,
                        eval_every=settings.eval_every) == (10**5 + 1) * 6 * 48


def test_the_record_estimate_counts_every_recorded_value():
    data = named_data("shipments")  # 1 feature: w, b, their gradients, two losses
    assert record_bytes(data, steps=1, batch_size=None) == 6 * 48
    assert record_bytes(data, steps=10, batch_size=2) == 10 * (6 + 2) * 48  # + batch indices
    assert record_bytes(data, steps=10, batch_size=2, eval_every=4) == 4 * (6 + 2) * 48
    fits = MAX_RECORD_BYTES // (6 * 48)
    assert record_bytes(data, steps=fits, batch_size=None) <= MAX_RECORD_BYTES


def test_record_memory_counts_every_parameter_of_the_model():
    spec = dataclasses.replace(parse_run_spec(MLP_SPEC), batch_size=None)
    # 2 x 17 parameters and gradients + batch and train loss + the rate + 2 accuracies
    with pytest.raises(SettingError, match=r"^steps: 100000000 steps recorded every 1 .* "
                                           r"\(39 per recorded step\)"):
        spec_settings(spec, path="m.toml", text=MLP_SPEC, steps=10**8, eval_every=1)


def test_overrides_replace_the_specs_run_table():
    spec = parse_run_spec(MLP_SPEC)
    settings = spec_settings(spec, path="m.toml", text=MLP_SPEC, steps=100, batch_size=2,
                             seed=9)
    assert (settings.steps, settings.batch_size, settings.seed) == (100, 2, 9)
    assert settings.run.schedule == spec.schedule and settings.learning_rate is None
    by_epochs = spec_settings(spec, path="m.toml", text=MLP_SPEC, epochs=5)
    assert by_epochs.steps == 5 * (6 // 3)
    with pytest.raises(SettingError, match=r"^batch_size 7 is larger than the 6 training"):
        spec_settings(spec, path="m.toml", text=MLP_SPEC, batch_size=7)


@pytest.mark.parametrize(("default", "chunk", "chosen"), [
    (57, 1000, 50),     # the README's example: synthetic:100000, batch 32, 3 epochs
    (610, 500, 500),    # issue 21: 400,000 examples, --checkpoint-every 500
    (48, 20000, 40),    # issue 21: a 5-feature CSV, --checkpoint-every 20000
    (57, 997, 997),     # a prime: the largest divisor below is 1, so the one above
    (1, 7, 1),
])
def test_the_default_eval_every_fits_an_explicit_checkpoint_every(default, chunk, chosen):
    assert eval_every_for_chunks(default, chunk) == chosen


@given(default=st.integers(1, 5000), chunk=st.integers(1, 5000))
def test_the_fitted_eval_every_divides_the_chunk_and_stays_near_the_default(default, chunk):
    chosen = eval_every_for_chunks(default, chunk)
    assert chunk % chosen == 0
    # at most twice the default's records, or fewer; one per chunk when chunks are shorter
    assert default / 2 <= chosen <= default or chosen > default or chosen == chunk


def test_the_readmes_checkpoint_example_is_not_refused():
    data = named_data("synthetic:100000")
    settings = make_settings(data, optimizer="adam", learning_rate=0.01, batch_size=32,
                             epochs=3, seed=7, chunk_steps=1000)
    assert (settings.steps, settings.chunk_steps, settings.eval_every) == (9375, 1000, 50)
    with pytest.raises(SettingError, match="must be a multiple of eval_every 57"):
        make_settings(data, optimizer="adam", learning_rate=0.01, batch_size=32, epochs=3,
                      seed=7, chunk_steps=1000, eval_every=57)  # an explicit one still must fit
