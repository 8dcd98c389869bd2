"""Heuristic quality rules, winnow vs datatrove 0.10.1: the same decisions, and how fast.

On Reuters-21578 (19,043 documents) and the first 1,000 documents of C4 (../shared/data), in one process:

- datatrove: `GopherQualityFilter()`, `GopherRepetitionFilter()`, `C4QualityFilter()` and
  `FineWebQualityFilter()` with their defaults, each called per document (`filter(Document)`, what its
  `BaseFilter.run` does for every document) over the whole corpus, one timed pass (spaCy is loaded before);
- winnow: `gopher_quality`, `gopher_repetition`, `c4_quality` and `fineweb_quality` on the whole polars
  frame, timed as the median of `--repeat` runs.

Per corpus and rule set it prints: documents, keep/drop agreement (%), the disagreements, agreement of the
exact reason string (%), for C4 the agreement of the rewritten text of documents both keep (%), documents
per second for each and the speed ratio. `--show-disagreements N` prints N examples per rule set (id,
datatrove's reason, winnow's reason). A rule set whose winnow module is missing is reported and skipped.
`--badwords FILE` adds `C4BadWordsFilter` (made to read FILE, not to download its list) vs `c4_badwords`.

    PYTHONPATH=. python benchmarks/quality_rules.py [--repeat 3] [--show-disagreements 5]
        [--corpora reuters21578,c4_sample1k] [--rules gopher_quality,c4_quality,...]
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
CORPORA = ("reuters21578", "c4_sample1k")


@dataclass(frozen=True)
class RuleSet:
    name: str
    #: datatrove's filter class, in `datatrove.pipeline.filters`
    datatrove_class: str
    #: winnow's module and function
    module: str
    function: str
    #: whether the filter rewrites the text of kept documents
    rewrites: bool = False


RULE_SETS = (
    RuleSet("gopher_quality", "GopherQualityFilter", "filters.quality.gopher_quality", "gopher_quality"),
    RuleSet(
        "gopher_repetition",
        "GopherRepetitionFilter",
        "filters.quality.gopher_repetition",
        "gopher_repetition",
    ),
    RuleSet("c4_quality", "C4QualityFilter", "filters.quality.c4", "c4_quality", rewrites=True),
    RuleSet("fineweb_quality", "FineWebQualityFilter", "filters.quality.fineweb", "fineweb_quality"),
)


@dataclass
class Decisions:
    reasons: list[str | None]
    texts: list[str | None]
    seconds: float


def read_corpus(name: str) -> pl.DataFrame:
    """`id` (String) and `text` of a shared corpus."""
    with gzip.open(DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return pl.DataFrame({"id": [str(r["id"]) for r in rows], "text": [r["text"] for r in rows]})


def use_local_badwords(path: Path) -> None:
    """Make datatrove's `C4BadWordsFilter` read `path` instead of downloading LDNOOBW's list."""
    from datatrove.pipeline.filters import c4_filters

    c4_filters.cached_asset_path_or_download = lambda *args, **kwargs: str(path)


def run_datatrove(rule: RuleSet, frame: pl.DataFrame) -> Decisions:
    """datatrove's filter with its defaults, per document; kept documents' text after the filter."""
    from datatrove.data import Document
    from datatrove.pipeline import filters
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    load_word_tokenizer("en").word_tokenize("Warm up spaCy. Load it now.")
    step = getattr(filters, rule.datatrove_class)()
    step.filter(Document(text="Warm up the filter. It loads its resources now.", id="warm-up"))
    reasons: list[str | None] = []
    texts: list[str | None] = []
    start = time.perf_counter()
    for doc_id, text in zip(frame["id"], frame["text"], strict=True):
        doc = Document(text=text, id=doc_id)
        result = step.filter(doc)
        keep, reason = result if isinstance(result, tuple) else (result, None)
        reasons.append(None if keep else reason or "dropped")
        texts.append(doc.text if keep else None)
    return Decisions(reasons, texts, time.perf_counter() - start)


def run_winnow(
    function: Callable[[pl.DataFrame], pl.DataFrame], frame: pl.DataFrame, repeat: int
) -> Decisions:
    """winnow's function on the whole frame: the last run's decisions, the median time of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = function(frame)
        times.append(time.perf_counter() - start)
    reasons = out["reason"].to_list()
    texts = out.select(pl.when(pl.col("reason").is_null()).then(pl.col("text")))["text"].to_list()
    return Decisions(reasons, texts, statistics.median(times))


def compare(
    rule: RuleSet, corpus: str, frame: pl.DataFrame, ours: Decisions, theirs: Decisions, show: int
) -> dict:
    pairs = list(zip(frame["id"], theirs.reasons, ours.reasons, strict=True))
    disagreements = [p for p in pairs if (p[1] is None) != (p[2] is None)]
    same_reason = sum(p[1] == p[2] for p in pairs)
    both_kept = [
        (a, b)
        for a, b, r, s in zip(theirs.texts, ours.texts, theirs.reasons, ours.reasons, strict=True)
        if r is None and s is None
    ]
    n = frame.height
    row = {
        "corpus": corpus,
        "rules": rule.name,
        "docs": n,
        "dt_kept": sum(r is None for r in theirs.reasons),
        "agree_%": 100 * (1 - len(disagreements) / n),
        "disagree": len(disagreements),
        "same_reason_%": 100 * same_reason / n,
        "kept_text_%": 100 * sum(a == b for a, b in both_kept) / len(both_kept)
        if rule.rewrites and both_kept
        else None,
        "datatrove_docs_s": n / theirs.seconds,
        "winnow_docs_s": n / ours.seconds,
        "speedup": theirs.seconds / ours.seconds,
    }
    if show:
        mismatched = disagreements + [p for p in pairs if p[1] != p[2] and (p[1] is None) == (p[2] is None)]
        for doc_id, dt, wn in mismatched[:show]:
            print(f"  {corpus} {rule.name}: {doc_id}: datatrove={dt!r} winnow={wn!r}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3, help="winnow runs per rule set (median time)")
    parser.add_argument(
        "--show-disagreements", type=int, default=0, metavar="N", help="examples per rule set"
    )
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--rules", default=",".join(r.name for r in RULE_SETS))
    parser.add_argument(
        "--badwords",
        type=Path,
        metavar="FILE",
        help="also compare C4BadWordsFilter with this list (one a line)",
    )
    args = parser.parse_args()

    chosen = [r for r in RULE_SETS if r.name in args.rules.split(",")]
    functions: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {}
    if args.badwords:
        from filters.quality.c4 import C4BadWordsConfig, c4_badwords

        use_local_badwords(args.badwords)
        config = C4BadWordsConfig(words_file=args.badwords)
        chosen.append(RuleSet("c4_badwords", "C4BadWordsFilter", "filters.quality.c4", "c4_badwords"))
        functions["c4_badwords"] = lambda frame: c4_badwords(frame, config)
    for rule in chosen:
        if rule.name in functions:
            continue
        try:
            functions[rule.name] = getattr(importlib.import_module(rule.module), rule.function)
        except (ImportError, AttributeError) as error:
            print(f"{rule.name}: winnow's {rule.module}.{rule.function} unavailable ({error}); skipped")

    rows = []
    for corpus in args.corpora.split(","):
        frame = read_corpus(corpus)
        for rule in chosen:
            if rule.name not in functions:
                continue
            try:
                ours = run_winnow(functions[rule.name], frame, args.repeat)
            except Exception as error:  # a rule set in progress must not stop the others
                print(f"{corpus} {rule.name}: winnow failed ({type(error).__name__}: {error}); skipped")
                continue
            theirs = run_datatrove(rule, frame)
            rows.append(compare(rule, corpus, frame, ours, theirs, args.show_disagreements))
            print(f"{corpus} {rule.name}: done", flush=True)

    table = pl.DataFrame(rows)
    with pl.Config(
        tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, float_precision=2, tbl_hide_dataframe_shape=True
    ):
        for corpus in table["corpus"].unique(maintain_order=True):
            print(f"\n{corpus} (polars {pl.__version__}, winnow median of {args.repeat}, datatrove one pass)")
            print(table.filter(pl.col("corpus") == corpus).drop("corpus"))


if __name__ == "__main__":
    main()
