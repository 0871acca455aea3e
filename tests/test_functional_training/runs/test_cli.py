"""One command-line machinery and one rerun behind both front doors.

``python -m functional_training`` and ``python -m comparisons`` share
``functional_training.runs``' parser class, handler wrapper and ``rerun``: bad
usage and bad input are one line and exit 2, Ctrl-C is one line ``interrupted``
and exit 130, and either front door reruns any tool's manifest.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from cli_helpers import assert_one_line, run_cli, run_module

import comparisons.rerun
from comparisons import cli as comparisons_cli
from functional_training import cli as functional_cli
from functional_training import runs

FRONT_DOORS = {
    # name: (a command whose handler a test replaces, the handler's module attribute)
    "functional_training": (["devices"], "functional_training.cli._devices"),
    "comparisons": (["faults"], "comparisons.cli._cmd_faults"),
}


# --- the one machinery ---------------------------------------------------------------------


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_a_bad_flag_exits_2_with_one_line(capsys, door):
    command, _ = FRONT_DOORS[door]
    code, out, err = run_cli(capsys, door, *command, "--colour", "red")
    assert (code, out) == (2, "")
    assert_one_line(err)
    assert err == f"python -m {door}: error: unrecognized arguments: --colour red\n"


@pytest.mark.parametrize("door", FRONT_DOORS)
@pytest.mark.parametrize("error", [ValueError("bad\n  input"), TypeError("bad input"),
                                   OSError("bad input"), OverflowError("bad input")])
def test_a_handler_refusing_its_input_exits_2_with_one_line(capsys, monkeypatch, door, error):
    command, handler = FRONT_DOORS[door]

    def refuse(*args):
        raise error

    monkeypatch.setattr(handler, refuse)
    code, out, err = run_cli(capsys, door, *command)
    assert (code, out) == (2, "")
    assert_one_line(err)
    assert err == "error: bad input\n"


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_a_handler_out_of_memory_exits_2_with_one_line(capsys, monkeypatch, door):
    command, handler = FRONT_DOORS[door]

    def exhaust(*args):
        raise MemoryError("Unable to allocate 373. GiB")

    monkeypatch.setattr(handler, exhaust)
    code, out, err = run_cli(capsys, door, *command)
    assert (code, out) == (2, "")
    assert_one_line(err)
    assert err == "error: out of memory: Unable to allocate 373. GiB\n"


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_ctrl_c_exits_130_with_one_line_and_no_traceback(capsys, monkeypatch, door):
    command, handler = FRONT_DOORS[door]

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(handler, interrupted)
    code, out, err = run_cli(capsys, door, *command)
    assert (code, out) == (130, "")
    assert_one_line(err)
    assert err == "interrupted\n"


def test_both_front_doors_build_on_the_one_parser_class():
    for parser in (functional_cli.build_parser(), comparisons_cli.build_parser()):
        assert isinstance(parser, runs.ArgumentParser)
        commands = next(a for a in parser._actions if a.dest == "command")
        assert all(isinstance(p, runs.ArgumentParser) for p in commands.choices.values())
        assert commands.choices["rerun"].get_default("handler") in (
            runs.rerun_command, comparisons_cli._cmd_rerun)


def test_no_duplicate_machinery_is_left_in_the_front_doors():
    for module in (functional_cli, comparisons_cli):
        assert not hasattr(module, "_Parser") and not hasattr(module, "_one_line")
    # comparisons.rerun plans comparisons experiments; the report and the rule are the one rerun's.
    assert comparisons.rerun.first_difference is runs.first_difference
    assert comparisons.rerun.RerunReport is runs.RerunReport


# --- the one rerun -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> dict[str, Path]:
    """A comparisons manifest and report, and a train manifest and report."""
    directory = tmp_path_factory.mktemp("manifests")
    paths = {name: directory / f"{name}.json"
             for name in ("comparisons", "comparisons-report", "train", "train-report")}
    assert comparisons_cli.main([
        "run", "--experiment", "single-update", "--backend", "engine",
        "--manifest", str(paths["comparisons"]), "--json", str(paths["comparisons-report"]),
    ]) == 0
    assert functional_cli.main([
        "train", "--data", "one-shipment", "--optimizer", "sgd", "--learning-rate", "0.1",
        "--steps", "3", "--manifest", str(paths["train"]), "--json", str(paths["train-report"]),
    ]) == 0
    return paths


@pytest.mark.parametrize("door", FRONT_DOORS)
@pytest.mark.parametrize("recorded", ["comparisons", "comparisons-report", "train",
                                      "train-report"])
def test_either_front_door_reruns_any_tools_manifest(capsys, manifests, door, recorded):
    code, out, err = run_cli(capsys, door, "rerun", manifests[recorded])
    assert (code, err) == (0, ""), out
    tool = "comparisons run" if recorded.startswith("comparisons") else "functional_training train"
    assert out.startswith(f"rerun of {tool} from {manifests[recorded]} (float64)\n")
    assert "EQUAL" in out.splitlines()[-1]


@pytest.mark.parametrize("recorded", ["comparisons-report", "train-report"])
def test_both_front_doors_print_the_same_rerun(capsys, manifests, recorded):
    outputs = [run_cli(capsys, door, "rerun", manifests[recorded]) for door in FRONT_DOORS]
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("door", FRONT_DOORS)
def test_an_unknown_tool_exits_2_with_one_line_naming_it(capsys, manifests, tmp_path, door):
    manifest = json.loads(manifests["train"].read_text())
    manifest["tool"] = "make"
    path = tmp_path / "make.json"
    path.write_text(json.dumps(manifest))
    code, out, err = run_cli(capsys, door, "rerun", path)
    assert (code, out) == (2, "")
    assert_one_line(err)
    assert err == ("error: manifest was written by 'make': no rerunner is installed for it "
                   "(known: comparisons all, comparisons run, functional_training sweep, "
                   "functional_training train)\n")


def test_comparisons_rerunners_are_installed_entry_points():
    assert runs.ENTRY_POINT_GROUP == "functional_training.rerunners"
    for tool in ("comparisons run", "comparisons all"):
        assert runs.rerunner_for(tool) is comparisons.rerun.rerun_comparisons


@pytest.mark.slow
def test_a_train_rerun_through_comparisons_in_a_fresh_process(manifests):
    result = run_module("comparisons", "rerun", manifests["train"])
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert "trajectory: EQUAL to the recorded one (3 steps" in result.stdout


@pytest.mark.slow
def test_a_comparisons_rerun_through_functional_training_in_a_fresh_process(manifests):
    result = run_module("functional_training", "rerun", manifests["comparisons"])
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout.splitlines()[-1] == (
        "rerun: the experiment is EQUAL to the recorded trajectories")


def test_run_handler_keeps_no_interrupt_from_an_earlier_command():
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert runs.run_handler(lambda: 0) == 0
    assert err.getvalue() == ""
