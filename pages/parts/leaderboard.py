"""The Leaderboard page's parts: which runs are ranked (family, evaluation or problem set), the budget inputs,
and the best runs under the budget."""
import streamlit as st

from backend.leaderboard import Budget
from backend.views.leaderboard import MOST_RUNS
from pages.parts.links import from_link

LIMITS = [("lb_disk", "max disk MB", "disk"), ("lb_params", "max params (millions)", "params"),
          ("lb_memory", "max inference memory MB", "memory"), ("lb_speedup", "min side-by-side speed-up", "speedup")]


def family_picker(offer) -> str:
    """Retrieval or codegen runs (a choice only when the store holds both)."""
    from_link("lb_family", "runs", offer.families, offer.families[0])
    return st.radio("Runs", offer.families, horizontal=True, key="lb_family") if len(offer.families) > 1 \
        else offer.families[0]


def field_picker(offer, family: str, column) -> tuple[str | None, str | None, str | None]:
    """(benchmark, protocol, problem set) of the runs to rank, picked in ``column``."""
    if family == "retrieval":
        from_link("lb_group", "evaluation", list(offer.groups), offer.default_group)
        bench, protocol = offer.groups[column.selectbox("Evaluated on (benchmark · protocol)", list(offer.groups),
                                                        key="lb_group")]
        return bench, protocol, None
    from_link("lb_set", "problems", offer.problem_sets, MOST_RUNS)
    chosen = column.selectbox("Problem set", offer.problem_sets, key="lb_set")
    return None, None, None if chosen == MOST_RUNS else chosen


def budget_inputs() -> Budget:
    with st.expander("Budget: list only the runs within it (ranks stay those of the whole field)"):
        values = []
        for col, (key, label, param) in zip(st.columns(4), LIMITS):
            if key not in st.session_state:  # a linked view's budget
                linked = st.query_params.get(param)
                st.session_state[key] = float(linked) if linked and linked.replace(".", "", 1).isdigit() else None
            values.append(col.number_input(label, min_value=0.0, value=None, key=key))
    disk, params, memory, speedup = values
    return Budget(disk, params * 1e6 if params is not None else None, memory, speedup)


def best_under(table, budget: Budget):
    """The runs within the budget that rank best, with their rank and tier in the whole field."""
    st.subheader(f"Best under the budget ({budget.describe()})")
    st.dataframe(table[table["best_under_budget"]][["language", "name", "value", "rank", "rank_low", "rank_high",
                                                    "tier", "disk_mb", "params_m", "run_id"]],
                 hide_index=True, width="stretch")
    st.caption("Rank and tier in the whole field: tier 1 means statistically tied with the best run overall.")
