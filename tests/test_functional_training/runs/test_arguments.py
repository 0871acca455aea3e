"""``functional_training.runs._arguments``: the shared options, declared once with one default."""

from __future__ import annotations

import argparse

import pytest

from functional_training.runs._arguments import (
    DEFAULT_DTYPE,
    add_batch_size_option,
    add_data_option,
    add_dtype_option,
    add_json_option,
    add_optimizer_option,
    add_seed_option,
    add_steps_option,
)

SHARED = (add_data_option, add_steps_option, add_seed_option, add_batch_size_option,
          add_optimizer_option)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(exit_on_error=False)
    for add in SHARED:
        add(parser, note="in this program")
    add_dtype_option(parser)
    add_json_option(parser, what="the report")
    return parser


def test_each_shared_option_has_one_default():
    args = _parser().parse_args([])
    assert vars(args) == {"data": None, "steps": None, "seed": None, "batch_size": None,
                          "optimizer": None, "dtype": DEFAULT_DTYPE, "json": None}
    assert DEFAULT_DTYPE == "float64"


def test_shared_options_parse_and_refuse_as_one():
    args = _parser().parse_args(["--data", "synthetic:1_000", "--steps", "5", "--seed", "0",
                                 "--batch-size", "4", "--optimizer", "adam", "--dtype",
                                 "float32", "--json", "r.json"])
    assert (args.data, args.steps, args.seed, args.batch_size, args.optimizer, args.dtype,
            args.json) == ("synthetic:1000", 5, 0, 4, "adam", "float32", "r.json")
    with pytest.raises(argparse.ArgumentError, match="must be an integer > 0, got '0'"):
        _parser().parse_args(["--steps", "0"])


def test_a_program_note_is_shown_in_the_help():
    text = _parser().format_help()
    assert "examples per gradient step (default: full batch; in this program)" in " ".join(
        text.split())


def test_a_different_dtype_default_needs_its_reason():
    with pytest.raises(ValueError, match="a default other than float64 needs its reason"):
        add_dtype_option(argparse.ArgumentParser(), default="float32")
    parser = argparse.ArgumentParser()
    add_dtype_option(parser, default="float32", why="the accelerators' precision")
    assert parser.parse_args([]).dtype == "float32"
    assert "(default float32: the accelerators' precision)" in " ".join(
        parser.format_help().split())
