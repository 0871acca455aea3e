"""comparisons/manifest.py: experiments in a manifest, exactly, and where they came from.

(Writing a comparison manifest and rerunning it: test_rerun.py.)
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from comparisons.experiments import REGISTRY
from comparisons.manifest import (
    experiment_from_json,
    experiment_to_json,
    origin_of,
    split_policy,
)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_experiment_survives_strict_json_exactly(name):
    experiment = REGISTRY[name]
    text = json.dumps(experiment_to_json(experiment), allow_nan=False)
    assert experiment_from_json(json.loads(text)) == experiment  # floats bit for bit


def test_a_missing_key_is_one_line_naming_where():
    data = experiment_to_json(REGISTRY["five-steps"])
    del data["steps"]
    with pytest.raises(ValueError) as caught:
        experiment_from_json(data, where="runs[0].experiment")
    message = str(caught.value)
    assert message.startswith("runs[0].experiment") and "steps" in message
    assert "\n" not in message


def test_origin_is_the_registry_only_for_its_own_entry():
    five = REGISTRY["five-steps"]
    assert origin_of(five) == "registry"
    assert origin_of(dataclasses.replace(five)) == "spec"  # an equal copy read from a spec


def test_split_policy_counts_examples():
    assert split_policy(REGISTRY["single-update"]) == (
        "all 1 example train; no validation set")
    assert split_policy(REGISTRY["shared-path"]) == "no data: the loss is a * a"
