"""`report.html`: a finished run folder as one self-contained page that a person reads in a browser, offline.

`write_html_report(root)` reads `stats.json`, `run.json`, `kept/`, `removed/` and `quarantine/` (Parquet or
JSON Lines) with polars and draws its charts with pygal as inline SVG: no script, no stylesheet or font from
the network. Sections: documents kept and removed by stage and reason; a histogram of every numeric
score column; duplicate cluster sizes (from the ledger's `duplicate_of`); embedding cluster sizes and
selection coverage, as the stages that embed recorded them when they decided (their `facts` in
`stats.json`); example removed documents per reason and quarantined records.

Score columns are those the stages declare in `stats.json` (`score_columns`, `detail_columns`) when it lists
them, else every numeric column of `kept/` and `removed/` but the ledger's own.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipeline import storage
from pipeline.report import checked_sentences, target_sentence
from pipeline.stats import RunStats
from pipeline.storage import AnyPath

REPORT = "report.html"
#: bins of a score histogram; values beyond the 1st / 99th percentile fall in the end bins
HISTOGRAM_BINS = 30
CLIP_QUANTILE = 0.01
#: example removed documents shown per stage and reason, and how much of their text
EXAMPLES_PER_REASON = 3
EXAMPLE_CHARS = 400
QUARANTINE_EXAMPLES = 5
#: ledger columns that are never scores
LEDGER = frozenset({"id", "stage", "reason", "source", "line", "row", "duplicate_of", "cluster_id"})
KEPT_COLOR, REMOVED_COLOR = "#3d8b5f", "#c8553d"
#: one color a step in the chart of removal reasons (the tab10 cycle)
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.chart { margin: 0; border: 1px solid #eee; padding: 0.4rem; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 0.8rem; color: #555; max-width: 34rem; }
.text { font-family: ui-monospace, monospace; font-size: 0.8rem; white-space: pre-wrap; max-width: 44rem;
        word-break: break-word; }
.note { color: #555; }
"""


def write_html_report(root: str | Path | AnyPath) -> AnyPath:
    """Write `root/report.html` for the finished run in `root` (a folder or a URL); returns its path."""
    return write_report_and_tables(root)[0]


def write_report_and_tables(
    root: str | Path | AnyPath,
) -> tuple[AnyPath, dict[str, list[dict[str, Any]]]]:
    """`write_html_report`, and the report's tables (`report_tables`), from one reading of the run folder
    and one grouping of its duplicate clusters."""
    root = storage.as_path(root)
    run = RunData.load(root)
    clusters = duplicate_clusters(run)
    page, tables = render_report(run, clusters), report_tables(run, clusters)
    target = root / REPORT
    if storage.is_remote(target):
        storage.write_bytes(target, page.encode("utf-8"))  # one upload: atomic
    else:
        tmp = root / f".{REPORT}.tmp"
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)
    return target, tables


def render_report(run: RunData, clusters: pl.DataFrame) -> str:
    """The report of `run` as one HTML page (`clusters`: its `duplicate_clusters`)."""
    charts = Charts()
    sections = [
        _stage_section(run, charts),
        _score_section(run, charts),
        _duplicate_section(run, clusters, charts),
        _embedding_section(run, charts),
        _example_section(run),
        _quarantine_section(run),
    ]
    title = f"winnow run {run.root.name}"
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n{_overview(run)}\n{''.join(sections)}</body>\n</html>\n"
    )


# ---------------------------------------------------------------- the run folder


@dataclass
class RunData:
    """What the report reads from a run folder: its stats, manifest and lazy scans of its outputs."""

    root: Path
    stats: RunStats
    manifest: dict[str, Any]
    kept: pl.LazyFrame | None
    removed: pl.LazyFrame | None
    quarantine: pl.LazyFrame | None

    @classmethod
    def load(cls, root: Path) -> RunData:
        stats = RunStats.read_file(root / "stats.json")
        manifest_path = root / "run.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
        return cls(
            root,
            stats,
            manifest,
            _scan(root / "kept"),
            _scan(root / "removed"),
            _scan(root / "quarantine"),
        )

    @property
    def recipe_stages(self) -> list[dict[str, Any]]:
        return list(self.manifest.get("identity", {}).get("recipe", {}).get("stages", []))

    def kept_column(self, field: str, internal: str) -> str | None:
        """The name in `kept/` (the input's own) of the `text` or `id` column."""
        chosen = self.manifest.get("identity", {}).get("read", {}).get(field)
        columns = _columns(self.kept)
        return next((name for name in (chosen, internal) if name in columns), None)


def _files(folder: Path) -> list[Path]:
    """The shards of an output folder, in order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("part-*") if p.suffix in (".parquet", ".jsonl"))


def _scan_file(path: Path) -> pl.LazyFrame:
    if path.suffix == ".parquet":
        return storage.scan_parquet(path)
    return storage.scan_ndjson(path, infer_schema_length=None)


def _scan(folder: Path) -> pl.LazyFrame | None:
    """All shards of `folder` as one lazy frame (columns missing from a shard are null), or None."""
    scans = [_scan_file(p) for p in _files(folder)]
    if not scans:
        return None
    return pl.concat(scans, how="diagonal_relaxed") if len(scans) > 1 else scans[0]


def _columns(frame: pl.LazyFrame | None) -> dict[str, pl.DataType]:
    return dict(frame.collect_schema()) if frame is not None else {}


# ---------------------------------------------------------------- charts


class Charts:
    """pygal charts rendered to inline SVG, numbered so that the ids (and so the styles) of two never
    clash, and without pygal's script (its tooltips): the page stays script-free."""

    def __init__(self) -> None:
        self.count = 0

    def figure(self, key: str, chart: Any, caption: str) -> str:
        """`<figure class="chart">` holding `chart` (from `chart()`) as SVG, with its caption."""
        self.count += 1
        chart.uuid = f"winnow-report-{self.count}"
        chart.add_xml_filter(_without_scripts)
        svg = chart.render(is_unicode=True)
        return (
            f"<figure class='chart' data-chart='{_e(key)}'>{svg}"
            f"<figcaption>{_e(caption)}</figcaption></figure>\n"
        )


def chart(
    kind: str,
    *,
    colors: tuple[str, ...] = (KEPT_COLOR, REMOVED_COLOR),
    width: int = 480,
    height: int = 270,
    **config: Any,
) -> Any:
    """An empty pygal chart of `kind` ("StackedBar", "HorizontalBar", "XY", ...) in the report's style."""
    import pygal
    from pygal.style import Style

    style = Style(
        background="white",
        plot_background="white",
        foreground="#222",
        foreground_strong="#222",
        foreground_subtle="#ddd",
        colors=colors,
        font_family="system-ui, sans-serif",
        label_font_size=10,
        major_label_font_size=10,
        legend_font_size=10,
        title_font_size=12,
        opacity="1",
        opacity_hover="0.8",
        guide_stroke_color="#e4e4e4",
        major_guide_stroke_color="#e4e4e4",
        guide_stroke_dasharray="1,0",
        major_guide_stroke_dasharray="1,0",
    )
    config = {"legend_at_bottom": True, "legend_at_bottom_columns": 2, "truncate_label": -1, **config}
    return getattr(pygal, kind)(
        style=style,
        width=width,
        height=height,
        explicit_size=True,
        disable_xml_declaration=True,
        js=[],
        margin=8,
        **config,
    )


def _without_scripts(root: Any) -> Any:
    """pygal always writes its configuration as a script for its tooltips; the report has no script."""
    for parent in list(root.iter()):
        for child in list(parent):
            if str(child.tag).endswith("script"):
                parent.remove(child)
    return root


# ---------------------------------------------------------------- overview and stages


def _overview(run: RunData) -> str:
    stats, manifest = run.stats, run.manifest
    inputs = manifest.get("identity", {}).get("inputs", [])
    sources = ", ".join(str(item.get("path") or item.get("dataset") or item.get("label")) for item in inputs)
    rate = f", {stats.docs_per_second:,} documents/s" if stats.docs_per_second else ""
    lines = [
        f"<p><b>{stats.input:,}</b> documents in: <b>{stats.kept:,}</b> kept, "
        f"<b>{stats.removed:,}</b> removed, <b>{stats.quarantined:,}</b> quarantined, "
        f"in {stats.seconds:.1f} s{rate}.</p>",
        f"<p class='note'>Started {_e(stats.started_at)}, finished "
        f"{_e(stats.finished_at)}. Inputs: {_e(sources or '?')}.</p>",
    ]
    if stats.read.warnings:
        lines.append("<ul>" + "".join(f"<li>{_e(w)}</li>" for w in stats.read.warnings) + "</ul>")
    if run.recipe_stages or manifest.get("identity"):
        recipe = json.dumps(manifest.get("identity", {}).get("recipe", {}), indent=2)
        lines.append(f"<details><summary>Recipe</summary><pre>{_e(recipe)}</pre></details>")
    return "\n".join(lines) + "\n"


def stage_table(stats: RunStats) -> list[dict[str, Any]]:
    """One row per step: its name, kind, documents in, kept, removed and seconds (read: quarantined)."""
    rows = [
        {
            "step": "read",
            "kind": "read",
            "in": stats.input,
            "kept": stats.input - stats.quarantined,
            "removed": stats.quarantined,
            "seconds": stats.read.seconds,
        }
    ]
    for stage in stats.stages:
        rows.append(
            {
                "step": stage.name,
                "kind": stage.kind,
                "in": stage.input,
                "kept": stage.kept,
                "removed": stage.removed,
                "seconds": stage.seconds,
            }
        )
    return rows


def reason_table(stats: RunStats) -> list[dict[str, Any]]:
    """One row per step and reason: the step, the reason, the documents it removed (or quarantined)."""
    errors = stats.read.quarantine_errors
    rows = [{"step": "read", "reason": f"quarantined ({kind})", "documents": n} for kind, n in errors.items()]
    for stage in stats.stages:
        rows += [{"step": stage.name, "reason": r, "documents": n} for r, n in stage.reasons.items()]
    return rows


def report_tables(run: RunData, clusters: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The report's tables as rows (for Prefect table artifacts): stages, reasons, duplicate clusters
    (`clusters`: the run's `duplicate_clusters`)."""
    return {
        "stages": stage_table(run.stats),
        "reasons": reason_table(run.stats),
        "duplicates": duplicate_table(run, clusters),
    }


def _stage_section(run: RunData, charts: Charts) -> str:
    steps = stage_table(run.stats)
    reasons = reason_table(run.stats)
    counters = {stage.name: stage.counters for stage in run.stats.stages}
    rows = []
    for step in steps:
        listed = [f"{_e(r['reason'])}: {r['documents']:,}" for r in reasons if r["step"] == step["step"]]
        counted = [f"{_e(k)}: {n:,}" for k, n in counters.get(step["step"], {}).items()]
        seconds = f"{step['seconds']:.2f}" if step["seconds"] is not None else "-"
        rows.append(
            f"<tr><td>{_e(step['step'])}</td><td>{_e(step['kind'])}</td><td class='n'>{step['in']:,}</td>"
            f"<td class='n'>{step['kept']:,}</td><td class='n'>{step['removed']:,}</td>"
            f"<td>{'<br>'.join(listed) or '-'}</td><td>{'<br>'.join(counted) or '-'}</td>"
            f"<td class='n'>{seconds}</td></tr>"
        )
    table = (
        "<table id='stage-table'><thead><tr><th>step</th><th>kind</th><th class='n'>in</th>"
        "<th class='n'>kept</th><th class='n'>removed</th><th>removed by reason</th><th>counters</th>"
        "<th class='n'>seconds</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>\n"
    )
    table += "".join(  # what each decontamination checked: items too short for it go unchecked
        f"<p>{_e(stage.name)}: {_e(line)}</p>\n"
        for stage in run.stats.stages
        for line in checked_sentences(stage.facts.get("decontamination"))
    )

    flow = chart("HorizontalStackedBar", height=90 + 26 * len(steps), x_title="documents")
    flow.x_labels = [step["step"] for step in steps][::-1]  # the first step on top
    flow.add("kept (passed on)", [step["kept"] for step in steps][::-1])
    flow.add("removed", [step["removed"] for step in steps][::-1])
    figures = charts.figure(
        "stages",
        flow,
        "Documents each step passed on (green) and removed (red; for the read step, quarantined).",
    )
    if reasons:
        order = list(dict.fromkeys(r["step"] for r in reasons))
        by_reason = chart(
            "HorizontalBar",
            width=600,
            height=70 + 24 * len(reasons),
            x_title="documents removed",
            show_legend=False,
        )
        by_reason.x_labels = [f"{r['step']}: {r['reason']}" for r in reasons][::-1]
        by_reason.add(
            "documents",
            [
                {"value": r["documents"], "color": PALETTE[order.index(r["step"]) % len(PALETTE)]}
                for r in reasons
            ][::-1],
        )
        figures += charts.figure("reasons", by_reason, "Documents removed by stage and reason.")
    return (
        "<section id='stages'><h2>Kept and removed by stage</h2>\n"
        f"{table}<div class='charts'>{figures}</div></section>\n"
    )


# ---------------------------------------------------------------- score histograms


def score_columns(run: RunData) -> list[str]:
    """Numeric score columns of the run: declared by the stages in stats.json, else found in the outputs."""
    schemas = {**_columns(run.kept), **_columns(run.removed)}
    numeric = {name for name, dtype in schemas.items() if dtype.is_numeric()}
    if run.stats.stages:
        declared = [name for stage in run.stats.stages for name in stage.score_columns + stage.detail_columns]
        return [name for name in dict.fromkeys(declared) if name in numeric]
    return [
        name
        for name in schemas
        if name in numeric
        and name not in LEDGER
        and not name.startswith("__")
        and not name.endswith("__input")
    ]


@dataclass
class Histogram:
    """Bin counts of one column for kept and removed documents."""

    column: str
    edges: np.ndarray
    kept: np.ndarray
    removed: np.ndarray
    missing: dict[str, int]
    clipped: bool
    low: float
    high: float
    single: float | None  # the one value every document has, if so


def histogram(run: RunData, column: str, bins: int = HISTOGRAM_BINS) -> Histogram | None:
    """Bin counts of `column` over kept and removed documents (None when it has no value)."""
    parts = [
        frame.select(pl.col(column).cast(pl.Float64).alias("value"), pl.lit(group).alias("group"))
        for frame, group in ((run.kept, "kept"), (run.removed, "removed"))
        if frame is not None and column in _columns(frame)
    ]
    if not parts:
        return None
    values = pl.concat(parts).with_columns(pl.col("value").fill_nan(None))
    value = pl.col("value").drop_nulls()
    summary = (
        values.select(
            value.count().alias("count"),
            value.min().alias("min"),
            value.max().alias("max"),
            value.quantile(CLIP_QUANTILE).alias("low"),
            value.quantile(1 - CLIP_QUANTILE).alias("high"),
        )
        .collect()
        .row(0, named=True)
    )
    if not summary["count"]:
        return None
    low, high = summary["low"], summary["high"]
    if not high > low:
        low, high = summary["min"], summary["max"]
    if not high > low:
        low, high = low - 0.5, high + 0.5
    clipped = summary["min"] < low or summary["max"] > high
    position = ((pl.col("value") - low) / (high - low) * bins).floor().clip(0, bins - 1).cast(pl.Int64)
    counts = values.group_by("group", position.alias("bin")).agg(pl.len().alias("n")).collect().iter_rows()
    kept, removed = np.zeros(bins, dtype=np.int64), np.zeros(bins, dtype=np.int64)
    missing = {"kept": 0, "removed": 0}
    for group, index, n in counts:
        if index is None:
            missing[group] += n
        else:
            (kept if group == "kept" else removed)[index] += n
    edges = np.linspace(low, high, bins + 1)
    single = summary["min"] if summary["min"] == summary["max"] else None
    return Histogram(column, edges, kept, removed, missing, clipped, low, high, single)


def _histogram_chart(h: Histogram) -> Any:
    """Kept (green) and removed (red) stacked per bin, labelled by the bins' lower edges."""
    colors = (KEPT_COLOR, REMOVED_COLOR) if h.kept.any() else (REMOVED_COLOR,)
    bars = chart(
        "StackedBar",
        colors=colors,
        title=h.column,
        y_title="documents",
        x_label_rotation=0,
        x_labels_major_every=max(1, len(h.kept) // 5),
        show_minor_x_labels=False,
    )
    bars.x_labels = [_num(edge) for edge in h.edges[:-1]]
    if h.kept.any():
        bars.add("kept", h.kept.tolist())
    bars.add("removed", h.removed.tolist())
    return bars


def _histogram_caption(h: Histogram, detail: bool) -> str:
    if detail:
        caption = f"{h.column}: a detail of {int(h.removed.sum()):,} removed documents"
    else:
        caption = f"{h.column}: {int(h.kept.sum()):,} kept and {int(h.removed.sum()):,} removed documents"
        if h.missing["kept"]:
            caption += f"; {h.missing['kept']:,} kept documents without a value"
        if h.missing["removed"]:
            caption += f"; {h.missing['removed']:,} removed before it was computed"
    if h.single is not None:
        caption += f"; every value is {_num(h.single)}"
    if h.clipped:
        caption += (
            f"; values below {_num(h.low)} or above {_num(h.high)} (beyond the 1st / 99th percentile) are "
            "counted in the end bins"
        )
    return caption + "."


def _score_section(run: RunData, charts: Charts) -> str:
    kept_columns = _columns(run.kept)
    figures = []
    for column in score_columns(run):
        counts = histogram(run, column)
        if counts is None:
            continue

        caption = _histogram_caption(counts, detail=column not in kept_columns)
        figures.append(charts.figure(f"histogram:{column}", _histogram_chart(counts), caption))
    body = (
        f"<div class='charts'>{''.join(figures)}</div>"
        if figures
        else "<p class='note'>No numeric score columns in this run.</p>"
    )
    return f"<section id='scores'><h2>Score distributions</h2>\n{body}</section>\n"


# ---------------------------------------------------------------- duplicate clusters


def duplicate_clusters(run: RunData) -> pl.DataFrame:
    """Per stage, the number of duplicate clusters of each size (the kept document and its removed copies)."""
    empty = pl.DataFrame(schema={"stage": pl.String, "size": pl.Int64, "clusters": pl.UInt32})
    if run.removed is None or "duplicate_of" not in _columns(run.removed):
        return empty
    return (
        run.removed.filter(pl.col("duplicate_of").is_not_null())
        .group_by("stage", "duplicate_of")
        .agg((pl.len() + 1).cast(pl.Int64).alias("size"))
        .group_by("stage", "size")
        .agg(pl.len().alias("clusters"))
        .sort("stage", "size")
        .collect()
    )


def duplicate_table(run: RunData, clusters: pl.DataFrame) -> list[dict[str, Any]]:
    """Per deduplicating stage: clusters, documents removed as copies, mean and largest cluster size, from
    the run's `duplicate_clusters`."""
    order = [stage.name for stage in run.stats.stages]
    stages = sorted(set(clusters["stage"].to_list()), key=lambda s: (order.index(s) if s in order else 99, s))
    rows = []
    for stage in stages:
        sizes = clusters.filter(pl.col("stage") == stage)
        total = int(sizes["clusters"].sum())
        removed = int(((sizes["size"] - 1) * sizes["clusters"]).sum())
        rows.append(
            {
                "stage": stage,
                "clusters": total,
                "removed": removed,
                "mean size": round((removed + total) / total, 2),
                "largest": int(sizes["size"].max()),
            }
        )
    return rows


def _cluster_size_chart(sizes: pl.DataFrame, stage: str) -> Any:
    """Clusters per size (only the sizes that occur), on a log scale when the counts span 50x or more."""
    bars = chart(
        "Bar",
        colors=(REMOVED_COLOR,),
        title=f"{stage}: cluster sizes",
        x_title="documents in the cluster (kept + removed)",
        y_title="clusters",
        show_legend=False,
        logarithmic=bool(sizes["clusters"].max() > 50 * max(1, sizes["clusters"].min())),
        x_labels_major_every=max(1, sizes.height // 10),
        show_minor_x_labels=False,
    )
    bars.x_labels = [str(size) for size in sizes["size"].to_list()]
    bars.add("clusters", sizes["clusters"].to_list())
    return bars


def _duplicate_section(run: RunData, clusters: pl.DataFrame, charts: Charts) -> str:
    table = duplicate_table(run, clusters)
    if not table:
        return (
            "<section id='duplicates'><h2>Duplicate clusters</h2>\n"
            "<p class='note'>No document was removed as a duplicate.</p></section>\n"
        )
    rows, figures = [], []
    for row in table:
        stage = row["stage"]
        rows.append(
            f"<tr><td>{_e(stage)}</td><td class='n'>{row['clusters']:,}</td><td class='n'>{row['removed']:,}"
            f"</td><td class='n'>{row['mean size']:.2f}</td><td class='n'>{row['largest']:,}</td></tr>"
        )

        sizes = _cluster_size_chart(clusters.filter(pl.col("stage") == stage), stage)
        caption = f"{stage}: {row['clusters']:,} clusters, {row['removed']:,} documents removed as copies."
        figures.append(charts.figure(f"duplicates:{stage}", sizes, caption))
    header = "".join(f"<th class='n'>{name}</th>" for name in ("clusters", "removed", "mean size", "largest"))
    return (
        "<section id='duplicates'><h2>Duplicate clusters</h2>\n"
        f"<table id='duplicate-table'><thead><tr><th>stage</th>{header}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><div class='charts'>{''.join(figures)}</div></section>\n"
    )


# ---------------------------------------------------------------- embeddings: clusters and coverage


@dataclass
class EmbeddingView:
    """Cluster sizes and coverage of one embedding stage, as the stage recorded them (its `facts`)."""

    stage: str
    documents: int
    sampled: int | None
    sizes: np.ndarray
    selected_sizes: np.ndarray
    distance_counts: np.ndarray
    distance_edges: np.ndarray
    coverage: float
    radius: float
    random_coverage: float
    selected: int


def embedding_view(run: RunData, index: int) -> EmbeddingView | str:
    """The embedding view of stage `index` from what it recorded, or the reason there is none."""
    stage = run.stats.stages[index]
    facts = stage.facts.get("embeddings")
    if not facts:
        return f"{stage.name}: recorded no embedding clusters (nothing kept, or an older winnow's run)."
    return EmbeddingView(
        stage=stage.name,
        documents=facts["documents"],
        sampled=facts["sampled"],
        sizes=np.asarray(facts["cluster_sizes"]),
        selected_sizes=np.asarray(facts["kept_per_cluster"]),
        distance_counts=np.asarray(facts["distance_counts"]),
        distance_edges=np.asarray(facts["distance_edges"]),
        coverage=facts["coverage"],
        radius=facts["radius"],
        random_coverage=facts["random_coverage"],
        selected=facts["kept"],
    )


def _embedding_cluster_chart(v: EmbeddingView) -> Any:
    """Documents per k-means cluster, largest first: the selected ones below, the rest stacked on top."""
    bars = chart(
        "StackedBar",
        title=f"{v.stage}: embedding clusters",
        x_title="k-means cluster (largest first)",
        y_title="documents",
        x_labels_major_every=max(1, len(v.sizes) // 10),
        show_minor_x_labels=False,
    )
    bars.x_labels = [str(i) for i in range(len(v.sizes))]
    bars.add("selected", v.selected_sizes.tolist())
    bars.add("not selected", (v.sizes - v.selected_sizes).tolist())
    return bars


def _coverage_chart(v: EmbeddingView) -> Any:
    """The distances to the nearest selected document as a step histogram, with the selection's mean
    (dashed) and a random selection's (dotted)."""
    lines = chart(
        "XY",
        colors=(KEPT_COLOR, "#222", REMOVED_COLOR),
        title=f"{v.stage}: coverage",
        x_title="cosine distance to the nearest selected document",
        y_title="documents",
        show_dots=False,
        include_x_axis=True,
        legend_at_bottom_columns=3,
    )
    counts, edges = v.distance_counts.tolist(), v.distance_edges.tolist()
    steps = [point for i, n in enumerate(counts) for point in ((edges[i], n), (edges[i + 1], n))]
    lines.add("documents", steps, fill=True)
    top = max(counts, default=0)
    lines.add(
        f"mean {v.coverage:.3f}",
        [(v.coverage, 0), (v.coverage, top)],
        stroke_style={"width": 2, "dasharray": "6, 4"},
    )
    lines.add(
        "random selection, mean",
        [(v.random_coverage, 0), (v.random_coverage, top)],
        stroke_style={"width": 2, "dasharray": "2, 3"},
    )
    return lines


def _embedding_section(run: RunData, charts: Charts) -> str:
    stages = run.stats.stages
    indexes = [i for i, stage in enumerate(stages) if {"embeddings", "target"} & set(stage.facts)]
    if not indexes:
        return ""
    parts = []
    for index in indexes:
        view = embedding_view(run, index)
        likeness = stages[index].facts.get("target")
        if likeness:  # a target selection's count of target-like documents, even when it kept none
            parts.append(f"<p>{_e(stages[index].name)}: {_e(target_sentence(likeness))}</p>")
        if isinstance(view, str):
            parts.append(f"<p class='note'>{_e(view)}</p>")
            continue
        parts.append(_embedding_table(view))
        sample = f" (a sample of {view.sampled:,} documents)" if view.sampled else ""
        figures = charts.figure(
            f"embedding-clusters:{view.stage}",
            _embedding_cluster_chart(view),
            f"{len(view.sizes):,} k-means clusters of the embeddings{sample}, with the documents kept in "
            "each (the stage's own clusters where it makes them; recorded when it decided).",
        ) + charts.figure(
            f"coverage:{view.stage}",
            _coverage_chart(view),
            "How far each document is from the selection: lower is better covered; the dotted line is a "
            "random selection of the same size.",
        )
        parts.append(f"<div class='charts'>{figures}</div>")
    return (
        "<section id='embeddings'><h2>Embedding clusters and selection coverage</h2>\n"
        + "\n".join(parts)
        + "</section>\n"
    )


def _embedding_table(view: EmbeddingView) -> str:
    covered = int((view.selected_sizes > 0).sum())
    sampled = f" (a sample of {view.sampled:,})" if view.sampled else ""
    cells = [
        ("stage", _e(view.stage)),
        ("documents", f"{view.documents:,}{sampled}"),
        ("selected", f"{view.selected:,}"),
        ("k-means clusters (with a selected document)", f"{len(view.sizes):,} ({covered:,})"),
        ("coverage: mean cosine distance to the nearest selected", f"{view.coverage:.4f}"),
        ("same for a random selection of that size (mean of 5)", f"{view.random_coverage:.4f}"),
        ("radius: largest such distance", f"{view.radius:.4f}"),
    ]
    body = "".join(f"<tr><th>{label}</th><td class='n'>{value}</td></tr>" for label, value in cells)
    return f"<table class='embedding-table'><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------- examples


def removed_examples(run: RunData, per_reason: int = EXAMPLES_PER_REASON) -> pl.DataFrame:
    """The first `per_reason` removed documents of each stage and reason (text cut to EXAMPLE_CHARS).

    Read file by file, in order, until every reason the stats count has its examples: a file's texts are
    read only for the rows chosen from it, so memory follows a shard, not the number of removed documents.
    """
    if run.removed is None:
        return pl.DataFrame()
    columns = _columns(run.removed)
    extra = [c for c in ("duplicate_of", "similarity", "selection_score") if c in columns]
    where = [c for c in ("source", "line") if c in columns]
    wanted = {
        f"{stage.name}\x00{reason}": min(count, per_reason)
        for stage in run.stats.stages
        for reason, count in stage.reasons.items()
    }
    taken: dict[str, int] = {}
    pieces = []
    group = pl.concat_str("stage", "reason", separator="\x00").alias("group")
    for path in _files(run.root / "removed"):
        scan = _scan_file(path).with_row_index("row")
        keys = scan.select("row", group).collect()
        already = pl.col("group").replace_strict(taken, default=0, return_dtype=pl.Int64)
        chosen = keys.filter(pl.int_range(pl.len()).over("group") + already < per_reason)
        if chosen.is_empty():
            continue
        for name, n in chosen["group"].value_counts().iter_rows():
            taken[name] = taken.get(name, 0) + n
        present = _columns(scan)
        text = pl.col("text").cast(pl.String) if "text" in present else pl.lit(None, pl.String)
        pieces.append(
            scan.filter(pl.col("row").is_in(chosen["row"].implode()))
            .select(
                "id",
                "stage",
                "reason",
                *(pl.col(c) for c in (*extra, *where) if c in present),
                text.str.slice(0, EXAMPLE_CHARS + 1).alias("text"),
            )
            .collect()
        )
        if wanted and all(taken.get(name, 0) >= n for name, n in wanted.items()):
            break
    if not pieces:
        return pl.DataFrame()
    examples = pl.concat(pieces, how="diagonal_relaxed")
    return examples.select(
        pl.col(c) if c in examples.columns else pl.lit(None).alias(c)
        for c in ("id", "stage", "reason", *extra, *where, "text")
    )


def _example_section(run: RunData) -> str:
    examples = removed_examples(run)
    if examples.is_empty():
        return ""
    rows = []
    for row in examples.iter_rows(named=True):
        details = [
            f"{name}: {_e(_num(row[name]) if isinstance(row[name], float) else row[name])}"
            for name in ("duplicate_of", "similarity", "selection_score")
            if row.get(name) is not None
        ]
        where = f"{row.get('source')}:{row.get('line')}" if row.get("source") else ""
        text = row["text"] or ""
        shown = text[:EXAMPLE_CHARS] + ("…" if len(text) > EXAMPLE_CHARS else "")
        rows.append(
            f"<tr><td>{_e(row['stage'])}</td><td>{_e(row['reason'])}</td><td>{_e(row['id'])}<br>"
            f"<span class='note'>{_e(where)}</span></td><td>{'<br>'.join(details) or '-'}</td>"
            f"<td class='text'>{_e(shown)}</td></tr>"
        )
    return (
        "<section id='examples'><h2>Examples of removed documents</h2>\n"
        f"<p class='note'>Up to {EXAMPLES_PER_REASON} per stage and reason, text cut at {EXAMPLE_CHARS} "
        "characters; every removed document is in <code>removed/</code>.</p>\n"
        "<table id='example-table'><thead><tr><th>stage</th><th>reason</th><th>id</th><th>details</th>"
        f"<th>text</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>\n"
    )


def _quarantine_section(run: RunData) -> str:
    errors = run.stats.read.quarantine_errors
    if not errors or run.quarantine is None:
        return ""
    counts = "".join(f"<tr><td>{_e(kind)}</td><td class='n'>{n:,}</td></tr>" for kind, n in errors.items())
    columns = _columns(run.quarantine)
    wanted = [c for c in ("source", "line", "row", "error", "raw") if c in columns]
    sample = run.quarantine.select(wanted).head(QUARANTINE_EXAMPLES).collect()
    rows = []
    for row in sample.iter_rows(named=True):
        place = row.get("line") if row.get("line") is not None else row.get("row")
        raw = str(row.get("raw") or "")
        raw = raw[:EXAMPLE_CHARS] + ("…" if len(raw) > EXAMPLE_CHARS else "")
        rows.append(
            f"<tr><td>{_e(row.get('source'))}:{_e(place)}</td><td>{_e(row.get('error'))}</td>"
            f"<td class='text'>{_e(raw)}</td></tr>"
        )
    return (
        "<section id='quarantine'><h2>Quarantined records</h2>\n"
        f"<table><thead><tr><th>error</th><th class='n'>records</th></tr></thead><tbody>{counts}</tbody>"
        "</table>\n<table id='quarantine-table'><thead><tr><th>where</th><th>error</th><th>record</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></section>\n"
    )


# ---------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    """HTML-escaped text of `value`."""
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.4g}"
