"""Bad input to the ``comparisons`` API: one table, one-line errors naming the argument.

Every row asserts the exception type and a one-line message matching the row's
regex. The command-line front door's bad input is in
``tests/test_cli/test_bad_input_comparisons.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
from cli_helpers import assert_raises_one_line
from specs import shipments_spec

from comparisons.backends import get_backend
from comparisons.compare import compare_trajectories, run_and_compare
from comparisons.experiments import REGISTRY, Experiment
from comparisons.spec import SpecError, load_spec, parse_spec
from functional_training import TrajectoryRecord

SPEC = shipments_spec("bad-input", learning_rate=0.08, steps=2)
FULL = REGISTRY["full-batch"]


def spec(old: str | None = None, new: str = "") -> str:
    """:data:`SPEC` with one line (or fragment) replaced; ``old=None`` prepends ``new``."""
    if old is None:
        return new + "\n" + SPEC
    assert old in SPEC, old
    return SPEC.replace(old, new, 1)


def _exp(**changes) -> Experiment:
    return dataclasses.replace(FULL, **changes)


_ONE = TrajectoryRecord(params={"w": [1.0, 1.8]}, grads={"w": [-8.0]}, batch_loss=[8.0],
                        train_loss=[8.0, 2.0])

API_ROWS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("parse_spec not TOML", lambda: parse_spec("name = "), SpecError, r"^not valid TOML: "),
    ("parse_spec missing key", lambda: parse_spec(spec("steps = 2\n")), SpecError,
     r"^\[run\]\.steps: missing$"),
    ("parse_spec unknown key", lambda: parse_spec(spec(None, "colour = 1")), SpecError,
     r"^colour: unknown key"),
    ("parse_spec wrong type", lambda: parse_spec(spec("w = 0.0", 'w = "zero"')), SpecError,
     r"^\[model\]\.w: expected a number, got a string$"),
    ("load_spec missing", lambda: load_spec("/no/such/spec.toml"), SpecError,
     r"^/no/such/spec\.toml: no such spec file$"),
    ("backend unknown", lambda: get_backend("no-such-backend"), ValueError,
     r"^unknown backend 'no-such-backend'; expected one of manual, engine, torch, jax"),
    ("run_and_compare unknown backend",
     lambda: run_and_compare(REGISTRY["five-steps"], backends=["no-such-backend"]), ValueError,
     r"^unknown backend 'no-such-backend'"),
    ("backend gradient-check in float32",
     lambda: get_backend("jax").run(REGISTRY["gradient-check"], dtype="float32"), ValueError,
     r"^gradient-check runs in float64 only"),
    ("backend unknown dtype", lambda: get_backend("manual").run(FULL, dtype="float16"),
     ValueError, r"^dtype must be one of float64, float32, got 'float16'$"),
    ("experiment batch 0", lambda: get_backend("manual").run(_exp(batch_size=0)), ValueError,
     r"^batch_size must be an integer in \[1, 3\], got 0$"),
    ("experiment batch > N", lambda: get_backend("torch").run(_exp(batch_size=4)), ValueError,
     r"^batch_size must be an integer in \[1, 3\], got 4$"),
    ("experiment rate 0",
     lambda: get_backend("engine").run(_exp(hyperparams={"learning_rate": 0.0})), ValueError,
     r"^learning_rate must be > 0, got 0\.0$"),
    ("experiment rate inf",
     lambda: get_backend("jax").run(_exp(hyperparams={"learning_rate": math.inf})), ValueError,
     r"^learning_rate must be finite, got inf$"),
    ("experiment steps 0", lambda: get_backend("jax").run(_exp(steps=0)), ValueError,
     r"^steps must be an integer > 0, got 0$"),
    ("experiment unknown optimizer", lambda: get_backend("torch").run(_exp(optimizer="rmsprop")),
     ValueError, r"^unknown optimizer 'rmsprop'"),
    ("experiment hyperparameter not taken",
     lambda: get_backend("manual").run(_exp(hyperparams={"learning_rate": 0.1, "b1": 0.9})),
     ValueError, r"^optimizer 'sgd' does not take b1; it takes learning_rate, weight_decay$"),
    ("experiment ragged pair",
     lambda: get_backend("engine").run(_exp(train=((1.0, 2.0), (3.0,)))), ValueError,
     r"^train record 1 must be \(x_1, \.\.\., x_d, target\), got \(3\.0,\)$"),
    ("experiment validation feature count",
     lambda: get_backend("manual").run(_exp(validation=((1.0, 2.0, 3.0),))), ValueError,
     r"^validation record 0 has 2 features, the first train record has 1$"),
    ("experiment non-finite data",
     lambda: get_backend("torch").run(_exp(train=((1.0, math.nan),))), ValueError,
     r"^train record 0 must be finite, got nan$"),
    ("experiment empty data", lambda: get_backend("jax").run(_exp(train=())), ValueError,
     r"^train data is empty$"),
    ("experiment text data", lambda: get_backend("manual").run(_exp(train=(("a", 2.0),))),
     TypeError, r"^train record 0 must be a number, got 'a'$"),
    ("compare without the reference",
     lambda: compare_trajectories(REGISTRY["single-update"], {"engine": _ONE}), ValueError,
     r"^single-update: reference backend 'manual' has no trajectory \(have: engine\)$"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), API_ROWS,
                         ids=[row[0] for row in API_ROWS])
def test_bad_api_input_raises_with_one_line_naming_the_argument(case, call, error, message):
    assert_raises_one_line(call, error, message)


def test_the_table_rows_are_unique():
    ids = [row[0] for row in API_ROWS]
    assert len(ids) == len(set(ids))
