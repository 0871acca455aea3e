"""comparisons/plots/_graph.py: the autograd graph's layout (columns by depth, rows by use)."""

from __future__ import annotations

from comparisons.plots import layout_graph


def _nodes(n):
    return [{"id": i} for i in range(n)]


def test_a_chain_runs_left_to_right_on_one_row():
    # x -> tanh(x) -> 2 tanh(x): one column per operation
    assert layout_graph(_nodes(3), [(0, 1), (1, 2)]) == {0: (0.0, 0.0), 1: (1.0, 0.0),
                                                         2: (2.0, 0.0)}


def test_the_lessons_prediction_error():
    # w, x, b -> w*x (3) -> w*x + b (4): columns by longest path; an input sits one column
    # before its first use (b next to the sum, not at column 0); an operation at its
    # parents' mean row.
    layout = layout_graph(_nodes(5), [(0, 3), (1, 3), (3, 4), (2, 4)])
    assert layout == {0: (0.0, 0.0), 1: (0.0, 1.0), 3: (1.0, 0.5), 2: (1.0, 2.0),
                      4: (2.0, 1.25)}


def test_a_value_used_twice_is_one_parent():
    # a * a: the edge appears twice (one per use), the layout once
    assert layout_graph(_nodes(2), [(0, 1), (0, 1)]) == {0: (0.0, 0.0), 1: (1.0, 0.0)}
