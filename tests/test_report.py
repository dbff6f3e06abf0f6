"""Reports (HTML / Markdown / LaTeX), the efficiency export relative to a base, and deep links."""
import csv
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from backend import catalog, figures, pareto, report
from backend.__main__ import main
from backend.config import REPO_ROOT
from tests.test_page_exports import golden  # noqa: F401 - a fixture
from tests.test_significance import three_runs  # noqa: F401 - a fixture

HOSTILE = "</script><script>alert(1)</script> a|b 50% & $x_1$ =cmd"


def _timed(store, tmp_path, name="s"):
    for run_id, kind, speed, mb in (("t", "teacher-eval", 40.0, 90.0), (name, "m2v-distill", 4000.0, 15.0)):
        run = {"schema_version": 1, "run_id": run_id, "kind": kind, "benchmark": "b", "protocol": "full",
               "disk_mb": mb, "params": 1000, "encode_throughput": speed, "name": HOSTILE if run_id != "t" else "teacher",
               "metrics": [{"language": "go", "metric": "ndcg@10", "value": 0.8 if run_id == "t" else 0.6}]}
        (tmp_path / f"{run_id}.json").write_text(json.dumps(run))
        catalog.import_paths([tmp_path / f"{run_id}.json"], store=store)


def test_export_efficiency_has_speedup_and_retention_like_the_page(store, tmp_path, capsys):
    _timed(store, tmp_path)
    out = tmp_path / "eff.csv"
    assert main(["export", "efficiency", "-o", str(out)]) == 0
    rows = {r["run_id"]: r for r in csv.DictReader(out.open())}
    assert float(rows["s"]["speedup"]) == pytest.approx(100.0) and float(rows["s"]["retention"]) == pytest.approx(0.75)
    assert rows["s"]["speedup_basis"].startswith("per-run throughputs")
    assert "measure them side by side" in capsys.readouterr().err
    assert main(["export", "efficiency", "--base", "s", "-o", str(out)]) == 0  # relative to another run
    rows = {r["run_id"]: r for r in csv.DictReader(out.open())}
    assert float(rows["t"]["speedup"]) == pytest.approx(0.01)
    assert main(["export", "efficiency", "--base", "nope", "-o", str(out)]) == 1


@pytest.mark.integration
def test_report_in_three_formats_escapes_every_name(three_runs, tmp_path, capsys):
    for suffix in (".html", ".md", ".tex"):
        path = tmp_path / f"r{suffix}"
        assert main(["report", "--base", "base", "--candidate", "tiny", "--candidate", "better", "-o", str(path)]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "Plotly" in html and not re.search(r"<script[^>]*src=|<link", html)  # the library inlined, nothing fetched
    assert html.count('class="plotly-graph-div"') == 2  # one heatmap per candidate; no empty efficiency axes
    # The Markdown's deltas table is the export's table, row for row.
    assert main(["export", "deltas", "--base", "base", "--candidate", "tiny", "--candidate", "better",
                 "-o", str(tmp_path / "d.csv")]) == 0
    exported = list(csv.DictReader((tmp_path / "d.csv").open()))
    md = (tmp_path / "r.md").read_text().split("## ")[1]
    rows = [line for line in md.splitlines() if line.startswith("| tiny") or line.startswith("| better")]
    assert len(rows) == len(exported) == 2 * 2 * 3
    tex = (tmp_path / "r.tex").read_text()
    assert tex.count("\\begin{table}") == 2 and tex.count("\\toprule") == 2 and "{lll" in tex and "rrr" in tex


def test_hostile_names_cannot_escape_any_format(store, tmp_path):
    _timed(store, tmp_path)
    made = report.Report("t", [report.efficiency_section(*_eff(store, tmp_path))], {"k": "v"})
    html = report.to_html(made)
    assert "<script>alert(1)" not in html
    md = report.to_markdown(made)
    table_rows = [line for line in md.splitlines() if line.startswith("|")]
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in table_rows}) == 1  # a '|' in a name is escaped
    tex = report.to_latex(made)
    assert r"50\% \& \$x\_1\$" in tex and "\\toprule" in tex


def _eff(store, tmp_path):
    from backend import views
    return views.efficiency(store, tmp_path / "runs").table, "ndcg@10", "teacher"


def test_report_refuses_an_unknown_format(three_runs, tmp_path, capsys):
    assert main(["report", "-o", str(tmp_path / "r.pdf")]) == 1
    assert "name the file .html, .md or .tex" in capsys.readouterr().err


def test_dark_palette_draws_the_front_in_a_light_ink():
    def luminance(hex_colour):
        r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    assert luminance(figures.DARK.ink) > 0.6 > 0.4 > luminance(figures.LIGHT.ink)
    assert luminance(figures.DARK.neutral) < 0.3 < 0.9 < luminance(figures.LIGHT.neutral)
    assert figures.palette("dark") is figures.DARK and figures.palette(None) is figures.LIGHT


@pytest.mark.integration
def test_a_link_restores_the_deltas_selections_and_the_url_follows_them(three_runs):
    at = AppTest.from_file(str(REPO_ROOT / "pages/deltas.py"), default_timeout=60)
    at.query_params["base"] = "tiny"
    at.query_params["candidate"] = ["better", "base"]
    at.query_params["bh"] = "True"
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "tiny" and at.multiselect[0].value == ["better", "base"]
    assert at.toggle[0].value is True
    at.multiselect[0].set_value(["base"]).run()
    assert at.query_params["candidate"] in ("base", ["base"]) and at.query_params["base"] in ("tiny", ["tiny"])


def test_a_link_with_unknown_runs_falls_back_to_the_defaults(three_runs):
    at = AppTest.from_file(str(REPO_ROOT / "pages/deltas.py"), default_timeout=60)
    at.query_params["base"] = "deleted-run"
    at.query_params["candidate"] = "also-gone"
    at.run()
    assert not at.exception and at.selectbox[0].value in {"base", "tiny", "better"} and at.multiselect[0].value


def test_efficiency_and_runs_pages_keep_their_selections_in_the_url(store, tmp_path):
    _timed(store, tmp_path)
    at = AppTest.from_file(str(REPO_ROOT / "pages/efficiency.py"), default_timeout=60)
    at.query_params["base"] = "s"
    at.run()
    assert not at.exception and at.selectbox[-1].value == "s"
    table = at.dataframe[0].value.set_index("run_id")
    assert table.loc["t", "speedup"] == pytest.approx(0.01)
    at = AppTest.from_file(str(REPO_ROOT / "pages/runs.py"), default_timeout=60)
    at.query_params["kind"] = "teacher-eval"
    at.run()
    assert not at.exception and at.multiselect[0].value == ["teacher-eval"]
    assert list(at.dataframe[0].value["run_id"]) == ["t"]


def test_runs_prints_long_run_ids_whole_and_shortens_only_names(store, tmp_path, capsys):
    run_id = "m2v-distill--all-minilm-l6-v2-pca-256--20261130T220229588--csn-1000"
    run = {"schema_version": 1, "run_id": run_id, "kind": "m2v-distill", "name": "n" * 80,
           "metrics": [{"language": "go", "metric": "ndcg@10", "value": 0.5}]}
    (tmp_path / "r.json").write_text(json.dumps(run))
    catalog.import_paths([tmp_path / "r.json"], store=store)
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert run_id in out and "n" * 47 + "…" in out and "n" * 48 not in out
    assert main(["runs", "--wide"]) == 0 and "n" * 80 in capsys.readouterr().out


def test_big_scatters_are_drawn_with_webgl_small_ones_as_svg():
    import pandas as pd
    for n, kind in ((20, "scatter"), (figures.WEBGL_POINTS + 1, "scattergl")):
        eff = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "name": "n", "source": "local", "kind": "k",
                            "basis": "b", "score": 0.5, "disk_mb": range(1, n + 1), "pareto_disk": False,
                            "speedup": 2.0, "retention": 0.9})
        assert {t.type for t in figures.efficiency_scatter(eff).data} == {kind}
        assert {t.type for t in figures.retention_scatter(eff, "base").data} == {kind}


def test_beyond_a_few_thousand_runs_a_chart_draws_their_density_and_the_front():
    import numpy as np
    import pandas as pd

    from backend import compare

    def eff(n):
        rng = np.random.default_rng(n)
        out = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)], "name": "n", "source": "local", "kind": "k",
                            "basis": "b", "score": rng.random(n), "disk_mb": rng.random(n) * 100,
                            "speedup": rng.random(n) * 100, "retention": rng.random(n)})
        return out.assign(pareto_disk=pareto.pareto_front(out["score"], out["disk_mb"]))
    sizes = {}
    for n in (figures.DENSITY_POINTS + 1, 5 * figures.DENSITY_POINTS):
        fig, frame = figures.efficiency_scatter(eff(n)), eff(n)
        assert [t.type for t in fig.data] == ["heatmap", "scatter"]
        assert np.nansum(fig.data[0].z) == n and len(fig.data[1].x) == frame["pareto_disk"].sum()
        assert [t.type for t in figures.retention_scatter(frame, "base").data] == ["heatmap", "scatter"]
        sizes[n] = len(fig.to_json())
    big, small = sizes[5 * figures.DENSITY_POINTS], sizes[figures.DENSITY_POINTS + 1]
    assert big < 1.2 * small  # what the page sends does not grow with the runs


def test_report_of_the_published_codegen_study_draws_only_scores_it_has(reference_store, tmp_path):
    assert main(["report", "-o", str(tmp_path / "r.html")]) == 0
    html = (tmp_path / "r.html").read_text()
    # efficiency of the research-notes runs (disk MB, params), the leaderboard of that evaluation (one
    # rank-interval figure), pass@100 of the codegen study and pass@1 of the public EvalPlus leaderboard's models
    # (the study publishes pass@100 only: no pass@1 of its own)
    assert html.count('class="plotly-graph-div"') == 5 and "Codegen: pass@1, pass@100" in html and "Leaderboard" in html


def _plotly_figures(html: str) -> list[dict]:
    """The figures an HTML report draws: each Plotly.newPlot call's data and layout, as JSON."""
    decoder, out = json.JSONDecoder(), []
    for match in re.finditer(r'Plotly\.newPlot\(\s*"[^"]+",\s*', html):
        data, end = decoder.raw_decode(html, match.end())
        layout, _ = decoder.raw_decode(html, html.index("{", end))
        out.append({"data": data, "layout": layout})
    return out


def _array(value):
    """A plotly JSON array: a list, or plotly's typed array ({"dtype", "bdata": base64, "shape"})."""
    import base64

    import numpy as np
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in str(value.get("shape", len(flat))).split(",")]).tolist()
    return value


def _cells(trace: dict) -> dict[tuple[str, str], float | None]:
    """(language, metric label) -> the cell's z (None where the trace leaves it empty)."""
    z = _array(trace["z"])
    return {(lang, metric): None if z[i][j] is None or z[i][j] != z[i][j] else z[i][j]
            for i, lang in enumerate(trace["y"]) for j, metric in enumerate(trace["x"])}


@pytest.mark.parametrize("base, candidate", [("teacher", "distill"),
                                             ("reference--m2v-mpnet-distill", "mteb--potion-base-8M--CodeSearchNetRetrieval")])
def test_untested_cells_are_never_coloured_in_the_html_report(golden, base, candidate):
    """Median-rank cells (not tested) and runs without per-query results (significance unknown) are grey with a
    '?' in the HTML report; only better/worse cells get a colour (their z), n.s. the neutral 0."""
    from backend.vocab import METRICS
    from tests.test_golden_exports import _ids, run_cli
    ids = _ids()
    base, candidate = ids.get(base, base), ids.get(candidate, candidate)
    code, _, err = run_cli(["report", "--base", base, "--candidate", candidate, "-o", "deltas.html"], golden)
    assert code == 0, err
    heatmaps = [f for f in _plotly_figures((golden / "deltas.html").read_text()) if f["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 1
    # A trace whose colour scale is one colour is the grey layer; every other one colours by value.
    single = [len({c for _, c in t["colorscale"]}) == 1 if isinstance(t.get("colorscale"), list) else False
              for t in heatmaps[0]["data"]]
    coloured = [t for t, one in zip(heatmaps[0]["data"], single) if not one]
    grey = next((t for t, one in zip(heatmaps[0]["data"], single) if one), None)
    assert len(coloured) == 1
    coloured = coloured[0]
    code, csv_text, err = run_cli(["export", "deltas", "--base", base, "--candidate", candidate, "-o", "-"], golden)
    verdicts = {(r["language"], METRICS[r["metric"]].label): r["verdict"] for r in csv.DictReader(csv_text.splitlines())}
    untested = {cell for cell, v in verdicts.items() if v not in ("better", "worse", "n.s.")}
    assert untested, "the comparison has untested cells"
    colours = _cells(coloured)
    for cell, verdict in verdicts.items():
        if cell in untested:
            assert colours[cell] is None, (cell, verdict, colours[cell])
        else:
            assert colours[cell] is not None and (colours[cell] == 0) == (verdict == "n.s."), (cell, verdict)
    assert grey is not None, "untested cells are drawn grey"
    greys = _cells(grey)
    assert {cell for cell, z in greys.items() if z is not None} == untested
    labels = {(lang, m): t for lang, row in zip(grey["y"], grey["text"]) for m, t in zip(grey["x"], row)}
    assert all(labels[c].endswith("?") or not labels[c] for c in untested)
