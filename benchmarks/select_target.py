"""Selection to a budget on ../shared/data: target-aware share of the target's kind, and diversity coverage.

Target-aware setups (each a pool with a minority of the target's kind, a target corpus of that kind held
apart from the pool, and a budget of as many documents as the pool holds of that kind):

| setup | pool | target | budget |
|---|---|---|---|
| `c4-in-reuters` | 2,000 Reuters + 500 C4 | 300 other C4 | 500 |
| `reuters-in-c4` | 1,000 C4 + 250 Reuters | 300 other Reuters | 250 |
| `gsm8k-in-c4` | 1,000 C4 + 250 GSM8K problems | 300 other GSM8K | 250 |
| `wikipedia-in-reuters` | 3,000 Reuters + 1,000 Wikipedia passages (NQ gold) | 500 other Wikipedia | 1,000 |
| `wikipedia-in-c4` | 1,000 C4 + 250 Wikipedia passages | 300 other Wikipedia | 250 |
| `dclm-good` | 289 DCLM pages (132 good, 157 spam / lists / boilerplate) | 60 other good ones | 132 |
| `wikipedia-in-c4-t20` | as `wikipedia-in-c4` | only 20 other Wikipedia | 250 |
| `rare-wikipedia-in-c4` | 1,000 C4 + 30 Wikipedia passages | 300 other Wikipedia | 30 |
| `german-in-c4-zh-ar` | 1,000 of C4 + 240 Chinese + 240 Arabic XQuAD; 60 German | 100 other German | 60 |
| `chinese-in-c4-de-ar` | as above, Chinese the target's kind | 100 other Chinese | 60 |
| `arabic-in-c4-de-zh` | as above, Arabic the target's kind | 100 other Arabic | 60 |

(`wikipedia-in-reuters` has the shape of issue 19's 3,000 Reuters + 1,000 science posts; 20 Newsgroups is
not in ../shared/data. The XQuAD paragraphs are translations of the same SQuAD paragraphs, so the pool's
Chinese and Arabic ones share the German target's subjects: the method has to find the language and the
register, not the topic; no multilingual model is packaged.) Each `--draws` value shuffles every source
with that seed before the slices are taken (Reuters: its first 4,000 documents; Wikipedia: the first 2,000
distinct gold passages; XQuAD: each language's distinct paragraphs). For DSIR
(hashed n-grams, Gumbel top-k seeded by the draw), `embedding` (a class-balanced logistic regression, target
vs pool, on each document's embedding, hashed word n-grams, layout statistics and SmolLM2 middle-layer state:
its log-odds, refitted with the pool documents of positive log-odds added to the target; `winnow select`'s
default), `labelled` (not a method: the same classifier fitted with the pool's own labels, each pool
document scored by a fit on the other four fifths of the pool; what the features allow when the pool's
documents of the kind are not counted against the target, the reference for `embedding`), `one-fit` (the same
fitted once, `self_training = false`), `no-lm` (without the LM state,
`lm = false`), `no-layout`
(neither the LM state nor the layout, `lm = false`, `layout = false`), `emb-only` (the embedding alone,
`ngrams = false`, `layout = false`, `lm = false`), knn (max cosine to a target document) and centroid
(cosine to the target mean) it prints the share of the target's kind among the selected documents (random
gives the pool's share) and the seconds each took (embedding apart: it is shared by the embedding
methods).

Then the same setups with a budget of twice the pool's documents of the kind (a user does not know how many
the pool holds): DSIR, `embedding`, and `embedding` with `min_log_odds = 0` (only documents the classifier
finds more like the target than like the pool): the share of the kind among the kept documents, how many
were kept, and the share of the pool's documents of the kind among them.

Then, on 2,000 documents (the first 1,500 Reuters + the first 500 C4), the coverage (mean cosine distance
from every document to its nearest selected one; lower is better) and the radius (the largest such
distance, k-center's objective) of k-center greedy, cluster-balanced sampling and random subsets (mean of
10 draws) at N = `--coverage-n` (200).

    PYTHONPATH=. python benchmarks/select_target.py [--draws 1 2 3] [--setups ...] [--coverage-n 200]
        [--C 0.3] [--cache DIR]   # an embedding cache folder: a re-run embeds nothing

Embedding the ~9,400 documents with all-MiniLM-L6-v2 (`pipeline.embeddings.embed`, as `winnow select`
does) and running them through SmolLM2's first 15 layers (`lm_states`) takes minutes on a small CPU; both
are cached in `--cache`. `--C` is the embedding method's regularisation (chosen on draw 0).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from filters.select.budget import Budget  # noqa: E402
from filters.select.cluster_balanced import cluster_balanced_select  # noqa: E402
from filters.select.dsir import dsir_select, hashed_features  # noqa: E402
from filters.select.kcenter import kcenter_select  # noqa: E402
from filters.select.knn import target_select  # noqa: E402
from filters.select.layout import layout_statistics  # noqa: E402
from filters.select.lm_states import lm_states  # noqa: E402
from filters.select.target_classifier import (  # noqa: E402
    DEFAULT_C,
    classifier_scores,
    classifier_select,
    fit_target_classifier,
    paired_features,
)
from pipeline.coverage import coverage, radius  # noqa: E402
from pipeline.embeddings import embed  # noqa: E402

METHODS = ("dsir", "embedding", "labelled", "one-fit", "no-lm", "no-layout", "emb-only", "knn", "centroid")
#: the methods run again with a budget of twice the pool's documents of the kind (a user does not know how
#: many it holds): label, method, minimum log-odds
OVER_BUDGET = (("dsir", "dsir", None), ("embedding", "embedding", None), ("embedding >= 0", "embedding", 0.0))


def sources() -> dict[str, pl.Series]:
    """Every source corpus's texts, in file order."""
    nq = pl.read_ndjson(DATA / "nq_open_oracle.jsonl.gz")
    gold = nq.select(pl.col("ctxs").list.eval(pl.element().filter(pl.element().struct.field("isgold"))))
    wikipedia = gold["ctxs"].list.first().struct.field("text").drop_nulls().unique(maintain_order=True)
    gsm8k = pl.read_ndjson(DATA / "gsm8k_test.jsonl.gz").select(pl.col("question") + "\n" + pl.col("answer"))
    dclm = pl.read_ndjson(DATA / "dclm_quality.jsonl.gz")
    xquad = pl.read_ndjson(DATA / "xquad_dev.jsonl.gz")
    paragraphs = {
        f"xquad-{lang}": xquad.filter(pl.col("lang") == lang)["context"].unique(maintain_order=True)
        for lang in ("de", "zh", "ar")
    }
    return {
        "reuters": pl.read_ndjson(DATA / "reuters21578.jsonl.gz")["text"].head(4000),
        "c4": pl.read_ndjson(DATA / "c4_sample1k.jsonl.gz")["text"],
        "wikipedia": wikipedia.head(2000),
        "gsm8k": gsm8k.to_series(),
        "dclm-good": dclm.filter(pl.col("label") == 1)["text"],
        "dclm-bad": dclm.filter(pl.col("label") == 0)["text"],
        **paragraphs,
    }


def mixtures(texts: dict[str, pl.Series], *others: dict[str, np.ndarray]) -> None:
    """Add each setup's background that joins sources with "+" (in that order) to `texts` and to each of
    `others` (the sources' vectors, LM states)."""
    for setup in SETUPS.values():
        parts = setup.background.split("+")
        if len(parts) > 1:
            texts[setup.background] = pl.concat([texts[part] for part in parts])
            for rows in others:
                rows[setup.background] = np.concatenate([rows[part] for part in parts])


@dataclass(frozen=True)
class Setup:
    """`other` documents of source `background` and `kind` ones of source `kind_source` in the pool, and
    `target` more of `kind_source` (held apart) as the target; the budget is `kind`."""

    background: str
    other: int
    kind_source: str
    kind: int
    target: int


SETUPS = {
    "c4-in-reuters": Setup("reuters", 2000, "c4", 500, 300),
    "reuters-in-c4": Setup("c4", 1000, "reuters", 250, 300),
    "gsm8k-in-c4": Setup("c4", 1000, "gsm8k", 250, 300),
    "wikipedia-in-reuters": Setup("reuters", 3000, "wikipedia", 1000, 500),
    "wikipedia-in-c4": Setup("c4", 1000, "wikipedia", 250, 300),
    "dclm-good": Setup("dclm-bad", 157, "dclm-good", 132, 60),
    "wikipedia-in-c4-t20": Setup("c4", 1000, "wikipedia", 250, 20),
    "rare-wikipedia-in-c4": Setup("c4", 1000, "wikipedia", 30, 300),
    "german-in-c4-zh-ar": Setup("c4+xquad-zh+xquad-ar", 1000, "xquad-de", 60, 100),
    "chinese-in-c4-de-ar": Setup("c4+xquad-de+xquad-ar", 1000, "xquad-zh", 60, 100),
    "arabic-in-c4-de-zh": Setup("c4+xquad-de+xquad-zh", 1000, "xquad-ar", 60, 100),
}


def cached_states(name: str, texts: pl.Series, cache: Path | None) -> np.ndarray:
    """`lm_states` of a source's texts, kept in `cache` (keyed by the texts) when given."""
    digest = hashlib.blake2b("\x00".join(texts.to_list()).encode(), digest_size=8).hexdigest()
    path = None if cache is None else cache / f"lm-states-{name}-{digest}.npy"
    if path is not None and path.is_file():
        return np.load(path)
    states = lm_states(texts.to_list())
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, states)
    return states


def draw(
    setup: Setup,
    vectors: dict[str, np.ndarray],
    texts: dict[str, pl.Series],
    seed: int,
    states: dict[str, np.ndarray] | None = None,
) -> dict:
    """The pool's and the target's texts, vectors (and LM states), and the is-the-target's-kind flag of each
    pool row."""
    rng = np.random.default_rng(seed)
    other = rng.permutation(len(texts[setup.background]))[: setup.other]
    kind = rng.permutation(len(texts[setup.kind_source]))
    kind, target = kind[: setup.kind], kind[setup.kind : setup.kind + setup.target]
    assert len(target) == setup.target, "not enough documents of the target's kind"
    if states is not None:
        background, kind_states = states[setup.background][other], states[setup.kind_source]
        pool_states = np.concatenate([background, kind_states[kind]])
        lm = {"pool_states": pool_states, "target_states": kind_states[target]}
    else:
        lm = {}
    return {
        **lm,
        "pool": pl.concat([texts[setup.background][other], texts[setup.kind_source][kind]]),
        "pool_vectors": np.concatenate([vectors[setup.background][other], vectors[setup.kind_source][kind]]),
        "target": texts[setup.kind_source][target],
        "target_vectors": vectors[setup.kind_source][target],
        "is_kind": np.arange(setup.other + setup.kind) >= setup.other,
    }


def labelled_scores(case: dict, seed: int, C: float, folds: int = 5) -> np.ndarray:
    """The `embedding` method's classifier (same features, same C) fitted with the pool's own labels, which a
    user does not have: the pool split into `folds` seeded parts, each part scored by a fit of the target plus
    the other parts' documents of the kind (label 1) against the other parts' other documents (label 0), so
    no document is scored by a fit that saw it. What the features allow without the positive-unlabelled
    problem: the reference for the self-trained method."""
    from scipy import sparse
    from sklearn.model_selection import KFold

    pool, target = paired_features(
        case["pool_vectors"],
        case["target_vectors"],
        np.arange(len(case["pool"])),
        pool_ngrams=hashed_features(case["pool"]),
        target_ngrams=hashed_features(case["target"]),
        pool_layout=layout_statistics(case["pool"]),
        target_layout=layout_statistics(case["target"]),
        pool_states=case["pool_states"],
        target_states=case["target_states"],
    )
    kind, scores = case["is_kind"], np.zeros(pool.shape[0])
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(scores):
        positives, negatives = train[kind[train]], train[~kind[train]]
        labelled = sparse.vstack([target, pool[positives]])
        weights = fit_target_classifier(labelled, pool[negatives], C=C, seed=seed)
        scores[test] = classifier_scores(pool[test], weights)
    return scores


def select(
    method: str, case: dict, budget: Budget, seed: int, C: float, min_log_odds: float | None = None
) -> np.ndarray:
    """The pool rows `method` chooses (`min_log_odds`: the classifier methods' minimum)."""
    if method == "dsir":
        return dsir_select(case["pool"], case["target"], budget, seed=seed)[0]
    if method in ("embedding", "one-fit", "no-lm", "no-layout"):
        features = {
            "pool_ngrams": hashed_features(case["pool"]),
            "target_ngrams": hashed_features(case["target"]),
        }
        if method != "no-layout":
            features["pool_layout"] = layout_statistics(case["pool"])
            features["target_layout"] = layout_statistics(case["target"])
        if method in ("embedding", "one-fit"):
            features["pool_states"], features["target_states"] = case["pool_states"], case["target_states"]
        return classifier_select(
            case["pool_vectors"],
            case["target_vectors"],
            budget,
            C=C,
            seed=seed,
            self_training=method != "one-fit",
            min_log_odds=min_log_odds,
            **features,
        )[0]
    if method == "labelled":
        return budget.take(np.argsort(-labelled_scores(case, seed, C), kind="stable"))
    if method == "emb-only":
        return classifier_select(case["pool_vectors"], case["target_vectors"], budget, C=C, seed=seed)[0]
    return target_select(case["pool_vectors"], case["target_vectors"], budget, method=method)[0]


def timed(work: Callable[..., np.ndarray], *args: object) -> tuple[np.ndarray, float]:
    """`work(*args)` and the seconds it took."""
    start = time.perf_counter()
    out = work(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--coverage-n", type=int, default=200)
    parser.add_argument("--C", type=float, default=DEFAULT_C, help="the embedding method's C")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    texts = sources()
    vectors, start = {}, time.perf_counter()
    for name, series in texts.items():
        vectors[name] = embed(series.to_list(), cache=args.cache)
    total = sum(len(series) for series in texts.values())
    print(f"embedding {total} documents: {time.perf_counter() - start:.1f} s (0 with a warm --cache)")
    start = time.perf_counter()
    states = {name: cached_states(name, series, args.cache) for name, series in texts.items()}
    print(f"LM states of {total} documents: {time.perf_counter() - start:.1f} s (0 with a warm --cache)")
    mixtures(texts, vectors, states)

    print("setup                 draw  random  " + "  ".join(f"{m:>9s}" for m in METHODS) + "   seconds")
    shares: dict[tuple[str, str], list[float]] = {}
    over: dict[tuple[str, str], list[tuple[float, int, float]]] = {}
    for name in args.setups:
        setup = SETUPS[name]
        for seed in args.draws:
            case = draw(setup, vectors, texts, seed, states)
            budget = Budget(docs=setup.kind)
            row, took = [], []
            for method in METHODS:
                chosen, seconds = timed(select, method, case, budget, seed, args.C)
                share = float(case["is_kind"][chosen].mean())
                shares.setdefault((name, method), []).append(share)
                row.append(f"{share:9.3f}")
                took.append(f"{seconds:.2f}")
            random = case["is_kind"].mean()
            print(f"{name:21s} {seed:4d}  {random:6.3f}  " + "  ".join(row) + "   " + "/".join(took))
            kind = case["is_kind"]
            for label, method, minimum in OVER_BUDGET:
                chosen = select(method, case, Budget(docs=2 * setup.kind), seed, args.C, minimum)
                share = float(kind[chosen].mean()) if len(chosen) else float("nan")
                found = float(kind[chosen].sum() / kind.sum())
                over.setdefault((name, label), []).append((share, len(chosen), found))
    print("\nmean over draws " + " ".join(str(d) for d in args.draws))
    print("| setup | " + " | ".join(METHODS) + " |")
    for name in args.setups:
        cells = [f"{np.mean(shares[name, m]):.3f}" for m in METHODS]
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\nbudget twice the pool's documents of the kind: share of the kind (documents kept, share of the")
    print("pool's documents of the kind kept), mean over draws " + " ".join(str(d) for d in args.draws))
    print("| setup | " + " | ".join(label for label, _, _ in OVER_BUDGET) + " |")
    for name in args.setups:
        cells = []
        for label, _, _ in OVER_BUDGET:
            share, kept, found = np.mean(over[name, label], axis=0)
            cells.append(f"{share:.3f} ({kept:.0f}, {found:.3f})")
        print(f"| {name} | " + " | ".join(cells) + " |")

    n = args.coverage_n
    if n <= 0:
        return
    vectors_2k = np.concatenate([vectors["reuters"][:1500], vectors["c4"][:500]])
    print(
        f"\ncoverage at N = {n} of {len(vectors_2k)} documents (cosine distance to the nearest selected one)"
    )
    print("method    mean    radius  seconds")
    picked, took = timed(kcenter_select, vectors_2k, Budget(docs=n))
    print(f"kcenter   {coverage(vectors_2k, picked):.4f}  {radius(vectors_2k, picked):.4f}  {took:6.2f}")
    picked, took = timed(cluster_balanced_select, vectors_2k, Budget(docs=n))
    print(f"clusters  {coverage(vectors_2k, picked):.4f}  {radius(vectors_2k, picked):.4f}  {took:6.2f}")
    rng = np.random.default_rng(0)
    draws = [rng.choice(len(vectors_2k), size=n, replace=False) for _ in range(10)]
    mean = np.mean([coverage(vectors_2k, d) for d in draws])
    print(f"random    {mean:.4f}  {np.mean([radius(vectors_2k, d) for d in draws]):.4f}  (mean of 10 draws)")


if __name__ == "__main__":
    main()
