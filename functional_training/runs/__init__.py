"""The run machinery on top of the pure core: manifests, checkpoints, run loop, reruns, files.

``functional_training`` is the pure JAX library; this subpackage does what a real
run needs around it and imports the core, never the reverse:

- files (``_io``): atomic writes, strict JSON, output paths checked up front;
- digests (``_digests``): data versions and trajectory digests;
- the environment (``_environment``): package versions, sources, devices;
- manifests (``_manifest``): the schema, building, validating, reading, writing;
- checkpoints (``_checkpoint``): content-hashed, verified, chained;
- training runs (``_training``): settings, the chunked run loop, resume;
- the run description (``_run_spec``, ``_run_spec_json``): :class:`RunSpec`, the one
  type describing a run for both programs, and its one JSON write/read pair;
- spec files (``_spec``, split into ``_spec_toml``, ``_spec_data``, ``_spec_model``,
  ``_spec_training``): the one reader of the TOML spec format;
- sweep records (``_sweep_record``): a sweep's result JSON and manifest;
- reruns (``_rerun``): the one rerun, dispatching on a manifest's ``tool``;
- the command line (``_cli``, ``_arguments``, ``_train_cli``, ``_sweep_cli``):
  what ``python -m functional_training`` and ``python -m comparisons`` share.

Example:
  >>> from functional_training import runs
  >>> record = runs.data_record("one-shipment", [2.0], [6.0])
  >>> record["train_examples"], runs.is_digest(record["version"])
  (1, True)
"""

from functional_training.runs._arguments import add_dtype_option, add_json_option
from functional_training.runs._checkpoint import (
    Checkpoint,
    checkpoint_chain,
    checkpoint_id,
    checkpoint_metadata,
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from functional_training.runs._cli import (
    ArgumentParser,
    attach_negative_values,
    make_console,
    one_line,
    print_table,
    progress,
    run_handler,
)
from functional_training.runs._digests import (
    data_version,
    is_digest,
    sha256_digest,
    trajectory_digest,
)
from functional_training.runs._environment import (
    PACKAGES,
    current_environment,
    device_names,
    environment_notes,
    package_versions,
    source_digest,
)
from functional_training.runs._io import (
    canonical_json,
    check_output_path,
    check_output_paths,
    json_floats,
    read_json,
    write_atomic,
    write_json_atomic,
)
from functional_training.runs._manifest import (
    MANIFEST_FORMAT,
    build_manifest,
    data_record,
    read_manifest,
    run_record,
    run_spec_record,
    validate_manifest,
    write_manifest,
)
from functional_training.runs._rerun import (
    ENTRY_POINT_GROUP,
    Rerunner,
    RerunReport,
    add_rerun_command,
    first_difference,
    read_rerun_file,
    rerun,
    rerun_command,
    rerunner_for,
    same_bits,
)
from functional_training.runs._run_spec import FROM_TRAJECTORY, LAST_BATCH
from functional_training.runs._run_spec_json import (
    JsonField,
    json_kind,
    run_spec_from_json,
    run_spec_to_json,
)
from functional_training.runs._spec import MAX_PARAMETERS as SPEC_MAX_PARAMETERS
from functional_training.runs._spec import MAX_STEPS as SPEC_MAX_STEPS
from functional_training.runs._spec import (
    RunSpec,
    SpecError,
    leaf_layout,
    load_run_spec,
    parse_run_spec,
    read_spec_text,
    rows_of,
)
from functional_training.runs._sweep_record import sweep_digest, sweep_manifest, sweep_result_json
from functional_training.runs._train_manifest import (
    settings_from_run,
    train_manifest,
)
from functional_training.runs._train_settings import (
    SettingError,
    TrainSettings,
    make_settings,
    spec_settings,
)
from functional_training.runs._training import (
    TrainOutcome,
    prepare_checkpoint_dir,
    run_training,
)

__all__ = [
    "json_kind",
    "add_dtype_option",
    "add_json_option",
    "ArgumentParser",
    "Checkpoint",
    "ENTRY_POINT_GROUP",
    "MANIFEST_FORMAT",
    "PACKAGES",
    "RerunReport",
    "RunSpec",
    "FROM_TRAJECTORY",
    "LAST_BATCH",
    "JsonField",
    "run_spec_from_json",
    "run_spec_to_json",
    "Rerunner",
    "SPEC_MAX_PARAMETERS",
    "SPEC_MAX_STEPS",
    "SettingError",
    "SpecError",
    "TrainOutcome",
    "TrainSettings",
    "add_rerun_command",
    "attach_negative_values",
    "build_manifest",
    "canonical_json",
    "check_output_path",
    "check_output_paths",
    "checkpoint_chain",
    "checkpoint_id",
    "checkpoint_metadata",
    "checkpoint_name",
    "current_environment",
    "data_record",
    "data_version",
    "device_names",
    "environment_notes",
    "first_difference",
    "is_digest",
    "json_floats",
    "latest_checkpoint",
    "leaf_layout",
    "list_checkpoints",
    "load_checkpoint",
    "load_run_spec",
    "make_console",
    "make_settings",
    "spec_settings",
    "run_spec_record",
    "one_line",
    "package_versions",
    "parse_run_spec",
    "prepare_checkpoint_dir",
    "print_table",
    "progress",
    "read_json",
    "read_manifest",
    "read_rerun_file",
    "read_spec_text",
    "rerun",
    "rerun_command",
    "rerunner_for",
    "run_handler",
    "run_record",
    "rows_of",
    "run_training",
    "same_bits",
    "save_checkpoint",
    "settings_from_run",
    "sha256_digest",
    "source_digest",
    "sweep_digest",
    "sweep_manifest",
    "sweep_result_json",
    "train_manifest",
    "trajectory_digest",
    "validate_manifest",
    "write_atomic",
    "write_json_atomic",
    "write_manifest",
]
