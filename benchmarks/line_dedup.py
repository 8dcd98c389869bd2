"""What `line_dedup` finds on real pages (../shared/data): lines repeated in more than N documents, the
most repeated ones with their document counts, pages changed and removed, and the time it took.

- C4 (1,000 cleaned Common Crawl pages), as they are: C4 already dropped every three-sentence span seen
  twice, so this is the check that nothing is touched;
- the DCLM quality pages (349 raw Common Crawl pages, boilerplate kept).

Then nightly runs: the DCLM pages shuffled (seed 0) and split into `--nights` nights; each night run
alone, and each with the index of the nights before (`index`, `update_index`): lines cut per night.

    PYTHONPATH=. python benchmarks/line_dedup.py [--min-documents 1 2 10] [--top 8] [--nights 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import polars as pl

from filters.dedup.line_dedup import KEY, LineDedupConfig, keyed_segments, remove_repeated_lines

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPORA = {"C4 sample": "c4_sample1k.jsonl.gz", "DCLM pages": "dclm_quality.jsonl.gz"}


def most_repeated(texts: pl.Series, config: LineDedupConfig, top: int) -> pl.DataFrame:
    """The `top` repeated segments: one text of each (as first seen) and its number of documents."""
    keyed = keyed_segments(texts, config).drop_nulls(KEY)
    return (
        keyed.group_by(KEY, maintain_order=True)
        .agg(
            pl.col("__segment").first().str.strip_chars().alias("line"),
            pl.col("__row").n_unique().alias("docs"),
        )
        .filter(pl.col("docs") > config.min_documents)
        .sort("docs", "line", descending=[True, False])
        .head(top)
        .select("docs", "line")
    )


def report(name: str, frame: pl.DataFrame, config: LineDedupConfig, top: int) -> None:
    started = time.perf_counter()
    out = remove_repeated_lines(frame, config)
    seconds = time.perf_counter() - started
    kept = out.filter(pl.col("reason").is_null())
    changed = int((kept["repeated_lines"] > 0).sum())
    repeated = most_repeated(frame["text"], config, 10**9)
    lines = frame["text"].str.count_matches(r"[^\n]*\n|[^\n]+").sum()
    print(
        f"{name}, min_documents={config.min_documents}: {frame.height} pages, {lines} lines; "
        f"{repeated.height} distinct lines in > {config.min_documents} documents; "
        f"{int(kept['repeated_lines'].sum())} lines cut from {changed} pages, "
        f"{out.height - kept.height} pages removed as too short; {seconds:.2f} s"
    )
    for docs, line in most_repeated(frame["text"], config, top).rows():
        print(f"  {docs:>4}  {line[:60]!r}")


def nights(frame: pl.DataFrame, count: int, min_documents: int) -> None:
    """Lines cut from each of `count` nights of `frame`'s pages, alone and with the earlier nights' index."""
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=0)
    size = -(-shuffled.height // count)
    alone, indexed = [], []
    with tempfile.TemporaryDirectory() as folder:
        config = LineDedupConfig(min_documents=min_documents)
        with_index = config.model_copy(update={"index": Path(folder) / "index", "update_index": True})
        for start in range(0, shuffled.height, size):
            night = shuffled.slice(start, size)
            alone.append(int(remove_repeated_lines(night, config)["repeated_lines"].sum()))
            indexed.append(int(remove_repeated_lines(night, with_index)["repeated_lines"].sum()))
    print(
        f"DCLM pages in {count} nights, min_documents={min_documents}: lines cut per night alone "
        f"{alone} (total {sum(alone)}), with the index of the nights before {indexed} (total {sum(indexed)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-documents", type=int, nargs="+", default=[1, 2, 10])
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--nights", type=int, default=3)
    args = parser.parse_args()
    for name, file in CORPORA.items():
        frame = pl.read_ndjson(SHARED / file).select("text")
        for min_documents in args.min_documents:
            report(name, frame, LineDedupConfig(min_documents=min_documents), args.top)
    frame = pl.read_ndjson(SHARED / CORPORA["DCLM pages"]).select("text")
    for min_documents in args.min_documents:
        nights(frame, args.nights, min_documents)


if __name__ == "__main__":
    main()
