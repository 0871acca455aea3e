"""The environment a run computed in: package versions, installed sources, devices.

A manifest records it; a rerun compares it with the environment now and prints
each difference as a ``note:`` line (it explains a difference between two
trajectories, it is not one). :func:`package_versions` is the project's one
reader of installed versions (manifests, reports and figure data use it).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax

PACKAGES = ("functional-training", "jax", "jaxlib", "optax", "chex", "numpy", "torch")
"""Distributions whose versions a manifest records (``null`` when not installed)."""

SOURCE_PACKAGES = ("functional_training", "comparisons")
"""Import packages whose ``.py`` sources :func:`source_digest` hashes."""


def package_versions(packages: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Python's version and each of ``packages``' installed versions (``None`` if absent).

    Reads distribution metadata only; nothing is imported (torch stays unloaded).

    Args:
      packages: distribution names; default :data:`PACKAGES`, what a manifest records.

    Returns:
      ``{"python": ..., package: version or None, ...}`` in the order given.

    Example:
      >>> versions = package_versions()
      >>> sorted(versions) == sorted(["python", *PACKAGES])
      True
      >>> package_versions(["no-such-distribution"])["no-such-distribution"] is None
      True
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def source_digest(packages: Sequence[str] = SOURCE_PACKAGES) -> str:
    """sha256 over the installed ``.py`` sources of ``packages``: the code version.

    The package version stays ``0.1.0`` across commits; this digest changes
    with any edit. Files are hashed in sorted order as
    ``<package>/<relative path>\\0<size>\\0<bytes>``; a package that is not
    installed contributes its name only.

    Example:
      >>> source_digest().startswith("sha256:")
      True
    """
    digest = hashlib.sha256()
    for package in packages:
        digest.update(package.encode() + b"\0")
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for path in sorted(Path(root).rglob("*.py")):
                content = path.read_bytes()
                name = f"{package}/{path.relative_to(root).as_posix()}"
                digest.update(f"{name}\0{len(content)}\0".encode() + content)
    return "sha256:" + digest.hexdigest()


def device_names() -> list[str]:
    """The devices JAX sees, as ``"<platform>:<id> <kind>"`` strings.

    Example:
      >>> device_names()[0].startswith(("cpu:", "gpu:", "cuda:", "rocm:", "tpu:"))
      True
    """
    return [f"{device.platform}:{device.id} {device.device_kind}" for device in jax.devices()]


def current_environment() -> dict:
    """This process's ``versions``, ``devices`` and ``source``, as a manifest made here has them."""
    return {"versions": package_versions(), "devices": device_names(), "source": source_digest()}


def environment_notes(recorded: Mapping) -> list[str]:
    """``note:`` lines for each environment key of a ``recorded`` manifest that differs now.

    Package versions, devices and installed sources explain a difference between
    a recorded and a rerun trajectory; they are not one.

    Example:
      >>> now = current_environment()
      >>> environment_notes({**now, "versions": {**now["versions"], "numpy": "0.0"}})
      ... # doctest: +ELLIPSIS
      ['note: package versions differ: numpy 0.0 -> ...']
      >>> environment_notes(now)
      []
    """
    now = current_environment()
    notes = []
    versions = now["versions"]
    changed = [f"{name} {was} -> {versions.get(name)}"
               for name, was in recorded["versions"].items() if versions.get(name) != was]
    if changed:
        notes.append("note: package versions differ: " + ", ".join(changed))
    if now["devices"] != recorded["devices"]:
        notes.append(f"note: devices differ: recorded {recorded['devices']}, now {now['devices']}")
    if now["source"] != recorded["source"]:
        notes.append("note: the installed functional_training/comparisons sources differ")
    return notes
