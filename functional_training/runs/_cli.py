"""The command-line machinery both front doors use.

``python -m functional_training`` and ``python -m comparisons`` build their
parsers from :class:`ArgumentParser` and run their handlers through
:func:`run_handler`, so both answer bad input the same way:

- bad usage (unknown flag, invalid value): ``<prog>: error: <one line>``, exit 2;
- bad input found by a handler (``ValueError``, ``TypeError``, ``OSError``,
  ``MemoryError``, ``OverflowError``): ``error: <one line>``, exit 2;
- Ctrl-C: ``interrupted``, exit 130;

always one line on stderr and never a traceback.

Started as a program (``python -m ...`` or a console script), a command first gives
JAX one CPU device per core (:func:`functional_training._cores.default_to_all_cores`,
unless the user set a count), so that sweeps use every core.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.progress import Progress, TimeElapsedColumn

from functional_training._cores import default_to_all_cores
from functional_training._interrupts import (
    EXIT_INTERRUPTED,
    end_program,
    interrupted,
    launched_as_program,
    raise_if_interrupted,
    raise_on_interrupt,
)
from functional_training._messages import one_line

EXIT_USAGE = 2
"""Exit status of bad usage or bad input."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line and exit 2, with no usage dump.

    Subcommand parsers made with ``add_subparsers`` are of this class too.

    Example:
      >>> import contextlib, io
      >>> parser = ArgumentParser(prog="demo")
      >>> _ = parser.add_argument("--steps", type=int)
      >>> with contextlib.redirect_stderr(io.StringIO()) as err:
      ...     try:
      ...         parser.parse_args(["--steps", "many"])
      ...     except SystemExit as stop:
      ...         print(stop.code)
      2
      >>> err.getvalue()
      "demo: error: argument --steps: invalid int value: 'many'\\n"
    """

    def error(self, message: str) -> None:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)}\n")


def attach_negative_values(argv: Sequence[str], *, options=("--learning-rates",)) -> list[str]:
    """``--learning-rates -0.1:0.5:5`` as ``--learning-rates=-0.1:0.5:5``.

    argparse takes a value starting with ``-`` for an option and answers
    "expected one argument"; attaching it lets the option's own check say what
    is wrong with the value. Only values with a ``:`` (a range) are attached.

    Args:
      argv: the command line, without the program name.
      options: the options whose values may start with ``-``.

    Example:
      >>> attach_negative_values(["sweep", "--learning-rates", "-0.1:0.5:5"])
      ['sweep', '--learning-rates=-0.1:0.5:5']
    """
    fixed: list[str] = []
    for token in argv:
        if fixed and fixed[-1] in options and token.startswith("-") and ":" in token:
            fixed[-1] = f"{fixed[-1]}={token}"
        else:
            fixed.append(token)
    return fixed


def run_handler(handler: Callable[..., int], *args) -> int:
    """``handler(*args)``, with bad input and Ctrl-C turned into one line on stderr.

    While the handler runs, SIGINT raises ``KeyboardInterrupt`` and is recorded
    (``functional_training._interrupts``): an interrupt that library code
    swallowed still ends the command with 130 (at the next progress tick or
    output file, or when the handler returns), and so does any exception a
    recorded interrupt turned into. In one of the programs (``python -m
    functional_training``, ``python -m comparisons``) an interrupted command
    then ends the process at once (no interpreter teardown). In one of the
    programs the handler runs with one JAX CPU device per core
    (:func:`functional_training._cores.default_to_all_cores`: not where the user
    set a count, nor where JAX has started); a program that calls this function
    itself keeps its own devices.

    Returns:
      The handler's exit status; 2 after ``error: <one line>`` for a
      ``ValueError``, ``TypeError``, ``OSError``, ``MemoryError`` (``error: out
      of memory: ...``) or ``OverflowError``; 130 after ``interrupted`` for
      ``KeyboardInterrupt`` (or a handler that reported its own interruption
      and returned 130).

    Example:
      >>> import contextlib, io
      >>> def refuse():
      ...     raise ValueError("--steps must be\\nan integer")
      >>> with contextlib.redirect_stderr(io.StringIO()) as err:
      ...     code = run_handler(refuse)
      >>> code, err.getvalue()
      (2, 'error: --steps must be an integer\\n')
    """
    if launched_as_program():
        default_to_all_cores()
    with raise_on_interrupt():
        try:
            code = handler(*args)
        except KeyboardInterrupt:
            code = _interrupted()
        except Exception as err:
            if interrupted():  # whatever a recorded interrupt became on its way out
                code = _interrupted()
            elif isinstance(err, MemoryError):  # e.g. numpy's ArrayMemoryError: too large a run
                code = _refuse(f"out of memory: {err}")
            elif isinstance(err, (ValueError, TypeError, OSError, OverflowError)):
                code = _refuse(str(err))
            else:
                raise
        else:
            if interrupted() and code != EXIT_INTERRUPTED:  # swallowed on the way
                code = _interrupted()
    end_program(code)
    return code


def _interrupted() -> int:
    print("interrupted", file=sys.stderr)
    return EXIT_INTERRUPTED


def _refuse(message: str) -> int:
    print(f"error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


PIPE_WIDTH = 100
"""Columns of output that is not a terminal (a pipe, a file): rich's default is 80."""


def make_console(*, stderr: bool = False) -> Console:
    """A rich console for stdout (or stderr): the terminal's width, or :data:`PIPE_WIDTH`.

    Example:
      >>> make_console().width  # doctest output is not a terminal
      100
    """
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=PIPE_WIDTH)


def print_table(console: Console, table) -> None:
    """Print a rich table; off a terminal at its natural width if wider than the console's.

    A pipe has no width to respect, so nothing is squeezed: no header or cell is
    cut short with an ellipsis and no word is broken.
    """
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(10**6)).maximum
    if natural > console.width:  # a console prints no wider than its own width
        console = Console(file=console.file, width=natural, no_color=console.no_color,
                          force_terminal=False)
    console.print(table)


@contextlib.contextmanager
def progress(total: int, label: str, *, console: Console | None = None,
             force: bool = False) -> Iterator:
    """A transient progress bar on a terminal (or with ``force``); else nothing at all.

    Yields:
      ``advance(description, done=1)``: ``done`` more items finished (0: only
      show ``description``, the item now running). Each call first raises a
      Ctrl-C that library code swallowed (``functional_training._interrupts``).
    """
    if console is None:
        console = Console(stderr=True)
    if force and not console.is_terminal:
        console = Console(file=console.file, force_terminal=True)
    with Progress(*Progress.get_default_columns(), TimeElapsedColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=total)

        def advance(description: str, done: int = 1) -> None:
            raise_if_interrupted()
            bar.update(task, advance=done, description=description)

        yield advance
