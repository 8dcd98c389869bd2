"""The engine-agnostic runner: read, check ids, run every stage on every shard, write the ledger.

Steps, each a list of independent tasks handed to an `Engine`:

1. `read`: one task per input source; every batch read becomes a shard in `_work/ingest/`, bad records
   go to `quarantine/`.
2. `ids`: duplicate ids across the corpus (quarantined, or an error with `on_error="fail"`).
3. per stage, one task per shard (a `CorpusStage` adds a summary step and one decision task first):
   removed documents go to `removed/` with `stage`, `reason` and details; survivors to the next stage,
   and after the last stage to `kept/` with the input's own field names.
4. stats: counts from the files written; input = kept + removed + quarantined or the run fails.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from pipeline import run_folder
from pipeline.batch import ID, LINE, ORDER, PROVENANCE, REASON, SOURCE, STAGE, TEXT
from pipeline.engine import Engine, LocalEngine, report, report_done
from pipeline.errors import AccountingError, InputError
from pipeline.readers import ReadOptions, Source, output_renames, read_source, resolve_sources
from pipeline.report import write_report
from pipeline.run_folder import RunFolder
from pipeline.stage import CorpusStage, Filter, Stage
from pipeline.writers import OutputFormat, count_rows, read_frame, shard_path, write_frame

ORDER_BITS_PER_SOURCE = 43  # ORDER = source index << 43 | position in the source


@dataclass(frozen=True)
class RunOptions:
    """How to read the inputs and write the kept documents."""

    read: ReadOptions = field(default_factory=ReadOptions)
    output_format: OutputFormat = "parquet"
    keep_work: bool = False


@dataclass(frozen=True)
class ShardInfo:
    """A shard written by the read step: its name, rows and ORDER range."""

    shard: str
    rows: int
    first: int
    last: int


@dataclass
class ReadResult:
    """What one source gave."""

    source: str
    shards: list[ShardInfo]
    documents: int
    quarantined: int
    errors: dict[str, int]
    warnings: list[str]
    seconds: float


@dataclass
class ShardResult:
    """What one stage did to one shard."""

    shard: str
    input: int
    kept: int
    reasons: dict[str, int]
    seconds: float
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class RunResult:
    """A finished run: its folder and its stats (`already_complete` when nothing had to be done)."""

    folder: RunFolder
    stats: dict[str, Any]
    already_complete: bool = False


def run(
    inputs: Sequence[Any],
    out: str | Path,
    stages: Sequence[Stage],
    options: RunOptions | None = None,
    *,
    engine: Engine | None = None,
    recipe: dict[str, Any] | None = None,
) -> RunResult:
    """Clean `inputs` into the run folder `out` with `stages`, on `engine` (default: this process)."""
    options = options or RunOptions()
    engine = engine or LocalEngine()
    folder = RunFolder(Path(out))
    sources = resolve_sources(inputs, options.read)
    identity = run_identity(sources, options, recipe if recipe is not None else describe_stages(stages))
    if run_folder.prepare(folder.root, identity) == "complete":
        return RunResult(folder, json.loads(folder.stats.read_text()), already_complete=True)
    started, started_at = time.perf_counter(), run_folder.now()
    for path in (folder.kept, folder.removed, folder.quarantine):
        path.mkdir(parents=True, exist_ok=True)

    read = engine.map(
        "read",
        partial(read_task, folder=folder, options=options.read),
        list(enumerate(sources)),
    )
    report_done("documents read")
    shards = [info for result in read for info in result.shards]
    id_check = engine.map(
        "ids",
        partial(check_ids_task, folder=folder, shards=shards, sources=sources, options=options.read),
        ["all"],
    )[0]
    for result in read:
        engine.log(f"read {result.source}: {result.documents} documents, {result.quarantined} quarantined")

    names = [info.shard for info in shards]
    paths = [shard_path(folder.work / "ingest", name) for name in names]
    schema = union_schema(paths)
    layout = ledger_layout(stages)
    # input columns named like a ledger or stage column travel as NAME__input and get their name back in kept/
    reserved = {REASON, STAGE, "source", "line", *layout[0], *layout[1]}
    clashes = {name: f"{name}__input" for name in schema if name in reserved}
    schema = {clashes.get(name, name): dtype for name, dtype in schema.items()}
    renames = {**output_renames(options.read, list(schema)), **{new: old for old, new in clashes.items()}}
    stage_stats = []
    current = folder.work / "ingest"
    steps: list[Stage | None] = list(stages) or [None]
    for index, stage in enumerate(steps):
        label = stage.name if stage is not None else "write"
        final = index == len(steps) - 1
        target = folder.kept if final else folder.work / f"{index:02d}-{label}"
        stage_started = time.perf_counter()
        decisions = None
        if isinstance(stage, CorpusStage):
            decisions = decide_stage(engine, stage, index, folder, current, names, schema, clashes)
        task = partial(
            shard_task,
            stage=stage,
            index=index,
            folder=folder,
            source=current,
            target=target,
            final=final,
            schema=schema,
            layout=layout,
            clashes=clashes,
            renames=renames,
            output_format=options.output_format,
            decisions=decisions,
        )
        results = engine.map(label, task, names)
        stage_stats.append(summarize_stage(label, stage, results, time.perf_counter() - stage_started))
        if stage is not None:
            engine.log(stage_line(stage_stats[-1]))
        current = target

    stats = build_stats(
        folder, sources, read, id_check, stage_stats, options, started_at, time.perf_counter() - started
    )
    check_accounting(stats)
    for stage in stages:
        stage.commit()
    folder.stats.write_text(json.dumps(stats, indent=2))
    write_report(folder.root, stats)
    if not options.keep_work:
        shutil.rmtree(folder.work, ignore_errors=True)
    run_folder.write_manifest(folder.root, identity, status="complete")
    return RunResult(folder, stats)


def run_identity(sources: Sequence[Source], options: RunOptions, recipe: dict[str, Any]) -> dict[str, Any]:
    """What defines a run: the inputs as they are now, how they are read, the recipe."""
    read = asdict(options.read)
    for runtime_only in ("batch_size", "batch_bytes"):
        read.pop(runtime_only, None)
    return {
        "inputs": [describe_source(source) for source in sources],
        "read": read,
        "output_format": options.output_format,
        "recipe": recipe,
    }


def describe_source(source: Source) -> dict[str, Any]:
    """A source's identity: path, size and modification time, or a dataset's fingerprint."""
    if source.path is not None:
        path = Path(source.path).resolve()
        stat = path.stat()
        return {
            "label": source.label,
            "path": str(path),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "split": source.split,
        }
    fingerprint = getattr(source.dataset, "_fingerprint", None) or repr(source.dataset)
    return {"label": source.label, "dataset": fingerprint, "split": source.split}


def describe_stages(stages: Sequence[Stage]) -> dict[str, Any]:
    """A recipe-like description of stages given directly (library use)."""
    return {"stages": [{"type": stage.name, "repr": repr(stage)} for stage in stages]}


# ---------------------------------------------------------------- read


def read_task(item: tuple[int, Source], *, folder: RunFolder, options: ReadOptions) -> ReadResult:
    """Read one source into shards; bad records into quarantine."""
    index, source = item
    started = time.perf_counter()
    shards: list[ShardInfo] = []
    documents = quarantined = 0
    errors: Counter[str] = Counter()
    warnings: list[str] = []
    base = index << ORDER_BITS_PER_SOURCE
    for number, batch in enumerate(read_source(source, options)):
        name = f"{index:05d}-{number:06d}"
        warnings.extend(batch.warnings)
        report("documents read", batch.docs.height + batch.quarantined.height)
        if batch.quarantined.height:
            write_frame(batch.quarantined, shard_path(folder.quarantine, f"read-{name}"))
            quarantined += batch.quarantined.height
            errors.update(error_kind(error) for error in batch.quarantined["error"].to_list())
        if batch.docs.height:
            first = base + documents
            docs = batch.docs.with_columns(
                pl.int_range(first, first + batch.docs.height, dtype=pl.Int64).alias(ORDER)
            )
            write_frame(docs, shard_path(folder.work / "ingest", name))
            shards.append(ShardInfo(name, docs.height, first, first + docs.height - 1))
            documents += docs.height
    return ReadResult(
        source.label, shards, documents, quarantined, dict(errors), warnings, time.perf_counter() - started
    )


def error_kind(error: str) -> str:
    """The kind of a quarantine error, for stats (the text before any detail)."""
    return error.split(":", 1)[0].split(" (", 1)[0].strip()


# ---------------------------------------------------------------- duplicate ids


def check_ids_task(
    _: str, *, folder: RunFolder, shards: Sequence[ShardInfo], sources: Sequence[Source], options: ReadOptions
) -> int:
    """Find ids used twice; quarantine every later use (or fail). Returns the number quarantined."""
    if not shards:
        return 0
    paths = [shard_path(folder.work / "ingest", info.shard) for info in shards]
    keys = pl.scan_parquet(paths, extra_columns="ignore").select(ID, ORDER, SOURCE, LINE)
    repeated = (
        keys.filter(pl.col(ID).is_duplicated())
        .sort(ORDER)
        .with_columns(
            pl.col(SOURCE).first().over(ID).alias("first_source"),
            pl.col(LINE).first().over(ID).alias("first_line"),
            pl.col(ORDER).min().over(ID).alias("first_order"),
        )
        .filter(pl.col(ORDER) != pl.col("first_order"))
        .collect()
    )
    if repeated.is_empty():
        return 0
    row_based = {source.label for source in sources if source.format in ("parquet", "hf")}
    field_name = options.id_field or ID

    def where(source: str, line: int) -> str:
        return f"{source}, {'row' if source in row_based else 'line'} {line}"

    if options.on_error == "fail":
        first = repeated.row(0, named=True)
        location = {"row" if first[SOURCE] in row_based else "line": first[LINE]}
        raise InputError(
            f"duplicate id '{first[ID]}' (first used at {where(first['first_source'], first['first_line'])})",
            source=first[SOURCE],
            field=field_name,
            **location,
        )
    for info in shards:
        hits = repeated.filter(pl.col(ORDER).is_between(info.first, info.last))
        if hits.is_empty():
            continue
        path = shard_path(folder.work / "ingest", info.shard)
        shard = read_frame(path)
        bad = shard.filter(pl.col(ORDER).is_in(hits[ORDER].implode()))
        raw = bad.select(pl.struct([c for c in bad.columns if c not in PROVENANCE]).struct.json_encode())
        hits = hits.sort(ORDER)
        is_row = pl.col(SOURCE).is_in(sorted(row_based))
        quarantine = hits.select(
            pl.col(SOURCE).alias("source"),
            pl.when(~is_row).then(pl.col(LINE)).alias("line"),
            pl.when(is_row).then(pl.col(LINE)).alias("row"),
            pl.lit(field_name).alias("field"),
            pl.format(
                "duplicate id '{}' (first used at {}, {} {})",
                pl.col(ID),
                pl.col("first_source"),
                pl.when(pl.col("first_source").is_in(sorted(row_based)))
                .then(pl.lit("row"))
                .otherwise(pl.lit("line")),
                pl.col("first_line"),
            ).alias("error"),
        ).with_columns(raw.to_series().alias("raw"))
        write_frame(quarantine, shard_path(folder.quarantine, f"ids-{info.shard}"))
        write_frame(shard.filter(~pl.col(ORDER).is_in(hits[ORDER].implode())), path)
    return repeated.height


# ---------------------------------------------------------------- stages


def union_schema(paths: Sequence[Path]) -> dict[str, pl.DataType]:
    """The schema every shard is conformed to: all columns of all shards, types widened to fit."""
    if not paths:
        return {ID: pl.String(), TEXT: pl.String(), SOURCE: pl.String(), LINE: pl.Int64(), ORDER: pl.Int64()}
    schemas = [pl.read_parquet_schema(path) for path in paths]
    try:
        return dict(pl.concat([pl.DataFrame(schema=s) for s in schemas], how="diagonal_relaxed").schema)
    except pl.exceptions.PolarsError:
        merged: dict[str, pl.DataType] = {}
        for schema in schemas:
            for name, dtype in schema.items():
                merged[name] = dtype if merged.get(name, dtype) == dtype else pl.String()
        return merged


def conform(
    frame: pl.DataFrame, schema: dict[str, pl.DataType], clashes: dict[str, str] | None = None
) -> pl.DataFrame:
    """Give `frame` exactly the columns of `schema` (missing ones null), then any extra (score) columns."""
    if clashes:
        frame = frame.rename({old: new for old, new in clashes.items() if old in frame.columns})
    columns = []
    for name, dtype in schema.items():
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype).alias(name))
        elif frame.schema[name] == dtype:
            columns.append(pl.col(name))
        elif dtype == pl.String and frame.schema[name].is_nested():
            columns.append(pl.col(name).map_elements(_json, return_dtype=pl.String))
        else:
            columns.append(pl.col(name).cast(dtype))
    extra = [pl.col(name) for name in frame.columns if name not in schema]
    return frame.select(columns + extra)


def _json(value: Any) -> str:
    """A nested value as JSON text (for columns whose type differs between shards)."""
    return orjson.dumps(value, default=str).decode()


def decide_stage(
    engine: Engine,
    stage: CorpusStage,
    index: int,
    folder: RunFolder,
    source: Path,
    names: Sequence[str],
    schema: dict[str, pl.DataType],
    clashes: dict[str, str],
) -> Path:
    """Summarize every shard, then decide once; returns the decisions file."""
    work = folder.work / f"{index:02d}-{stage.name}-decide"
    summarize = partial(
        summarize_task, stage=stage, source=source, target=work / "summaries", schema=schema, clashes=clashes
    )
    engine.map(f"{stage.name}: summarize", summarize, list(names))
    return engine.map(f"{stage.name}: decide", partial(decide_task, stage=stage, work=work), ["all"])[0]


def summarize_task(
    shard: str,
    *,
    stage: CorpusStage,
    source: Path,
    target: Path,
    schema: dict[str, pl.DataType],
    clashes: dict[str, str],
) -> int:
    """One shard's summary for a corpus stage."""
    batch = conform(read_frame(shard_path(source, shard)), schema, clashes)
    summary = stage.summarize(batch)
    write_frame(summary, shard_path(target, shard))
    return summary.height


def decide_task(_: str, *, stage: CorpusStage, work: Path) -> Path:
    """The corpus stage's decisions over all summaries."""
    summaries = sorted((work / "summaries").glob("part-*.parquet"))
    if summaries:
        decisions = stage.decide(pl.scan_parquet(summaries))
    else:
        decisions = pl.DataFrame(schema={ORDER: pl.Int64, REASON: pl.String})
    return write_frame(decisions, work / "decisions.parquet")


def shard_task(
    shard: str,
    *,
    stage: Stage | None,
    index: int,
    folder: RunFolder,
    source: Path,
    target: Path,
    final: bool,
    schema: dict[str, pl.DataType],
    layout: tuple[dict[str, pl.DataType], dict[str, pl.DataType]],
    clashes: dict[str, str],
    renames: dict[str, str],
    output_format: OutputFormat,
    decisions: Path | None,
) -> ShardResult:
    """Run one stage on one shard: removed documents to the ledger, survivors onward."""
    started = time.perf_counter()
    batch = conform(read_frame(shard_path(source, shard)), schema, clashes)
    if stage is None:
        marked = batch.with_columns(pl.lit(None, pl.String).alias(REASON))
    elif isinstance(stage, CorpusStage):
        assert decisions is not None
        low, high = batch[ORDER].min(), batch[ORDER].max()
        chosen = pl.scan_parquet(decisions).filter(pl.col(ORDER).is_between(low, high)).collect()
        marked = stage.apply_decisions(batch, chosen)
    elif isinstance(stage, Filter):
        marked = stage.apply(batch)
    else:
        raise TypeError(f"{stage!r} is neither a Filter nor a CorpusStage")
    if REASON not in marked.columns:
        raise TypeError(f"stage {stage.name} returned no '{REASON}' column")
    removed = marked.filter(pl.col(REASON).is_not_null())
    details = [c for c in (stage.detail_columns if stage else ()) if c in marked.columns]
    if removed.height:
        write_frame(
            ledger_rows(removed, stage.name if stage else "write", *layout),
            folder.removed / f"part-{index:02d}-{stage.name if stage else 'write'}-{shard}.parquet",
        )
    kept = marked.filter(pl.col(REASON).is_null()).drop(REASON, *details)
    if final:
        if kept.height:
            output = kept.drop([c for c in PROVENANCE if c in kept.columns]).rename(renames)
            write_frame(output, shard_path(target, shard, output_format), output_format)
    else:
        write_frame(kept, shard_path(target, shard))
    reasons = removed[REASON].value_counts().rows() if removed.height else []
    return ShardResult(
        shard,
        batch.height,
        kept.height,
        {reason: count for reason, count in reasons},
        time.perf_counter() - started,
        stage.counters(marked) if stage else {},
    )


def ledger_layout(stages: Sequence[Stage]) -> tuple[dict[str, pl.DataType], dict[str, pl.DataType]]:
    """Every stage's detail and score columns: each removed/ file carries them all, so its schema is one."""
    details: dict[str, pl.DataType] = {}
    scores: dict[str, pl.DataType] = {}
    for stage in stages:
        for name, dtype in stage.detail_columns.items():
            details.setdefault(name, dtype)
        for name, dtype in stage.score_columns.items():
            scores.setdefault(name, dtype)
    return details, scores


def ledger_rows(
    removed: pl.DataFrame, stage: str, details: dict[str, pl.DataType], scores: dict[str, pl.DataType]
) -> pl.DataFrame:
    """Removed documents as ledger rows: id, stage, reason, details, where they came from, the document,
    then the scores; columns of other stages are null, so every part of removed/ has one schema."""
    frame = removed.with_columns(pl.lit(stage).alias(STAGE)).rename({SOURCE: "source", LINE: "line"})
    typed = {**details, **scores}
    frame = frame.with_columns(
        (pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype)).alias(name)
        for name, dtype in typed.items()
    )
    lead = [ID, STAGE, REASON, *details, "source", "line"]
    rest = [c for c in frame.columns if c not in lead and c not in scores and c != ORDER]
    return frame.select(lead + rest + list(scores))


# ---------------------------------------------------------------- stats


def summarize_stage(label: str, stage: Stage | None, results: Sequence[ShardResult], seconds: float) -> dict:
    """Per-stage counts by reason and timings."""
    reasons: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    for result in results:
        reasons.update(result.reasons)
        counters.update({name: int(value) for name, value in result.counters.items()})
    documents_in = sum(r.input for r in results)
    return {
        "name": label,
        "kind": "corpus" if isinstance(stage, CorpusStage) else "filter" if stage else "write",
        "input": documents_in,
        "kept": sum(r.kept for r in results),
        "removed": sum(reasons.values()),
        "reasons": dict(reasons.most_common()),
        "counters": {name: counters[name] for name in sorted(counters)},
        "seconds": round(seconds, 3),
        "docs_per_second": round(documents_in / seconds, 1) if seconds > 0 else None,
    }


def stage_line(stats: dict) -> str:
    """A log line for a finished stage."""
    reasons = ", ".join(f"{k}: {v}" for k, v in stats["reasons"].items()) or "none"
    name, removed, total = stats["name"], stats["removed"], stats["input"]
    counted = ", ".join(f"{k}: {v}" for k, v in stats.get("counters", {}).items())
    counted = f"; counted {counted}" if counted else ""
    return f"{name}: removed {removed} of {total} ({reasons}){counted} in {stats['seconds']} s"


def build_stats(
    folder: RunFolder,
    sources: Sequence[Source],
    read: Sequence[ReadResult],
    id_quarantined: int,
    stages: list[dict],
    options: RunOptions,
    started_at: str,
    seconds: float,
) -> dict[str, Any]:
    """stats.json: totals counted from the files written, per-stage counts, timings."""
    errors: Counter[str] = Counter()
    for result in read:
        errors.update(result.errors)
    if id_quarantined:
        errors["duplicate id"] += id_quarantined
    records = sum(r.documents + r.quarantined for r in read)
    stages = [s for s in stages if s["kind"] != "write"]
    return {
        "input": records,
        "kept": count_rows(folder.kept),
        "removed": count_rows(folder.removed),
        "quarantined": count_rows(folder.quarantine),
        "stages": stages,
        "read": {
            "sources": [
                {
                    "source": r.source,
                    "documents": r.documents,
                    "quarantined": r.quarantined,
                    "seconds": round(r.seconds, 3),
                }
                for r in read
            ],
            "quarantine_errors": dict(errors.most_common()),
            "warnings": [w for r in read for w in r.warnings],
            "seconds": round(sum(r.seconds for r in read), 3),
        },
        "output_format": options.output_format,
        "paths": {name: str(getattr(folder, name).resolve()) for name in ("kept", "removed", "quarantine")},
        "started_at": started_at,
        "finished_at": run_folder.now(),
        "seconds": round(seconds, 3),
        "docs_per_second": round(records / seconds, 1) if seconds > 0 else None,
    }


def check_accounting(stats: dict[str, Any]) -> None:
    """Every input document is kept, removed or quarantined, and the stages agree with the files."""
    total = stats["kept"] + stats["removed"] + stats["quarantined"]
    if stats["input"] != total:
        raise AccountingError(
            f"input {stats['input']} != kept {stats['kept']} + removed {stats['removed']} "
            f"+ quarantined {stats['quarantined']}"
        )
    if sum(stage["removed"] for stage in stats["stages"]) != stats["removed"]:
        raise AccountingError("removed/ does not match the stages' removal counts")
