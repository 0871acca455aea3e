"""The figures command's options (comparisons.figures.arguments): defaults, refusals, help."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli

from comparisons import cli, figures
from comparisons.figures import course


def test_figure_arguments_default_and_refuse(capsys):
    parser = argparse.ArgumentParser(prog="figures")
    figures.add_figure_arguments(parser)
    args = parser.parse_args([])
    assert (args.out, args.format) == (Path("figures"), ("png", "svg"))
    assert parser.parse_args(["--out", "x", "--format", "svg"]).out == Path("x")
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--format", "gif"])
    assert caught.value.code == 2
    assert "unknown figure format 'gif'" in capsys.readouterr().err


def test_figures_help_describes_spec(capsys):
    code, out, _ = run_cli(capsys, "comparisons", "figures", "--help")
    assert code == 0
    assert "--spec FILE" in out and "decision regions" in out and "my-run-figures/" in out
    parser = cli.build_parser()
    assert parser.parse_args(["figures"]).out is None  # resolved to figures/ when run
    assert figures.output_directory(None, None) == figures.DEFAULT_OUT
    assert parser.parse_args(["all"]).out == figures.DEFAULT_OUT


def test_only_is_repeatable_and_list_prints_one_line_per_figure(capsys):
    parser = cli.build_parser()
    args = parser.parse_args(["figures", "--only", "schedules", "--only", "loss-landscape"])
    assert args.only == ["schedules", "loss-landscape"] and not args.list
    assert parser.parse_args(["figures"]).only is None
    code, out, err = run_cli(capsys, "comparisons", "figures", "--list")
    assert (code, err) == (0, "")
    assert out.splitlines() == figures.figure_list()


def test_an_unknown_figure_is_one_line_naming_the_known_ones_exit_2(capsys, tmp_path):
    code, out, err = run_cli(capsys, "comparisons", "figures", "--only", "schedules", "--only",
                             "moons", "--out", str(tmp_path))
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "unknown figure 'moons'; known: learning-rates, " in err and "loss-landscape" in err
    # with --spec, --only names the spec's own figures: a course figure's name is refused
    spec = ROOT / "examples" / "logistic-inline.toml"
    code, _, err = run_cli(capsys, "comparisons", "figures", "--only", "schedules", "--spec",
                           str(spec), "--out", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "unknown spec figure 'schedules'" in err
    assert list(tmp_path.iterdir()) == []


def test_the_help_examples_render_the_chosen_figures_and_keep_the_others(capsys, tmp_path,
                                                                        monkeypatch, data):
    # figure_data's verification ran once for the session (conftest.py): its data stands in.
    def subset(only=None, **_):
        return {**data, "figures": {n: data["figures"][n] for n in only}}

    monkeypatch.setattr(course, "figure_data", subset)
    monkeypatch.chdir(tmp_path)
    _, page, _ = run_cli(capsys, "comparisons", "figures", "--help")
    assert "python -m comparisons figures --list" in page
    # the --help example, as written (cheap figures, so the test stays short)
    code, out, err = run_cli(capsys, "comparisons", "figures", "--only", "full-batch", "--only",
                             "train-validation", "--out", "figs")
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"figs/{n}.{f}" for n in ("full-batch", "train-validation")
                                for f in ("png", "svg")] + ["figs/README.md",
                                                            "figs/figure-data.json"]
    # a second subset: only it is drawn; README and data keep the first two
    code, out, _ = run_cli(capsys, "comparisons", "figures", "--only", "mini-batch", "--out",
                           "figs", "--format", "svg")
    assert code == 0 and out.splitlines()[0] == "figs/mini-batch.svg"
    names = ["full-batch", "train-validation", "mini-batch"]
    record = json.loads((tmp_path / "figs" / figures.DATA_FILE).read_text())
    assert list(record["figures"]) == names
    readme = (tmp_path / "figs" / figures.README_FILE).read_text()
    assert readme == figures.readme_text(subset(names), ("svg",))
