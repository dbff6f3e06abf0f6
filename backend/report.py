"""Reports to hand a colleague: a comparison's tables and figures as one self-contained file.

HTML carries the interactive figures with plotly's JavaScript inlined (it opens offline, from a mail or a
USB stick); Markdown and LaTeX (booktabs, for papers) carry the tables. Sections are built from the very tables
and figure functions the pages and ``export`` use, so a report says what the page said.
"""
from __future__ import annotations

import html
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd

from backend import figures
from backend.vocab import METRICS, PASS_METRICS


@dataclass
class Section:
    title: str
    tables: list[tuple[str, pd.DataFrame]]  # (caption, table)
    # Makers of plotly figures, called by the HTML report only (Markdown and LaTeX have none to build).
    figures: list = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    sections: list[Section]
    made_from: dict[str, str] = field(default_factory=dict)  # store, code commit, time: what it was made from


def made_from(store_path) -> dict[str, str]:
    """What a report was made from: when, which database, which code."""
    from backend.provenance import environment
    return {"generated": time.strftime("%Y-%m-%d %H:%M %Z"), "database": str(store_path),
            "code commit": environment()["code_commit"] or "unknown"}


def deltas_section(table: pd.DataFrame, names: dict[str, str], base: str, resampling_note: str,
                   cautions: list[str] = ()) -> Section:
    """One heatmap per candidate and the deltas table (``significance.stored_deltas``'s)."""
    candidates = list(dict.fromkeys(table["candidate_id"])) if "candidate_id" in table else []
    shown = [partial(figures.deltas_heatmap, table[table["candidate_id"] == c],
                     title=f"{names.get(c, c)}  vs  {names.get(base, base)}") for c in candidates]
    columns = ["candidate_id"] * (len(candidates) > 1) + ["language", "metric", "base", "candidate", "delta",
                                                        "rel_delta_pct", "ci_low", "ci_high", "p_adjusted", "verdict"]
    return Section(f"Language deltas against {names.get(base, base)}",
                   [("Per language and metric; interval and p-value over queries (problems for codegen).",
                     table[[c for c in columns if c in table]])], shown,
                   [*cautions, f"Test: {resampling_note}. Colour: green significantly better, red significantly worse, "
                    "white not significant; grey with '?': not tested — no per-query results, or not a mean over "
                    "the items (a median rank, pass@k for k > 1); the reason shows on hover and in the verdict "
                    "column."])


def efficiency_section(eff: pd.DataFrame, metric: str, base_name: str | None, notes: list[str] = ()) -> Section:
    """Score against disk size, params and speed-up (``compare.efficiency`` + ``against_base``'s table)."""
    label = METRICS[metric].label if metric in METRICS else metric
    # A figure only where some run has the value: no empty axes.
    shown = [partial(figures.efficiency_scatter, eff, column, axis, label) for column, axis in
             (("disk_mb", "disk MB"), ("params_m", "params (millions)")) if eff[column].notna().any()]
    if base_name and {"speedup", "retention"} <= set(eff) and eff[["speedup", "retention"]].notna().all(axis=1).sum() > 1:
        shown.append(partial(figures.retention_scatter, eff, base_name, label))
    columns = ["name", "score", "score_ci_low", "score_ci_high", "retention", "disk_mb", "size_basis", "params_m",
               "trainable_pct", "encode_throughput", "speed_device", "speedup", "speedup_basis", "score_per_mb",
               "pareto_disk", "run_id"]
    return Section(f"Efficiency: {label}" + (f", relative to {base_name}" if base_name else ""),
                   [("One row per run of one benchmark and protocol.", eff[[c for c in columns if c in eff]])],
                   shown, list(notes))


def codegen_section(table: pd.DataFrame, metric: str | None = None) -> Section:
    """Executed pass@k per language against params (``compare.codegen_table``'s table): one figure per pass@k
    (or only ``metric``) that some run with a size has."""
    ks = [metric] if metric else [k for k in PASS_METRICS if k in table]
    shown = [partial(figures.passk_scatter, table, "params_m", "params (millions, log)", k) for k in ks
             if k in table and (table[k].notna() & table["params_m"].notna()).any()]
    return Section("Codegen: " + ", ".join(ks), [("Executed pass@k per run and language.", table.drop(columns="facet"))],
                   shown)


def leaderboard_section(table: pd.DataFrame, metric: str, notes: list[str] = ()) -> Section:
    """Runs ranked per language and on the mean with 95 % rank intervals and tiers (``views.leaderboard``)."""
    label = METRICS[metric].label if metric in METRICS else metric
    columns = ["language", "rank", "rank_low", "rank_high", "tier", "name", "value", "pareto", "note", "run_id"]
    mean = table[table["language"] == "mean"]
    return Section(f"Leaderboard: {label}", [
        ("On the mean over languages; rank interval: 95 % paired bootstrap over items; tier 1: not significantly "
         "different from the best.", mean[[c for c in columns if c in mean]]),
        ("Per language.", table[table["language"] != "mean"][[c for c in columns if c in table]])],
        [partial(figures.rank_intervals, table)], list(notes))


# ---- rendering ----

def _number(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    return table.apply(lambda col: col.map(_number))


def to_html(report: Report) -> str:
    """One file: figures interactive (plotly.js inlined once), tables as HTML, every text escaped."""
    from plotly.offline import get_plotlyjs
    parts = [f"<h1>{html.escape(report.title)}</h1>",
             "<p class=made>" + " · ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in report.made_from.items())
             + "</p>"]
    for section in report.sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p class=note>{html.escape(n)}</p>" for n in section.notes]
        for make in section.figures:
            fig = make().update_layout(template="plotly_white")
            parts.append(f"<div class=figure>{fig.to_html(full_html=False, include_plotlyjs=False)}</div>")
        for caption, table in section.tables:
            parts.append(f"<p class=caption>{html.escape(caption)}</p>")
            parts.append(_cells(table).to_html(index=False, escape=True, border=0, classes="table"))
    style = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}"
             ".made,.note,.caption{color:#555}table{border-collapse:collapse;font-size:13px;margin-bottom:2em}"
             "th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}th{background:#f3f3f3}")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(report.title)}</title><style>{style}</style>"
            f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
            + "\n".join(parts) + "</body></html>")


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    """The tables as GitHub-flavoured Markdown (figures: see the HTML report)."""
    lines = [f"# {report.title}", "", " · ".join(f"{k}: {v}" for k, v in report.made_from.items()), ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""] + [f"> {n}" for n in section.notes] + ([""] if section.notes else [])
        for caption, table in section.tables:
            cells = _cells(table)
            lines += [caption, "", "| " + " | ".join(_markdown_cell(str(c)) for c in cells.columns) + " |",
                      "|" + "---|" * len(cells.columns)]
            lines += ["| " + " | ".join(_markdown_cell(v) for v in row) + " |" for row in cells.itertuples(index=False)]
            lines.append("")
    return "\n".join(lines)


def to_latex(report: Report) -> str:
    """The tables as LaTeX ``table`` floats with booktabs rules (\\usepackage{booktabs}); text escaped."""
    out = [f"% {report.title}", "% " + " · ".join(f"{k}: {v}" for k, v in report.made_from.items()),
           "% needs \\usepackage{booktabs}"]
    for section in report.sections:
        for caption, table in section.tables:
            align = "".join("r" if pd.api.types.is_numeric_dtype(table[c]) else "l" for c in table.columns)
            out.append(_cells(table).to_latex(index=False, escape=True, caption=f"{section.title}. {caption}",
                                              position="htbp", column_format=align))
    return "\n".join(out)


FORMATS = {".html": to_html, ".md": to_markdown, ".tex": to_latex}


def write(report: Report, path: Path) -> Path:
    """Write in the format the file name says (.html, .md or .tex)."""
    path = Path(path)
    render = FORMATS.get(path.suffix.lower())
    if render is None:
        raise ValueError(f"cannot write a report as {path.name!r}: name the file .html, .md or .tex")
    path.write_text(render(report), encoding="utf-8")
    return path
