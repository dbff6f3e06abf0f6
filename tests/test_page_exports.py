"""A page's table is its CLI export: on the golden store, each page (AppTest) shows the very table the matching
``export`` / ``recipe show`` command writes, compared as CSV."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from backend import csvexport
from backend.config import REPO_ROOT
from tests.test_golden_exports import _ids, golden_store, run_cli

TIMEOUT = 120


@pytest.fixture(scope="module")
def golden(tmp_path_factory, golden_template):
    with golden_store(tmp_path_factory.mktemp("golden-pages"), golden_template) as tmp:
        yield tmp


def page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "pages" / name), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def same(shown: pd.DataFrame, cli_csv: str):
    """Equal as the CSV a user gets from either (the page's download button writes csvexport.to_csv too)."""
    pd.testing.assert_frame_equal(_read(csvexport.to_csv(shown.reset_index(drop=True))), _read(cli_csv),
                                  check_dtype=False)


def cli_csv(golden, *argv) -> str:
    code, out, err = run_cli([*argv, "-o", "-"], golden)
    assert code == 0, err
    return out


def test_runs_page_is_export_runs(golden):
    at = page("runs.py")
    same(at.dataframe[0].value, cli_csv(golden, "export", "runs"))


def test_deltas_page_is_export_deltas(golden):
    at = page("deltas.py")
    base, candidates = at.selectbox[0].value, at.multiselect[0].value
    assert candidates, "the page offers a default candidate"
    assert "candidate_id" not in at.dataframe[0].value  # one candidate: as the CLI writes it
    same(at.dataframe[0].value, cli_csv(golden, "export", "deltas", "--base", base, "--candidate", candidates[0]))
    ids = _ids()
    at = page("deltas.py", base=ids["teacher"], candidate=[ids["distill"], ids["kd3"]])
    assert at.multiselect[0].value == [ids["distill"], ids["kd3"]]
    same(at.dataframe[0].value, cli_csv(golden, "export", "deltas", "--base", ids["teacher"], "--candidate",
                                        ids["distill"], "--candidate", ids["kd3"]))


def test_efficiency_page_is_export_efficiency(golden):
    at = page("efficiency.py")
    table = at.dataframe[0].value
    assert table["speedup_basis"].eq("side by side").any()
    same(table, cli_csv(golden, "export", "efficiency"))
    base = _ids()["distill"] + "--csn-1000"  # another evaluation, another base
    at = page("efficiency.py", evaluation="mined-6lang-golden · csn-1000", base=base)
    assert at.selectbox(key="eff_base").value == base
    same(at.dataframe[0].value, cli_csv(golden, "export", "efficiency", "--bench", "mined-6lang-golden",
                                        "--protocol", "csn-1000", "--base", base))


def test_codegen_page_is_export_codegen(golden):
    at = page("codegen.py")
    same(at.dataframe[0].value, cli_csv(golden, "export", "codegen"))


@pytest.mark.parametrize("name", ["kd-students", "codegen-lora-vs-full"])
def test_recipes_page_is_recipe_show(golden, name):
    at = page("recipes.py", recipe=name)
    shown = next(d.value for d in at.dataframe if "side" in d.value)
    code, _, err = run_cli(["recipe", "show", name, "-o", "recipe.csv"], golden)
    assert code == 0, err
    same(shown, (golden / "recipe.csv").read_text())


def test_leaderboard_page_is_leaderboard(golden):
    at = page("leaderboard.py")  # the same default evaluation as the CLI's
    same(next(d.value for d in at.dataframe if "tier" in d.value), cli_csv(golden, "leaderboard"))
    at = page("leaderboard.py", runs="codegen")
    same(next(d.value for d in at.dataframe if "tier" in d.value), cli_csv(golden, "leaderboard", "--codegen"))
