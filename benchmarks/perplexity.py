"""Small-LM perplexity throughput (docs/s) and agreement with human quality labels.

Throughput: `filters.quality.perplexity.mean_nll` on the first `--docs` (500) documents of C4
(../shared/data/c4_sample1k.jsonl.gz) for each max_tokens (256, 512) x dtype (bfloat16, float32) x batch size
(1, 8, 16, 32), after a warm-up call that loads the model; the clock covers tokenization and scoring.
It also reports how bfloat16 scores differ from float32 ones (Spearman rank correlation, mean NLL offset).

Labels: perplexity of every DCLM document (../shared/data/dclm_quality.jsonl.gz, label 1 = good text) at
`--label-max-tokens` (512), bfloat16; reported as the ROC AUC of -perplexity for label 1 and the Spearman
correlation between perplexity and the label. No target: a reading of how far perplexity alone goes.

    python benchmarks/perplexity.py [--docs 500] [--max-tokens 256,512] [--dtypes bfloat16,float32]
                                    [--batch-sizes 1,8,16,32] [--label-max-tokens 512] [--skip-labels]

`WINNOW_TORCH_THREADS` sets torch's threads (on a busy machine, 1 thread per process is often faster).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from filters.quality.perplexity import mean_nll
from pipeline.models import configure_threads, load_causal_lm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
C4 = DATA / "c4_sample1k.jsonl.gz"
DCLM = DATA / "dclm_quality.jsonl.gz"


def ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def tokens_scored(texts: list[str], max_tokens: int) -> int:
    """Tokens the scorer reads (each text's first `max_tokens`), for tokens/s."""
    _, tokenizer = load_causal_lm()
    encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=max_tokens)["input_ids"]
    return sum(len(ids) for ids in encoded)


def throughput(
    texts: list[str], max_tokens_list: list[int], dtypes: list[str], batch_sizes: list[int]
) -> None:
    print(f"C4, first {len(texts)} documents; torch threads: {torch.get_num_threads()}")
    print(f"{'max_tokens':>10} {'dtype':>9} {'batch':>5} {'seconds':>8} {'docs/s':>7} {'tokens/s':>8}")
    scores: dict[tuple[int, str], np.ndarray] = {}
    for max_tokens in max_tokens_list:
        tokens = tokens_scored(texts, max_tokens)
        for dtype in dtypes:
            mean_nll(texts[:2], max_tokens=max_tokens, dtype=dtype)  # load the model, warm the kernels
            for batch_size in batch_sizes:
                start = time.perf_counter()
                nll = mean_nll(texts, max_tokens=max_tokens, batch_size=batch_size, dtype=dtype)
                seconds = time.perf_counter() - start
                scores[max_tokens, dtype] = nll
                print(
                    f"{max_tokens:>10} {dtype:>9} {batch_size:>5} {seconds:>8.1f} "
                    f"{len(texts) / seconds:>7.2f} {tokens / seconds:>8.0f}",
                    flush=True,
                )
    for max_tokens in max_tokens_list:
        if {(max_tokens, "bfloat16"), (max_tokens, "float32")} <= scores.keys():
            bf16, fp32 = scores[max_tokens, "bfloat16"], scores[max_tokens, "float32"]
            ok = np.isfinite(bf16) & np.isfinite(fp32)
            rho = spearmanr(bf16[ok], fp32[ok]).statistic
            offset = np.mean(bf16[ok] - fp32[ok])
            print(
                f"max_tokens {max_tokens}: bfloat16 vs float32 Spearman {rho:.4f}, "
                f"mean NLL offset {offset:+.3f} nats (perplexity x{np.exp(offset):.3f})"
            )


def label_agreement(max_tokens: int, batch_size: int) -> None:
    frame = pl.read_ndjson(DCLM)
    start = time.perf_counter()
    nll = mean_nll(frame["text"].to_list(), max_tokens=max_tokens, batch_size=batch_size)
    seconds = time.perf_counter() - start
    labels = frame["label"].to_numpy()
    ok = np.isfinite(nll)
    auc = roc_auc_score(labels[ok], -nll[ok])  # exp is monotonic: the same AUC as -perplexity
    rho = spearmanr(np.exp(nll[ok]), labels[ok]).statistic
    good, bad = np.exp(np.median(nll[ok & (labels == 1)])), np.exp(np.median(nll[ok & (labels == 0)]))
    print(
        f"DCLM labels ({ok.sum()} of {len(nll)} documents scored, max_tokens {max_tokens}, bfloat16, "
        f"{len(nll) / seconds:.2f} docs/s): ROC AUC of -perplexity {auc:.3f}, Spearman(perplexity, label) "
        f"{rho:+.3f}; median perplexity good {good:.1f}, bad {bad:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--max-tokens", type=ints, default=[256, 512])
    parser.add_argument("--dtypes", type=lambda s: s.split(","), default=["bfloat16", "float32"])
    parser.add_argument("--batch-sizes", type=ints, default=[1, 8, 16, 32])
    parser.add_argument("--label-max-tokens", type=int, default=512)
    parser.add_argument("--skip-labels", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()

    configure_threads()
    if not args.skip_throughput:
        texts = pl.read_ndjson(C4, n_rows=args.docs)["text"].to_list()
        throughput(texts, args.max_tokens, args.dtypes, args.batch_sizes)
    if not args.skip_labels:
        label_agreement(args.label_max_tokens, batch_size=16)


if __name__ == "__main__":
    main()
