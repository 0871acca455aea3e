"""Eight training loops written the way their frameworks' users write them, each plus at most
five lines marked ``# record`` that record it (comparisons.record, comparisons.record_torch).

Written for these tests from the frameworks' documentation (not copied from d2l, micrograd
or the PyTorch tutorials): each module has ``train()`` returning its recorder and, where the
user writes the spec by hand, ``spec()`` returning the spec's TOML text: the data, the model
kind, the loss, the optimizer and the number of steps the author chose -- nothing read from
the run (no initial value, no batch order).
"""

RECORD_MARK = "# record"
"""The comment that marks a recording line in a loop's source."""


def data_table(x, y) -> str:
    """The ``[data]`` table of a spec holding the rows ``(x_1, ..., x_d, y)``."""
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in (*row, target)) + "]"
                     for row, target in zip(x.reshape(len(x), -1).tolist(),
                                            y.reshape(-1).tolist(), strict=True))
    return f"[data]\ntrain = [{rows}]\n"
