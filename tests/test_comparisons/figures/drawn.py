"""What a drawn figure holds: its artists by gid, its visible texts (for the figure tests)."""

from __future__ import annotations

import matplotlib


def by_gid(fig, gid: str):
    """The one artist of ``fig`` with this gid."""
    found = fig.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def visible_texts(fig) -> list[str]:
    """Every non-empty text drawn on ``fig``."""
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def draw(name: str, data):
    """Course figure ``name`` drawn from ``data`` (``figure_data()``)."""
    from comparisons.figures import draw_figure

    return draw_figure(name, data["figures"][name])
