"""The engine-agnostic runner: read, check ids, run every stage on every shard, write the ledger.

Steps, each a list of independent tasks handed to an `Engine`:

1. `read`: one task per input source; every batch read becomes a shard in `_work/ingest/`, bad records
   go to `quarantine/`.
2. `ids`: duplicate ids across the corpus (quarantined, or an error with `on_error="fail"`).
3. per stage, one task per shard (a `CorpusStage` adds a summary step and one decision task first):
   removed documents go to `removed/` with `stage`, `reason` and details; survivors to the next stage,
   and after the last stage to `kept/` with the input's own field names.
4. stats: counts from the files written; input = kept + removed + quarantined or the run fails.

Crash-safe: one run at a time holds the folder's lock (`pipeline.lock`), and every finished task leaves a
done marker (`run_folder` checkpoints) after its outputs are durable. Run the same command again after a
crash (SIGKILL included) and the tasks with a marker are not run again: their results come from the marker,
their files are already in place. Shard-local work (reading a source, a filter or an applied decision on
a shard, a corpus stage's summary of a shard) resumes shard by shard; the corpus-wide steps (the duplicate
id check, a corpus stage's decision) run once over all shards and are checkpointed as one task each, so
their results always see the whole corpus.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from pipeline import run_folder, storage
from pipeline.batch import ID, LINE, ORDER, PROVENANCE, REASON, SOURCE, STAGE, TEXT
from pipeline.checkpoints import Checkpoints
from pipeline.engine import Engine, LocalEngine, report, report_done
from pipeline.errors import InputError
from pipeline.lock import hold
from pipeline.readers import ReadOptions, Source, output_renames, read_source, resolve_sources
from pipeline.report import write_report
from pipeline.report_html import write_report_and_tables
from pipeline.run_folder import RunFolder
from pipeline.stage import PART, CorpusStage, Filter, SplitCorpusStage, Stage
from pipeline.stats import (
    ReadStats,
    ResumeStats,
    RunStats,
    SourceStats,
    StageStats,
    StepStats,
    by_count,
    stage_line,
)
from pipeline.storage import AnyPath
from pipeline.writers import OutputFormat, count_rows, frame_schema, read_frame, shard_path, write_frame

#: what to do about a shared folder (a dedup index) that another run is updating
SHARED_FOLDER_HINT = "runs that update it take turns: wait for that run to finish"
#: what a corpus stage's decision recorded for the report, beside its decisions file
FACTS = "facts.json"
ORDER_BITS_PER_SOURCE = 43  # ORDER = source index << 43 | position in the source
#: documents per part of a split decision when the run does not say (MinHash: about 0.5 GB of band keys)
DOCS_PER_PART = 250_000


@dataclass(frozen=True)
class RunOptions:
    """How to read the inputs and write the kept documents."""

    read: ReadOptions = field(default_factory=ReadOptions)
    output_format: OutputFormat = "parquet"
    keep_work: bool = False
    #: tasks each corpus-wide decision that can be split runs as (None: one per `DOCS_PER_PART` documents)
    partitions: int | None = None


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
    """A finished run: its folder and its stats (`already_complete` when nothing had to be done), and the
    report's tables (`report_html.report_tables`: stages, reasons, duplicate clusters; None when already
    complete)."""

    folder: RunFolder
    stats: RunStats
    tables: dict[str, list[dict[str, Any]]] | None = None

    @property
    def already_complete(self) -> bool:
        return self.stats.already_complete


def run(
    inputs: Sequence[Any],
    out: str | Path,
    stages: Sequence[Stage],
    options: RunOptions | None = None,
    *,
    engine: Engine | None = None,
    recipe: dict[str, Any] | None = None,
) -> RunResult:
    """Clean `inputs` into the run folder `out` with `stages`, on `engine` (default: this process).

    An unfinished run of the same command in `out` is resumed; a run in progress there refuses this one.
    """
    options = options or RunOptions()
    engine = engine or LocalEngine()
    folder = RunFolder(storage.as_path(out))
    sources = resolve_sources(inputs, options.read)
    identity = run_identity(sources, options, recipe if recipe is not None else describe_stages(stages))
    run_folder.check_usable(folder.root)
    with hold(folder.root), contextlib.ExitStack() as shared:
        state = run_folder.prepare(folder.root, identity)
        if state == "complete":
            if not options.keep_work:
                storage.remove_tree(folder.work)  # left by a run killed while cleaning up
            return RunResult(
                folder, RunStats.read_file(folder.stats).model_copy(update={"already_complete": True})
            )
        shared_folders = {storage.absolute(storage.as_path(p)) for s in stages for p in s.shared_folders()}
        for path in sorted(shared_folders, key=str):
            shared.enter_context(hold(path, SHARED_FOLDER_HINT))
        if state == "resume":
            run_folder.remove_partial_files([folder.kept, folder.removed, folder.quarantine, folder.work])
            engine.log(f"{folder.root}: resuming an unfinished run from its checkpoints")
        return _run(folder, sources, stages, options, Checkpoints(engine, folder.checkpoints), identity)


def _run(
    folder: RunFolder,
    sources: Sequence[Source],
    stages: Sequence[Stage],
    options: RunOptions,
    steps: Checkpoints,
    identity: dict[str, Any],
) -> RunResult:
    """The run itself, holding the folder's lock; every step goes through the checkpoints."""
    engine = steps.engine
    started, started_at = time.perf_counter(), run_folder.now()
    for path in (folder.kept, folder.removed, folder.quarantine):
        storage.make_dirs(path)

    read = steps.map(
        "read",
        partial(read_task, folder=folder, options=options.read),
        list(enumerate(sources)),
        decode=decode_read,
        key=source_key,
    )
    report_done("documents read")
    shards = [info for result in read for info in result.shards]
    id_check = steps.map(
        "ids",
        partial(check_ids_task, folder=folder, shards=shards, sources=sources, options=options.read),
        ["all"],
        decode=int,
    )[0]
    for result in read:
        engine.log(f"read {result.source}: {result.documents} documents, {result.quarantined} quarantined")

    names = [info.shard for info in shards]
    paths = [work_shard(folder.work / "ingest", name) for name in names]
    schema = union_schema(paths)
    layout = ledger_layout(stages)
    # input columns named like a ledger or stage column travel as NAME__input and get their name back in kept/
    reserved = {REASON, STAGE, "source", "line", *layout[0], *layout[1]}
    clashes = {name: f"{name}__input" for name in schema if name in reserved}
    schema = {clashes.get(name, name): dtype for name, dtype in schema.items()}
    renames = {**output_renames(options.read, list(schema)), **{new: old for old, new in clashes.items()}}
    stage_stats = []
    parts = options.partitions or max(1, -(-sum(info.rows for info in shards) // DOCS_PER_PART))
    current = folder.work / "ingest"
    plan: list[Stage | None] = list(stages) or [None]
    for index, stage in enumerate(plan):
        label = stage.name if stage is not None else "write"
        final = index == len(plan) - 1
        target = folder.kept if final else folder.work / f"{index:02d}-{label}"
        stage_started = time.perf_counter()
        decisions = None
        if isinstance(stage, CorpusStage):
            decisions = decide_stage(steps, stage, index, folder, current, names, schema, clashes, parts)
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
        results = steps.map(label, task, names, decode=decode_shard, key_step=f"{index:02d}-{label}")
        facts = stage.facts if stage is not None else {}  # a filter's, known once it was built
        if decisions is not None:
            facts = read_facts(decisions.parent / FACTS)
        seconds = time.perf_counter() - stage_started
        stage_stats.append(summarize_stage(label, stage, results, seconds, facts))
        if stage is not None:
            engine.log(stage_line(stage_stats[-1]))
        current = target

    stats = build_stats(
        folder, sources, read, id_check, stage_stats, options, started_at, time.perf_counter() - started
    )
    stats.check_accounting()
    stats.resume = ResumeStats(
        attempt=(run_folder.read_manifest(folder.root) or {}).get("attempt", 1),
        tasks_reused=steps.reused,
        tasks_run=steps.ran,
    )
    stats.steps = {
        step: StepStats(tasks=tasks, task_seconds=round(summed, 3), seconds=round(wall, 3))
        for step, (tasks, summed, wall) in steps.timings.items()
    }
    steps.once("commit", partial(commit_stages, list(stages)))
    run_folder.write_json(folder.stats, stats.to_json())
    write_report(folder.root, stats)
    tables = engine.map("report", partial(report_task, root=folder.root), ["all"])[0]
    run_folder.write_manifest(folder.root, identity, status="complete")
    if not options.keep_work:
        storage.remove_tree(folder.work)
    return RunResult(folder, stats, tables)


def report_task(_: str, *, root: AnyPath) -> dict[str, list[dict[str, Any]]]:
    """Draw `report.html`, and make its tables, as a task where the other tasks run: they read the ledger's
    columns (removed documents, scores), so their memory grows with the corpus, and stays out of the flow's
    own process."""
    return write_report_and_tables(root)[1]


def commit_stages(stages: Sequence[Stage]) -> None:
    """After every shard is done: let the stages publish what they staged (e.g. an index update)."""
    for stage in stages:
        stage.commit()


def source_key(item: tuple[int, Source]) -> str:
    """A read task's marker name: the source's position."""
    return f"{item[0]:05d}"


def decode_read(value: dict[str, Any]) -> ReadResult:
    return ReadResult(**{**value, "shards": [ShardInfo(**shard) for shard in value["shards"]]})


def decode_shard(value: dict[str, Any]) -> ShardResult:
    return ShardResult(**value)


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
    """A source's identity: path, size and modification time (an object's ETag or generation), or a
    dataset's fingerprint."""
    if storage.is_remote(source.path):
        assert source.path is not None
        return {
            "label": source.label,
            "path": storage.display(source.path),
            **storage.file_version(source.path),
        }
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
    """The recipe of stages given directly (library use): each stage's config, as a recipe table."""
    return {"stages": [stage.identity() for stage in stages]}


# ---------------------------------------------------------------- read


def read_task(item: tuple[int, Source], *, folder: RunFolder, options: ReadOptions) -> ReadResult:
    """Read one source into shards; bad records into quarantine."""
    index, source = item
    started = time.perf_counter()
    # a killed attempt may have left some of this source's shards: the source is read again from its start
    for leftover in (
        *(folder.work / "ingest").glob(f"part-{index:05d}-*"),
        *folder.quarantine.glob(f"part-read-{index:05d}-*"),
    ):
        leftover.unlink(missing_ok=True)
    written: list[Path] = []
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
            written.append(write_frame(batch.quarantined, shard_path(folder.quarantine, f"read-{name}")))
            quarantined += batch.quarantined.height
            errors.update(error_kind(error) for error in batch.quarantined["error"].to_list())
        if batch.docs.height:
            first = base + documents
            docs = batch.docs.with_columns(
                pl.int_range(first, first + batch.docs.height, dtype=pl.Int64).alias(ORDER)
            )
            written.append(write_frame(docs, work_shard(folder.work / "ingest", name)))
            shards.append(ShardInfo(name, docs.height, first, first + docs.height - 1))
            documents += docs.height
    run_folder.sync(written)
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
    """Find ids used twice; quarantine every later use (or fail). Returns the number quarantined.

    The ids to quarantine are found over every shard and saved before any shard changes; applying them
    to a shard is idempotent, so an attempt killed half-way is finished by the next one.
    """
    if not shards:
        return 0
    decided = folder.work / "ids-repeated.parquet"
    if decided.is_file():
        repeated = read_frame(decided)
    else:
        repeated = find_repeated_ids(folder, shards)
        if options.on_error != "fail":
            run_folder.sync([write_frame(repeated, decided)])
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
    written: list[Path] = []
    for info in shards:
        hits = repeated.filter(pl.col(ORDER).is_between(info.first, info.last))
        if hits.is_empty():
            continue
        path = work_shard(folder.work / "ingest", info.shard)
        shard = read_frame(path)
        bad = shard.filter(pl.col(ORDER).is_in(hits[ORDER].implode()))
        if bad.is_empty():
            continue  # done by an attempt that was killed later (its quarantine file came first)
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
        run_folder.sync([write_frame(quarantine, shard_path(folder.quarantine, f"ids-{info.shard}"))])
        written.append(write_frame(shard.filter(~pl.col(ORDER).is_in(hits[ORDER].implode())), path))
    run_folder.sync(written)
    return repeated.height


def find_repeated_ids(folder: RunFolder, shards: Sequence[ShardInfo]) -> pl.DataFrame:
    """Every use of an id after its first, with where the first use is."""
    paths = [work_shard(folder.work / "ingest", info.shard) for info in shards]
    keys = scan_work(paths, [ID, ORDER, SOURCE, LINE])
    return (
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


# ---------------------------------------------------------------- stages


def work_shard(folder: AnyPath, shard: str) -> AnyPath:
    """A working shard between steps (`_work/ingest/`, a stage's survivors): Arrow IPC, uncompressed, on a
    local disk (written about 8x faster than zstd Parquet and read back mapped: a second of a 200,000
    document run); zstd Parquet on object storage, where bytes cost more than CPU."""
    return shard_path(folder, shard, "parquet" if storage.is_remote(folder) else "arrow")


def scan_work(paths: Sequence[AnyPath], columns: Sequence[str]) -> pl.LazyFrame:
    """`columns` of every `work_shard` in `paths` (shards may hold other columns besides)."""
    if paths and all(path.suffix == ".arrow" for path in paths):
        return pl.concat([storage.scan_ipc([path]).select(columns) for path in paths])
    return storage.scan_parquet(paths, extra_columns="ignore").select(columns)


def union_schema(paths: Sequence[Path]) -> dict[str, pl.DataType]:
    """The schema every shard is conformed to: all columns of all shards, types widened to fit."""
    if not paths:
        return {ID: pl.String(), TEXT: pl.String(), SOURCE: pl.String(), LINE: pl.Int64(), ORDER: pl.Int64()}
    schemas = [frame_schema(path) for path in paths]
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
    steps: Checkpoints,
    stage: CorpusStage,
    index: int,
    folder: RunFolder,
    source: Path,
    names: Sequence[str],
    schema: dict[str, pl.DataType],
    clashes: dict[str, str],
    parts: int = 1,
) -> Path:
    """Summarize every shard, then decide over all summaries: in one task, or, for a stage that splits its
    decision, in `parts` tasks and one that joins their results; returns the decisions file."""
    work = folder.work / f"{index:02d}-{stage.name}-decide"
    stage.state_dir = work / "state"  # before the tasks are made: they carry the stage to the workers
    split = parts > 1 and isinstance(stage, SplitCorpusStage)
    summarize = partial(
        summarize_task,
        stage=stage,
        source=source,
        target=work / "summaries",
        schema=schema,
        clashes=clashes,
        routes=round_folder(work, parts, 0) if split else None,
        parts=parts,
    )
    key = f"{index:02d}-{stage.name}"
    # summaries routed for one number of parts are of no use to another: resuming with another redoes them
    summarized = f"{key}-summarize" + (f"-parts-of-{parts}" if split else "")
    steps.map(f"{stage.name}: summarize", summarize, list(names), decode=int, key_step=summarized)
    if split:
        assert isinstance(stage, SplitCorpusStage)
        numbers = [f"{number:05d}" for number in range(parts)]
        for round in range(stage.rounds):
            part = partial(decide_part_task, stage=stage, work=work, parts=parts, round=round)
            label = f"{stage.name}: decide parts" + (
                f" (round {round + 1} of {stage.rounds})" if stage.rounds > 1 else ""
            )
            done = f"{key}-parts-of-{parts}" + (f"-round-{round}" if round else "")
            steps.map(label, part, numbers, decode=int, key_step=done)
    decide = partial(decide_task, stage=stage, work=work, parts=parts if split else None)
    return steps.map(f"{stage.name}: decide", decide, ["all"], decode=Path, key_step=f"{key}-decide")[0]


def read_facts(path: Path) -> dict[str, Any]:
    """What a corpus stage's decision recorded (none when an older version decided)."""
    return orjson.loads(path.read_bytes()) if path.is_file() else {}


def summarize_task(
    shard: str,
    *,
    stage: CorpusStage,
    source: Path,
    target: Path,
    schema: dict[str, pl.DataType],
    clashes: dict[str, str],
    routes: Path | None = None,
    parts: int = 1,
) -> int:
    """One shard's summary for a corpus stage (Arrow IPC: the decision memory-maps it) and, when the stage
    routes its rows to the parts of a split decision, its rows for each part under `routes`."""
    batch = conform(read_frame(work_shard(source, shard)), schema, clashes)
    summary = stage.summarize(batch)
    written = [write_frame(summary, shard_path(target, shard, "arrow"), "arrow")]
    if routes is not None and isinstance(stage, SplitCorpusStage):
        routed = stage.route(summary.lazy(), parts)
        if routed is not None:
            written += write_routed(routed.collect(), routes, parts, shard)
    run_folder.sync(written)
    return summary.height


def write_routed(rows: pl.DataFrame, routes: Path, parts: int, name: str) -> list[Path]:
    """`rows` into one file `name` per part under `routes`, by their `PART` column (an empty one for a part
    that gets none, so every part's reader finds the columns)."""
    by_part = rows.partition_by(PART, as_dict=True, include_key=False)
    empty = rows.clear().drop(PART)
    return [
        write_frame(by_part.get((number,), empty), shard_path(part_folder(routes, number), name))
        for number in range(parts)
    ]


def parts_folder(work: Path, parts: int) -> Path:
    return work / f"parts-of-{parts}"


def round_folder(work: Path, parts: int, round: int) -> Path:
    """Where the rows routed to each part of `round` are written (by summaries, or the round before)."""
    return parts_folder(work, parts) / f"round-{round}"


def part_folder(routes: Path, part: int) -> Path:
    return routes / f"part-{part:05d}"


def summary_files(work: Path) -> list[Path]:
    return sorted((work / "summaries").glob("part-*.arrow"))


def decide_part_task(part: str, *, stage: SplitCorpusStage, work: Path, parts: int, round: int = 0) -> int:
    """One part of one round of a split decision (`SplitCorpusStage.decide_part`): its rows routed to the
    parts of the next round, or, from the last round, written for the task joining them."""
    summaries = summary_files(work)
    if not summaries:
        return 0
    routed_files = sorted(part_folder(round_folder(work, parts, round), int(part)).glob("part-*.parquet"))
    routed = storage.scan_parquet(routed_files) if routed_files else None
    found = stage.decide_part(storage.scan_ipc(summaries), int(part), parts, routed, round, summaries)
    if round + 1 < stage.rounds:
        written = write_routed(found, round_folder(work, parts, round + 1), parts, part)
    else:
        written = [write_frame(found, parts_folder(work, parts) / f"part-{part}.parquet")]
    run_folder.sync(written)
    return found.height


def decide_task(_: str, *, stage: CorpusStage, work: Path, parts: int | None = None) -> Path:
    """The corpus stage's decisions over all summaries (from the results of its `parts`, when split)."""
    summaries = summary_files(work)
    stage.facts = {}
    if summaries and parts is not None:
        assert isinstance(stage, SplitCorpusStage)
        found = sorted(parts_folder(work, parts).glob("part-*.parquet"))
        decisions = stage.decide_parts(storage.scan_ipc(summaries), storage.scan_parquet(found), summaries)
    elif summaries:
        decisions = stage.decide(storage.scan_ipc(summaries))
    else:
        decisions = pl.DataFrame(schema={ORDER: pl.Int64, REASON: pl.String})
    run_folder.write_json(work / FACTS, stage.facts)
    path = write_frame(decisions, work / "decisions.parquet")
    run_folder.sync([path])
    return path


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
    label = stage.name if stage else "write"
    ledger = folder.removed / f"part-{index:02d}-{label}-{shard}.parquet"
    output = shard_path(target, shard, output_format) if final else work_shard(target, shard)
    for stale in (ledger, output):  # a killed attempt's, if any: this shard is redone
        stale.unlink(missing_ok=True)
    written: list[Path] = []
    batch = conform(read_frame(work_shard(source, shard)), schema, clashes)
    if stage is None:
        marked = batch.with_columns(pl.lit(None, pl.String).alias(REASON))
    elif isinstance(stage, CorpusStage):
        assert decisions is not None
        low, high = batch[ORDER].min(), batch[ORDER].max()
        chosen = storage.scan_parquet(decisions).filter(pl.col(ORDER).is_between(low, high)).collect()
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
        written.append(write_frame(ledger_rows(removed, label, *layout), ledger))
    kept = marked.filter(pl.col(REASON).is_null()).drop(REASON, *details)
    if final:
        if kept.height:
            documents = kept.drop([c for c in PROVENANCE if c in kept.columns]).rename(renames)
            written.append(write_frame(documents, output, output_format))
    else:
        written.append(write_frame(kept, output))
    run_folder.sync(written)
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


def summarize_stage(
    label: str,
    stage: Stage | None,
    results: Sequence[ShardResult],
    seconds: float,
    facts: dict[str, Any] | None = None,
) -> StageStats:
    """Per-stage counts by reason and timings."""
    reasons: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    for result in results:
        reasons.update(result.reasons)
        counters.update({name: int(value) for name, value in result.counters.items()})
    documents_in = sum(r.input for r in results)
    return StageStats(
        name=label,
        kind="corpus" if isinstance(stage, CorpusStage) else "filter" if stage else "write",
        input=documents_in,
        kept=sum(r.kept for r in results),
        removed=sum(reasons.values()),
        reasons=by_count(reasons),
        counters={name: counters[name] for name in sorted(counters)},
        score_columns=list(stage.score_columns) if stage else [],
        detail_columns=list(stage.detail_columns) if stage else [],
        seconds=round(seconds, 3),
        docs_per_second=round(documents_in / seconds, 1) if seconds > 0 else None,
        facts=facts or {},
    )


def build_stats(
    folder: RunFolder,
    sources: Sequence[Source],
    read: Sequence[ReadResult],
    id_quarantined: int,
    stages: list[StageStats],
    options: RunOptions,
    started_at: str,
    seconds: float,
) -> RunStats:
    """stats.json: totals counted from the files written, per-stage counts, timings."""
    errors: Counter[str] = Counter()
    for result in read:
        errors.update(result.errors)
    if id_quarantined:
        errors["duplicate id"] += id_quarantined
    records = sum(r.documents + r.quarantined for r in read)
    return RunStats(
        input=records,
        kept=count_rows(folder.kept),
        removed=count_rows(folder.removed),
        quarantined=count_rows(folder.quarantine),
        stages=[stage for stage in stages if stage.kind != "write"],
        read=ReadStats(
            sources=[
                SourceStats(
                    source=r.source,
                    documents=r.documents,
                    quarantined=r.quarantined,
                    seconds=round(r.seconds, 3),
                )
                for r in read
            ],
            quarantine_errors=by_count(errors),
            warnings=[w for r in read for w in r.warnings],
            seconds=round(sum(r.seconds for r in read), 3),
        ),
        output_format=options.output_format,
        paths={
            name: storage.display(storage.absolute(getattr(folder, name)))
            for name in ("kept", "removed", "quarantine")
        },
        started_at=started_at,
        finished_at=run_folder.now(),
        seconds=round(seconds, 3),
        docs_per_second=round(records / seconds, 1) if seconds > 0 else None,
    )
