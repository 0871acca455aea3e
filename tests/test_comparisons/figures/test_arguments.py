"""The figures command's options (comparisons.figures.arguments): defaults, refusals, help."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from cli_helpers import run_cli

from comparisons import cli, figures


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
