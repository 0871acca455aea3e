"""The one record of a sweep: its strict JSON (what the digest hashes) and its manifest.

The JSON's form is written out here from its documented definition, independently
of the module: a sweep without a seed axis (the lesson's line) keeps the form its
first manifests were written in, so their digests still hold.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import functional_training as ft
from functional_training import runs
from functional_training.runs._sweep_record import sweep_digest, sweep_manifest, sweep_result_json


def _strict(values):
    """Floats as JSON numbers, non-finite ones as the strings 'Infinity', '-Infinity', 'NaN'."""
    def one(v):
        v = float(v)
        return v if np.isfinite(v) else ("NaN" if np.isnan(v) else
                                         ("Infinity" if v > 0 else "-Infinity"))
    return np.vectorize(one, otypes=[object])(np.asarray(values, np.float64)).tolist()


def _digest(record: dict) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_a_line_sweep_records_its_first_form(x64):
    result = ft.sweep_learning_rates(ft.LinearParams(1.0, 0.0), [2.0], [6.0], [0.1, 2.0],
                                     steps=400, record_every=100)
    assert not np.isfinite(result.losses[1, -1])  # lr 2 diverges: "Infinity"/"NaN" strings
    expected = {
        "learning_rates": [0.1, 2.0],
        "losses": _strict(result.losses),
        "final_params": {"w": _strict(result.final_params.w),
                         "b": _strict(result.final_params.b)},
        "first_nonfinite_step": result.first_nonfinite_step.tolist(),
        "steps": 400,
        "record_every": 100,
    }
    assert sweep_result_json(result) == expected
    assert sweep_digest(result) == _digest(expected)


def test_a_sweep_with_seeds_records_the_grid(x64):
    x, y = ft.two_moons(12, noise=0.1, seed=0)
    net = ft.objective("mlp", loss="hinge", sizes=[2, 2, 1], activation="tanh")
    result = ft.sweep(net, (x, y), learning_rates=[0.1, 0.3], seeds=[4, 7], steps=3)
    record = sweep_result_json(result)
    assert record["seeds"] == [4, 7]
    assert np.shape(record["losses"]) == (2, 2, 4) and np.shape(record["final_loss"]) == (2, 2)
    assert np.shape(record["final_params"]["layers.0.w[1,0]"]) == (2, 2)
    np.testing.assert_array_equal(record["final_params"]["layers.1.b[0]"],
                                  result.final_params.layers[1].b[..., 0])
    assert sweep_digest(result) == _digest(record)


def test_the_manifest_names_its_data_once():
    with ft.float64():
        result = ft.sweep_learning_rates(ft.LinearParams(0.0, 0.0), [2.0], [6.0], [0.1], steps=2)
    with pytest.raises(ValueError, match="give data= .* or spec="):
        sweep_manifest(result=result)
    with pytest.raises(ValueError, match="needs init="):
        sweep_manifest(result=result, data="one-shipment")
    manifest = sweep_manifest(result=result, data="one-shipment", init=(0.0, 0.0))
    run = manifest["runs"][0]
    assert manifest["tool"] == "functional_training sweep"
    assert run["results"] == {"sweep": sweep_digest(result)}
    assert run["options"]["method"] == "auto" and run["hyperparameters"] == {}


def test_a_spec_manifest_without_a_method_reruns_the_autodiff_path(tmp_path):
    # Before the one sweep, a spec's sweep always ran autodiff and recorded no method; the
    # lesson's line from a spec now takes the moments path, so such a manifest reruns autodiff.
    path = tmp_path / "line.toml"
    text = ('name = "line"\n[data]\ntrain = [[1.0, 3.1], [2.0, 4.9], [3.0, 7.2]]\n'
            '[model]\nw = 0.0\nb = 0.0\n[optimizer]\nname = "sgd"\nlearning_rate = 0.1\n'
            "[run]\nsteps = 9\n")
    path.write_text(text)
    spec = runs.parse_run_spec(text)
    kwargs = {"learning_rates": [0.05, 0.2], "seeds": [0], "steps": 9, "record_every": 3,
              "initial_params": spec.init}
    with ft.float64():
        auto = ft.sweep(spec.objective(), (spec.x, spec.y), **kwargs)
        autodiff = ft.sweep(spec.objective(), (spec.x, spec.y), method="autodiff", **kwargs)
    assert auto.method == "moments"
    for result, method in ((auto, "auto"), (autodiff, None)):
        manifest = sweep_manifest(result=result, spec=spec, spec_path=path, spec_text=text)
        if method is None:
            del manifest["runs"][0]["options"]["method"]
        report = runs.rerun(manifest)
        assert report.equal, report.lines
