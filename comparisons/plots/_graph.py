"""The computation-graph figure: nodes laid out by hand, drawn with matplotlib (no Graphviz)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch

from comparisons import figure_style as style

NODE_FILL = {
    "parameter": "#BFE3F7",  # light sky blue: what training changes
    "data": "#E6E6E6",  # inputs and targets: fixed
    "operation": "#FFFFFF",
    "loss": "#F7D9A8",  # light orange: the root of the backward sweep
}


def layout_graph(
    nodes: Sequence[Mapping], edges: Sequence[Sequence[int]]
) -> dict[int, tuple[float, float]]:
    """Column and row of every node: inputs on the left, the root on the right.

    An operation's column is the length of the longest path from an input to
    it; an input sits one column before its first use. Inputs get rows in the
    order a depth-first walk from the root meets them (parents in operand
    order), and an operation sits at the mean row of its parents, so the
    graph reads as a tree converging on the root.

    Args:
      nodes: mappings with an ``"id"``; the last node is the root.
      edges: ``(parent id, child id)`` pairs, one per use.

    Returns:
      ``{id: (column, row)}``.

    Example:
      >>> nodes = [{"id": 0}, {"id": 1}, {"id": 2}]   # a, b, a * b
      >>> layout_graph(nodes, [(0, 2), (1, 2)])
      {0: (0.0, 0.0), 1: (0.0, 1.0), 2: (1.0, 0.5)}
    """
    parents: dict[int, list[int]] = {node["id"]: [] for node in nodes}
    children: dict[int, list[int]] = {node["id"]: [] for node in nodes}
    for parent, child in edges:
        if parent not in parents[child]:
            parents[child].append(parent)
        children[parent].append(child)

    column: dict[int, float] = {}

    def depth(node: int) -> float:
        if node not in column:
            column[node] = 0.0 if not parents[node] else 1.0 + max(depth(p) for p in parents[node])
        return column[node]

    for node in parents:
        depth(node)
    for node, ps in parents.items():
        if not ps and children[node]:
            column[node] = min(column[c] for c in children[node]) - 1.0

    row: dict[int, float] = {}
    next_row = [0.0]

    def place(node: int) -> float:
        if node not in row:
            if parents[node]:
                row[node] = sum(place(p) for p in parents[node]) / len(parents[node])
            else:
                row[node] = next_row[0]
                next_row[0] += 1.0
        return row[node]

    place(nodes[-1]["id"])
    for node in parents:  # anything the root does not depend on, below the rest
        place(node)
    return {node["id"]: (column[node["id"]], row[node["id"]]) for node in nodes}


def _number(value: float) -> str:
    return f"{value:g}".replace("-", "−")


def plot_autograd_graph(
    ax: Axes, *, nodes: Sequence[Mapping], edges: Sequence[Sequence[int]]
) -> None:
    """The scalar engine's computation graph, with data and gradient on every node.

    Args:
      ax: the Axes to draw on.
      nodes: one mapping per node, the root last: ``{"id", "label" (its role,
        e.g. "prediction"), "op" (the engine's operation, "" for a leaf),
        "kind" (a key of :data:`NODE_FILL`), "data", "grad"}``.
      edges: ``(parent id, child id)`` pairs, one per use.
    """
    positions = layout_graph(nodes, edges)
    box_w, box_h = 0.88, 0.72
    boxes = {}
    for node in nodes:
        col, row = positions[node["id"]]
        box = FancyBboxPatch(
            (col - box_w / 2, row - box_h / 2), box_w, box_h,
            boxstyle="round,pad=0.0,rounding_size=0.08",
            facecolor=NODE_FILL[node["kind"]], edgecolor="black", linewidth=1.3, zorder=2,
            gid=f"node {node['label']}",
        )
        ax.add_patch(box)
        boxes[node["id"]] = box
        title = node["label"] if not node["op"] else f"{node['label']}  [{node['op']}]"
        ax.text(col, row - 0.2, title, ha="center", va="center", fontsize=11,
                fontweight="bold", zorder=3)
        ax.text(col, row + 0.03, f"data {_number(node['data'])}", ha="center", va="center",
                fontsize=11, zorder=3)
        ax.text(col, row + 0.24, f"grad {_number(node['grad'])}", ha="center", va="center",
                fontsize=11, zorder=3, color=style.UNSTABLE,
                fontweight="bold" if node["kind"] == "parameter" else "normal")
    for parent, child in edges:
        ax.annotate(
            "", xy=positions[child], xytext=positions[parent], zorder=1,
            arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.3,
                        "patchA": boxes[parent], "patchB": boxes[child],
                        "shrinkA": 1, "shrinkB": 1, "mutation_scale": 16},
        )
    columns = [c for c, _ in positions.values()]
    rows = [r for _, r in positions.values()]
    ax.set_xlim(min(columns) - 0.55, max(columns) + 0.55)
    ax.set_ylim(max(rows) + 0.95, min(rows) - 0.5)
    ax.axis("off")
    ax.text(0.5, 0.0,
            "forward: data flows left → right    ·    backward: grad (dL/dnode) flows right → left"
            "\n[op]: the engine's operation; constants (× −1, × 0.5, ** 2) live inside their node",
            transform=ax.transAxes, ha="center", va="bottom", fontsize=11.5, color=style.MUTED,
            linespacing=1.5)
