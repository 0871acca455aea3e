"""Ctrl-C in the project's programs: one line ``interrupted``, exit 130, never a traceback.

The programs are ``python -m functional_training`` and ``python -m comparisons``
(and their console scripts). A SIGINT can arrive in three phases, each handled
its own way:

1. Start-up: the imports, before any command runs (1 to 3 s of JAX, pyarrow,
   torch). Nothing has been written yet, and an exception raised inside a
   native module's initialisation can leave it half set up (observed: tracebacks
   of 20 to 90 lines, and crashes with SIGSEGV or SIGABRT). So the process
   writes ``interrupted`` and ends at once with status 130
   (:func:`stop_cleanly_during_start_up`, run on import of this module, which
   is the first import of ``functional_training/__init__.py`` and of
   ``comparisons/__init__.py``; it acts only when this process is one of the
   programs: importing the packages from your own code changes no handler).
2. A command (``functional_training.runs.run_handler``, :func:`raise_on_interrupt`):
   the interrupt is recorded and raised as ``KeyboardInterrupt``, so that the
   command unwinds (an atomic write removes its temporary file, ``train`` names
   its latest checkpoint) and ``run_handler`` answers ``interrupted``, 130. Python
   cannot raise out of a garbage-collection callback or a ``__del__``: there it
   prints "Exception ignored ... KeyboardInterrupt" with a traceback and carries
   on (observed: JAX's ``_xla_gc_callback``, after which ``comparisons run``
   finished with exit 0). While a command runs, such a swallowed interrupt is
   not printed but delivered again a moment later (``sys.unraisablehook``, then
   ``_thread.interrupt_main`` from a timer), so it is raised in the command's own
   code. Other code can swallow it too (a bare ``except:``), so the record is kept:
   :func:`raise_if_interrupted` raises it again at every progress tick and before
   every output file is written, and ``run_handler`` turns any ending of a
   recorded interrupt into 130. A second Ctrl-C ends the program at once.
3. After an interrupted command the program ends with ``os._exit(130)`` once
   stdout and stderr are flushed (:func:`end_program`): interpreter teardown
   with XLA work cut short crashed with SIGSEGV after ``interrupted`` was printed.

Standard library only, so the package's first line can install phase 1 before
anything heavy is imported.
"""

from __future__ import annotations

import _thread
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""

PROGRAMS = ("functional_training", "comparisons")
"""The packages run as ``python -m NAME``."""

SCRIPTS = ("functional-training", "comparisons")
"""The console scripts (``[project.scripts]``)."""

REDELIVERY_DELAY_S = 0.01
"""How long after a swallowed interrupt it is delivered again."""

_OPTIONS_WITH_VALUE = ("-X", "-W")

_interrupts = 0
"""SIGINTs received while a command runs (reset by :func:`raise_on_interrupt`)."""

_redelivering = False
"""The next SIGINT handler call delivers a swallowed interrupt again (not a new Ctrl-C)."""


def launched_as_program(orig_argv: list[str] | None = None, argv0: str | None = None) -> bool:
    """Whether this process is ``python -m functional_training``/``comparisons`` or a script.

    Read from ``sys.orig_argv`` (the interpreter's own command line) and
    ``sys.argv[0]``; a test runner or your own program importing the package is not.

    Example:
      >>> launched_as_program(["python", "-X", "dev", "-m", "comparisons", "run"], "-m")
      True
      >>> launched_as_program(["python", "-m", "pytest"], "-m")
      False
      >>> launched_as_program(["/venv/bin/python", "/venv/bin/comparisons", "run"],
      ...                     "/venv/bin/comparisons")
      True
    """
    args = list(getattr(sys, "orig_argv", []) if orig_argv is None else orig_argv)
    argv0 = (sys.argv[0] if sys.argv else "") if argv0 is None else argv0
    skip = False
    for i, arg in enumerate(args[1:], start=1):
        if skip:
            skip = False
            continue
        if arg == "-m":
            return i + 1 < len(args) and args[i + 1] in PROGRAMS
        if arg.startswith("-m"):
            return arg[2:] in PROGRAMS
        if arg in _OPTIONS_WITH_VALUE:
            skip = True
            continue
        if not arg.startswith("-") or arg in ("-c", "-"):
            break
    return Path(argv0).name in SCRIPTS


def _say_and_exit(signum=None, frame=None) -> None:
    """Write ``interrupted`` and end the process with 130, running no Python cleanup."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os.write(2, b"interrupted\n")
    os._exit(EXIT_INTERRUPTED)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def stop_cleanly_during_start_up() -> None:
    """Phase 1: in one of the programs, a SIGINT before a command runs ends it at once.

    Does nothing when this process is not one of the programs, off the main
    thread, or when SIGINT already has a handler other than Python's default.
    """
    if not (_in_main_thread() and launched_as_program()):
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _say_and_exit)


def _record_and_raise(signum, frame) -> None:
    global _interrupts, _redelivering
    if _redelivering:
        _redelivering = False
    else:
        _interrupts += 1
        if _interrupts > 1 and launched_as_program():
            _say_and_exit()
    raise KeyboardInterrupt


def _deliver_again(unraisable, *, previous) -> None:
    """``sys.unraisablehook``: a swallowed interrupt is raised again, not printed."""
    global _redelivering
    if _interrupts and issubclass(unraisable.exc_type, KeyboardInterrupt):
        # Not from here: the handler would run at this hook's next bytecode and be
        # swallowed again. A moment later the main thread is back in ordinary code.
        _redelivering = True
        timer = threading.Timer(REDELIVERY_DELAY_S, _thread.interrupt_main, (signal.SIGINT,))
        timer.daemon = True
        timer.start()
        return
    previous(unraisable)


@contextlib.contextmanager
def raise_on_interrupt() -> Iterator[None]:
    """Phase 2: while the block runs, SIGINT is recorded and raised as ``KeyboardInterrupt``.

    An interrupt swallowed where Python cannot raise (a garbage-collection
    callback, a ``__del__``) is delivered again instead of printed. The previous
    handler and hook are restored afterwards. Off the main thread (where no
    handler can be set) the block runs with the handler it has.
    """
    global _interrupts, _redelivering
    _interrupts, _redelivering = 0, False
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _record_and_raise)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_deliver_again, previous=previous_hook)
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGINT, previous)


def interrupted() -> bool:
    """Whether a SIGINT arrived while the current (or last) command ran."""
    return _interrupts > 0


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT arrived, even one that code swallowed since.

    Called at progress ticks and before output files are written, so a
    swallowed interrupt still stops the work and writes nothing.
    """
    if _interrupts:
        raise KeyboardInterrupt


def end_program(code: int) -> None:
    """Phase 3: in one of the programs, end an interrupted run now (flushed, no teardown).

    Returns (and the caller returns ``code``) when this process is not one of
    the programs or ``code`` is not :data:`EXIT_INTERRUPTED`.
    """
    if code != EXIT_INTERRUPTED or not launched_as_program():
        return
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


# Phase 1 starts on import: functional_training/__init__.py imports this module first.
stop_cleanly_during_start_up()
