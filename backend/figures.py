"""Pure functions DataFrame -> plotly figure. Pages show ``safe(...)``'s text instead of crashing on bad data."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from backend.compare import LANGUAGE_ORDER
from backend.frames import isin
from backend.vocab import METRICS



@dataclass(frozen=True)
class Palette:
    """The few colours the figures set themselves (plotly and Streamlit's theme colour the rest)."""
    ink: str  # lines drawn over the data: the Pareto front
    muted: str  # reference lines, a raw curve under its average
    neutral: str  # a heatmap cell that did not change significantly: the page's background, nearly
    untested: str  # a heatmap cell no test decided (no per-item results, a median rank): grey, never a verdict

    def diverging(self) -> list:
        # Red for worse, green for better, neutral at zero; clipped at +-50 % so one outlier does not wash out
        # the rest.
        return [[0.0, "#b2182b"], [0.35, "#ef8a62"], [0.5, self.neutral], [0.65, "#7fbf7b"], [1.0, "#1b7837"]]


LIGHT = Palette(ink="#444444", muted="#888888", neutral="#f7f7f7", untested="#d4d4d4")
DARK = Palette(ink="#d8d8d8", muted="#9a9a9a", neutral="#2b2f38", untested="#50555f")


def palette(theme_type: str | None) -> Palette:
    """The palette for Streamlit's theme type ("light" / "dark"; unknown: light)."""
    return DARK if theme_type == "dark" else LIGHT


# Published reference runs (runs/reference/: public leaderboards, studies) keep their own marker on every chart.
REFERENCE_SYMBOL = "diamond"

# Above this many points a scatter is drawn with WebGL (plotly's Scattergl): SVG markers make a page with a
# year of nightly runs crawl.
WEBGL_POINTS = 1500


# Above this many a chart draws the density of the runs (a 2-D histogram) with the Pareto front and the
# reference on top, instead of one marker each: what it costs no longer grows with the store.
DENSITY_POINTS = 4000


def log_ticks(values, exponent: bool = False) -> dict:
    """Tick positions and labels for a log axis over ``values``: the powers of ten (1, 10, 100) where the data
    spans two or more of them, else 1-2-5 steps. Plotly's own choice on a short range labels the 2s and 5s between
    powers ("5 1 2 5 10 2 5 100 2"), which reads as a jumble. ``exponent``: the axis itself holds log10 values
    (a density's bins), the labels still say 1, 10, 100."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return {}
    lo, hi = v.min(), v.max()
    powers = [10.0 ** k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    ticks = [t for t in powers if lo <= t * 1.0001 and t <= hi * 1.0001]
    if len(ticks) < 2:  # less than a decade: 1-2-5 steps near the data
        ticks = [m * t for t in powers for m in (1, 2, 5) if lo / 1.25 <= m * t <= hi * 1.25]
    return {"tickvals": [math.log10(t) for t in ticks] if exponent else ticks,
            "ticktext": [_tick_label(t) for t in ticks], "tickmode": "array"}


def _tick_label(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if value >= 1e4 else f"{value:g}"


def _scatter(n_points: int):
    return go.Scattergl if n_points > WEBGL_POINTS else go.Scatter


def _density(x, y, palette: Palette, what: str) -> go.Heatmap:
    """Run counts on a 60 x 40 grid, binned here: the figure's size does not depend on the number of runs."""
    counts, xs, ys = np.histogram2d(np.asarray(x, dtype=float), np.asarray(y, dtype=float), bins=(60, 40))
    return go.Heatmap(z=np.where(counts.T > 0, counts.T, np.nan), x=(xs[:-1] + xs[1:]) / 2, y=(ys[:-1] + ys[1:]) / 2,
                      name=what, showscale=False, showlegend=True, colorscale=[[0, palette.neutral], [1, palette.muted]],
                      hovertemplate="%{z:.0f} runs<extra></extra>")


def safe(build, *args, **kwargs):
    """(figure, None) or (None, message): a plotting failure becomes text on the page."""
    try:
        return build(*args, **kwargs), None
    except Exception as e:  # noqa: BLE001 - any plotting failure is shown, not raised
        return None, f"Could not draw this figure: {type(e).__name__}: {e}"


SIGNIFICANT = ("better", "worse")  # the verdicts of a significance test that rejected "no change"


def deltas_heatmap(deltas, title: str = "", palette: Palette = LIGHT) -> go.Figure:
    """Language x metric grid labelled with the relative delta.

    Only tested-and-significant cells are coloured (by improvement, direction-aware); ``n.s.`` cells are neutral
    and labelled n.s.; every other cell — significance unknown (no per-item results), not tested (a median
    rank), only in one run, or a table without tests at all (no ``p_adjusted``) — is grey, its label marked "?"
    and its reason on hover. Two traces: the grey one under the coloured one, each cell in exactly one."""
    metrics = [m for m in METRICS if m in set(deltas["metric"])]
    languages = [lang for lang in LANGUAGE_ORDER if lang in set(deltas["language"])]
    if "p_adjusted" in deltas and "verdict" in deltas:
        verdicts = deltas["verdict"].fillna("").astype(str).to_numpy()
    else:
        verdicts = np.full(len(deltas), "not tested: no significance test in this table", dtype=object)
    significant, ns = np.isin(verdicts, SIGNIFICANT), verdicts == "n.s."
    decided = significant | ns
    improvement = deltas["improvement_pct"].to_numpy(dtype=float)
    labels = [_cell_label(r, v) for r, v in zip(deltas["rel_delta_pct"], verdicts)]
    shown = deltas.assign(
        _z=np.where(significant, improvement, np.where(ns, 0.0, np.nan)), _grey=np.where(decided, np.nan, 0.0),
        _label=labels, _reason=[v if v else "no verdict" for v in verdicts],
        _coloured_label=np.where(decided, labels, ""), _grey_label=np.where(decided, "", labels))

    def grid(column):
        table = shown.pivot_table(index="language", columns="metric", values=column, aggfunc="first", dropna=False)
        return table.reindex(index=languages, columns=metrics)

    x = [METRICS[m].label for m in metrics]
    reasons = grid("_reason").fillna("").to_numpy()
    hover = "%{y} · %{x}<br>relative delta %{text}<br>%{customdata}<extra></extra>"
    fig = go.Figure([
        go.Heatmap(z=grid("_grey").to_numpy(), x=x, y=languages, text=grid("_grey_label").fillna("").to_numpy(),
                   customdata=reasons, texttemplate="%{text}", colorscale=[[0, palette.untested], [1, palette.untested]],
                   showscale=False, hoverongaps=False, hovertemplate=hover, name="not tested"),
        go.Heatmap(z=grid("_z").to_numpy(), x=x, y=languages, text=grid("_coloured_label").fillna("").to_numpy(),
                   customdata=reasons, texttemplate="%{text}", colorscale=palette.diverging(), zmid=0, zmin=-50,
                   zmax=50, hoverongaps=False, hovertemplate=hover, name="tested",
                   colorbar={"title": "better →<br>(% change,<br>sign by direction)"})])
    fig.update_layout(title=title, yaxis={"autorange": "reversed"}, height=120 + 45 * len(languages),
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def _cell_label(rel, verdict: str) -> str:
    if rel != rel:
        return ""
    if verdict == "n.s.":
        return f"{rel:+.1f}% n.s."
    return f"{rel:+.1f}%" + ("" if verdict in SIGNIFICANT else "?")


def efficiency_scatter(eff, size_column: str = "disk_mb", size_label: str = "disk MB",
                       score_label: str = "NDCG@10", reference: tuple[str, float] | None = None,
                       palette: Palette = LIGHT) -> go.Figure:
    """Score vs size, one marker per run (hover: name), with the Pareto front drawn as a step line; a
    reference run (name, score), e.g. the untrained teacher, as a horizontal line."""
    points = eff.dropna(subset=["score", size_column])
    front_flag = {"disk_mb": "pareto_disk", "params_m": "pareto_params", "trainable_pct": "pareto_trainable",
                  "inference_mb": "pareto_inference"}[size_column]
    fig, scatter, markers = go.Figure(), _scatter(len(points)), points
    if len(points) > DENSITY_POINTS:
        fig.add_trace(_density(points[size_column], points["score"], palette, f"{len(points):,} runs (density)"))
        markers = points.iloc[0:0]  # the front below stays: each of its runs with its own marker and hover
    for source, group in markers.groupby("source"):
        # Error bars: the score's 95 % interval over queries, where the run has per-query results.
        ci = {"type": "data", "symmetric": False, "array": (group["score_ci_high"] - group["score"]).fillna(0),
              "arrayminus": (group["score"] - group["score_ci_low"]).fillna(0), "thickness": 1} \
            if "score_ci_low" in group else None
        fig.add_trace(scatter(
            x=group[size_column], y=group["score"], mode="markers", name=str(source), text=group["name"], error_y=ci,
            customdata=group[["run_id", "basis"]].to_numpy(),
            marker={"size": 11, "symbol": REFERENCE_SYMBOL if source == "reference" else "circle"},
            hovertemplate="<b>%{text}</b><br>%{customdata[0]}<br>" + size_label + " %{x:.3g}<br>"
                          + score_label + " %{y:.4f} (%{customdata[1]})<extra></extra>"))
    front = points[points[front_flag]].sort_values(size_column)
    if len(front):
        fig.add_trace(go.Scatter(x=front[size_column], y=front["score"], mode="lines+markers", name="Pareto front",
                                 line={"shape": "hv", "dash": "dash", "color": palette.ink}, text=front["name"],
                                 customdata=front[["run_id"]].to_numpy(),
                                 hovertemplate="<b>%{text}</b><br>%{customdata[0]}<br>" + size_label
                                               + " %{x:.3g}<br>" + score_label + " %{y:.4f}<extra>Pareto front</extra>",
                                 marker={"size": 18, "symbol": "circle-open", "color": palette.ink}))
    if reference is not None and math.isfinite(reference[1]):
        fig.add_hline(y=reference[1], line={"dash": "dot", "color": palette.muted},
                      annotation_text=f"{reference[0]}: {reference[1]:.3f}", annotation_position="bottom right")
    # Trainable shares span four orders of magnitude (prompt tuning ~0.01 %, full training 100 %).
    log = size_column == "trainable_pct"
    fig.update_layout(xaxis={"title": size_label, "type": "log" if log else "linear",
                             **(log_ticks(points[size_column]) if log else {})},
                      yaxis_title=score_label, height=420, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"title": "source"})
    return fig


def retention_scatter(eff, base_name: str, score_label: str = "NDCG@10", palette: Palette = LIGHT) -> go.Figure:
    """Retention vs encode speed-up against one base run (log x), one colour per kind, marker area growing with
    disk MB (hover: name)."""
    points = eff.dropna(subset=["retention", "speedup"])
    mb = points["disk_mb"].fillna(0).astype(float)
    top = mb.max() if len(mb) else 0.0
    fig, scatter = go.Figure(), _scatter(len(points))
    if len(points) > DENSITY_POINTS:  # the density, and the runs no other beats on both (faster and better)
        from backend.pareto import pareto_front
        fig.add_trace(_density(np.log10(points["speedup"].clip(lower=1e-9)), points["retention"], palette,
                               f"{len(points):,} runs (density)"))
        best = points[pareto_front(points["retention"], 1 / points["speedup"])]  # faster: cheaper
        fig.add_trace(go.Scatter(x=np.log10(best["speedup"]), y=best["retention"], mode="markers", name="best trade-offs",
                                 text=best["name"], customdata=best[["run_id", "speedup"]].to_numpy(),
                                 marker={"size": 12, "color": palette.ink},
                                 hovertemplate="<b>%{text}</b><br>%{customdata[0]}<br>speed-up %{customdata[1]:.3g}x"
                                               "<br>retention %{y:.3f}<extra></extra>"))
        fig.update_layout(xaxis={"title": f"encode speed-up vs {base_name} (log)",
                                 **log_ticks(points["speedup"], exponent=True)},
                          yaxis_title=f"{score_label} retention vs {base_name}", height=420,
                          margin={"l": 10, "r": 10, "t": 30, "b": 10})
        return fig
    for kind, group in points.groupby("kind", sort=False):
        sizes = (10 + 30 * (mb[group.index] / top) ** 0.5).tolist() if top > 0 else 14
        fig.add_trace(scatter(
            x=group["speedup"].tolist(), y=group["retention"].tolist(), mode="markers", name=str(kind),
            text=group["name"], customdata=group[["run_id", "disk_mb"]].to_numpy(),
            marker={"size": sizes, "opacity": 0.75},
            hovertemplate="<b>%{text}</b><br>%{customdata[0]}<br>speed-up %{x:.3g}x<br>retention %{y:.3f}"
                          "<br>disk %{customdata[1]:.3g} MB<extra></extra>"))
    fig.update_layout(xaxis={"title": f"encode speed-up vs {base_name} (log)", "type": "log",
                             **log_ticks(points["speedup"])},
                      yaxis_title=f"{score_label} retention vs {base_name}", height=420,
                      margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"title": "kind"})
    return fig


def passk_scatter(table, x: str = "params_m", x_label: str = "params (millions)", metric: str = "pass@1",
                  palette: Palette = LIGHT) -> go.Figure:
    """pass@k vs size or memory (log x), one colour per method, one facet per language (per language and
    problem set when runs of one language covered different problems)."""
    import plotly.express as px
    points = table.dropna(subset=[x, metric])
    facets = sorted(set(points["facet"]), key=lambda f: (LANGUAGE_ORDER.index(f.split(" · ")[0])
                                                          if f.split(" · ")[0] in LANGUAGE_ORDER else 99, f))
    symbols = {"symbol": "source", "symbol_map": {"reference": REFERENCE_SYMBOL}} if "source" in points else {}
    fig = px.scatter(points, x=x, y=metric, color="method", facet_col="facet", log_x=True, hover_name="name", **symbols,
                     render_mode="webgl" if len(points) > WEBGL_POINTS else "svg",
                     facet_col_spacing=0.08, labels={x: x_label},
                     hover_data={"run_id": True, "problems": True, "problem_set": True, x: ":.3g", metric: ":.3f"},
                     category_orders={"facet": facets})
    fig.update_traces(marker={"size": 12})
    fig.update_xaxes(**log_ticks(points[x]))
    fig.update_yaxes(range=[-0.02, 1.02], title=None)
    fig.update_yaxes(title=metric, col=1)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))  # facet titles: the facet only
    fig.update_layout(height=400, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def loss_curve(losses: list[float], palette: Palette = LIGHT) -> go.Figure:
    """Training loss per step, with a moving average (batches are noisy)."""
    import pandas as pd
    steps = list(range(1, len(losses) + 1))
    smooth = pd.Series(losses).rolling(max(len(losses) // 20, 1), min_periods=1).mean()
    fig = go.Figure([go.Scatter(x=steps, y=losses, mode="lines", name="loss", line={"color": palette.muted}),
                     go.Scatter(x=steps, y=smooth, mode="lines", name="moving average", line={"color": "#1f77b4"})])
    fig.update_layout(xaxis_title="step", yaxis_title="loss", height=300, margin={"l": 10, "r": 10, "t": 20, "b": 10})
    return fig


# Tiers 1..12 (tier 1 green, as "not worse than the best"); a table with more tiers reuses them.
TIER_COLOURS = ["#1b7837", "#2166ac", "#b2182b", "#e08214", "#762a83", "#01665e", "#c51b7d", "#8c510a",
                "#4393c3", "#d6604d", "#5aae61", "#878787"]


def _top_runs(table, top: int):
    """The ``top`` runs a forest plot draws: by rank on the mean, then (a field with fewer ranked on the mean) by
    their best rank in a language; ties in table order. The mean's ranks alone when they are enough: a run is
    once on the mean, and sorting them is all it takes at 100k runs (not the 700k rows of every language)."""
    rank = table["rank"].to_numpy(dtype=float, na_value=np.nan)
    mean = np.flatnonzero((table["language"] == "mean").to_numpy() & ~np.isnan(rank))
    if len(mean) >= top:  # positions, not a frame of 100k rows with every column
        return table["run_id"].iloc[mean[np.argsort(rank[mean], kind="stable")[:top]]]
    ranked = table[table["rank"].notna()]
    return (ranked.assign(_mean=ranked["language"] == "mean")
            .sort_values(["_mean", "rank"], ascending=[False, True]).drop_duplicates("run_id")["run_id"].head(top))


def rank_intervals(table, top: int = 30, palette: Palette = LIGHT) -> go.Figure:
    """A leaderboard's ranks as a forest plot: one facet per language (and the mean), the runs as rows
    (ordered by their rank on the mean, the first ``top``), each run's rank with its 95 % interval as an error
    bar, coloured by tier; runs without an interval are hollow markers (ranked by value, no interval)."""
    from plotly.subplots import make_subplots
    present = set(table["language"].unique())
    languages = [lang for lang in [*LANGUAGE_ORDER[:-1], "mean"] if lang in present]
    order = _top_runs(table, top)
    drawn = isin(table["run_id"], order)  # only what is drawn from here on (100k runs: 30 of them)
    ranked = table[drawn & table["rank"].notna().to_numpy()]
    shown = table[drawn]
    labels = dict(zip(shown["run_id"], shown["name"].fillna(shown["run_id"]).astype(str)))
    rows = [f"{labels[r][:40]} · {r[-12:]}" if list(labels.values()).count(labels[r]) > 1 else labels[r][:48]
            for r in order]
    fig = make_subplots(rows=1, cols=max(1, len(languages)), shared_yaxes=True, subplot_titles=languages,
                        horizontal_spacing=0.015)
    seen = set()
    for col, language in enumerate(languages, start=1):
        part = ranked[(ranked["language"] == language) & ranked["run_id"].isin(order)].set_index("run_id")
        part = part.reindex([r for r in order if r in part.index])
        y = [rows[list(order).index(r)] for r in part.index]
        tiers = part["tier"].astype("Float64")
        for tier_value in sorted(set(tiers.dropna().astype(int))) + [None]:
            mask = tiers.isna() if tier_value is None else (tiers == tier_value).fillna(False)
            group = part[mask.to_numpy(dtype=bool)]
            if group.empty:
                continue
            name = "no interval" if tier_value is None else f"tier {tier_value}"
            colour = palette.muted if tier_value is None else TIER_COLOURS[(tier_value - 1) % len(TIER_COLOURS)]
            has = group["rank_low"].notna()
            fig.add_trace(go.Scatter(
                x=group["rank"].astype(float), y=[y[list(part.index).index(r)] for r in group.index], mode="markers",
                name=name, legendgroup=name, showlegend=name not in seen,
                marker={"size": 9, "color": colour, "symbol": "circle" if tier_value else "circle-open"},
                error_x={"type": "data", "symmetric": False, "thickness": 1.5,
                         "array": (group["rank_high"].astype(float) - group["rank"].astype(float)).where(has, 0),
                         "arrayminus": (group["rank"].astype(float) - group["rank_low"].astype(float)).where(has, 0)},
                customdata=group[["value", "rank_low", "rank_high"]].astype(float).to_numpy(),
                text=[labels[r] for r in group.index],
                hovertemplate="<b>%{text}</b><br>" + language + ": value %{customdata[0]:.4f}<br>rank %{x} "
                              "(95 % interval %{customdata[1]}–%{customdata[2]})<extra>" + name + "</extra>"),
                row=1, col=col)
            seen.add(name)
    fig.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=rows)
    # One rank scale for every facet (rank 1 on the left), tick labels on each.
    worst = float(ranked["rank_high"].astype("Float64").fillna(0).max()) if len(ranked) else 1.0
    worst = max(worst, float(ranked["rank"].max()) if len(ranked) else 1.0)
    fig.update_xaxes(title=None, range=[0.5, worst + 0.5], showticklabels=True, nticks=5)
    fig.update_layout(height=170 + 24 * len(rows), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.08, "yanchor": "top"})
    return fig
