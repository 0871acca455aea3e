"""functional_training/runs/_train_manifest.py: a train run's manifest, and its settings back.

``rerun`` rebuilds a run from its manifest: the settings read back from a written
manifest must be the settings that ran, for the line's flags and for a spec, and a
manifest entry that cannot be rerun is refused in one line naming its key.
"""

from __future__ import annotations

import copy

import pytest
from specs import MLP_SPEC

from functional_training import runs
from functional_training._datasets import named_data
from functional_training.runs import parse_run_spec
from functional_training.runs._train_manifest import TOOL, settings_from_run, train_manifest
from functional_training.runs._train_settings import make_settings, spec_settings
from functional_training.runs._training import run_training


@pytest.fixture(scope="module")
def line_run():
    data = named_data("shipments")
    settings = make_settings(data, optimizer="momentum", learning_rate=0.05, steps=6,
                             batch_size=2, seed=4)
    return settings, train_manifest(settings, data, run_training(settings, data))


def test_the_line_flags_manifest_is_valid_and_reads_back_as_the_same_settings(line_run):
    settings, manifest = line_run
    runs.validate_manifest(manifest)
    assert manifest["tool"] == TOOL == "functional_training train"
    [run] = manifest["runs"]
    assert run["options"]["data"] == "shipments" and run["steps"] == 6
    assert settings_from_run(run, dtype=manifest["dtype"]) == settings


def test_a_spec_runs_manifest_reads_back_as_the_same_settings():
    spec = parse_run_spec(MLP_SPEC)
    settings = spec_settings(spec, path="m.toml", text=MLP_SPEC, steps=4)
    manifest = train_manifest(settings, spec, run_training(settings, spec))
    runs.validate_manifest(manifest)
    [run] = manifest["runs"]
    assert run["options"]["run"]["steps"] == 4
    back = settings_from_run(run, dtype=manifest["dtype"])
    assert (back.run, back.steps, back.chunk_steps) == (settings.run, 4, settings.chunk_steps)


@pytest.mark.parametrize("chunk", [0, -1, True, 2.0, None])
def test_a_bad_chunk_steps_is_one_line(line_run, chunk):
    run = copy.deepcopy(line_run[1]["runs"][0])
    run["options"]["chunk_steps"] = chunk
    with pytest.raises(ValueError, match=r"^manifest: runs\[0\]\.options\.chunk_steps must be "
                                         r"an integer > 0$"):
        settings_from_run(run, dtype="float64")
