"""A training run's manifest, and the settings a manifest's run describes (for ``rerun``).

:func:`train_manifest` records the run description, the data's version and the
options of a finished (or resumed) run; :func:`settings_from_run` reads a
manifest's run back into :class:`~functional_training.runs._train_settings.TrainSettings`.
"""


from __future__ import annotations

from functional_training._datasets import named_data
from functional_training.runs._digests import trajectory_digest
from functional_training.runs._manifest import (
    build_manifest,
    data_file_option,
    data_name_for_rerun,
    line_init_from,
    named_data_record,
    run_record,
    run_spec_record,
    spec_from_options,
    spec_options,
)
from functional_training.runs._sweep_record import spec_data_record
from functional_training.runs._train_settings import (
    SettingError,
    TrainSettings,
    feature_count,
    make_settings,
    spec_settings,
)
from functional_training.runs._training import TrainOutcome

TOOL = "functional_training train"
"""The manifest's ``tool`` of a training run."""




def train_manifest(settings: TrainSettings, data, outcome: TrainOutcome) -> dict:
    """The manifest of a training run (see :mod:`functional_training.runs._manifest`).

    A run of the line's flags records them in ``options`` (``data``, ``features``,
    ``target``: the form manifests have always had, so old ones rerun); a spec run
    records its spec (:func:`~functional_training.runs._manifest.spec_options`)
    and the run description it was read into (``options.run``,
    :func:`~functional_training.runs._manifest.run_spec_record`).
    """
    common = {
        "name": "train",
        "init": settings.init,
        "optimizer": settings.optimizer,
        "hyperparameters": settings.hyperparameters,
        "learning_rates": [] if settings.learning_rate is None else [settings.learning_rate],
        "steps": settings.steps,
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "seed": settings.seed,
        "checkpoint": outcome.checkpoint,
        "results": {"trajectory": trajectory_digest(outcome.trajectory)},
    }
    chunks = {"chunk_steps": settings.chunk_steps, "eval_every": settings.eval_every,
              "resumed_from": outcome.resumed_from}
    if settings.spec is None:
        run = run_record(
            **common, data=named_data_record(data), split=data.split,
            options={
                "data": settings.data,
                **data_file_option(settings.data),
                "features": None if settings.features is None else list(settings.features),
                "target": settings.target,
                **chunks,
            },
        )
    else:
        validation = "no validation set" if data.y_val is None else (
            f"{data.y_val.shape[0]} validation examples, never used for gradients")
        run = run_record(
            **common, data=spec_data_record(data, settings.data),
            split=f"all examples train; {validation}",
            options={**spec_options(settings.spec, settings.data),
                     "run": run_spec_record(settings.run), **chunks},
        )
    return build_manifest(tool=TOOL, runs=[run], dtype=settings.dtype)


def settings_from_run(run: dict, *, dtype: str) -> TrainSettings:
    """Rebuild the settings of a training run from its manifest entry (for ``rerun``).

    A spec run (``options.spec``) is read back from its recorded spec text, with the
    recorded steps, batch size and seed; the line's flags from ``options.data``.

    Raises:
      ValueError: one line naming the manifest key that cannot be rerun.
    """
    options = run["options"]
    chunk = options.get("chunk_steps")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk <= 0:
        raise ValueError("manifest: runs[0].options.chunk_steps must be an integer > 0")
    eval_every = options.get("eval_every", 1)  # manifests before eval_every recorded every step
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every <= 0:
        raise ValueError("manifest: runs[0].options.eval_every must be an integer > 0")
    if "spec" in options:
        spec = spec_from_options(options)
        try:
            return spec_settings(spec, path=options["spec_path"], text=options["spec"],
                                 steps=run["steps"], batch_size=run["batch_size"],
                                 seed=run["seed"], dtype=dtype, chunk_steps=chunk,
                                 eval_every=eval_every)
        except SettingError as err:
            raise ValueError(f"manifest: {err.naming(_MANIFEST_KEYS)}") from None
    data_name = data_name_for_rerun(options)
    if len(run["learning_rates"]) != 1:
        raise ValueError("manifest: runs[0].learning_rates must hold exactly one rate")
    features, target = options.get("features"), options.get("target")
    if features is not None and (
        not isinstance(features, list) or not all(isinstance(f, str) for f in features)
    ):
        raise ValueError("manifest: runs[0].options.features must be a list of column names")
    if target is not None and not isinstance(target, str):
        raise ValueError("manifest: runs[0].options.target must be a column name")
    data = named_data(data_name, features=features, target=target)
    init = line_init_from(run["init"], feature_count(data))
    try:
        return make_settings(
            data,
            optimizer=run["optimizer"],
            learning_rate=run["learning_rates"][0],
            hyperparameters=dict(run["hyperparameters"]),
            steps=run["steps"],
            batch_size=run["batch_size"],
            seed=run["seed"],
            dtype=dtype,
            chunk_steps=chunk,
            init=init,
            eval_every=eval_every,
        )
    except SettingError as err:
        raise ValueError(f"manifest: {err.naming(_MANIFEST_KEYS)}") from None


_MANIFEST_KEYS = {
    "steps": "runs[0].steps", "batch_size": "runs[0].batch_size", "seed": "runs[0].seed",
    "optimizer": "runs[0].optimizer", "learning_rate": "runs[0].learning_rates",
    "hyperparameters": "runs[0].hyperparameters", "chunk_steps": "runs[0].options.chunk_steps",
    "eval_every": "runs[0].options.eval_every",
}
"""Where a manifest keeps each setting :func:`make_settings` may refuse (``dtype`` is checked
when the manifest is read)."""
