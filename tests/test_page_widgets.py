"""Pages driven as a user clicks: the Deltas page, driven in AppTest through random orders of base switches,
candidate picks (stale ones too: what a browser sends for a widget the rerun has just changed) and the
Benjamini-Hochberg toggle, never raises, and a base switch keeps each candidate or maps it to its protocol twin;
the Runs page shows one selected run's config and provenance, and what differs between several."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from backend import compare
from tests.test_golden_exports import _ids, golden_store
from tests.test_page_exports import page

@pytest.fixture(scope="module")
def golden(tmp_path_factory, golden_template):
    with golden_store(tmp_path_factory.mktemp("golden-widgets"), golden_template):
        from backend.catalog import default_store
        from backend.config import settings as app_settings
        yield default_store(app_settings()).runs()


def deltas_page() -> AppTest:
    return page("deltas.py")


def candidates_of(at: AppTest) -> list[str]:
    return at.multiselect(key="deltas_candidates").value if at.multiselect else []


def test_a_base_switch_maps_the_candidates_to_their_protocol_twins(golden):
    ids = _ids()
    at = deltas_page()
    assert at.selectbox(key="deltas_base").value == ids["teacher"]
    at.multiselect(key="deltas_candidates").set_value([ids["distill"], ids["kd3"]]).run()
    # The reported sequence: the base switched to the csn-1000 teacher and BH toggled before the rerun ended —
    # the browser sends the old candidates, which the new base no longer offers.
    at.selectbox(key="deltas_base").set_value(ids["teacher"] + "--csn-1000")
    at.toggle(key="deltas_bh").set_value(True)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert candidates_of(at) == [ids["distill"] + "--csn-1000", ids["kd3"] + "--csn-1000"]
    assert not at.info, [i.value for i in at.info]  # no "Pick at least one candidate run."
    assert set(at.dataframe[0].value["candidate_id"]) == {ids["distill"] + "--csn-1000", ids["kd3"] + "--csn-1000"}
    at.selectbox(key="deltas_base").set_value(ids["teacher"]).run()  # and back
    assert candidates_of(at) == [ids["distill"], ids["kd3"]]


def test_twins_are_found_by_protocol_suffix_only(golden):
    ids = _ids()
    options = [ids["distill"] + "--csn-1000", ids["seed1"] + "--csn-1000"]
    assert compare.with_twins(golden, [ids["distill"], "not a run", None, ids["teacher"]], options) == [options[0]]
    assert compare.with_twins(golden, [options[1], ids["seed1"]], options) == [options[1]]  # no repeats
    assert compare.protocol_stem("a--csn-1000", "full") == "a--csn-1000"  # a full run's id keeps its suffix


ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("base"), st.integers(0, 10_000)),
    st.tuples(st.just("candidates"), st.lists(st.integers(0, 10_000), max_size=3)),
    st.tuples(st.just("bh"), st.just(0))), min_size=1, max_size=8)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(ACTIONS, min_size=1, max_size=4))
def test_deltas_page_survives_widgets_changed_in_any_order(golden, steps):
    """Each step sets some widgets at once (as clicks landing during one rerun do), then reruns. Candidates are
    drawn from every run, not only those offered: a browser's value can be stale; a base is one the page offers."""
    every = golden["run_id"].tolist()
    at = deltas_page()
    for step in steps:
        before = candidates_of(at)
        base_changed = False
        for action, arg in step:
            if action == "base":  # a click picks one of the bases offered (at most PICK_LIMIT of the runs)
                bases = at.selectbox(key="deltas_base")
                bases.select_index(arg % len(bases.options))
                base_changed = True
            elif action == "candidates" and at.multiselect:
                at.multiselect(key="deltas_candidates").set_value([every[i % len(every)] for i in arg])
                before = None
            elif action == "bh" and at.toggle:
                at.toggle(key="deltas_bh").set_value(not at.toggle(key="deltas_bh").value)
        at.run()
        assert not at.exception, (step, [e.value for e in at.exception])
        base = at.selectbox(key="deltas_base").value
        options = compare.comparable_candidates(golden, base)
        assert set(candidates_of(at)) <= set(options)
        if base_changed and before:  # the old candidates, kept or as their twins, when the new base offers any
            assert candidates_of(at) == (compare.with_twins(golden, before, options) or candidates_of(at))


# -- the Runs page: what one run was made with, what differs between several ------------------------------------

def runs_page_with(selected: list[str]) -> AppTest:
    at = page("runs.py")
    table = at.dataframe[0].value
    rows = [int(i) for i in table.index[table["run_id"].isin(selected)]]
    # The table's selection state (its key names the filters, all empty here); AppTest cannot click a row.
    at.session_state[f"runs_table-0-{hash(('',))}"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_one_selected_run_shows_its_config_and_provenance(golden):
    import json
    at = runs_page_with([_ids()["distill"]])
    shown = json.loads(at.json[0].value)
    assert shown["config"]["pca_dims"] == 128 and shown["provenance"]["encoder"]


def test_teacher_vs_student_diff_shows_their_config_keys(golden):
    ids = _ids()
    at = runs_page_with([ids["teacher"], ids["distill"]])
    diff = at.dataframe[-1].value.set_index("key")
    assert {"config.pca_dims", "config.vocabulary_file", "provenance.encoder"} <= set(diff.index)
    assert "config.batch_size" not in diff.index  # the same in both
    assert compare.NOT_SET in diff.loc["config.pca_dims"].tolist()
