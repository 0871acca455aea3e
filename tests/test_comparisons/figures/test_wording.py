"""The captions' shared wording (comparisons.figures.wording): numbers and phrases."""

from __future__ import annotations

from comparisons.figures import wording


def test_numbers_read_as_the_figures_print_them():
    assert wording.num(0.123456) == "0.1235" and wording.num(31.6227766, 3) == "31.6"
    assert wording.signed(-16.0) == "\N{MINUS SIGN}16" and wording.signed(8.0) == "8"
    assert wording.percent(20 / 24) == "83%" and wording.percent(1.0) == "100%"


def test_region_phrases_count_classes_and_misclassified_examples():
    regions = {"classes": [0.0, 1.0], "class_names": ["on time", "late"],
               "train": {"label": [0.0, 1.0, 1.0], "predicted": [0.0, 0.0, 1.0]}}
    assert wording.points_phrase(regions) == "1 on time, 2 late"
    assert wording.misclassified_count(regions["train"]) == 1
    assert wording.misclassified_count(None) == 0


def test_the_backends_phrase_names_every_backend_and_the_tolerance():
    context = {"backends": ["manual", "engine", "jax", "torch"], "tolerance": 1e-12}
    assert wording.backends_phrase(context) == (
        "manual, engine, jax, torch agree at every step to within rtol = atol = 1e-12 "
        "(float64)")
