"""The layers point one way: comparisons -> functional_training.runs -> the pure core.

Every import statement of both packages is read with ``ast`` (those inside
functions included), so a cycle cannot hide behind an import placed in a function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("functional_training", "comparisons")

LAZY_PROJECT_IMPORTS: dict[tuple[str, str], str] = {}
"""The project imports allowed inside a function, each with its reason: none."""


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(path: Path) -> Iterator[tuple[str, bool, int]]:
    """``(imported module, inside a function?, line)`` for every import in ``path``.

    ``from a import b`` yields ``a.b`` (``b`` may be a submodule or a name of ``a``).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[str, bool, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, in_function, child.lineno
            elif isinstance(child, ast.ImportFrom):
                assert child.level == 0, f"{_name(path)}:{child.lineno}: relative import"
                for alias in child.names:
                    yield f"{child.module}.{alias.name}", in_function, child.lineno
            inside = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
            )
            yield from walk(child, inside)

    yield from walk(tree, False)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _is_core(path: Path) -> bool:
    """A module of the pure core: ``functional_training`` less ``runs/`` and the front door."""
    parts = path.relative_to(ROOT / "functional_training").parts
    return parts[0] != "runs" and parts[-1] not in ("cli.py", "__main__.py")


def test_the_packages_are_found():
    core = [p for p in _modules("functional_training") if _is_core(p)]
    runs = [p for p in _modules("functional_training") if not _is_core(p)]
    assert ROOT / "functional_training" / "__init__.py" in core
    assert ROOT / "functional_training" / "runs" / "_rerun.py" in runs
    assert ROOT / "functional_training" / "cli.py" in runs
    assert _modules("comparisons")


@pytest.mark.parametrize("path", _modules("functional_training"), ids=_name)
def test_functional_training_never_imports_comparisons(path):
    found = [f"line {line}: {module}" for module, _, line in _imports(path)
             if _within(module, "comparisons")]
    assert not found, f"{_name(path)} imports comparisons: {found}"


@pytest.mark.parametrize("path", [p for p in _modules("functional_training") if _is_core(p)],
                         ids=_name)
def test_the_pure_core_never_imports_the_run_machinery(path):
    found = [f"line {line}: {module}" for module, _, line in _imports(path)
             if _within(module, "functional_training.runs")
             or _within(module, "functional_training.cli")]
    assert not found, f"{_name(path)} imports the run machinery: {found}"


@pytest.mark.parametrize("path", [p for package in PACKAGES for p in _modules(package)],
                         ids=_name)
def test_no_project_import_sits_inside_a_function(path):
    found = [
        f"line {line}: {module}"
        for module, in_function, line in _imports(path)
        if in_function and any(_within(module, package) for package in PACKAGES)
        and (_name(path), module) not in LAZY_PROJECT_IMPORTS
    ]
    assert not found, f"{_name(path)} imports the project inside a function: {found}"


def test_every_allowed_lazy_import_still_exists():
    for (file, module), reason in LAZY_PROJECT_IMPORTS.items():
        assert reason
        assert any(m == module and inside for m, inside, _ in _imports(ROOT / file)), (file, module)
