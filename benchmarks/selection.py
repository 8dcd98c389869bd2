"""Embedding selection benchmarks. Speed section: `pipeline.embeddings.embed` against plain
`SentenceTransformer.encode(texts, batch_size=32, normalize_embeddings=True)` on the same documents in the
same process.

For each corpus (the first `--c4` (500) documents of ../shared/data/c4_sample1k.jsonl.gz and the first
`--reuters` (2,000) of ../shared/data/reuters21578.jsonl.gz) it times plain ST, winnow float32 and winnow auto
(bfloat16 where the device has native kernels and the first batch agrees >= 0.99 cosine with float32),
interleaved, `--repeats` times (the median counts), after a warm-up that loads the model. It then reports how
far winnow float32 and auto vectors are from plain ST's (max abs difference, min and mean cosine), and the
cache: a cold run that fills a fresh cache folder, then a full re-run served from it.

    python benchmarks/selection.py [--c4 500] [--reuters 2000] [--repeats 3] [--batch-size 64]

`WINNOW_TORCH_THREADS` sets torch's threads. The machine may be shared: compare methods within one run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pipeline.embeddings import embed, load_encoder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
C4 = DATA / "c4_sample1k.jsonl.gz"
REUTERS = DATA / "reuters21578.jsonl.gz"


def read_texts(path: Path, limit: int) -> list[str]:
    """The `text` field of the first `limit` records of a gzipped JSON Lines file."""
    texts: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if len(texts) >= limit:
                break
            texts.append(json.loads(line)["text"])
    return texts


def timed(run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    vectors = run()
    return time.perf_counter() - start, vectors


def agreement(vectors: np.ndarray, reference: np.ndarray) -> str:
    cosine = np.sum(vectors * reference, axis=1)
    return (
        f"max |diff| {np.abs(vectors - reference).max():.2e}, "
        f"cosine min {cosine.min():.5f} mean {cosine.mean():.6f}"
    )


def speed_section(name: str, texts: list[str], *, repeats: int, batch_size: int) -> None:
    """docs/s of plain ST vs winnow float32 vs winnow auto, and the cache's cold and warm times."""
    encoder = load_encoder()
    tokens = encoder.tokenizer(texts, truncation=True, max_length=encoder.max_seq_length, return_length=True)
    lengths = np.asarray(tokens["length"])
    print(
        f"\n{name}: {len(texts)} documents, tokens (truncated to {encoder.max_seq_length}) mean "
        f"{lengths.mean():.0f}, at the limit {np.mean(lengths >= encoder.max_seq_length):.0%}; "
        f"torch threads {torch.get_num_threads()}"
    )
    methods: dict[str, Callable[[], np.ndarray]] = {
        "plain ST encode (batch 32)": lambda: encoder.encode(
            texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        ),
        f"winnow float32 (batch {batch_size})": lambda: embed(texts, dtype="float32", batch_size=batch_size),
        f"winnow auto (batch {batch_size})": lambda: embed(texts, dtype="auto", batch_size=batch_size),
    }
    embed(texts[:batch_size], dtype="auto")  # load the model, decide auto's precision on a full batch
    seconds: dict[str, list[float]] = {label: [] for label in methods}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(repeats):
        for label, run in methods.items():
            took, vectors[label] = timed(run)
            seconds[label].append(took)
    plain = statistics.median(seconds[next(iter(methods))])
    print(f"{'method':<28} {'median s':>8} {'docs/s':>7} {'speed-up':>8}  runs")
    for label, runs in seconds.items():
        median = statistics.median(runs)
        listed = " ".join(f"{s:.1f}" for s in runs)
        print(f"{label:<28} {median:>8.1f} {len(texts) / median:>7.1f} {plain / median:>7.2f}x  {listed}")
    reference = vectors[next(iter(methods))]
    for label in list(methods)[1:]:
        print(f"{label} vs plain: {agreement(vectors[label], reference)}")
    with tempfile.TemporaryDirectory() as folder:
        cold, _ = timed(lambda: embed(texts, dtype="auto", batch_size=batch_size, cache=Path(folder)))
        warm, cached = timed(lambda: embed(texts, dtype="auto", batch_size=batch_size, cache=Path(folder)))
        print(
            f"cache: cold run {cold:.1f} s (embeds and writes), full re-run {warm:.3f} s "
            f"({len(texts) / warm:.0f} docs/s); re-run vs plain: {agreement(cached, reference)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c4", type=int, default=500, help="C4 documents (0 skips)")
    parser.add_argument("--reuters", type=int, default=2000, help="Reuters documents (0 skips)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if args.c4:
        speed_section("C4 sample", read_texts(C4, args.c4), repeats=args.repeats, batch_size=args.batch_size)
    if args.reuters:
        speed_section(
            "Reuters-21578",
            read_texts(REUTERS, args.reuters),
            repeats=args.repeats,
            batch_size=args.batch_size,
        )


if __name__ == "__main__":
    main()
