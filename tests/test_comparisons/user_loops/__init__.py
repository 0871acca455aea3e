"""Eight training loops written the way their frameworks' users write them, each plus at most
five lines marked ``# record`` that record it (comparisons.record, comparisons.record_torch).

Written for these tests from the frameworks' documentation (not copied from d2l, micrograd
or the PyTorch tutorials): each module has ``train()`` returning its recorder and, where the
user writes the spec by hand, ``spec()`` returning the spec's TOML text: the data, the model
kind, the loss, the optimizer and the number of steps the author chose -- nothing read from
the run (no initial value, no batch order). Each ``train`` takes ``bug=`` too: one of its
module's ``BUGS``, planted as a user gets it wrong (``assert_planted_figures`` scores them).
"""

from comparisons.faults.variants import VARIANTS

RECORD_MARK = "# record"
"""The comment that marks a recording line in a loop's source."""


def data_table(x, y) -> str:
    """The ``[data]`` table of a spec holding the rows ``(x_1, ..., x_d, y)``."""
    rows = ", ".join("[" + ", ".join(repr(float(v)) for v in (*row, target)) + "]"
                     for row, target in zip(x.reshape(len(x), -1).tolist(),
                                            y.reshape(-1).tolist(), strict=True))
    return f"[data]\ntrain = [{rows}]\n"


def planted_figures(table, verdict_of):
    """Caught, named right and wrong names over ``table``, with a line per row that fails.

    A row is caught when the verdict disagrees; named right when the one named fault is of
    the expected fault's family (no name when none is expected); a wrong name is a named
    fault of another family, or any name where none is expected.
    """
    caught = named_right = wrong = 0
    failures = []
    for loop, bug, expected in table:
        verdict = verdict_of(loop, bug)
        names = [d.fault for d in verdict.diagnoses if d.named]
        families = {VARIANTS[name].family for name in names}
        right = (families == {VARIANTS[expected].family} if expected is not None
                 else not names)
        caught += not verdict.agree
        named_right += right and expected is not None
        wrong += bool(families - ({VARIANTS[expected].family} if expected else set()))
        if verdict.agree or not right:
            failures.append(f"{loop} {bug}: agree={verdict.agree} named={names} "
                            f"expected={expected}: {verdict.diagnosis_lines()}")
    return caught, named_right, wrong, failures


def assert_planted_figures(table, verdict_of):
    caught, named_right, wrong, failures = planted_figures(table, verdict_of)
    in_gallery = sum(expected is not None for *_, expected in table)
    print(f"\nplanted bugs: caught {caught}/{len(table)}, named right {named_right}/{in_gallery}, "
          f"wrong names {wrong}", *failures, sep="\n")
    assert caught == len(table), failures
    assert wrong == 0, failures
    assert named_right >= 0.95 * in_gallery, failures
