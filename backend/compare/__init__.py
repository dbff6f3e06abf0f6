"""Comparisons as pure functions over the store's DataFrames (pandas in, pandas out), one module per question:
``runs`` (what is shown of runs), ``comparability`` (may two runs be compared), ``deltas``, ``efficiency``,
``codegen``, ``seeds``. This package's interface is these names."""
from backend.compare.codegen import (  # noqa: F401
    codegen_table,
    flipped_problems,
)
from backend.compare.comparability import (  # noqa: F401
    ComparisonError,
    check_comparable,
    comparable_candidates,
    evaluation_groups,
    problem_sets,
    protocol_stem,
    with_twins,
)
from backend.compare.deltas import (  # noqa: F401
    DELTA_COLUMNS,
    deltas,
    multi_deltas,
)
from backend.compare.efficiency import (  # noqa: F401
    against_base,
    efficiency,
    measured_speed,
    relative,
    run_scores,
    speed_base,
)
from backend.compare.runs import (  # noqa: F401
    LANGUAGE_ORDER,
    NOT_SET,
    PAIR_PREFERENCE,
    RUNS_COLUMNS,
    config_diff,
    default_pair,
    filter_runs,
    json_object,
    metrics_table,
    run_details,
    run_labels,
    run_names,
    runs_view,
    source_versions,
)
from backend.compare.seeds import (  # noqa: F401
    seed_group_key,
    seed_groups,
    seeded_run_ids,
)
