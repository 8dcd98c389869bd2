"""Fit the sentence model of prompt compression (`prompts/sentence_model.json`) on labels derived from data.

Label: a sentence is positive when it holds a gold answer (normalised substring, as the compression
benchmark checks answers). Cases, all from ../shared/data, none of which the compression benchmark reports on:
- NQ-open records `--nq` (default 1000-1599): the gold passage alone, and with 9 other records' gold passages
  of that range (the gold at a seeded position), as documents;
- XQuAD articles `--articles` (default 0-23; the benchmark reports on 24-47) in German, Chinese and Arabic:
  a paragraph and the next ones of its article, up to 4, one case per question.
Question model: every sentence of a case with its question. Question-agnostic model: the single-passage and
XQuAD contexts without the question, positive when the sentence answers any question asked of the context.

For each model, a logistic regression (scikit-learn, L2, balanced classes) over all candidate scorers is fit
on the even cases and checked on the odd ones, against each single scorer: the share of questions whose
answer is in the sentences kept whole at a third of the tokens (best first, skipping those that do not fit;
without a question, every question asked of the context counts, as a reader may ask any of them), and the
mean reciprocal rank of the first answer sentence. Then it is refit on all cases
and written with `--write` (weights are rounded to 4 digits).

    python benchmarks/fit_sentence_model.py [--nq 1000 1300] [--articles 0 24] [--write]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from compress import (  # benchmarks/compress.py, beside this script
    DATA,
    NQ,
    XQUAD,
    normalise,
    read_jsonl,
    xquad_articles,
)

from prompts.compress import Compressor
from prompts.request import CompressionRequest
from prompts.scorers import (
    Centrality,
    EmbeddingRelevance,
    LexicalRelevance,
    NeighbourRelevance,
    Position,
    Scorer,
    features,
)
from prompts.sentence_model import PACKAGED, LinearModel

QUESTION_SCORERS: tuple[Scorer, ...] = (
    EmbeddingRelevance(),
    EmbeddingRelevance(of="chunk"),
    LexicalRelevance(n=0),
    LexicalRelevance(n=3),
    LexicalRelevance(n=3, of="chunk"),
    NeighbourRelevance(n=3),
    Position(at="first"),
    Position(at="relative"),
)
AGNOSTIC_SCORERS: tuple[Scorer, ...] = (
    Centrality(n=3),
    Centrality(n=0),
    Position(at="first"),
    Position(at="relative"),
)
KEEP_SHARE = 1 / 3


@dataclass
class Example:
    """One prompt's sentences: features, labels, token costs; `group` names the case kind. `holds` has a row
    per question asked of the prompt: which sentences hold its answer (`y`: any of them)."""

    group: str
    x: np.ndarray
    holds: np.ndarray
    cost: np.ndarray

    @property
    def y(self) -> np.ndarray:
        return self.holds.any(axis=0)


def nq_prompts(lo: int, hi: int, seed: int) -> list[tuple[str, str | list[str], str, list[str]]]:
    records = read_jsonl(DATA / NQ)[lo:hi]
    rng = np.random.default_rng(seed)
    out = []
    for i, record in enumerate(records):
        gold = record["ctxs"][0]
        passage = f"{gold['title']}\n{gold['text']}"
        others = rng.choice(np.delete(np.arange(len(records)), i), size=9, replace=False)
        documents = [f"{records[j]['ctxs'][0]['title']}\n{records[j]['ctxs'][0]['text']}" for j in others]
        documents.insert(int(rng.integers(10)), passage)
        out.append(("nq1", passage, record["question"], record["answers"]))
        out.append(("nq10", documents, record["question"], record["answers"]))
    return out


def xquad_prompts(lo: int, hi: int) -> list[tuple[str, str, str, list[str], list[list[str]]]]:
    """(group, context, question, its answers, the answers of every question asked of the context)."""
    out = []
    for (lang, _), paragraphs in sorted(xquad_articles(read_jsonl(DATA / XQUAD), (lo, hi)).items()):
        for start in range(0, len(paragraphs), 4):
            block = paragraphs[start : start + 4]
            context = "\n\n".join(p["context"] for p in block)
            every = [qa["answers"] for p in block for qa in p["qas"]]
            for qa in block[0]["qas"]:
                out.append((f"xquad-{lang}", context, qa["question"], qa["answers"], every))
    return out


def example(
    compressor: Compressor,
    group: str,
    prompt: str | list[str],
    question: str | None,
    answers: Sequence[Sequence[str]],
    scorers: Sequence[Scorer],
) -> Example | None:
    """The example of one prompt; `answers`: each question's answers (one question, or every one asked)."""
    request = CompressionRequest(prompt, rate=0.5, question=question)
    words = request.words
    ids = np.unique(words.sentence)
    sentences, _ = compressor.sentences(request.parsed, words, ids, question)
    texts = [normalise(t) for t in sentences.texts]
    needles = [[n for n in map(normalise, each) if n] for each in answers]
    holds = np.array([[any(n in t for n in asked) for t in texts] for asked in needles])
    holds = holds[holds.any(axis=1)]  # a question whose answer is in no whole sentence cannot count
    if not holds.any() or holds.any(axis=0).all():
        return None
    tokenizer = compressor.target_tokenizer()
    cost = np.array([len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in sentences.texts])
    return Example(group, features(scorers, sentences), holds, cost)


def kept_whole(value: np.ndarray, cost: np.ndarray, share: float) -> np.ndarray:
    """Sentences kept whole, best first, skipping those that no longer fit `share` of the tokens."""
    left = share * cost.sum()
    kept = np.zeros(len(value), dtype=bool)
    for i in np.argsort(-value, kind="stable"):
        if cost[i] <= left:
            kept[i] = True
            left -= cost[i]
    return kept


def evaluate(examples: Sequence[Example], score: Any) -> tuple[float, float]:
    """(share of questions whose answer is kept at KEEP_SHARE, mean reciprocal rank of the first answer
    sentence)."""
    kept: list[bool] = []
    ranks = []
    for ex in examples:
        value = score(ex.x)
        kept.extend((ex.holds & kept_whole(value, ex.cost, KEEP_SHARE)).any(axis=1).tolist())
        order = np.argsort(-value, kind="stable")
        ranks.append(1.0 / (1 + int(np.flatnonzero(ex.y[order])[0])))
    return float(np.mean(kept)), float(np.mean(ranks))


def fit(examples: Sequence[Example]) -> Any:
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([ex.x for ex in examples])
    y = np.concatenate([ex.y for ex in examples])
    return LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(x, y)


def report(name: str, scorers: Sequence[Scorer], examples: list[Example]) -> LinearModel:
    train, test = examples[0::2], examples[1::2]
    model = fit(train)
    groups = sorted({ex.group for ex in examples})
    sentences = sum(len(ex.y) for ex in examples)
    print(f"\n== {name}: {len(examples)} cases ({len(test)} checked), {sentences} sentences")
    print(f"{'ranking':<36}" + "".join(f"{g:>16}" for g in groups) + f"{'all':>16}")

    def row(label: str, score: Any) -> None:
        cells = [evaluate([ex for ex in test if ex.group == g], score) for g in groups]
        cells.append(evaluate(test, score))
        print(f"{label:<36}" + "".join(f"{k:>8.3f}{r:>8.3f}" for k, r in cells))

    for column, scorer in enumerate(scorers):
        row(scorer.name, lambda x, c=column: x[:, c])
    row("fitted (even cases)", lambda x: model.decision_function(x))
    print("(each cell: share of questions whose answer is kept at a third of the tokens; MRR of the first")
    print(" sentence holding an answer)")
    final = fit(examples)
    weights = tuple(round(float(w), 4) for w in final.coef_[0])
    for scorer, weight in zip(scorers, weights, strict=True):
        print(f"  {weight:+.4f}  {scorer.name}")
    return LinearModel(tuple(scorers), weights, round(float(final.intercept_[0]), 4))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nq", type=int, nargs=2, default=(1000, 1300), metavar=("FROM", "TO"))
    parser.add_argument("--articles", type=int, nargs=2, default=(0, 24), metavar=("FROM", "TO"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"write {PACKAGED.name}")
    args = parser.parse_args()
    began = time.perf_counter()
    compressor = Compressor()
    with_question: list[Example] = []
    agnostic: list[Example] = []
    for group, prompt, question, answers in nq_prompts(*args.nq, args.seed):
        ex = example(compressor, group, prompt, question, [answers], QUESTION_SCORERS)
        if ex is not None:
            with_question.append(ex)
        if group == "nq1":
            ex = example(compressor, group, prompt, None, [answers], AGNOSTIC_SCORERS)
            if ex is not None:
                agnostic.append(ex)
    seen: set[tuple[str, str]] = set()
    for group, context, question, answers, every in xquad_prompts(*args.articles):
        ex = example(compressor, group, context, question, [answers], QUESTION_SCORERS)
        if ex is not None:
            with_question.append(ex)
        if (group, context) not in seen:
            seen.add((group, context))
            ex = example(compressor, group, context, None, every, AGNOSTIC_SCORERS)
            if ex is not None:
                agnostic.append(ex)
    print(f"cases built in {time.perf_counter() - began:.0f} s")
    question_model = report("with a question", QUESTION_SCORERS, with_question)
    agnostic_model = report("without a question", AGNOSTIC_SCORERS, agnostic)
    if args.write:
        fitted = {
            "fitted_by": "benchmarks/fit_sentence_model.py "
            + f"--nq {args.nq[0]} {args.nq[1]} --articles {args.articles[0]} {args.articles[1]}",
            "question": question_model.to_dict(),
            "agnostic": agnostic_model.to_dict(),
        }
        PACKAGED.write_text(json.dumps(fitted, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {PACKAGED}")


if __name__ == "__main__":
    main()
