"""Numbers and phrases that the figures' titles, captions and alt text share.

Every figure words its numbers the same way: four significant digits
(:func:`num`), a true minus sign in figure text (:func:`signed`), whole
percentages (:func:`percent`), and one sentence naming the backends that
agreed and the tolerance they agreed to (:func:`backends_phrase`).

Example:
  >>> num(2 / 3), signed(-8.0), percent(0.8333)
  ('0.6667', '−8', '83%')
  >>> backends_phrase({"backends": ["manual", "jax"], "tolerance": 1e-12})
  'manual, jax agree at every step to within rtol = atol = 1e-12 (float64)'
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["backends_phrase", "misclassified_count", "num", "percent", "points_phrase", "signed"]


def num(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits (``%g``)."""
    return f"{value:.{digits}g}"


def signed(value: float) -> str:
    """A number for figure text, with a true minus sign: ``−8`` not ``-8``."""
    return f"{value:g}".replace("-", "\N{MINUS SIGN}")


def percent(value: float) -> str:
    """A share as a whole percentage: ``0.8333 -> 83%``."""
    return f"{100 * value:.0f}%"


def backends_phrase(context: Mapping) -> str:
    """The backends of ``context`` (a figure-data record) and the tolerance they agreed to."""
    return (f"{', '.join(context['backends'])} agree at every step to within "
            f"rtol = atol = {context['tolerance']:g} (float64)")


def points_phrase(regions: Mapping) -> str:
    """How many training examples of each class a region figure shows: ``12 on time, 12 late``."""
    train = regions["train"]
    counts = [sum(label == c for label in train["label"]) for c in regions["classes"]]
    return ", ".join(f"{n} {name}" for n, name in zip(counts, regions["class_names"],
                                                       strict=True))


def misclassified_count(points: Mapping | None) -> int:
    """How many of a region figure's examples (``None``: none shown) sit in another class."""
    if points is None:
        return 0
    return sum(p != t for p, t in zip(points["predicted"], points["label"], strict=True))
