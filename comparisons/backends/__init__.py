"""The backends that run an experiment: four built in, more as plug-ins; one contract.

Every backend module defines ``run(experiment, *, dtype="float64") -> TrajectoryRecord``
plus ``DESCRIPTION``, ``REQUIRES`` (the third-party modules it imports, lazily,
inside ``run``) and ``INSTALL_HINT``; one that computes in a fixed precision
whatever ``dtype`` says also defines ``COMPUTES_IN`` (see :func:`computes_in`),
and one that runs only some experiments defines ``supports(experiment) -> str |
None`` (``None``: it runs it; else the reason it does not). docs/backends.md
states the contract in full. No backend knows another exists.

Built in (:data:`BACKEND_NAMES`, in report order; one line in :data:`_MODULES` each):

- ``manual``: the lesson's formulas on Python floats, derivatives by hand.
- ``engine``: the scalar autograd engine ``comparisons.engine.Value``.
- ``torch``: ``nn.Linear`` + ``torch.optim`` (needs torch).
- ``jax``: ``functional_training`` + optax.

Plug-ins: an installed distribution adds a backend with an entry point in the
group :data:`ENTRY_POINT_GROUP` (``comparisons.backends``) naming a module with
the contract, e.g. ``numpy = "comparisons_numpy_backend"`` (``examples/numpy-backend``).
:func:`backend_names` lists the built-ins, then the plug-ins sorted by name.
Discovery reads the installed metadata once and keeps it (:func:`clear_backend_cache`
reads it again); a plug-in module is imported on first use. A plug-in that cannot
be used never breaks the built-ins: one whose module fails to import or lacks an
attribute is listed, unavailable, with the reason (:func:`available_backends`);
one whose name is taken (a built-in's, or an earlier plug-in's) is ignored. Every
such problem is one line of :func:`plugin_problems`.

Every built-in backend's ``run`` is :func:`run_loop` (the one loop,
:mod:`comparisons.backends._loop`) around its :class:`Maths`, which supplies
forward, backward and update; a plug-in may do the same. The helpers the loop
uses to accept, reject and record runs are re-exported for plug-ins that write
their own ``run``: :func:`check_run`, :func:`optimizer_settings`,
:func:`learning_rate`, :func:`trainable_names`, :func:`frozen_names`,
:class:`Recorder` and :func:`recorder_for`.

Importing this package imports neither torch nor any plug-in; a backend whose
library is missing is reported by :func:`available_backends` and raises
:class:`BackendUnavailable` when run.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> backend = get_backend("manual")
  >>> traj = backend.run(REGISTRY["five-steps"])
  >>> [round(v, 3) for v in traj.batch_loss]
  [8.0, 2.0, 0.5, 0.125, 0.031]
  >>> available_backends()["manual"] is None
  True
  >>> backend_names()[:4] == BACKEND_NAMES
  True
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from dataclasses import dataclass
from typing import Any

from comparisons.backends._common import (
    Recorder,
    check_run,
    frozen_names,
    learning_rate,
    optimizer_settings,
    trainable_names,
)
from comparisons.backends._loop import Batch, Evaluation, Loop, Maths, recorder_for, run_loop
from comparisons.experiments import Experiment
from functional_training import TrajectoryRecord
from functional_training._messages import first_line

__all__ = [
    "BACKEND_NAMES",
    "ENTRY_POINT_GROUP",
    "Backend",
    "BackendUnavailable",
    "BackendUnsupported",
    "Batch",
    "Evaluation",
    "Loop",
    "Maths",
    "Recorder",
    "available_backends",
    "backend_names",
    "check_run",
    "clear_backend_cache",
    "computes_in",
    "frozen_names",
    "get_backend",
    "learning_rate",
    "optimizer_settings",
    "plugin_problems",
    "recorder_for",
    "run_loop",
    "trainable_names",
]

_MODULES = {
    "manual": "comparisons.backends.manual",
    "engine": "comparisons.backends.engine",
    "torch": "comparisons.backends.torch_backend",
    "jax": "comparisons.backends.jax_backend",
}

BACKEND_NAMES = tuple(_MODULES)
"""The built-in backends, in report order (``manual`` first: it is the reference).

Plug-ins are not here: :func:`backend_names` lists every backend."""

ENTRY_POINT_GROUP = "comparisons.backends"
"""The entry-point group a distribution declares plug-in backends in."""

REQUIRED_ATTRIBUTES = ("run", "DESCRIPTION", "REQUIRES", "INSTALL_HINT")
"""What every backend module defines (``COMPUTES_IN`` and ``supports`` are optional)."""


class BackendUnavailable(RuntimeError):
    """A backend cannot run here: its library is missing, or it is a broken plug-in.

    Message: ``"<name> backend unavailable: <why>; install with: <hint>"`` (a
    broken plug-in: ``"<name> backend unavailable: <what is wrong>"``).
    """


class BackendUnsupported(BackendUnavailable):
    """A backend does not run this experiment (its ``supports`` gave a reason).

    A :class:`BackendUnavailable`, so a comparison records it with the backends
    that cannot run instead of failing. Message:
    ``"<name> backend does not run <experiment>: <reason>"``.
    """


@dataclass(frozen=True)
class Backend:
    """One backend: its name, a one-line description, and how to run it.

    Attributes:
      name: one of :func:`backend_names`.
      description: one line for tables and ``--help``.
      requires: third-party modules the backend imports (empty for stdlib ones).
      install_hint: the command that installs them.
      module: the backend module's import path (``package.module``, or
        ``package.module:object`` for a plug-in whose entry point names an object).
      origin: ``"built-in"``, or the plug-in's distribution (``"plug-in NAME VERSION"``).
      problem: why a plug-in cannot be used (import failure, missing attribute),
        else ``None``.
    """

    name: str
    description: str
    requires: tuple[str, ...]
    install_hint: str
    module: str
    origin: str = "built-in"
    problem: str | None = None

    def missing(self) -> str | None:
        """Why the backend cannot run here (``None`` when it can)."""
        if self.problem is not None:
            return self.problem
        for requirement in self.requires:
            try:
                importlib.import_module(requirement)
            except (ImportError, OSError) as err:  # OSError: a broken shared library
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                return f"cannot import {requirement} ({reason})"
        return None

    def supports(self, experiment: Experiment) -> str | None:
        """Why the backend does not run the (valid) ``experiment``; ``None`` when it does.

        The module's optional ``supports``; a backend without one runs every experiment.
        """
        if self.problem is not None:
            return None
        check = getattr(_load(self.module), "supports", None)
        return None if check is None else check(experiment)

    def run(self, experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
        """Run ``experiment`` (see the backend module's ``run``).

        Raises:
          BackendUnavailable: the backend's library is not installed, or the
            plug-in is broken.
          BackendUnsupported: the backend's ``supports`` declines the experiment.
          ValueError: the experiment cannot be run (or a gradient check in float32).
        """
        why = self.missing()
        if why is not None:
            if self.problem is not None:
                raise BackendUnavailable(f"{self.name} backend unavailable: {why}")
            raise BackendUnavailable(
                f"{self.name} backend unavailable: {why}; install with: {self.install_hint}"
            )
        module = _load(self.module)
        if getattr(module, "supports", None) is not None:
            check_run(experiment, dtype)  # an invalid experiment is refused as by any backend
            reason = module.supports(experiment)
            if reason is not None:
                raise BackendUnsupported(
                    f"{self.name} backend does not run {experiment.name}: {first_line(reason)}"
                )
        return module.run(experiment, dtype=dtype)


def _load(path: str) -> Any:
    """The module ``package.module``, or the object ``package.module:attr.attr``."""
    module, _, attributes = path.partition(":")
    target = importlib.import_module(module)
    for attribute in filter(None, attributes.split(".")):
        target = getattr(target, attribute)
    return target


# --- discovery --------------------------------------------------------------------------


@dataclass(frozen=True)
class _PluginEntry:
    """A plug-in's entry point: its name, the module it names and where it comes from."""

    name: str
    value: str
    origin: str


@functools.cache
def _discover() -> tuple[dict[str, _PluginEntry], tuple[str, ...]]:
    """``(usable plug-in entry points by name, sorted; one line per ignored one)``."""
    found: dict[str, _PluginEntry] = {}
    ignored: list[str] = []
    for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(point, "dist", None)
        origin = "plug-in" if dist is None else f"plug-in {dist.name} {dist.version}"
        entry = _PluginEntry(point.name, point.value, origin)
        where = f"plug-in backend {point.name!r} ({point.value!r}, {origin})"
        if point.name in _MODULES:
            ignored.append(f"{where} ignored: {point.name!r} is a built-in backend; "
                           "rename the entry point")
        elif point.name in found:
            ignored.append(f"{where} ignored: {point.name!r} is already registered by "
                           f"{found[point.name].value!r} ({found[point.name].origin})")
        else:
            found[point.name] = entry
    return dict(sorted(found.items())), tuple(ignored)


@functools.cache
def _plugin(name: str) -> Backend:
    """The plug-in backend ``name``, imported and checked once (a problem is recorded)."""
    entry = _discover()[0][name]
    where = f"plug-in backend {name!r} ({entry.value!r}, {entry.origin})"

    def broken(problem: str) -> Backend:
        return Backend(name=name, description=f"broken plug-in ({entry.origin})", requires=(),
                       install_hint="", module=entry.value, origin=entry.origin,
                       problem=f"{where}: {problem}")

    try:
        module = _load(entry.value)
    except Exception as err:  # a plug-in's import may raise anything; it must not escape
        return broken(f"import failed: {type(err).__name__}: {first_line(err)}")
    problem = _contract_problem(module)
    if problem is not None:
        return broken(problem)
    return Backend(name=name, description=module.DESCRIPTION, requires=tuple(module.REQUIRES),
                   install_hint=module.INSTALL_HINT, module=entry.value, origin=entry.origin)


def _contract_problem(module: Any) -> str | None:
    """What ``module`` lacks of the backend contract (one line), or ``None``."""
    absent = [a for a in REQUIRED_ATTRIBUTES if not hasattr(module, a)]
    if absent:
        return f"missing {', '.join(absent)} (see docs/backends.md)"
    wrong = []
    for attribute, ok in (
        ("run", callable(module.run)),
        ("DESCRIPTION", isinstance(module.DESCRIPTION, str)),
        ("INSTALL_HINT", isinstance(module.INSTALL_HINT, str)),
        ("REQUIRES", _strings(module.REQUIRES)),
        ("COMPUTES_IN", isinstance(getattr(module, "COMPUTES_IN", ""), str)),
        ("supports", getattr(module, "supports", None) is None or callable(module.supports)),
    ):
        if not ok:
            wrong.append(attribute)
    if wrong:
        return f"wrong type: {', '.join(wrong)} (see docs/backends.md)"
    return None


def _strings(value: object) -> bool:
    return isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)


def clear_backend_cache() -> None:
    """Forget discovered plug-ins: the next call reads the installed entry points again.

    Example:
      >>> clear_backend_cache()
      >>> backend_names()[0]
      'manual'
    """
    _discover.cache_clear()
    _plugin.cache_clear()


def backend_names() -> tuple[str, ...]:
    """Every backend: the built-ins in report order, then the plug-ins sorted by name.

    A plug-in that fails to import or lacks an attribute is listed (it is
    unavailable, with the reason); one whose name is taken is not (see
    :func:`plugin_problems`).

    Example:
      >>> backend_names()[:4]
      ('manual', 'engine', 'torch', 'jax')
    """
    return BACKEND_NAMES + tuple(_discover()[0])


def plugin_problems() -> tuple[str, ...]:
    """One line per plug-in that cannot be used: ignored names, then broken plug-ins.

    Imports every plug-in (once; see :func:`clear_backend_cache`).

    Example:
      >>> plugin_problems()
      ()
    """
    plugins, ignored = _discover()
    broken = tuple(_plugin(name).problem for name in plugins if _plugin(name).problem)
    return ignored + broken


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown backend {name!r}; expected one of {', '.join(backend_names())}")


def get_backend(name: str) -> Backend:
    """The backend called ``name``.

    A broken plug-in is returned too: its :attr:`Backend.problem` says what is
    wrong, :meth:`Backend.missing` returns it and :meth:`Backend.run` raises
    :class:`BackendUnavailable`.

    Raises:
      ValueError: ``name`` is not one of :func:`backend_names`.

    Example:
      >>> get_backend("engine").name
      'engine'
      >>> get_backend("numpy")
      Traceback (most recent call last):
      ...
      ValueError: unknown backend 'numpy'; expected one of manual, engine, torch, jax
    """
    if name in _MODULES:
        module = _load(_MODULES[name])
        return Backend(
            name=name, description=module.DESCRIPTION, requires=tuple(module.REQUIRES),
            install_hint=module.INSTALL_HINT, module=_MODULES[name],
        )
    if name in _discover()[0]:
        return _plugin(name)
    raise _unknown(name)


def computes_in(name: str, dtype: str) -> str:
    """The precision backend ``name`` computes in when asked for ``dtype``.

    A dtype name, optionally followed by a note in parentheses (``dtype`` itself
    for a backend without ``COMPUTES_IN``, and for a broken plug-in).

    Example:
      >>> computes_in("manual", "float32"), computes_in("jax", "float32")
      ('float64 (Python floats)', 'float32')
    """
    backend = get_backend(name)
    module = getattr(backend, "module", None)  # a stand-in backend has none
    if getattr(backend, "problem", None) is not None or module is None:
        return dtype
    return getattr(_load(module), "COMPUTES_IN", dtype)


def available_backends() -> dict[str, str | None]:
    """Backend name -> ``None`` when it can run here, else one line: how to fix it.

    That line is the install hint of a backend whose library is missing, and
    the problem of a broken plug-in. Checks by importing each backend's
    libraries (so a broken install counts as missing); the first call with
    torch installed takes a second or two. Plug-ins whose name is taken are not
    listed (:func:`plugin_problems`).
    """
    result: dict[str, str | None] = {}
    for name in backend_names():
        backend = get_backend(name)
        problem = getattr(backend, "problem", None)  # stand-ins need only missing() and run()
        if problem is not None:
            result[name] = problem
        else:
            result[name] = (None if backend.missing() is None
                            else getattr(backend, "install_hint", "see its documentation"))
    return result

