"""Prompt compression side by side, judged by a reader: winnow vs truncation, random word drop, sentence
selection, LLMLingua and LongLLMLingua.

All methods run in one process on the same cases, interleaved case by case. winnow runs through its keyword
API, `Compressor().compress(prompt, rate=r, question=q)`; a call that raises (winnow's or a peer's) is
counted as an error, never fatal to the run. The peers use llmlingua 0.2.2 (offline through
`benchmarks/llmlingua_shims.py`) on the same SmolLM2-135M, in the dtype winnow's scorer uses.

Sections (`--sections`; each with its own `--SECTION-cases` count and `--SECTION-offset` into the records, so
that tuning draws and report draws can differ):
- `nq10`: NaturalQuestions-open (../shared/data/nq_open_oracle.jsonl.gz), case = record i (offset, offset + 1,
  ...): its gold passage and 9 other records' gold passages (seeded per record), the gold at position
  i % 10, each document "title\\ntext", at each of `--rates` (default 0.5, 0.33, 0.2; 0.1 on request);
- `nq1`: the gold passage alone (one text) with the question, at `--rates`;
- `gsm8k` (../shared/data/gsm8k_test.jsonl.gz): case = held-out record i; 8 other records' worked solutions
  (seeded per case) "Question: ...\\nAnswer: ..." (calculator annotations <<...>> removed) as few-shot demos,
  compressed WITHOUT a question (as documents, or one text with `--gsm8k-input text`) at `--gsm8k-rates`;
- `xquad` (../shared/data/xquad_dev.jsonl.gz), per language of `--languages` (de, zh, ar), case = one
  question of articles `--xquad-articles` (default 24-47: `benchmarks/fit_sentence_model.py` fits on 0-23)
  drawn by a seeded permutation of that language's questions (positions offset, offset + 1, ...); the
  context = 4 consecutive paragraphs of its article holding the question's paragraph, the start seeded, joined
  by blank lines (`--xquad-window following`: its paragraph and the following ones, so the answer is always
  near the start, which favours truncation), at `--rates`;
- `agnostic`: compression WITHOUT the question (`question=None`); the reader still gets it. The `nq1` cases
  (own count and offset); and per language, one case per XQuAD article of `--xquad-articles` (articles
  `--agnostic-window-offset`, ... for `--agnostic-windows`): 4 consecutive paragraphs (start seeded) and
  EVERY question of those paragraphs (about 18), since a context compressed without the question must serve
  any question; lp and answer kept are means over them (the context's token prefix runs once, each question
  continues its KV cache); no generation.

Methods (`--methods`): `truncation` (the first floor(r * n) tokens), `random` (seeded random whole words
dropped down to the budget), `sentences` (the context split into sentences by a small script-aware regex:
after . ! ? ؟ । followed by whitespace, after 。！？, at line breaks; ranked by all-MiniLM-L6-v2 cosine to the
question, or without one to the mean of the sentence vectors; the best-ranked kept in their original order
while they fit floor(r * n) tokens, skipping those that do not), `llmlingua` (`compress_prompt(documents,
rate=r)`, no question), `longllmlingua` (the llmlingua README's LongLLMLingua settings, with the question;
the question it appends to its output is removed before scoring; not run without a question), `winnow`
(`Compressor().compress(prompt, rate=r, question=q)`), `winnow-whole` (the same with `fill_words=False`:
whole sentences only), `winnow-surprisal` (`fill_by="surprisal"`: the words that fill the rest of the
budget chosen by SmolLM2 surprisal, also without a question) and `winnow-position` (`fill_by="position"`:
in reading order, also with a question; the default fill is surprisal with a question, reading order
without), `winnow-at-longllmlingua` and `winnow-at-llmlingua` (winnow given, as its `target_tokens`, the
tokens that peer kept on the same case at the same rate: the peers do not meet the rate on short prompts,
so this compares the two at equal size; run after the peer, skipped where it did not run or failed) and
`winnow-no-numbers` (`keep_numbers=False`: without a question, numbers are not kept before sentences).
The peers run only at `--peer-rates` (default: every rate).

Metrics per method and rate, on the compressed context, tokens counted with the SmolLM2 tokenizer (no
special tokens):
- answer kept: the share of cases where a gold answer, lowercased, Unicode punctuation removed, whitespace
  collapsed, is a substring of the equally normalised context (GSM8K: numbers kept, the share of number
  occurrences `\\d+(?:[.,]\\d+)*` kept as a multiset, mean over cases);
- the reader: SmolLM2-135M-Instruct (`load_causal_lm()`, dtype "auto": bfloat16 where the CPU or GPU has
  native bfloat16 kernels, else float32) through its chat template, one user message
  "{context}\\n\\nQuestion: {question}\\nAnswer in a few words." (GSM8K: "...\\nAnswer step by step.";
  without context just the question part) and the assistant turn;
  - lp: the mean log-probability per token of the gold continuation as the assistant turn (the first gold
    answer; GSM8K: the held-out question's worked solution, annotations removed), mean over cases;
    `no context` and `original` (the full context) rows give lp_none and lp_full;
  - recovered = (mean lp_method - mean lp_none) / (mean lp_full - mean lp_none), means over the cases where
    the method ran without error (a ratio of means: robust to tiny per-case denominators);
  - under each table, every method's recovered minus the baseline's (`sentences`; `winnow-at-<peer>` also
    minus that peer's), with a 95% paired bootstrap interval over cases (percentile, 9,999 resamples);
  - accuracy: greedy generation of at most `--max-new-tokens` (24) new tokens, correct when a normalised
    gold answer is a substring of the normalised generation (not for GSM8K);
- achieved rate: output tokens / original tokens (mean; max in the JSON);
- s/1k tok: seconds per 1,000 original tokens (wall time of the compression call: median over cases; the
  total in the JSON); winnow's budget (cases over its `target_tokens`, under 95% of it) as notes; errors.

Speed: per case, one forward pass of SmolLM2 over the whole context (`model(input_ids)`, windows of 1024
batched) in the dtype winnow's scorer uses; per rate, winnow / forward pass and each peer / winnow as medians
of per-case time ratios; per section, a throughput line: winnow over all the section's cases with one
Compressor in a loop (tokens/s), beside the same cases through `Compressor.run_many` (batch: the sentences
of all cases embedded in one pass);
after the tables, each peer's total seconds over every NQ case and rate it ran, divided by winnow's.

    python benchmarks/compress.py [--sections nq10 nq1 gsm8k xquad agnostic] [--methods winnow sentences ...]
        [--rates 0.5 0.33 0.2] [--languages de zh ar] [--nq10-cases 100 --nq10-offset 0] [--nq1-cases 100]
        [--gsm8k-cases 20] [--xquad-cases 30] [--agnostic-cases 50] [--peer-rates 0.5] [--json out.json]

Needs llmlingua==0.2.2 (the bench extra) for the llmlingua methods (without it they print `unavailable`).
`--device` (default cpu) places every model. `WINNOW_TORCH_THREADS` sets torch's threads (on a busy machine
1 thread avoids oversubscription stalls). The machine may be shared: compare methods within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gzip
import importlib.util
import json
import math
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline import models as model_registry
from pipeline.models import causal_lm_path, configure_threads, load_causal_lm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NQ = "nq_open_oracle.jsonl.gz"
GSM8K = "gsm8k_test.jsonl.gz"
XQUAD = "xquad_dev.jsonl.gz"
METHODS = (
    "truncation",
    "random",
    "sentences",
    "llmlingua",
    "longllmlingua",
    "winnow",
    "winnow-whole",
    "winnow-surprisal",
    "winnow-position",
    "winnow-at-longllmlingua",
    "winnow-at-llmlingua",
    "winnow-no-numbers",
)
#: winnow run to the size another method's output had on the same case and rate
MATCHED = {"winnow-at-longllmlingua": "longllmlingua", "winnow-at-llmlingua": "llmlingua"}
#: winnow's default Compressor with other request options
REQUEST_VARIANTS: dict[str, dict[str, Any]] = {"winnow-no-numbers": {"keep_numbers": False}}
#: methods that call the default `winnow` Compressor
ON_WINNOW = frozenset(MATCHED) | frozenset(REQUEST_VARIANTS)
PEERS = frozenset({"llmlingua", "longllmlingua"})
#: the simple strong baseline every method is compared with, case by case
BASELINE = "sentences"
#: winnow run with other Compressor options, beside the default `winnow`
WINNOW_VARIANTS: dict[str, dict[str, Any]] = {
    "winnow-whole": {"fill_words": False},
    "winnow-surprisal": {"fill_by": "surprisal"},
    "winnow-position": {"fill_by": "position"},
}
SECTIONS = ("nq10", "nq1", "gsm8k", "xquad", "agnostic")
LANGUAGES = ("de", "zh", "ar")
#: the LongLLMLingua settings of the llmlingua README (with `question` and `rate` per call)
LONGLLMLINGUA = {
    "rank_method": "longllmlingua",
    "condition_in_question": "after_condition",
    "reorder_context": "sort",
    "dynamic_context_compression_ratio": 0.3,
    "condition_compare": True,
    "context_budget": "+100",
}
#: the reader's user message after the context (which comes first, then a blank line)
QA_ASK = "Question: {question}\nAnswer in a few words."
GSM8K_ASK = "Question: {question}\nAnswer step by step."
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CALCULATOR = re.compile(r"<<[^>]*>>")
WORD = re.compile(r"\s*\S+")
#: a sentence ends after . ! ? ؟ । (and closing quotes) before whitespace, after 。！？, at line breaks
SENTENCE_END = re.compile(r"[.!?؟।]+[\"'”’)\]]*\s+|[。！？]+[」』”’）]*\s*|\n+\s*")
WINDOW = 1024
XQUAD_PARAGRAPHS = 4


@dataclass
class Case:
    """One input: winnow gets `prompt`, the peers `documents`, every method `query` as its question (None:
    question-agnostic); the reader is asked `question` and scored on `gold`; `text` is the full context."""

    index: int
    prompt: str | list[str]
    documents: list[str]
    question: str | None
    answers: list[str]
    query: str | None = None
    gold: str = ""
    text: str = ""
    ids: list[int] = field(default_factory=list)
    more: list[Ask] = field(default_factory=list)  # further questions the reader is asked on the context

    @property
    def tokens(self) -> int:
        return len(self.ids)

    def asks(self) -> list[Ask]:
        """Every question the reader is asked on this case's context: its own, then `more`."""
        return [Ask(self.question or "", self.gold, self.answers), *self.more]


@dataclass(frozen=True)
class Ask:
    """One question for the reader, its gold continuation and the answers that count as kept or correct."""

    question: str
    gold: str
    answers: list[str]


@dataclass
class Section:
    """One table: its cases, rates, methods, how a context is scored and what the reader is asked."""

    key: str
    title: str
    cases: list[Case]
    rates: list[float]
    methods: list[str]
    survival: Callable[[Case, str], float]
    kept_label: str
    ask: str
    generate: bool


@dataclass
class Outcome:
    """What one method did on one case at one rate, and what the reader made of it."""

    method: str
    rate: float | None
    case: int
    seconds: float
    original_tokens: int
    tokens: int = 0
    kept: float | None = None  # answer kept (0/1) or share of numbers kept
    lp: float | None = None  # the reader's mean log-probability per gold token
    correct: float | None = None  # the reader's generation holds a gold answer (0/1)
    generation: str | None = None
    reader_seconds: float = 0.0
    over: bool | None = None  # winnow only: over its target_tokens
    under: bool | None = None  # winnow only: under 95% of its target_tokens
    target: int | None = None
    reported: int | None = None  # winnow only: its own count of the output tokens
    error: str | None = None


class Tokens:
    """Token counts with the SmolLM2 tokenizer, context only, no special tokens."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count(self, text: str) -> int:
        return len(self.ids(text)) if text else 0


def normalise(text: str) -> str:
    """Lowercased, Unicode punctuation removed, whitespace collapsed."""
    text = "".join(ch for ch in text.lower() if not unicodedata.category(ch).startswith("P"))
    return " ".join(text.split())


def answer_kept(text: str, answers: Sequence[str]) -> float:
    haystack = normalise(text)
    return float(any(needle and needle in haystack for needle in map(normalise, answers)))


def numbers_kept(original: str, compressed: str) -> tuple[int, int]:
    """(number occurrences of `original` still in `compressed` as a multiset, occurrences in `original`)."""
    before, after = Counter(NUMBER.findall(original)), Counter(NUMBER.findall(compressed))
    return sum(min(count, after[number]) for number, count in before.items()), sum(before.values())


def answer_score(case: Case, text: str) -> float:
    """Answer kept, as the share of the case's questions whose answer is kept."""
    return statistics.fmean(answer_kept(text, ask.answers) for ask in case.asks())


def number_score(case: Case, text: str) -> float:
    kept, total = numbers_kept(case.text, text)
    return kept / total if total else 1.0


# ---------------------------------------------------------------------------------------------- cases
def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        sys.exit(f"{path} is missing (the shared evaluation data sits beside the checkout: --data-dir)")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def passage(record: dict[str, Any]) -> str:
    gold = record["ctxs"][0]
    return f"{gold['title']}\n{gold['text']}"


def record_range(total: int, offset: int, cases: int, what: str) -> range:
    if offset < 0 or offset + cases > total:
        sys.exit(f"{what}: records {offset}..{offset + cases - 1} are outside the {total} there are")
    return range(offset, offset + cases)


def nq_ten(records: list[dict[str, Any]], cases: int, offset: int, seed: int) -> list[Case]:
    """Record i's gold passage among 9 others (seeded per record), at position i % 10."""
    out = []
    for i in record_range(len(records), offset, cases, "nq10"):
        record = records[i]
        rng = np.random.default_rng([seed, i])
        others = rng.choice(np.delete(np.arange(len(records)), i), size=9, replace=False)
        documents = [passage(records[j]) for j in others]
        documents.insert(i % 10, passage(record))
        question = record["question"]
        out.append(Case(i, documents, documents, question, record["answers"], question, record["answers"][0]))
    return out


def nq_one(records: list[dict[str, Any]], cases: int, offset: int) -> list[Case]:
    """Record i's gold passage alone, as one text."""
    out = []
    for i in record_range(len(records), offset, cases, "nq1"):
        record, gold = records[i], passage(records[i])
        question = record["question"]
        out.append(Case(i, gold, [gold], question, record["answers"], question, record["answers"][0]))
    return out


def gsm8k_cases(
    records: list[dict[str, Any]], cases: int, offset: int, seed: int, as_text: bool
) -> list[Case]:
    """Held-out record i's question and solution; 8 other records' worked solutions (seeded) as demos."""
    out = []
    for i in record_range(len(records), offset, cases, "gsm8k"):
        rng = np.random.default_rng([seed, i])
        picked = rng.choice(np.delete(np.arange(len(records)), i), size=8, replace=False)
        demos = [
            f"Question: {records[j]['question']}\nAnswer: {CALCULATOR.sub('', records[j]['answer'])}"
            for j in picked
        ]
        prompt = "\n\n".join(demos) if as_text else demos
        solution = CALCULATOR.sub("", records[i]["answer"])
        out.append(Case(i, prompt, demos, records[i]["question"], [], None, solution))
    return out


def xquad_articles(
    records: list[dict[str, Any]], chosen: Sequence[int] = (0, 48)
) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """XQuAD paragraph records by (language, article) for articles `chosen` (from, to), in paragraph order."""
    articles: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for record in records:
        if chosen[0] <= record["article"] < chosen[1]:
            articles.setdefault((record["lang"], record["article"]), []).append(record)
    for paragraphs in articles.values():
        paragraphs.sort(key=lambda record: record["paragraph"])
    return articles


def language_articles(
    records: list[dict[str, Any]], language: str, chosen: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """The paragraph records of `language` by article, for articles `chosen` (from, to)."""
    return {
        article: paragraphs
        for (lang, article), paragraphs in xquad_articles(records, chosen).items()
        if lang == language
    }


def xquad_cases(
    records: list[dict[str, Any]],
    language: str,
    cases: int,
    offset: int,
    seed: int,
    window: str,
    chosen: Sequence[int] = (0, 48),
) -> list[Case]:
    """Seeded questions of `language` in articles `chosen` (from, to), each with 4 paragraphs of its article
    (`window`: seeded consecutive paragraphs holding its own, or its own and the following ones)."""
    articles = language_articles(records, language, chosen)
    questions = [
        (article, position, qa)
        for article, paragraphs in sorted(articles.items())
        for position, record in enumerate(paragraphs)
        for qa in record["qas"]
    ]
    order = np.random.default_rng([seed, *language.encode()]).permutation(len(questions))
    out = []
    for number in record_range(len(questions), offset, cases, f"xquad {language}"):
        article, position, qa = questions[order[number]]
        paragraphs = articles[article]
        start = position
        if window == "seeded":
            low = max(0, position - XQUAD_PARAGRAPHS + 1)
            high = max(low, min(position, len(paragraphs) - XQUAD_PARAGRAPHS))
            start = int(np.random.default_rng([seed, number, *language.encode()]).integers(low, high + 1))
        documents = [record["context"] for record in paragraphs[start : start + XQUAD_PARAGRAPHS]]
        prompt = "\n\n".join(documents)
        question = qa["question"]
        out.append(Case(number, prompt, documents, question, qa["answers"], question, qa["answers"][0]))
    return out


def xquad_windows(
    records: list[dict[str, Any]],
    language: str,
    cases: int,
    offset: int,
    seed: int,
    chosen: Sequence[int] = (0, 48),
) -> list[Case]:
    """One case per article of `language` in `chosen` (cases offset, offset + 1, ... in article order): 4
    consecutive paragraphs (start seeded) and every question of those paragraphs, for compression without a
    question, where one compressed context must serve every question a reader may ask of it."""
    articles = sorted(language_articles(records, language, chosen).items())
    out = []
    for number in record_range(len(articles), offset, cases, f"xquad {language} articles"):
        article, paragraphs = articles[number]
        high = max(0, len(paragraphs) - XQUAD_PARAGRAPHS)
        start = int(np.random.default_rng([seed, article, *language.encode()]).integers(0, high + 1))
        window = paragraphs[start : start + XQUAD_PARAGRAPHS]
        asks = [
            Ask(qa["question"], qa["answers"][0], qa["answers"]) for record in window for qa in record["qas"]
        ]
        documents = [record["context"] for record in window]
        first = asks[0]
        case = Case(
            number, "\n\n".join(documents), documents, first.question, first.answers, None, first.gold
        )
        case.more = asks[1:]
        out.append(case)
    return out


def agnostic(cases: list[Case]) -> list[Case]:
    """The same cases, compressed without their question."""
    return [replace(case, query=None, ids=[]) for case in cases]


def prepare(cases: list[Case], tokens: Tokens) -> None:
    for case in cases:
        case.text = "\n\n".join(case.documents)
        case.ids = tokens.ids(case.text)


# ---------------------------------------------------------------------------------------------- methods
Run = Callable[[Case, float], tuple[str, dict[str, Any]]]


def truncation(tokens: Tokens) -> Run:
    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        ids = tokens.ids(case.text)
        return tokens.tokenizer.decode(ids[: math.floor(rate * len(ids))]), {}

    return run


def random_drop(tokens: Tokens, seed: int, section: int) -> Run:
    """Drop whole words in a seeded random order, as few as bring the text within floor(rate * tokens)."""

    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        budget = math.floor(rate * tokens.count(case.text))
        words = WORD.findall(case.text)
        order = np.random.default_rng([seed, section, case.index, round(rate * 1000)]).permutation(len(words))

        def text_without(dropped: int) -> str:
            gone = set(order[:dropped].tolist())
            return "".join(word for k, word in enumerate(words) if k not in gone)

        low, high = 0, len(words)  # the fewest dropped words that fit
        while low < high:
            middle = (low + high) // 2
            if tokens.count(text_without(middle)) <= budget:
                high = middle
            else:
                low = middle + 1
        return text_without(low), {}

    return run


def split_sentences(text: str) -> list[str]:
    """`text` cut after each sentence end (see SENTENCE_END); every piece keeps its trailing whitespace, so
    joining pieces in order rebuilds the text."""
    pieces, start = [], 0
    for match in SENTENCE_END.finditer(text):
        if text[start : match.end()].strip():
            pieces.append(text[start : match.end()])
            start = match.end()
    if text[start:].strip():
        pieces.append(text[start:])
    elif pieces:
        pieces[-1] += text[start:]
    return pieces


def select_sentences(pieces: list[str], scores: np.ndarray, budget: int, count: Callable[[str], int]) -> str:
    """The best-scored pieces in text order, each added while it fits `budget` (others skipped)."""
    ranked = np.argsort(-scores, kind="stable").tolist()
    costs = [count(piece.strip()) for piece in pieces]
    chosen: list[int] = []
    used = 0
    for k in ranked:
        if used + costs[k] <= budget:
            chosen.append(k)
            used += costs[k]

    def render(keep: list[int]) -> str:
        return "".join(pieces[k] for k in sorted(keep)).strip()

    while chosen and count(render(chosen)) > budget:  # pieces may tokenise longer together
        chosen.pop()
    return render(chosen)


def sentences(tokens: Tokens, device: str) -> Run:
    """Sentences ranked by MiniLM cosine to the question (without one: to the sentences' mean vector)."""
    from pipeline.embeddings import embed

    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        budget = math.floor(rate * tokens.count(case.text))
        pieces = split_sentences(case.text)
        if not pieces:
            return "", {}
        texts = [piece.strip() for piece in pieces]
        if case.query:
            vectors = embed([case.query, *texts], device=device)
            anchor, vectors = vectors[0], vectors[1:]
        else:
            vectors = embed(texts, device=device)
            anchor = vectors.mean(axis=0)
        return select_sentences(pieces, vectors @ anchor, budget, tokens.count), {}

    return run


def winnow(compressor: Any, **options: Any) -> Run:
    """`options`: further `CompressionRequest` options (`REQUEST_VARIANTS`)."""

    def run(case: Case, rate: float, tokens: int | None = None) -> tuple[str, dict[str, Any]]:
        """`tokens`: a target size instead of the rate (`MATCHED` methods)."""
        size = {"rate": rate} if tokens is None else {"target_tokens": max(tokens, 1)}
        result = compressor.compress(case.prompt, question=case.query, **size, **options)
        return result.text, {"target": result.target_tokens, "reported": result.compressed_tokens}

    return run


def llmlingua(compressor: Any) -> Run:
    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        return compressor.compress_prompt(case.documents, rate=rate)["compressed_prompt"], {}

    return run


def longllmlingua(compressor: Any) -> Run:
    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        if not case.query:
            raise ValueError("LongLLMLingua needs a question")
        text = compressor.compress_prompt(case.documents, question=case.query, rate=rate, **LONGLLMLINGUA)[
            "compressed_prompt"
        ]
        # it appends "\n\n" + question to the compressed context (concate_question=True, the default)
        if text == case.query:
            return "", {}
        suffix = "\n\n" + case.query
        if not text.endswith(suffix):
            raise ValueError("LongLLMLingua's output does not end with the question")
        return text[: -len(suffix)], {}

    return run


def failing(error: BaseException) -> Run:
    """A method whose set-up failed: every call raises that error again (counted per case)."""

    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        raise RuntimeError(f"set-up failed: {type(error).__name__}: {error}")

    return run


def build_methods(
    names: Sequence[str], tokens: Tokens, seed: int, section: int, device: str
) -> dict[str, Run]:
    """The runs of `names`; models come from `load_models` (cached), so sections share them."""
    models = load_models(tuple(names), device)
    makers: dict[str, Callable[[], Run]] = {
        "truncation": lambda: truncation(tokens),
        "random": lambda: random_drop(tokens, seed, section),
        "sentences": lambda: sentences(tokens, device),
        "llmlingua": lambda: llmlingua(models["llmlingua"]),
        "longllmlingua": lambda: longllmlingua(models["llmlingua"]),
        "winnow": lambda: winnow(models["winnow"]),
        **{
            name: (lambda n=name: winnow(models["winnow"], **REQUEST_VARIANTS.get(n, {})))
            for name in ON_WINNOW
        },
        **{variant: (lambda v=variant: winnow(models[v])) for variant in WINNOW_VARIANTS},
    }
    runs = {}
    for name in names:
        model = models.get("llmlingua" if name in PEERS else "winnow" if name in ON_WINNOW else name)
        runs[name] = failing(model) if isinstance(model, BaseException) else makers[name]()
    return runs


_MODELS: dict[str, Any] = {}


def load_models(names: tuple[str, ...], device: str) -> dict[str, Any]:
    """winnow's Compressor and llmlingua's PromptCompressor, once; a set-up error is kept in their place."""
    if ("winnow" in names or ON_WINNOW & set(names)) and "winnow" not in _MODELS:
        try:
            from prompts.compress import Compressor

            _MODELS["winnow"] = Compressor(device=device)
        except Exception as error:  # winnow's internals may be mid-rewrite: its cases become errors
            print(f"winnow: set-up failed: {type(error).__name__}: {error}", file=sys.stderr)
            _MODELS["winnow"] = error
    for variant, options in WINNOW_VARIANTS.items():
        if variant in names and variant not in _MODELS:
            from prompts.compress import Compressor

            _MODELS[variant] = Compressor(device=device, **options)
    if PEERS & set(names) and "llmlingua" not in _MODELS:
        from llmlingua_shims import prompt_compressor  # beside this script

        scorer, _ = load_causal_lm(dtype=scorer_dtype(), device=device)
        _MODELS["llmlingua"] = prompt_compressor(causal_lm_path(), dtype=scorer.dtype, device=device)
    return _MODELS


def scorer_dtype() -> str:
    """The dtype winnow's scorer uses (its Compressor's `dtype`; "auto" when it has none)."""
    compressor = _MODELS.get("winnow")
    return str(getattr(compressor, "dtype", "auto"))


def reader_dtype() -> str:
    """ "auto" (the fastest for the device) where `load_causal_lm` knows it, else float32."""
    return "auto" if "auto" in getattr(model_registry, "DTYPES", ()) else "float32"


# ---------------------------------------------------------------------------------------------- reader
@dataclass
class Reading:
    lp: float
    generation: str | None
    correct: float | None
    seconds: float


class Reader:
    """SmolLM2-135M-Instruct reading context + question through its chat template: the gold continuation's
    mean token log-probability and a greedy answer, from one forward pass over prompt + gold (the KV cache,
    cropped to the prompt, continues the generation). Readings are memoised per (context, case, section)."""

    def __init__(self, device: str, max_new_tokens: int) -> None:
        self.model, self.tokenizer = load_causal_lm(dtype=reader_dtype(), device=device)
        self.device = device
        self.max_new_tokens = max_new_tokens
        ends = (self.tokenizer.eos_token, "<|im_end|>", "<|endoftext|>")
        self.stop = {self.tokenizer.convert_tokens_to_ids(token) for token in ends if token}
        self.memo: dict[tuple[str, ...], Reading] = {}

    def prompt_ids(self, context: str, question: str, ask: str) -> list[int]:
        message = ask.format(question=question)
        if context.strip():
            message = f"{context.strip()}\n\n{message}"
        rendered = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": message}], add_generation_prompt=True, tokenize=False
        )
        return self.tokenizer(rendered, add_special_tokens=False)["input_ids"]

    def read(self, context: str, case: Case, section: Section) -> Reading:
        """The reading of `context` for `case`; `seconds` is 0 when it was memoised."""
        asks = case.asks()
        key = (context, *(f"{ask.question}\0{ask.gold}" for ask in asks), section.ask, str(section.generate))
        if key in self.memo:
            return replace(self.memo[key], seconds=0.0)
        started = time.perf_counter()
        if len(asks) > 1:
            lp, generation = self._forward_shared(context, asks, section), None
        else:
            lp, generation = self._forward(context, case, section)
        correct = answer_kept(generation, case.answers) if generation is not None else None
        self.memo[key] = Reading(lp, generation, correct, time.perf_counter() - started)
        return self.memo[key]

    def _forward(self, context: str, case: Case, section: Section) -> tuple[float, str | None]:
        prompt = self.prompt_ids(context, case.question or "", section.ask)
        gold = self.tokenizer(case.gold, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            ids = torch.tensor([prompt + gold], device=self.device)
            out = self.model(input_ids=ids, use_cache=section.generate, logits_to_keep=len(gold) + 1)
            logits = out.logits[0].float()
            lp = self.gold_lp(logits, gold) if gold else math.nan
            if not section.generate:
                return lp, None
            cache = out.past_key_values
            if gold:
                cache.crop(-len(gold))  # back to the prompt
            token, new = int(logits[0].argmax()), []
            while token not in self.stop and len(new) < self.max_new_tokens:
                new.append(token)
                if len(new) == self.max_new_tokens:
                    break
                step = self.model(
                    input_ids=torch.tensor([[token]], device=self.device),
                    past_key_values=cache,
                    use_cache=True,
                )
                token = int(step.logits[0, -1].argmax())
        return lp, self.tokenizer.decode(new, skip_special_tokens=True)

    def _forward_shared(self, context: str, asks: list[Ask], section: Section) -> float:
        """Mean over `asks` of the gold's mean token log-probability. The token prefix every prompt shares
        (chat header and context) runs once; each question + gold continues its KV cache, cropped back
        after (the same token sequences as one pass per question). No generation."""
        rows = []
        for ask in asks:
            gold = self.tokenizer(ask.gold, add_special_tokens=False)["input_ids"]
            if gold:
                rows.append((self.prompt_ids(context, ask.question, section.ask), gold))
        if not rows:
            return math.nan
        shared = min(len(prompt) for prompt, _ in rows)
        for prompt, _ in rows:
            while prompt[:shared] != rows[0][0][:shared]:
                shared -= 1
        shared -= 1  # every continuation starts with at least one prompt token
        lps = []
        with torch.inference_mode():
            prefix = torch.tensor([rows[0][0][:shared]], device=self.device)
            cache = self.model(input_ids=prefix, use_cache=True, logits_to_keep=1).past_key_values
            for prompt, gold in rows:
                ids = torch.tensor([prompt[shared:] + gold], device=self.device)
                logits = self.model(input_ids=ids, past_key_values=cache, logits_to_keep=len(gold) + 1).logits
                cache.crop(-ids.shape[1])  # back to the shared prefix
                lps.append(self.gold_lp(logits[0].float(), gold))
        return statistics.fmean(lps)

    def gold_lp(self, logits: torch.Tensor, gold: list[int]) -> float:
        """Mean log-probability of the `gold` tokens, from the logits of the positions before each of them
        and the last (`logits`: the last len(gold) + 1 positions)."""
        logprobs = torch.log_softmax(logits[:-1], dim=-1)
        return float(logprobs.gather(1, torch.tensor(gold, device=self.device)[:, None]).mean())


# ---------------------------------------------------------------------------------------------- running
def forward_seconds(model: Any, ids: list[int], pad_id: int, device: str) -> float:
    """Wall time of one forward pass of the scorer over `ids` (windows of 1024 as one padded batch)."""
    rows = [ids[start : start + WINDOW] for start in range(0, len(ids), WINDOW)]
    batch = torch.full((len(rows), len(rows[0])), pad_id, dtype=torch.long)
    mask = torch.zeros_like(batch)
    for k, row in enumerate(rows):
        batch[k, : len(row)] = torch.tensor(row)
        mask[k, : len(row)] = 1
    batch, mask = batch.to(device), mask.to(device)
    with torch.inference_mode():
        start = time.perf_counter()
        model(input_ids=batch, attention_mask=mask if len(rows) > 1 else None, logits_to_keep=1)
        if batch.is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start


def judge(outcome: Outcome, text: str, case: Case, section: Section, reader: Reader) -> Outcome:
    """Fill in the reader's lp, generation and correctness for `text` as the context."""
    try:
        reading = reader.read(text, case, section)
    except Exception as error:  # a reader failure is recorded like a method's
        outcome.error = f"reader: {type(error).__name__}: {error}"
        print(f"  {outcome.method} case {case.index}: {outcome.error}", file=sys.stderr, flush=True)
        return outcome
    outcome.lp, outcome.generation, outcome.correct = reading.lp, reading.generation, reading.correct
    outcome.reader_seconds = reading.seconds
    return outcome


def measure(
    name: str, run: Run, case: Case, rate: float, tokens: Tokens, section: Section, reader: Reader
) -> Outcome:
    outcome = Outcome(name, rate, case.index, 0.0, case.tokens)
    start = time.perf_counter()
    try:
        text, extra = run(case, rate)
    except Exception as error:  # a failing call is counted, not fatal to a long run
        outcome.seconds = time.perf_counter() - start
        outcome.error = f"{type(error).__name__}: {error}"
        print(f"  {name} rate {rate} case {case.index}: {outcome.error}", file=sys.stderr, flush=True)
        return outcome
    outcome.seconds = time.perf_counter() - start
    outcome.tokens = tokens.count(text)
    outcome.kept = section.survival(case, text)
    if "target" in extra:
        outcome.target, outcome.reported = extra["target"], extra["reported"]
        outcome.over = outcome.tokens > outcome.target or extra["reported"] > outcome.target
        outcome.under = outcome.tokens < 0.95 * outcome.target
    return judge(outcome, text, case, section, reader)


def references(case: Case, section: Section, reader: Reader) -> list[Outcome]:
    """The `no context` and `original` (full context) rows of one case."""
    none = Outcome("no context", None, case.index, 0.0, case.tokens)
    full = Outcome(
        "original", 1.0, case.index, 0.0, case.tokens, case.tokens, section.survival(case, case.text)
    )
    return [judge(none, "", case, section, reader), judge(full, case.text, case, section, reader)]


def warm_up(section: Section, methods: dict[str, Run], peer_rates: set[float]) -> None:
    """Load every method's models and warm their kernels on the first case (not timed, not scored)."""
    rate = section.rates[0]
    for name, run in methods.items():
        if name not in PEERS or rate in peer_rates:
            with contextlib.suppress(Exception):  # measured (and reported) again in the run
                run(section.cases[0], rate)


def run_section(
    section: Section,
    methods: dict[str, Run],
    peer_rates: set[float],
    tokens: Tokens,
    reader: Reader,
    device: str,
) -> tuple[list[Outcome], list[float]]:
    """Every method at every rate on every case, interleaved case by case; and the forward-pass times."""
    model, tokenizer = load_causal_lm(dtype=scorer_dtype(), device=device)
    pad_id = model_registry.pad_id(tokenizer)
    forward_seconds(model, section.cases[0].ids, pad_id, device)  # warm up
    warm_up(section, methods, peer_rates)
    outcomes: list[Outcome] = []
    forward: list[float] = []
    started = time.perf_counter()
    for number, case in enumerate(section.cases, 1):
        outcomes += references(case, section, reader)
        forward.append(forward_seconds(model, case.ids, pad_id, device))
        for rate in section.rates:
            for name, run in sorted(methods.items(), key=lambda item: item[0] in MATCHED):
                if name in MATCHED:  # to the size the other method's output had here
                    other = [
                        o
                        for o in outcomes
                        if (o.method, o.case, o.rate) == (MATCHED[name], case.index, rate) and o.error is None
                    ]
                    if not other:
                        continue
                    run = functools.partial(run, tokens=other[-1].tokens)
                elif name in PEERS and rate not in peer_rates:
                    continue
                outcomes.append(measure(name, run, case, rate, tokens, section, reader))
        if number % 10 == 0 or number == len(section.cases):
            elapsed = time.perf_counter() - started
            print(f"  {number}/{len(section.cases)} cases, {elapsed:.0f} s", file=sys.stderr, flush=True)
    return outcomes, forward


def winnow_loop_throughput(compressor: Any, cases: list[Case], rate: float) -> dict[str, Any]:
    """winnow over every case with one Compressor in a plain loop: original tokens per second."""
    errors = 0
    started = time.perf_counter()
    for case in cases:
        try:
            compressor.compress(case.prompt, rate=rate, question=case.query)
        except Exception:
            errors += 1
    return throughput_of(rate, cases, time.perf_counter() - started, errors)


def winnow_batch_throughput(compressor: Any, cases: list[Case], rate: float) -> dict[str, Any]:
    """The same cases through winnow's batch call (`Compressor.run_many`: the sentences of all cases embedded
    in one pass), in the loop's terms."""
    from prompts.compress import CompressionRequest

    started = time.perf_counter()
    compressor.run_many([CompressionRequest(case.prompt, rate=rate, question=case.query) for case in cases])
    return throughput_of(rate, cases, time.perf_counter() - started, 0)


def throughput_of(rate: float, cases: list[Case], seconds: float, errors: int) -> dict[str, Any]:
    tokens = sum(case.tokens for case in cases)
    return {
        "rate": rate,
        "cases": len(cases),
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds if seconds else None,
        "errors": errors,
    }


def throughput(section: Section, skip: bool) -> dict[str, Any] | None:
    compressor = _MODELS.get("winnow")
    if skip or "winnow" not in section.methods or compressor is None or isinstance(compressor, BaseException):
        return None
    rate = section.rates[0]
    return {
        "loop": winnow_loop_throughput(compressor, section.cases, rate),
        "batch": winnow_batch_throughput(compressor, section.cases, rate),
    }


# ---------------------------------------------------------------------------------------------- summary
def mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def reader_metrics(done: list[Outcome], none: dict[int, float], full: dict[int, float]) -> dict[str, Any]:
    """lp mean, recovered (ratio of means over the same cases) and accuracy of one group's outcomes."""
    scored = [o for o in done if o.lp is not None and not math.isnan(o.lp)]
    row: dict[str, Any] = {"lp": mean([o.lp for o in scored]), "recovered": None}
    base = [none[o.case] for o in scored if o.case in none and o.case in full]
    top = [full[o.case] for o in scored if o.case in none and o.case in full]
    if base and len(base) == len(scored) and statistics.fmean(top) != statistics.fmean(base):
        row["lp_none"], row["lp_full"] = statistics.fmean(base), statistics.fmean(top)
        row["recovered"] = (row["lp"] - row["lp_none"]) / (row["lp_full"] - row["lp_none"])
    correct = [o.correct for o in done if o.correct is not None]
    row["accuracy"] = mean(correct)
    return row


def compression_metrics(done: list[Outcome]) -> dict[str, Any]:
    achieved = [o.tokens / o.original_tokens for o in done]
    per_1k = [1000 * o.seconds / o.original_tokens for o in done]
    row = {
        "achieved_mean": statistics.fmean(achieved),
        "achieved_max": max(achieved),
        "s_per_1k_median": statistics.median(per_1k),
        "s_per_1k_total": 1000 * sum(o.seconds for o in done) / sum(o.original_tokens for o in done),
    }
    if any(o.target is not None for o in done):
        row |= {
            "over_budget": sum(bool(o.over) for o in done),
            "under_95": sum(bool(o.under) for o in done),
            "count_mismatch": sum(o.reported != o.tokens for o in done),
        }
    return row


def summarise(outcomes: list[Outcome], forward: list[float], cases: list[Case]) -> dict[str, Any]:
    """Per (method, rate): the metrics; and the time ratios (medians of per-case ratios)."""
    groups: dict[tuple[str, float | None], list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.method, outcome.rate), []).append(outcome)
    lp_of = {
        method: {o.case: o.lp for o in groups.get((method, rate), []) if o.lp is not None}
        for method, rate in (("no context", None), ("original", 1.0))
    }
    rows: list[dict[str, Any]] = []
    for (method, rate), group in groups.items():
        done = [o for o in group if o.error is None]
        row: dict[str, Any] = {
            "method": method,
            "rate": rate,
            "cases": len(group),
            "errors": len(group) - len(done),
        }
        if done:
            kept = [o.kept for o in done if o.kept is not None]
            row["kept"] = mean(kept)
            row |= reader_metrics(done, lp_of["no context"], lp_of["original"])
            if method not in ("no context", "original"):
                row |= compression_metrics(done)
        rows.append(row)
    tokens = {case.index: case.tokens for case in cases}
    per_1k = [1000 * seconds / tokens[case.index] for seconds, case in zip(forward, cases, strict=True)]
    rows.append(
        {
            "method": "forward pass",
            "rate": None,
            "cases": len(forward),
            "errors": 0,
            "s_per_1k_median": statistics.median(per_1k),
            "s_per_1k_total": 1000 * sum(forward) / sum(tokens.values()),
        }
    )
    return {"rows": rows, "ratios": time_ratios(groups, forward, cases), "gaps": gaps(groups)}


def recovered_gap(mine: Any, theirs: Any, none: Any, full: Any, axis: int = -1) -> Any:
    """Recovered of `mine` minus recovered of `theirs` (lp arrays over the same cases, along `axis`)."""
    return (mine.mean(axis) - theirs.mean(axis)) / (full.mean(axis) - none.mean(axis))


def gaps(groups: dict[tuple[str, float | None], list[Outcome]], seed: int = 0) -> list[dict[str, Any]]:
    """Per (method, rate) beside `BASELINE` at that rate (and a `MATCHED` method beside the method it
    matches): recovered minus the other's, over the cases both scored, with a 95% paired bootstrap interval
    (cases resampled together; scipy.stats.bootstrap)."""
    from scipy.stats import bootstrap

    def lps(method: str, rate: float | None) -> dict[int, float]:
        return {
            o.case: o.lp
            for o in groups.get((method, rate), [])
            if o.error is None and o.lp is not None and not math.isnan(o.lp)
        }

    none, full = lps("no context", None), lps("original", 1.0)
    pairs = [
        (method, BASELINE, rate)
        for method, rate in groups
        if method not in (BASELINE, "no context", "original")
    ]
    pairs += [(method, MATCHED[method], rate) for method, rate in groups if method in MATCHED]
    out = []
    for method, baseline, rate in pairs:
        if (baseline, rate) not in groups:
            continue
        mine, theirs = lps(method, rate), lps(baseline, rate)
        shared = sorted(mine.keys() & theirs.keys() & none.keys() & full.keys())
        if len(shared) < 2:
            continue
        samples = [np.array([column[c] for c in shared]) for column in (mine, theirs, none, full)]
        interval = bootstrap(
            samples, recovered_gap, paired=True, n_resamples=9999, method="percentile", rng=seed
        ).confidence_interval
        out.append(
            {
                "method": method,
                "rate": rate,
                "baseline": baseline,
                "cases": len(shared),
                "gap": float(recovered_gap(*samples)),
                "low": float(interval.low),
                "high": float(interval.high),
            }
        )
    return out


def time_ratios(
    groups: dict[tuple[str, float | None], list[Outcome]], forward: list[float], cases: list[Case]
) -> list[dict[str, Any]]:
    """Per rate: winnow / forward pass and each peer / winnow, medians of per-case time ratios."""
    forward_by_case = {case.index: seconds for case, seconds in zip(cases, forward, strict=True)}
    ratios = []
    for (method, rate), group in groups.items():
        if method != "winnow":
            continue
        winnow_by_case = {o.case: o.seconds for o in group if o.error is None}
        if not winnow_by_case:
            continue
        entry: dict[str, Any] = {
            "rate": rate,
            "winnow_over_forward": statistics.median(
                seconds / forward_by_case[index] for index, seconds in winnow_by_case.items()
            ),
        }
        for peer in sorted(PEERS):
            peer_by_case = {o.case: o.seconds for o in groups.get((peer, rate), []) if o.error is None}
            shared = winnow_by_case.keys() & peer_by_case.keys()
            if shared:
                entry[f"{peer}_over_winnow"] = statistics.median(
                    peer_by_case[index] / winnow_by_case[index] for index in shared
                )
        ratios.append(entry)
    return ratios


def total_time_ratios(outcomes: list[tuple[str, Outcome]]) -> dict[str, float]:
    """Per peer: its total seconds / winnow's total seconds, over the (section, case, rate) both ran."""
    seconds = {(o.method, title, o.case, o.rate): o.seconds for title, o in outcomes if o.error is None}
    ratios = {}
    for peer in sorted(PEERS):
        shared = [key[1:] for key in seconds if key[0] == peer and ("winnow", *key[1:]) in seconds]
        if shared:
            ratios[peer] = sum(seconds[(peer, *k)] for k in shared) / sum(
                seconds[("winnow", *k)] for k in shared
            )
    return ratios


# ---------------------------------------------------------------------------------------------- output
def cell(value: Any, form: str) -> str:
    return "-" if value is None else format(value, form)


def print_table(section: Section, summary: dict[str, Any]) -> None:
    print(f"\n### {section.title}\n")
    print(
        f"| method | rate | {section.kept_label} | lp | recovered | accuracy | achieved rate "
        "| s/1k tok | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in summary["rows"]:
        print(
            f"| {row['method']} | {cell(row['rate'], '.2f')} | {cell(row.get('kept'), '.3f')} "
            f"| {cell(row.get('lp'), '.3f')} | {cell(row.get('recovered'), '.3f')} "
            f"| {cell(row.get('accuracy'), '.3f')} | {cell(row.get('achieved_mean'), '.3f')} "
            f"| {cell(row.get('s_per_1k_median'), '.3f')} | {row['errors']} |"
        )
    print_notes(summary)


def gap_line(entry: dict[str, Any]) -> str:
    """One `gaps` entry as a sentence."""
    return (
        f"recovered, {entry['method']} minus {entry['baseline']} at rate {entry['rate']:.2f}: "
        f"{entry['gap']:+.3f}, 95% paired bootstrap interval [{entry['low']:+.3f}, {entry['high']:+.3f}] "
        f"over {entry['cases']} cases"
    )


def print_notes(summary: dict[str, Any]) -> None:
    for row in summary["rows"]:
        if row.get("over_budget") or row.get("under_95"):
            print(
                f"\n{row['method']} at rate {row['rate']}: {row['over_budget']} cases over its target, "
                f"{row['under_95']} under 95% of it"
            )
        if row.get("count_mismatch"):
            print(
                f"\nnote: {row['method']} at rate {row['rate']} reported a token count other than the "
                f"benchmark's in {row['count_mismatch']} cases"
            )
    for entry in summary.get("gaps", []):
        print(f"\n{gap_line(entry)}")
    for entry in summary["ratios"]:
        parts = [
            f"winnow / one forward pass {entry['winnow_over_forward']:.2f}x (goal with a question: <= 0.5)"
        ]
        parts += [
            f"{peer} / winnow {entry[f'{peer}_over_winnow']:.2f}x"
            for peer in sorted(PEERS)
            if f"{peer}_over_winnow" in entry
        ]
        print(f"\nrate {entry['rate']:.2f}: " + "; ".join(parts) + " (medians of per-case time ratios)")
    speed = summary.get("throughput")
    if speed:
        loop = speed["loop"]
        print(
            f"\nwinnow throughput at rate {loop['rate']}: one Compressor in a loop over {loop['cases']} "
            f"cases, {cell(loop['tokens_per_s'], '.0f')} tokens/s ({loop['tokens']} tokens in "
            f"{loop['seconds']:.1f} s, {loop['errors']} errors); batch (run_many): "
            + (f"{speed['batch']['tokens_per_s']:.0f} tokens/s" if speed["batch"] else "none")
        )
    timing = summary["timing"]
    print(
        f"\nsection wall time {timing['seconds']:.0f} s, {timing['seconds_per_case']:.1f} s per case "
        f"(reader {timing['reader_seconds_per_case']:.1f} s of it)"
    )


def rates_list(values: Sequence[float]) -> list[float]:
    for rate in values:
        if not 0 < rate <= 1:
            raise argparse.ArgumentTypeError(f"rates must be in (0, 1], not {rate}")
    return list(values)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--languages", nargs="+", choices=LANGUAGES, default=list(LANGUAGES))
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.33, 0.2], help="add 0.1 if wanted")
    parser.add_argument("--peer-rates", type=float, nargs="+", help="rates for the llmlingua methods (all)")
    for key, cases, per in (
        ("nq10", 100, ""),
        ("nq1", 100, ""),
        ("gsm8k", 20, ""),
        ("xquad", 30, " per language"),
        ("agnostic", 50, ": NQ, and XQuAD per language"),
    ):
        parser.add_argument(f"--{key}-cases", type=int, default=cases, help=f"{key} cases{per}")
        parser.add_argument(f"--{key}-offset", type=int, default=0, help=f"{key}: the first record (or draw)")
    parser.add_argument(
        "--agnostic-windows",
        type=int,
        default=24,
        help="agnostic XQuAD: articles (one window each) per language",
    )
    parser.add_argument(
        "--agnostic-window-offset", type=int, default=0, help="agnostic XQuAD: the first article"
    )
    parser.add_argument("--gsm8k-rates", type=float, nargs="+", default=[0.5])
    parser.add_argument("--gsm8k-input", choices=["documents", "text"], default="documents")
    parser.add_argument("--xquad-window", choices=["following", "seeded"], default="seeded")
    parser.add_argument("--xquad-articles", type=int, nargs=2, default=(24, 48), metavar=("FROM", "TO"))
    parser.add_argument("--max-new-tokens", type=int, default=24, help="the reader's greedy answer length")
    parser.add_argument("--no-throughput", action="store_true", help="skip the winnow throughput loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="for every model: cpu (default), cuda, ...")
    parser.add_argument("--json", type=Path, help="write the summaries and per-case outcomes here")
    return parser.parse_args()


def build_sections(args: argparse.Namespace, rates: list[float]) -> list[Section]:
    chosen = set(args.sections)
    plain = [name for name in args.methods if name != "longllmlingua"]  # no question to compress with
    nq = read_jsonl(args.data_dir / NQ) if chosen & {"nq10", "nq1", "agnostic"} else []
    xquad = read_jsonl(args.data_dir / XQUAD) if chosen & {"xquad", "agnostic"} else []
    out: list[Section] = []

    def qa(
        key: str,
        title: str,
        cases: list[Case],
        methods: list[str],
        kept: str = "answer kept",
        generate: bool = True,
    ) -> None:
        if cases:
            out.append(Section(key, title, cases, rates, methods, answer_score, kept, QA_ASK, generate))

    if "nq10" in chosen:
        qa("nq10", "NQ, 10 passages", nq_ten(nq, args.nq10_cases, args.nq10_offset, args.seed), args.methods)
    if "nq1" in chosen:
        qa("nq1", "NQ, gold passage alone", nq_one(nq, args.nq1_cases, args.nq1_offset), args.methods)
    if "gsm8k" in chosen and args.gsm8k_cases:
        records = read_jsonl(args.data_dir / GSM8K)
        gsm = gsm8k_cases(records, args.gsm8k_cases, args.gsm8k_offset, args.seed, args.gsm8k_input == "text")
        out.append(
            Section(
                "gsm8k",
                "GSM8K, 8 demos, no question",
                gsm,
                rates_list(args.gsm8k_rates),
                plain,
                number_score,
                "numbers kept",
                GSM8K_ASK,
                False,
            )
        )
    for language in args.languages if "xquad" in chosen else []:
        cases = xquad_cases(
            xquad,
            language,
            args.xquad_cases,
            args.xquad_offset,
            args.seed,
            args.xquad_window,
            args.xquad_articles,
        )
        qa("xquad", f"XQuAD {language}, up to 4 paragraphs", cases, args.methods)
    if "agnostic" in chosen:
        qa(
            "agnostic",
            "NQ, gold passage alone, no question",
            agnostic(nq_one(nq, args.agnostic_cases, args.agnostic_offset)),
            plain,
        )
        for language in args.languages:
            windows = xquad_windows(
                xquad,
                language,
                args.agnostic_windows,
                args.agnostic_window_offset,
                args.seed,
                args.xquad_articles,
            )
            title = f"XQuAD {language}, 4 paragraphs, no question, every question read"
            qa("agnostic", title, windows, plain, kept="answers kept", generate=False)
    return out


def run_all(args: argparse.Namespace, sections: list[Section], peer_rates: set[float]) -> dict[str, Any]:
    _, tokenizer = load_causal_lm(dtype=reader_dtype(), device=args.device)
    tokens = Tokens(tokenizer)
    reader = Reader(args.device, args.max_new_tokens)
    report: dict[str, Any] = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    }
    nq_outcomes: list[tuple[str, Outcome]] = []
    for number, section in enumerate(sections):
        prepare(section.cases, tokens)
        lengths = [case.tokens for case in section.cases]
        print(
            f"\n{section.title}: {len(section.cases)} cases, {min(lengths)}-{max(lengths)} tokens (mean "
            f"{statistics.fmean(lengths):.0f}); rates {', '.join(map(str, section.rates))}",
            flush=True,
        )
        methods = build_methods(section.methods, tokens, args.seed, number, args.device)
        started = time.perf_counter()
        outcomes, forward = run_section(section, methods, peer_rates, tokens, reader, args.device)
        seconds = time.perf_counter() - started
        summary = summarise(outcomes, forward, section.cases)
        summary["throughput"] = throughput(section, args.no_throughput)
        summary["timing"] = {
            "seconds": seconds,
            "seconds_per_case": seconds / len(section.cases),
            "reader_seconds_per_case": sum(o.reader_seconds for o in outcomes) / len(section.cases),
        }
        print_table(section, summary)
        report[section.title] = summary | {
            "section": section.key,
            "outcomes": [asdict(o) for o in outcomes],
            "forward_seconds": forward,
        }
        if section.key in ("nq10", "nq1"):
            nq_outcomes += [(section.title, o) for o in outcomes]
    overall = total_time_ratios(nq_outcomes)
    if overall:
        report["nq_total_time_ratios"] = overall
        print(
            "\nAll NQ cases together (total seconds over the cases and rates both ran): "
            + "; ".join(f"{peer} / winnow {ratio:.2f}x" for peer, ratio in overall.items())
        )
    return report


def main() -> None:
    args = parse_args()
    rates = rates_list(args.rates)
    if PEERS & set(args.methods) and importlib.util.find_spec("llmlingua") is None:
        print("llmlingua, longllmlingua: unavailable (pip install llmlingua==0.2.2), skipped")
        args.methods = [name for name in args.methods if name not in PEERS]
    peer_rates = set(rates_list(args.peer_rates)) if args.peer_rates else set(rates) | set(args.gsm8k_rates)

    configure_threads()
    from transformers.utils import logging

    logging.disable_progress_bar()
    sections = build_sections(args, rates)
    print(
        f"torch threads {torch.get_num_threads()}; methods {', '.join(args.methods)}; "
        f"peers at rates {', '.join(map(str, sorted(peer_rates, reverse=True)))}; seed {args.seed}; "
        f"device {args.device}; reader dtype {reader_dtype()}"
    )
    report = run_all(args, sections, peer_rates)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
