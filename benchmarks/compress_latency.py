"""Compression latency against one forward pass of the scorer, per prompt and in batch.

For each of `--cases` XQuAD contexts of 4 consecutive paragraphs (articles 24-47, the languages of
`--languages`; ../shared/data/xquad_dev.jsonl.gz) with one of their questions, alternating: one forward pass
of SmolLM2-135M over the whole context in the dtype winnow's scorer uses (`model(input_ids)`,
`logits_to_keep=1`), and `Compressor().compress(context, rate=r, question=q)`. Prints, per language, the
median seconds of each and the median of per-case ratios winnow / forward pass; then the same cases through
one Compressor in a loop and through `Compressor.run_many`, in tokens per second. The first case of each
language is a warm-up and is not counted. Threads: `WINNOW_TORCH_THREADS` (the issue's setting is 2).

    WINNOW_TORCH_THREADS=2 python benchmarks/compress_latency.py [--cases 10] [--rate 0.33] [--languages de]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from compress import DATA, XQUAD, read_jsonl, xquad_articles  # benchmarks/compress.py, beside this script

from pipeline.models import configure_threads
from prompts.compress import CompressionRequest, Compressor

PARAGRAPHS = 4


def contexts(language: str, cases: int, seed: int) -> list[tuple[str, str]]:
    """`cases` seeded (context, question) pairs of 4 consecutive paragraphs of articles 24-47."""
    articles = {
        article: paragraphs
        for (lang, article), paragraphs in xquad_articles(read_jsonl(DATA / XQUAD), (24, 48)).items()
        if lang == language
    }
    rng = np.random.default_rng(seed)
    out = []
    for article in rng.permutation(sorted(articles))[:cases]:
        paragraphs = articles[int(article)][:PARAGRAPHS]
        question = paragraphs[int(rng.integers(len(paragraphs)))]["qas"][0]["question"]
        out.append(("\n\n".join(row["context"] for row in paragraphs), question))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--rate", type=float, default=0.33)
    parser.add_argument("--languages", nargs="+", default=["de", "zh", "ar"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    configure_threads()
    compressor = Compressor()
    lm, tokenizer = compressor.scorer()
    print(f"torch threads {torch.get_num_threads()}, scorer dtype {lm.dtype}, rate {args.rate}")
    print(f"{'lang':<5}{'cases':>6}{'tokens':>8}{'forward s':>11}{'winnow s':>10}{'winnow/fwd':>12}")
    for language in args.languages:
        cases = contexts(language, args.cases + 1, args.seed)
        forward, winnow, ratios, tokens = [], [], [], []
        for number, (context, question) in enumerate(cases):
            ids = tokenizer(context, return_tensors="pt")["input_ids"][:, :2048].to(lm.device)
            started = time.perf_counter()
            with torch.inference_mode():
                lm(input_ids=ids, logits_to_keep=1)
            seconds = time.perf_counter() - started
            began = time.perf_counter()
            compressor.compress(context, rate=args.rate, question=question)
            took = time.perf_counter() - began
            if number:  # the first is a warm-up
                forward.append(seconds)
                winnow.append(took)
                ratios.append(took / seconds)
                tokens.append(ids.shape[1])
        print(
            f"{language:<5}{len(ratios):>6}{statistics.median(tokens):>8.0f}{statistics.median(forward):>11.3f}"
            f"{statistics.median(winnow):>10.3f}{statistics.median(ratios):>11.2f}x"
        )
        requests = [CompressionRequest(c, rate=args.rate, question=q) for c, q in cases[1:]]
        started = time.perf_counter()
        for request in requests:
            compressor.run(request)
        loop = time.perf_counter() - started
        started = time.perf_counter()
        compressor.run_many(requests)
        batch = time.perf_counter() - started
        total = sum(tokens)
        print(
            f"     loop {total / loop:.0f} tokens/s ({loop:.1f} s), run_many {total / batch:.0f} tokens/s "
            f"({batch:.1f} s): batch / loop time {batch / loop:.2f}"
        )


if __name__ == "__main__":
    main()
