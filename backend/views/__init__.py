"""The read side: every comparison the product shows, one function each, returning a ``View`` — its table, the
cautions to show with it and its figures. The pages, ``export``, ``report`` and ``check`` all ask here, so a
page's table and its CLI export are the same table by construction.

``store`` is anything with the Store's read methods (``runs``, ``metrics``, ``query_results``,
``problem_results``, ``relevant_ranks``): the Store itself for the CLI, a cached reader for the pages.
"""
from backend.views.base import (  # noqa: F401
    Figure,
    Snapshot,
    View,
    columns_first,
    known_runs,
    one_evaluation,
    runs,
    score_intervals,
)
from backend.views.codegen import (  # noqa: F401
    codegen,
    codegen_columns,
    codegen_figures,
    flipped,
)
from backend.views.deltas import (  # noqa: F401
    check,
    deltas,
    deltas_export,
    query_moves,
    seed_groups_of,
)
from backend.views.efficiency import (  # noqa: F401
    efficiency,
    efficiency_columns,
)
from backend.views.exports import (  # noqa: F401
    EXPORTS,
    comparison_report,
    export,
)
from backend.views.leaderboard import (  # noqa: F401
    leaderboard,
)
from backend.views.recipes import (  # noqa: F401
    RecipeLaunch,
    RecipeView,
    recipe,
    recipe_launch,
)
