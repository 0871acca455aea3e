"""The four backends that run an experiment, one module each, one contract.

Every backend module defines ``run(experiment, *, dtype="float64") -> TrajectoryRecord``
plus ``DESCRIPTION``, ``REQUIRES`` (the third-party modules it imports, lazily,
inside ``run``) and ``INSTALL_HINT``; one that computes in a fixed precision
whatever ``dtype`` says also defines ``COMPUTES_IN`` (see :func:`computes_in`).
No backend knows another exists; adding one is a module plus one line in
:data:`_MODULES`.

- ``manual``: the lesson's formulas on Python floats, derivatives by hand.
- ``engine``: the scalar autograd engine ``comparisons.engine.Value``.
- ``torch``: ``nn.Linear`` + ``torch.optim`` (needs torch).
- ``jax``: ``functional_training`` + optax.

Importing this package imports neither torch nor JAX; a backend whose library
is missing is reported by :func:`available_backends` and raises
:class:`BackendUnavailable` when run.

Example:
  >>> from comparisons.experiments import REGISTRY
  >>> backend = get_backend("manual")
  >>> traj = backend.run(REGISTRY["five-steps"])
  >>> [round(v, 3) for v in traj.batch_loss]
  [8.0, 2.0, 0.5, 0.125, 0.031]
  >>> available_backends()["manual"] is None
  True
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from comparisons.experiments import Experiment
from functional_training import TrajectoryRecord

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "BackendUnavailable",
    "available_backends",
    "computes_in",
    "get_backend",
]

_MODULES = {
    "manual": "comparisons.backends.manual",
    "engine": "comparisons.backends.engine",
    "torch": "comparisons.backends.torch_backend",
    "jax": "comparisons.backends.jax_backend",
}

BACKEND_NAMES = tuple(_MODULES)
"""Every backend, in report order (``manual`` first: it is the reference)."""


class BackendUnavailable(RuntimeError):
    """A backend's library is missing.

    Message: ``"<name> backend unavailable: <why>; install with: <hint>"``.
    """


@dataclass(frozen=True)
class Backend:
    """One backend: its name, a one-line description, and how to run it.

    Attributes:
      name: one of :data:`BACKEND_NAMES`.
      description: one line for tables and ``--help``.
      requires: third-party modules the backend imports (empty for stdlib ones).
      install_hint: the command that installs them.
      module: the backend module's import path (imported on first use).
    """

    name: str
    description: str
    requires: tuple[str, ...]
    install_hint: str
    module: str

    def missing(self) -> str | None:
        """Why the backend cannot run here (``None`` when it can)."""
        for requirement in self.requires:
            try:
                importlib.import_module(requirement)
            except (ImportError, OSError) as err:  # OSError: a broken shared library
                reason = str(err).splitlines()[0] if str(err) else type(err).__name__
                return f"cannot import {requirement} ({reason})"
        return None

    def run(self, experiment: Experiment, *, dtype: str = "float64") -> TrajectoryRecord:
        """Run ``experiment`` (see the backend module's ``run``).

        Raises:
          BackendUnavailable: the backend's library is not installed.
          ValueError: the experiment cannot be run (or a gradient check in float32).
        """
        why = self.missing()
        if why is not None:
            raise BackendUnavailable(
                f"{self.name} backend unavailable: {why}; install with: {self.install_hint}"
            )
        return _load(self.module).run(experiment, dtype=dtype)


def _load(module: str) -> ModuleType:
    return importlib.import_module(module)


def get_backend(name: str) -> Backend:
    """The backend called ``name``.

    Raises:
      ValueError: ``name`` is not one of :data:`BACKEND_NAMES`.

    Example:
      >>> get_backend("engine").name
      'engine'
      >>> get_backend("numpy")
      Traceback (most recent call last):
      ...
      ValueError: unknown backend 'numpy'; expected one of manual, engine, torch, jax
    """
    if name not in _MODULES:
        raise ValueError(
            f"unknown backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}"
        )
    module = _load(_MODULES[name])
    return Backend(
        name=name, description=module.DESCRIPTION, requires=tuple(module.REQUIRES),
        install_hint=module.INSTALL_HINT, module=_MODULES[name],
    )


def computes_in(name: str, dtype: str) -> str:
    """The precision backend ``name`` computes in when asked for ``dtype``.

    A dtype name, optionally followed by a note in parentheses.

    Example:
      >>> computes_in("manual", "float32"), computes_in("jax", "float32")
      ('float64 (Python floats)', 'float32')
    """
    if name not in _MODULES:
        raise ValueError(
            f"unknown backend {name!r}; expected one of {', '.join(BACKEND_NAMES)}"
        )
    return getattr(_load(_MODULES[name]), "COMPUTES_IN", dtype)


def available_backends() -> dict[str, str | None]:
    """Backend name -> ``None`` when it can run here, else its one-line install hint.

    Checks by importing each backend's libraries (so a broken install counts as
    missing); the first call with torch installed takes a second or two.
    """
    result: dict[str, str | None] = {}
    for name in BACKEND_NAMES:
        backend = get_backend(name)
        result[name] = None if backend.missing() is None else backend.install_hint
    return result
