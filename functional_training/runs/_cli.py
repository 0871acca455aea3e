"""The command-line machinery both front doors use.

``python -m functional_training`` and ``python -m comparisons`` build their
parsers from :class:`ArgumentParser` and run their handlers through
:func:`run_handler`, so both answer bad input the same way:

- bad usage (unknown flag, invalid value): ``<prog>: error: <one line>``, exit 2;
- bad input found by a handler (``ValueError``, ``TypeError``, ``OSError``,
  ``MemoryError``, ``OverflowError``): ``error: <one line>``, exit 2;
- Ctrl-C: ``interrupted``, exit 130;

always one line on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence

from rich.console import Console
from rich.progress import Progress

EXIT_USAGE = 2
"""Exit status of bad usage or bad input."""

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""


def one_line(message) -> str:
    """``message`` with every run of whitespace (newlines included) squashed to one space.

    Example:
      >>> one_line("first line\\n  second\\tline ")
      'first line second line'
    """
    return " ".join(str(message).split())


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

    Returns:
      The handler's exit status; 2 after ``error: <one line>`` for a
      ``ValueError``, ``TypeError``, ``OSError``, ``MemoryError`` (``error: out
      of memory: ...``) or ``OverflowError``; 130 after ``interrupted`` for
      ``KeyboardInterrupt``.

    Example:
      >>> import contextlib, io
      >>> def refuse():
      ...     raise ValueError("--steps must be\\nan integer")
      >>> with contextlib.redirect_stderr(io.StringIO()) as err:
      ...     code = run_handler(refuse)
      >>> code, err.getvalue()
      (2, 'error: --steps must be an integer\\n')
    """
    try:
        return handler(*args)
    except (ValueError, TypeError, OSError, OverflowError) as err:
        return _refuse(str(err))
    except MemoryError as err:  # e.g. numpy's ArrayMemoryError for a run too large to hold
        return _refuse(f"out of memory: {err}")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _refuse(message: str) -> int:
    print(f"error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


@contextlib.contextmanager
def progress(total: int, label: str, *, console: Console | None = None) -> Iterator:
    """A transient progress bar on a terminal; nothing at all when output is not one.

    Yields:
      ``advance(description)``: one more item done.
    """
    console = Console(stderr=True) if console is None else console
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda description: bar.update(task, advance=1, description=description)
