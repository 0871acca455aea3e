"""Plug-in backends: discovery through entry points, and the example NumPy backend.

Discovery is tested with fake entry points (``importlib.metadata.entry_points``
patched) and fake modules; the example (``examples/numpy-backend``) is run in
process through every registry experiment, and once installed for real (editable)
into a throwaway virtual environment whose command line then runs it.
"""

from __future__ import annotations

import doctest
import functools
import importlib.metadata
import importlib.util
import json
import shutil
import site
import subprocess
import sys
import sysconfig
import types
from dataclasses import replace
from pathlib import Path

import pytest

import comparisons.backends as backends
from comparisons.backends import (
    BACKEND_NAMES,
    ENTRY_POINT_GROUP,
    BackendUnavailable,
    BackendUnsupported,
    available_backends,
    backend_names,
    clear_backend_cache,
    computes_in,
    get_backend,
    plugin_problems,
)
from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY
from comparisons.spec import load_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "numpy-backend"
MODULE_NAME = "comparisons_numpy_backend"
BUILT_IN_STATUS = {name: None for name in BACKEND_NAMES}


@pytest.fixture(autouse=True)
def fresh_discovery():
    """Every test discovers plug-ins afresh and leaves no discovered plug-in behind."""
    clear_backend_cache()
    yield
    clear_backend_cache()


def install_entry_points(monkeypatch, *points: tuple[str, str]) -> list[int]:
    """Make ``(name, value)`` the group's entry points; returns a list counting the reads."""
    real = importlib.metadata.entry_points
    reads: list[int] = []
    fake = importlib.metadata.EntryPoints(
        importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in points)

    def entry_points(**params):
        if params.get("group") == ENTRY_POINT_GROUP:
            reads.append(1)
            return fake
        return real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    return reads


def fake_module(monkeypatch, name: str, **attributes) -> types.ModuleType:
    """A module importable as ``name`` for this test only."""
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def manual_copy(**overrides) -> dict:
    """The attributes of a working plug-in: the manual backend under another name."""
    from comparisons.backends import manual

    return {"run": manual.run, "DESCRIPTION": "the manual backend again", "REQUIRES": (),
            "INSTALL_HINT": "nothing to install", **overrides}


# --- discovery -------------------------------------------------------------------------


def test_without_plug_ins_the_built_ins_are_all():
    assert backend_names() == BACKEND_NAMES == ("manual", "engine", "torch", "jax")
    assert plugin_problems() == ()


def test_a_plug_in_follows_the_built_ins_and_runs(monkeypatch):
    fake_module(monkeypatch, "fake_backend_ok", **manual_copy(COMPUTES_IN="float64 (copied)"))
    install_entry_points(monkeypatch, ("zeta", "fake_backend_ok"), ("copy", "fake_backend_ok"))
    assert backend_names() == (*BACKEND_NAMES, "copy", "zeta")  # plug-ins sorted by name
    assert available_backends() == BUILT_IN_STATUS | {"copy": None, "zeta": None}
    backend = get_backend("copy")
    assert (backend.description, backend.origin, backend.problem) == (
        "the manual backend again", "plug-in", None)
    assert computes_in("copy", "float32") == "float64 (copied)"
    assert backend.run(REGISTRY["five-steps"]) == get_backend("manual").run(REGISTRY["five-steps"])
    _, verdict = run_and_compare(REGISTRY["five-steps"], backends=["manual", "copy"])
    assert verdict.agree and list(verdict.backends) == ["copy"]
    assert plugin_problems() == ()


def test_an_entry_point_may_name_an_object_in_a_module(monkeypatch):
    fake_module(monkeypatch, "fake_backend_holder",
                backend=types.SimpleNamespace(**manual_copy()))
    install_entry_points(monkeypatch, ("held", "fake_backend_holder:backend"))
    assert get_backend("held").run(REGISTRY["single-update"]).params["w"] == [1.0, 1.8]


def test_a_name_clash_with_a_built_in_is_ignored_and_reported(monkeypatch):
    fake_module(monkeypatch, "fake_backend_ok", **manual_copy(DESCRIPTION="an impostor"))
    install_entry_points(monkeypatch, ("manual", "fake_backend_ok"))
    assert backend_names() == BACKEND_NAMES
    assert get_backend("manual").description != "an impostor"
    assert get_backend("manual").module == "comparisons.backends.manual"
    assert plugin_problems() == (
        "plug-in backend 'manual' ('fake_backend_ok', plug-in) ignored: 'manual' is a "
        "built-in backend; rename the entry point",)


def test_a_second_plug_in_of_the_same_name_is_ignored_and_reported(monkeypatch):
    fake_module(monkeypatch, "fake_backend_one", **manual_copy(DESCRIPTION="first"))
    fake_module(monkeypatch, "fake_backend_two", **manual_copy(DESCRIPTION="second"))
    install_entry_points(monkeypatch, ("twin", "fake_backend_one"), ("twin", "fake_backend_two"))
    assert backend_names() == (*BACKEND_NAMES, "twin")
    assert get_backend("twin").description == "first"
    [line] = plugin_problems()
    assert line == ("plug-in backend 'twin' ('fake_backend_two', plug-in) ignored: 'twin' is "
                    "already registered by 'fake_backend_one' (plug-in)")


def broken_status(name: str) -> str:
    """The broken plug-in's line; the built-ins are untouched and still run."""
    status = available_backends()
    assert {n: status[n] for n in BACKEND_NAMES} == BUILT_IN_STATUS
    assert get_backend("manual").run(REGISTRY["five-steps"]).steps == 5
    line = status[name]
    assert line is not None and "\n" not in line
    assert plugin_problems() == (line,)
    assert computes_in(name, "float32") == "float32"
    with pytest.raises(BackendUnavailable) as err:
        get_backend(name).run(REGISTRY["five-steps"])
    assert str(err.value) == f"{name} backend unavailable: {line}"
    _, verdict = run_and_compare(REGISTRY["five-steps"], backends=[*BACKEND_NAMES, name])
    assert verdict.agree and verdict.unavailable == {name: str(err.value)}
    return line


def test_a_plug_in_that_is_not_installed_is_unavailable_with_the_reason(monkeypatch):
    install_entry_points(monkeypatch, ("ghost", "no_such_backend_module"))
    assert backend_names() == (*BACKEND_NAMES, "ghost")
    assert broken_status("ghost") == (
        "plug-in backend 'ghost' ('no_such_backend_module', plug-in): import failed: "
        "ModuleNotFoundError: No module named 'no_such_backend_module'")


def test_a_plug_in_whose_import_raises_is_unavailable_with_the_reason(monkeypatch, tmp_path):
    (tmp_path / "fake_backend_boom.py").write_text(
        "raise RuntimeError('no GPU here\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_backend_boom", raising=False)
    install_entry_points(monkeypatch, ("boom", "fake_backend_boom"))
    assert broken_status("boom") == (
        "plug-in backend 'boom' ('fake_backend_boom', plug-in): import failed: "
        "RuntimeError: no GPU here")


def test_a_plug_in_missing_an_attribute_is_unavailable_with_the_reason(monkeypatch):
    attributes = manual_copy()
    del attributes["INSTALL_HINT"], attributes["DESCRIPTION"]
    fake_module(monkeypatch, "fake_backend_partial", **attributes)
    install_entry_points(monkeypatch, ("partial", "fake_backend_partial"))
    assert broken_status("partial") == (
        "plug-in backend 'partial' ('fake_backend_partial', plug-in): missing DESCRIPTION, "
        "INSTALL_HINT (see docs/backends.md)")


def test_a_plug_in_with_a_wrong_attribute_type_is_unavailable(monkeypatch):
    fake_module(monkeypatch, "fake_backend_typo", **manual_copy(REQUIRES="numpy", run=None))
    install_entry_points(monkeypatch, ("typo", "fake_backend_typo"))
    assert broken_status("typo").endswith(": wrong type: run, REQUIRES (see docs/backends.md)")


def test_a_plug_in_with_a_missing_library_shows_its_install_hint(monkeypatch):
    fake_module(monkeypatch, "fake_backend_needy",
                **manual_copy(REQUIRES=("no_such_library",), INSTALL_HINT="pip install it"))
    install_entry_points(monkeypatch, ("needy", "fake_backend_needy"))
    assert available_backends()["needy"] == "pip install it"
    assert get_backend("needy").missing().startswith("cannot import no_such_library")


def test_a_declined_experiment_is_recorded_not_raised(monkeypatch):
    def supports(experiment):
        return None if experiment.model == "linear" else "no networks, sorry"

    fake_module(monkeypatch, "fake_backend_picky", **manual_copy(supports=supports))
    install_entry_points(monkeypatch, ("picky", "fake_backend_picky"))
    picky = get_backend("picky")
    assert picky.supports(REGISTRY["five-steps"]) is None
    with pytest.raises(BackendUnsupported, match="^picky backend does not run mlp/tanh-regression: "
                                                 "no networks, sorry$"):
        picky.run(REGISTRY["mlp/tanh-regression"])
    with pytest.raises(ValueError, match="needs a learning_rate"):  # invalid is still invalid
        picky.run(replace(REGISTRY["mlp/tanh-regression"], hyperparams={}))
    _, verdict = run_and_compare(REGISTRY["softmax/delay-class"], backends=["manual", "picky"])
    assert verdict.agree and not verdict.backends
    assert verdict.unavailable == {
        "picky": "picky backend does not run softmax/delay-class: no networks, sorry"}


def test_discovery_is_cached_until_cleared(monkeypatch):
    reads = install_entry_points(monkeypatch)
    for _ in range(3):
        backend_names(), available_backends(), plugin_problems()
    assert len(reads) == 1
    clear_backend_cache()
    backend_names()
    assert len(reads) == 2


def test_an_unknown_name_lists_the_plug_ins_too(monkeypatch):
    fake_module(monkeypatch, "fake_backend_ok", **manual_copy())
    install_entry_points(monkeypatch, ("copy", "fake_backend_ok"))
    with pytest.raises(ValueError, match="^unknown backend 'nope'; expected one of manual, "
                                         "engine, torch, jax, copy$"):
        get_backend("nope")


# --- the example NumPy backend, in process -------------------------------------------


@pytest.fixture(scope="module")
def numpy_backend() -> types.ModuleType:
    """The example's module, loaded from its file (nothing installed, sys.path untouched)."""
    spec = importlib.util.spec_from_file_location(MODULE_NAME, EXAMPLE / f"{MODULE_NAME}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _registry_reference(name: str):
    return get_backend("manual").run(REGISTRY[name])


def reference(experiment):
    """The manual trajectory (registry experiments' computed once: d2l takes 3 s)."""
    if REGISTRY.get(experiment.name) is experiment:
        return _registry_reference(experiment.name)
    return get_backend("manual").run(experiment)


def linear_variants() -> list:
    """What the registry's linear experiments do not: L2, schedules, hinge, squared error."""
    logistic = REGISTRY["logistic/late-shipments"]
    signs = tuple((*row[:-1], 2 * row[-1] - 1) for row in logistic.train)
    return [
        replace(REGISTRY["full-batch"], name="l2-cosine", loss="squared-error", l2=0.01,
                hyperparams={}, schedule={"kind": "cosine", "init_value": 0.05,
                                          "decay_steps": 20}),
        replace(REGISTRY["optimizer/adamw"], name="adamw-frozen-linear-schedule",
                trainable=("w",), hyperparams={"b1": 0.9, "b2": 0.999, "eps": 1e-8,
                                               "weight_decay": 0.01},
                schedule={"kind": "linear", "init_value": 0.1, "end_value": 0.01,
                          "transition_steps": 10}),
        replace(logistic, name="hinge", loss="hinge", train=signs, validation=None,
                batch_size=8, seed=4, l2=1e-3),
        replace(REGISTRY["optimizer/nesterov"], name="nesterov-exponential", hyperparams={
            "momentum": 0.9}, schedule={"kind": "exponential", "init_value": 0.02,
                                        "transition_steps": 5, "decay_rate": 0.5}),
        replace(REGISTRY["five-steps"], name="diverging", hyperparams={"learning_rate": 1e30},
                steps=12),
    ]


def test_the_example_declines_what_it_does_not_run(numpy_backend):
    declined = {name: numpy_backend.supports(e) for name, e in REGISTRY.items()
                if numpy_backend.supports(e) is not None}
    assert declined == {
        "shared-path": "it runs no shared-path experiment (a * a has no model to run)",
        "mlp/moons": "it runs the linear model only, not 'mlp'",
        "mlp/tanh-regression": "it runs the linear model only, not 'mlp'",
        "softmax/delay-class": "it runs the linear model only, not 'mlp'",
    }
    with pytest.raises(ValueError, match="^the numpy backend cannot run mlp/moons: it runs the "
                                         "linear model only, not 'mlp'$"):
        numpy_backend.run(REGISTRY["mlp/moons"])


def test_the_example_agrees_on_every_linear_experiment(numpy_backend):
    runnable = [e for e in [*REGISTRY.values(), *linear_variants()]
                if numpy_backend.supports(e) is None]
    assert len(runnable) == 19 + len(linear_variants())
    for experiment in runnable:
        trajectories = {"manual": reference(experiment),
                        "numpy": numpy_backend.run(experiment)}
        verdict = compare_trajectories(experiment, trajectories)
        assert verdict.agree, verdict.describe()
    assert trajectories["numpy"].first_nonfinite_step == 6  # the diverging one: inf is data


def test_the_example_agrees_in_float32(numpy_backend):
    for experiment in [e for e in [*REGISTRY.values(), *linear_variants()]
                       if numpy_backend.supports(e) is None and e.kind != "gradient-check"]:
        trajectories = {"manual": reference(experiment),
                        "numpy": numpy_backend.run(experiment, dtype="float32")}
        verdict = compare_trajectories(experiment, trajectories, dtype="float32")
        assert verdict.agree, verdict.describe()


def test_the_example_runs_the_linear_spec_files(numpy_backend):
    specs = [load_spec(path) for path in sorted((ROOT / "examples").glob("*.toml"))]
    linear = [spec for spec in specs if numpy_backend.supports(spec) is None]
    assert len(linear) >= 5
    for spec in linear:
        verdict = compare_trajectories(spec, {"manual": get_backend("manual").run(spec),
                                              "numpy": numpy_backend.run(spec)})
        assert verdict.agree, verdict.describe()


def test_the_example_docstrings_run(numpy_backend):
    assert doctest.testmod(numpy_backend).failed == 0


@pytest.fixture
def example_on_path(monkeypatch):
    """The example's directory on ``sys.path`` for one test; its module forgotten after."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    sys.modules.pop(MODULE_NAME, None)
    yield
    sys.modules.pop(MODULE_NAME, None)


def test_the_example_as_a_plug_in_through_every_experiment(monkeypatch, example_on_path):
    install_entry_points(monkeypatch, ("numpy", MODULE_NAME))
    assert available_backends() == BUILT_IN_STATUS | {"numpy": None}
    assert computes_in("numpy", "float32") == "float32"
    for experiment in REGISTRY.values():
        if experiment.name == "mlp/moons":  # declined as the other networks; manual takes 6 s
            continue
        _, verdict = run_and_compare(experiment, backends=["manual", "numpy"])
        assert verdict.agree, verdict.describe()
        reason = get_backend("numpy").supports(experiment)
        assert list(verdict.backends) == ([] if reason else ["numpy"])
        assert verdict.unavailable == ({"numpy": f"numpy backend does not run "
                                                 f"{experiment.name}: {reason}"} if reason else {})


# --- the example installed for real (editable) -------------------------------------------


def throwaway_venv(where: Path) -> Path:
    """A virtual environment that sees this one's packages (a ``.pth`` file); its python.

    ``venv --system-site-packages`` would see the base interpreter's packages, not
    those of the environment the tests run in; torch and JAX are not reinstalled.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    scripts = "Scripts" if sys.platform == "win32" else "bin"
    python = where / scripts / ("python.exe" if sys.platform == "win32" else "python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    ours = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    (Path(purelib) / "_tested_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in dict.fromkeys(ours)))
    return python


@pytest.mark.slow
def test_the_example_installs_editable_and_runs_on_the_command_line(tmp_path):
    source = tmp_path / "numpy-backend"  # a copy: the build never writes into the repository
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info",
                                                                    "build"))
    python = throwaway_venv(tmp_path / "venv")
    def call(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([python, *args], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done

    call("-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "-e", str(source))
    listed = call("-c", "import comparisons.backends as b; print(b.backend_names()[-1], "
                        "b.get_backend('numpy').origin, b.plugin_problems())")
    assert listed.stdout.strip() == "numpy plug-in comparisons-numpy-backend 0.1.0 ()"

    # editable: an edit to the installed source is what runs
    module = source / f"{MODULE_NAME}.py"
    module.write_text(module.read_text().replace("example plug-in:", "edited plug-in:"))
    report = tmp_path / "report.json"
    experiments = ["five-steps", "optimizer", "multi-feature", "logistic/late-shipments",
                   "gradient-check", "gradient-accumulation", "train-validation", "mini-batch",
                   "shared-path", "softmax/delay-class"]
    call("-m", "comparisons", "run", "--backend", "numpy", "--json", str(report),
         *(option for name in experiments for option in ("--experiment", name)))
    results = json.loads(report.read_text())
    assert results["all_agree"]
    compared = {e["name"]: sorted(e["backends"]) for e in results["experiments"]}
    assert compared["five-steps"] == compared["multi-feature/d2l"] == ["manual", "numpy"]
    assert compared["softmax/delay-class"] == ["manual"]
    assert results["experiments"][-1]["unavailable"] == {"numpy": (
        "numpy backend does not run softmax/delay-class: it runs the linear model only, "
        "not 'mlp'")}
    described = call("-c", "import comparisons.backends as b; "
                           "print(b.get_backend('numpy').description)")
    assert described.stdout.startswith("edited plug-in:")

    # and this environment never saw it
    assert not importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    assert backends.backend_names() == BACKEND_NAMES
