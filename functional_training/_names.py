"""The naming rule of scalar parameters, and its inverse: one owner for both directions.

A parameter leaf has a name (its pytree path joined with dots: ``w``, ``b``,
``layers.0.w``); each scalar of an array leaf adds its element index in
brackets, commas between axes (``w[0]``, ``layers.0.w[1,2]``); a scalar leaf's
only scalar is the leaf's own name. :func:`functional_training.named_series`
names a pytree's scalars by this rule; :func:`split_name` reads a name back.

Example:
  >>> scalar_name("layers.0.w", (1, 2))
  'layers.0.w[1,2]'
  >>> split_name("layers.0.w[1,2]"), split_name("b")
  (('layers.0.w', (1, 2)), ('b', ()))
"""

from __future__ import annotations

from collections.abc import Iterable

import jax


def scalar_name(leaf: str, index: tuple[int, ...] = ()) -> str:
    """The name of element ``index`` of ``leaf`` (the leaf's own name for a scalar leaf).

    Example:
      >>> scalar_name("w", (0,)), scalar_name("b")
      ('w[0]', 'b')
    """
    return f"{leaf}[{','.join(map(str, index))}]" if index else leaf


def split_name(name: str) -> tuple[str, tuple[int, ...]]:
    """``(leaf, index)`` of a scalar name: the inverse of :func:`scalar_name`.

    Raises:
      ValueError: the brackets do not hold comma-separated integers >= 0 (one line).

    Example:
      >>> split_name("w[3]")
      ('w', (3,))
    """
    leaf, bracket, rest = name.partition("[")
    if not bracket:
        return name, ()
    inside = rest[:-1].split(",") if rest.endswith("]") else None
    if inside is None or not all(part.isdigit() for part in inside):
        raise ValueError(f"{name!r} is not a parameter name like w, w[0] or layers.0.w[1,2]")
    return leaf, tuple(int(part) for part in inside)


def leaf_of(name: str) -> str:
    """The parameter leaf a scalar name belongs to.

    Example:
      >>> leaf_of("w[2]"), leaf_of("layers.1.b[0]"), leaf_of("b")
      ('w', 'layers.1.b', 'b')
    """
    return name.partition("[")[0]


def leaves_of(names: Iterable[str]) -> tuple[str, ...]:
    """The leaves behind scalar names, each once, in the order they first appear.

    Example:
      >>> leaves_of(["w[0]", "w[1]", "b"])
      ('w', 'b')
    """
    return tuple(dict.fromkeys(leaf_of(name) for name in names))


def path_name(path) -> str:
    """A pytree leaf's name: its key path joined with dots (``w``, ``layers.0.w``).

    NamedTuple fields, dict keys and sequence indices each give one part.

    Example:
      >>> [path_name(p) for p, _ in jax.tree_util.tree_flatten_with_path({"layers": [{"w": 0}]})[0]]
      ['layers.0.w']
    """
    return jax.tree_util.keystr(path, simple=True, separator=".")


def leaf_names(tree) -> list[str]:
    """The leaves of a pytree by name (:func:`path_name`), in flatten order.

    Example:
      >>> leaf_names({"b": 0.0, "w": [1.0, 2.0]})
      ['b', 'w.0', 'w.1']
    """
    return [path_name(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
