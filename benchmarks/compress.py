"""Prompt compression side by side: winnow vs truncation, random word drop, LLMLingua and LongLLMLingua.

All methods run in one process on the same cases, interleaved case by case, with the same SmolLM2-135M (bf16)
for winnow and llmlingua 0.2.2 (offline through `benchmarks/llmlingua_shims.py`).

NaturalQuestions-open (../shared/data/nq_open_oracle.jsonl.gz), case i = record i's question:
- 10 passages: record i's gold passage and 9 other records' gold passages (seeded), the gold at position
  i % 10, each document "title\\ntext", at each of `--rates` (0.5, 0.33, 0.2, 0.1);
- 1 passage: the gold passage alone (one text) with the question, at rate 0.5.
Methods: `winnow` (`Compressor().compress(documents, rate=r, question=q)`), `truncation` (the first
floor(r * n) tokens), `random` (seeded random whole words dropped down to the budget), `llmlingua`
(`compress_prompt(documents, rate=r)`, no question) and `longllmlingua` (the README's LongLLMLingua
settings, with the question; the question it appends to its output is removed before scoring). The peers run
only at `--peer-rates` (default: every rate).

Scored on the context only, tokens counted with the SmolLM2 tokenizer (no special tokens): answer kept (the
share of cases where a gold answer, lowercased, punctuation removed, whitespace collapsed, is a substring of
the equally normalised output), achieved rate (output tokens / original tokens: mean and max), seconds per
1,000 original tokens (wall time of the call: median over cases, and total), winnow's budget (cases over its
`target_tokens`, cases under 95% of it) and calls that raised. `original` is the uncompressed context
(answer presence; about 1.0). Each case also times one forward pass of the scorer (SmolLM2 bf16,
`model(input_ids)` over the whole context, windows of 1024 batched) for the winnow / forward ratio. Time
ratios are medians of per-case ratios; after the tables, each peer's total seconds over every NQ case and
rate it ran, divided by winnow's over the same.

GSM8K (../shared/data/gsm8k_test.jsonl.gz): per case 8 seeded worked solutions "Question: ...\\nAnswer: ..."
(calculator annotations <<...>> removed) as few-shot demos, compressed at rate 0.5 without a question (as
documents, or one text with `--gsm8k-input text`): the share of number occurrences kept (multiset of
`\\d+(?:[.,]\\d+)*`; mean over cases). LongLLMLingua needs a question and does not run there.

    python benchmarks/compress.py [--cases 100] [--rates 0.5 0.33 0.2 0.1] [--methods winnow llmlingua ...]
                                  [--peer-rates 0.5] [--gsm8k-cases 20] [--seed 0] [--json results.json]

Needs llmlingua==0.2.2 (the bench extra) for the llmlingua methods (without it they print `unavailable`).
`--device` (default cpu) places every model. `WINNOW_TORCH_THREADS` sets torch's threads (on a busy machine
1 thread avoids oversubscription stalls). The machine may be shared: compare methods within one run.
"""

from __future__ import annotations

import argparse
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pipeline.models import causal_lm_path, configure_threads, load_causal_lm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NQ = "nq_open_oracle.jsonl.gz"
GSM8K = "gsm8k_test.jsonl.gz"
METHODS = ("winnow", "truncation", "random", "llmlingua", "longllmlingua")
PEERS = frozenset({"llmlingua", "longllmlingua"})
#: the LongLLMLingua settings of the llmlingua README (with `question` and `rate` per call)
LONGLLMLINGUA = {
    "rank_method": "longllmlingua",
    "condition_in_question": "after_condition",
    "reorder_context": "sort",
    "dynamic_context_compression_ratio": 0.3,
    "condition_compare": True,
    "context_budget": "+100",
}
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
CALCULATOR = re.compile(r"<<[^>]*>>")
WORD = re.compile(r"\s*\S+")
WINDOW = 1024


@dataclass
class Case:
    """One compression input: `prompt` goes to winnow as is; the peers get `documents`; `text` is scored."""

    index: int
    prompt: str | list[str]
    documents: list[str]
    question: str | None
    answers: list[str]
    text: str = ""
    ids: list[int] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return len(self.ids)


@dataclass
class Outcome:
    """What one method did on one case at one rate."""

    method: str
    rate: float
    case: int
    seconds: float
    original_tokens: int
    tokens: int = 0
    kept: float | None = None  # answer kept (0/1) or share of numbers kept
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


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        sys.exit(f"{path} is missing (the shared evaluation data sits beside the checkout: --data-dir)")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def passage(record: dict[str, Any]) -> str:
    gold = record["ctxs"][0]
    return f"{gold['title']}\n{gold['text']}"


def nq_cases(records: list[dict[str, Any]], cases: int, seed: int) -> tuple[list[Case], list[Case]]:
    """(10-passage cases, single-passage cases) for records 0 .. cases - 1."""
    rng = np.random.default_rng(seed)
    ten, one = [], []
    for i in range(cases):
        record = records[i]
        others = rng.choice(np.delete(np.arange(len(records)), i), size=9, replace=False)
        documents = [passage(records[j]) for j in others]
        documents.insert(i % 10, passage(record))
        ten.append(Case(i, documents, documents, record["question"], record["answers"]))
        gold = passage(record)
        one.append(Case(i, gold, [gold], record["question"], record["answers"]))
    return ten, one


def gsm8k_cases(records: list[dict[str, Any]], cases: int, seed: int, as_text: bool) -> list[Case]:
    """Each case: 8 seeded worked solutions as few-shot demos, no question."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(cases):
        picked = rng.choice(len(records), size=8, replace=False)
        demos = [
            f"Question: {records[j]['question']}\nAnswer: {CALCULATOR.sub('', records[j]['answer'])}"
            for j in picked
        ]
        out.append(Case(i, "\n\n".join(demos) if as_text else demos, demos, None, []))
    return out


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


def winnow(compressor: Any) -> Run:
    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        result = compressor.compress(case.prompt, rate=rate, question=case.question)
        return result.text, {"target": result.target_tokens, "reported": result.compressed_tokens}

    return run


def llmlingua(compressor: Any) -> Run:
    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        return compressor.compress_prompt(case.documents, rate=rate)["compressed_prompt"], {}

    return run


def longllmlingua(compressor: Any) -> Run:
    def run(case: Case, rate: float) -> tuple[str, dict[str, Any]]:
        if not case.question:
            raise ValueError("LongLLMLingua needs a question")
        text = compressor.compress_prompt(case.documents, question=case.question, rate=rate, **LONGLLMLINGUA)[
            "compressed_prompt"
        ]
        # it appends "\n\n" + question to the compressed context (concate_question=True, the default)
        if text == case.question:
            return "", {}
        suffix = "\n\n" + case.question
        if not text.endswith(suffix):
            raise ValueError("LongLLMLingua's output does not end with the question")
        return text[: -len(suffix)], {}

    return run


def build_methods(
    names: Sequence[str], tokens: Tokens, seed: int, section: int, device: str
) -> dict[str, Run]:
    """The runs of `names`; models come from `load_models` (cached), so sections share them."""
    models = load_models(tuple(names), device)
    makers: dict[str, Callable[[], Run]] = {
        "winnow": lambda: winnow(models["winnow"]),
        "truncation": lambda: truncation(tokens),
        "random": lambda: random_drop(tokens, seed, section),
        "llmlingua": lambda: llmlingua(models["llmlingua"]),
        "longllmlingua": lambda: longllmlingua(models["llmlingua"]),
    }
    return {name: makers[name]() for name in names}


_MODELS: dict[str, Any] = {}


def load_models(names: tuple[str, ...], device: str) -> dict[str, Any]:
    if "winnow" in names and "winnow" not in _MODELS:
        from prompts.compress import Compressor

        _MODELS["winnow"] = Compressor(device=device)
    if PEERS & set(names) and "llmlingua" not in _MODELS:
        from llmlingua_shims import prompt_compressor  # beside this script

        _MODELS["llmlingua"] = prompt_compressor(causal_lm_path(), dtype=torch.bfloat16, device=device)
    return _MODELS


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
        model(input_ids=batch, attention_mask=mask if len(rows) > 1 else None)
        if batch.is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start


def measure(
    name: str, run: Run, case: Case, rate: float, tokens: Tokens, score: Callable[[Case, str], float]
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
    outcome.kept = score(case, text)
    if "target" in extra:
        outcome.target, outcome.reported = extra["target"], extra["reported"]
        outcome.over = outcome.tokens > outcome.target or extra["reported"] > outcome.target
        outcome.under = outcome.tokens < 0.95 * outcome.target
    return outcome


def run_section(
    cases: list[Case],
    rates: Sequence[float],
    methods: dict[str, Run],
    peer_rates: set[float],
    tokens: Tokens,
    score: Callable[[Case, str], float],
    device: str,
) -> tuple[list[Outcome], list[float]]:
    """Every method at every rate on every case, interleaved case by case; and the forward-pass times."""
    model, tokenizer = load_causal_lm(device=device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    forward_seconds(model, cases[0].ids, pad_id, device)  # warm up
    for name, run in methods.items():  # load models, warm up kernels (not timed)
        rate = rates[0]
        if name not in PEERS or rate in peer_rates:
            measure(name, run, cases[0], rate, tokens, score)
    outcomes: list[Outcome] = []
    forward: list[float] = []
    started = time.perf_counter()
    for number, case in enumerate(cases, 1):
        outcomes.append(
            Outcome("original", 1.0, case.index, 0.0, case.tokens, case.tokens, score(case, case.text))
        )
        forward.append(forward_seconds(model, case.ids, pad_id, device))
        for rate in rates:
            for name, run in methods.items():
                if name in PEERS and rate not in peer_rates:
                    continue
                outcomes.append(measure(name, run, case, rate, tokens, score))
        if number % 10 == 0 or number == len(cases):
            elapsed = time.perf_counter() - started
            print(f"  {number}/{len(cases)} cases, {elapsed:.0f} s", file=sys.stderr, flush=True)
    return outcomes, forward


def summarise(outcomes: list[Outcome], forward: list[float], cases: list[Case]) -> dict[str, Any]:
    """Per (method, rate): the metrics; and the time ratios (medians of per-case ratios)."""
    rows: list[dict[str, Any]] = []
    groups: dict[tuple[str, float], list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault((outcome.method, outcome.rate), []).append(outcome)
    for (method, rate), group in groups.items():
        done = [o for o in group if o.error is None]
        row: dict[str, Any] = {
            "method": method,
            "rate": rate,
            "cases": len(group),
            "errors": len(group) - len(done),
        }
        if done and method == "original":
            row["kept"] = statistics.fmean(o.kept for o in done if o.kept is not None)
        elif done:
            achieved = [o.tokens / o.original_tokens for o in done]
            per_1k = [1000 * o.seconds / o.original_tokens for o in done]
            row |= {
                "kept": statistics.fmean(o.kept for o in done if o.kept is not None),
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
    return {"rows": rows, "ratios": time_ratios(groups, forward, cases)}


def time_ratios(
    groups: dict[tuple[str, float], list[Outcome]], forward: list[float], cases: list[Case]
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


def print_table(title: str, summary: dict[str, Any], kept_label: str) -> None:
    print(f"\n### {title}\n")
    print(
        f"| method | rate | {kept_label} | achieved mean | achieved max | s/1k tok (median) "
        "| s/1k tok (total) | over budget | under 95% | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in summary["rows"]:
        print(
            f"| {row['method']} | {cell(row['rate'], '.2f')} | {cell(row.get('kept'), '.3f')} "
            f"| {cell(row.get('achieved_mean'), '.3f')} | {cell(row.get('achieved_max'), '.3f')} "
            f"| {cell(row.get('s_per_1k_median'), '.3f')} | {cell(row.get('s_per_1k_total'), '.3f')} "
            f"| {cell(row.get('over_budget'), 'd')} | {cell(row.get('under_95'), 'd')} | {row['errors']} |"
        )
    for row in summary["rows"]:
        if row.get("count_mismatch"):
            print(
                f"\nnote: {row['method']} at rate {row['rate']} reported a token count other than the "
                f"benchmark's in {row['count_mismatch']} cases"
            )
    for entry in summary["ratios"]:
        parts = [f"winnow / one forward pass {entry['winnow_over_forward']:.2f}x (target <= 1.5)"]
        parts += [
            f"{peer} / winnow {entry[f'{peer}_over_winnow']:.2f}x"
            + (" (target >= 3)" if peer == "longllmlingua" else "")
            for peer in sorted(PEERS)
            if f"{peer}_over_winnow" in entry
        ]
        print(f"\nrate {entry['rate']:.2f}: " + "; ".join(parts) + " (medians of per-case time ratios)")


def rates_list(values: Sequence[float]) -> list[float]:
    for rate in values:
        if not 0 < rate <= 1:
            raise argparse.ArgumentTypeError(f"rates must be in (0, 1], not {rate}")
    return list(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--cases", type=int, default=100, help="NaturalQuestions cases (0 skips)")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.5, 0.33, 0.2, 0.1])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--peer-rates", type=float, nargs="+", help="rates for the llmlingua methods (all)")
    parser.add_argument("--single-rate", type=float, default=0.5, help="rate of the single-passage cases")
    parser.add_argument("--gsm8k-cases", type=int, default=20, help="GSM8K cases (0 skips)")
    parser.add_argument("--gsm8k-rate", type=float, default=0.5)
    parser.add_argument("--gsm8k-input", choices=["documents", "text"], default="documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="for every model: cpu (default), cuda, ...")
    parser.add_argument("--json", type=Path, help="write the summaries and per-case outcomes here")
    args = parser.parse_args()
    rates = rates_list(args.rates)
    if PEERS & set(args.methods) and importlib.util.find_spec("llmlingua") is None:
        print("llmlingua, longllmlingua: unavailable (pip install llmlingua==0.2.2), skipped")
        args.methods = [name for name in args.methods if name not in PEERS]
    peer_rates = (
        set(rates_list(args.peer_rates))
        if args.peer_rates
        else set(rates) | {args.single_rate, args.gsm8k_rate}
    )

    configure_threads()
    from transformers.utils import logging

    logging.disable_progress_bar()
    _, tokenizer = load_causal_lm(device=args.device)
    tokens = Tokens(tokenizer)
    print(
        f"torch threads {torch.get_num_threads()}; methods {', '.join(args.methods)}; "
        f"peers at rates {', '.join(map(str, sorted(peer_rates, reverse=True)))}; seed {args.seed}; "
        f"device {args.device}"
    )

    def answer_score(case: Case, text: str) -> float:
        return answer_kept(text, case.answers)

    def number_score(case: Case, text: str) -> float:
        kept, total = numbers_kept(case.text, text)
        return kept / total if total else 1.0

    sections: list[tuple[str, list[Case], list[float], list[str], Callable[[Case, str], float], str]] = []
    if args.cases:
        ten, one = nq_cases(read_jsonl(args.data_dir / NQ), args.cases, args.seed)
        sections.append(("NQ, 10 passages", ten, rates, args.methods, answer_score, "answer kept"))
        sections.append(
            ("NQ, gold passage alone", one, [args.single_rate], args.methods, answer_score, "answer kept")
        )
    if args.gsm8k_cases:
        gsm = gsm8k_cases(
            read_jsonl(args.data_dir / GSM8K), args.gsm8k_cases, args.seed, args.gsm8k_input == "text"
        )
        gsm_methods = [name for name in args.methods if name != "longllmlingua"]
        sections.append(
            ("GSM8K, 8 demos, no question", gsm, [args.gsm8k_rate], gsm_methods, number_score, "numbers kept")
        )

    report: dict[str, Any] = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    }
    nq_outcomes: list[tuple[str, Outcome]] = []
    for number, (title, cases, section_rates, names, score, kept_label) in enumerate(sections):
        prepare(cases, tokens)
        lengths = [case.tokens for case in cases]
        print(
            f"\n{title}: {len(cases)} cases, {min(lengths)}-{max(lengths)} tokens (mean "
            f"{statistics.fmean(lengths):.0f}); rates {', '.join(map(str, section_rates))}",
            flush=True,
        )
        methods = build_methods(names, tokens, args.seed, number, args.device)
        outcomes, forward = run_section(cases, section_rates, methods, peer_rates, tokens, score, args.device)
        summary = summarise(outcomes, forward, cases)
        print_table(title, summary, kept_label)
        report[title] = summary | {
            "outcomes": [asdict(o) for o in outcomes],
            "forward_seconds": forward,
        }
        if title.startswith("NQ"):
            nq_outcomes += [(title, o) for o in outcomes]
    overall = total_time_ratios(nq_outcomes)
    if overall:
        report["nq_total_time_ratios"] = overall
        print(
            "\nAll NQ cases together (total seconds over the cases and rates both ran): "
            + "; ".join(f"{peer} / winnow {ratio:.2f}x" for peer, ratio in overall.items())
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
