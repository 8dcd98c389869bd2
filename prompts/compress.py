"""Prompt compression to a token budget: question-aware chunk ranking, then word-level surprisal.

Coarse to fine, as LongLLMLingua, but with one cheap pass per level:
1. The prompt is split into words, grouped into chunks (documents, paragraphs or sentences) and sentences.
2. With a question, chunks are ranked by relevance (MiniLM cosine similarity by default, or the small LM's
   likelihood of the question given the chunk); the budget goes to chunks by rank, so the most relevant are
   kept whole and the least relevant dropped whole.
3. Inside the chunk where the budget runs out, the small causal LM (SmolLM2-135M by default) reads the
   question, the chunk and an answer cue: one batched forward pass over that chunk only, in overlapping
   windows when it is long. It gives every token's surprisal conditioned on the question, and the answer
   attention (`prompts.attention`). The likeliest answers go first, most attended first: the few name and
   number runs ("Robert E. Lee", "May 18, 2018") the LM attends to most when about to answer, of the kind
   the question asks for (numbers, dates and spelled-out numbers for "when" and "how many", names for "who"
   and "where"), leaving out runs that only repeat the question's words. Then whole sentences by relevance.
4. In the sentence where the budget runs out (without a question: in the whole prompt), numbers go first,
   then names (with a question they rank with numbers: most answers are one or the other), each run as a
   whole, then the other words by surprisal. Whole words only.
5. The budget is met exactly in the target tokenizer: the longest prefix of that priority order whose
   rendered text fits `target_tokens` is found by bisection, then topped up word by word. The result never
   exceeds the target.

Protected parts are always kept: `<winnow-keep>` spans, fenced code, `keep` regex matches, and chat
messages whose role is not compressed.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pipeline.models import causal_lm_path, load_causal_lm, load_tokenizer
from prompts.attention import default_heads
from prompts.ranking import RankBy, embedding_relevance, lm_relevance, rank_order
from prompts.render import kept_spans, render
from prompts.result import CompressionError, CompressionResult, KeptSpan
from prompts.segments import ParsedPrompt, parse_prompt
from prompts.surprisal import surprisal
from prompts.words import KEY, ChunkBy, Words, split_words

__all__ = [
    "CompressionError",
    "CompressionResult",
    "Compressor",
    "KeptSpan",
    "compress",
    "default_compressor",
]

PromptInput = str | Sequence[str] | Sequence[dict[str, Any]]
#: words tried one by one after bisection, to get as close to the target as possible
TOP_UP_TRIES = 64
#: name and number runs kept first, by answer attention, in the chunk where the budget runs out
LIKELY_ANSWERS = 4
#: questions answered by a number or a date, and by a name (a person, a place, an organisation)
NUMBER_QUESTION = re.compile(
    r"\b(?:when|how (?:many|much|long|old|far|big|tall|high|often|fast|large)|"
    r"what (?:year|percentage|percent|number|age|time|day)|which year|in what year|date)\b"
)
NAME_QUESTION = re.compile(
    r"\b(?:who|whom|whose|where|which (?:country|city|state|team|company|person|player|band|club))\b"
)
#: spelled-out numbers, answer candidates for a number question ("hosted the Games on two occasions")
NUMBER_WORDS = frozenset(
    {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
    | {"thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty"}
    | {"forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million", "billion"}
    | {"trillion", "dozen", "once", "twice"}
)


class Compressor:
    """Loads its models once; `compress` many prompts with it (servers, batch flows).

    `model`: the scorer, None/"smollm2" (packaged SmolLM2-135M) or a local Hugging Face causal-LM folder;
    `tokenizer`: the target model's tokenizer folder that the budget is counted in (default: the scorer's);
    `embedder`: the sentence-transformers folder for ranking (default: packaged all-MiniLM-L6-v2);
    `rank_by`: `embedding`, `lm` or `both` (see `prompts.ranking`); `device`: "auto" = CUDA when present;
    `answer_heads`: the scorer's (layer, head) pairs read for answer attention (default: see
    `prompts.attention`).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        tokenizer: str | Path | None = None,
        embedder: str | Path | None = None,
        rank_by: RankBy = "embedding",
        dtype: Literal["bfloat16", "float32"] = "bfloat16",
        device: str = "auto",
        window: int = 1024,
        batch_size: int = 8,
        answer_heads: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        if rank_by not in ("embedding", "lm", "both"):
            raise CompressionError(f"rank_by must be 'embedding', 'lm' or 'both', not {rank_by!r}")
        if window < 64:
            raise CompressionError(f"window must be at least 64 tokens, not {window}")
        self.model = model
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.rank_by = rank_by
        self.dtype = dtype
        self.device = device
        self.window = window
        self.batch_size = batch_size
        self.answer_heads = answer_heads

    def _device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def scorer(self) -> tuple[Any, Any]:
        """`(model, tokenizer)` of the scoring LM (loaded once per process)."""
        return load_causal_lm(self.model, dtype=self.dtype, device=self._device())

    def target_tokenizer(self) -> Any:
        """The tokenizer the budget is counted in."""
        return load_tokenizer(
            str(self.tokenizer) if self.tokenizer is not None else str(causal_lm_path(self.model))
        )

    def count(self, text: str) -> int:
        """Tokens of `text` in the target tokenizer (no special tokens)."""
        if not text:
            return 0
        return len(self.target_tokenizer()(text, add_special_tokens=False)["input_ids"])

    def compress(
        self,
        prompt: PromptInput,
        *,
        rate: float | None = None,
        target_tokens: int | None = None,
        question: str | None = None,
        keep: Sequence[str] = (),
        keep_numbers: bool = True,
        keep_newlines: bool = False,
        chunk_by: ChunkBy = "auto",
        reorder: bool = False,
        roles: Sequence[str] | None = None,
    ) -> CompressionResult:
        """Compress `prompt` (text, a list of documents, or chat messages) to `rate` or `target_tokens`."""
        began = time.perf_counter()
        _check_budget(rate, target_tokens)
        if chunk_by not in ("auto", "documents", "paragraphs", "sentences"):
            raise CompressionError(
                f"chunk_by must be auto, documents, paragraphs or sentences, not {chunk_by!r}"
            )
        if question is not None and not question.strip():
            question = None
        patterns = _compile(keep)
        parsed = parse_prompt(prompt, roles)
        original = self._measure(parsed, [segment.text for segment in parsed.segments])
        target = target_tokens if target_tokens is not None else math.floor(rate * original)  # type: ignore[operator]
        if target >= original:
            note = f"the target ({target} tokens) is not below the prompt's {original}: returned unchanged"
            texts = [s.text for s in parsed.segments]
            return self._result(parsed, texts, original, original, target, began, note=note)
        if target < 1:
            raise CompressionError(f"a rate of {rate} leaves no token of this {original}-token prompt")
        words = split_words(parsed.segments, chunk_by, parsed.kind, patterns)
        order, unit, chunk_ranking = self._priority(parsed, words, target, question, keep_numbers)
        chunk_order = chunk_ranking if reorder and chunk_ranking is not None else None

        def measure(kept: np.ndarray) -> tuple[int, list[str]]:
            texts = render(parsed.segments, words, kept, keep_newlines=keep_newlines, chunk_order=chunk_order)
            return self._measure(parsed, texts, order=chunk_order, words=words), texts

        kept, texts, used = fit(order, unit, int(words.protected.sum()), target, measure)
        if used > target:
            raise CompressionError(
                f"the protected parts (keep patterns, verbatim spans, uncompressed roles) alone take {used} "
                f"tokens, over the target of {target}"
            )
        result = self._result(parsed, texts, original, used, target, began, order=chunk_order, words=words)
        result.kept_spans = kept_spans(words, kept)
        if chunk_ranking is not None:
            # documents are reported by their index in the input list
            owner = words.segment[np.searchsorted(words.chunk, chunk_ranking)]
            result.chunk_ranking = (owner if parsed.kind == "documents" else chunk_ranking).tolist()
        if not result.text.strip():
            result.note = "no whole word fits the target: the result is empty"
        return result

    def _priority(
        self, parsed: ParsedPrompt, words: Words, target: int, question: str | None, keep_numbers: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Word indices in the order they are kept: protected, then by chunk rank; in the chunk where the
        budget runs out the likeliest answers, then by sentence rank, numbers and names first, higher
        surprisal first, earlier first."""
        n = len(words)
        costs = self._costs(parsed, words)
        free = ~words.protected
        chunk_rank = np.zeros(n, dtype=np.int64)
        sentence_rank = np.zeros(n, dtype=np.int64)
        ranking = None
        scored = free.copy()
        budget = target - int(costs[words.protected].sum())
        chunks = np.unique(words.chunk[free])
        if question is not None and len(chunks) > 1:
            ranking = chunks[
                self._rank_values([_text_of(parsed, words, words.chunk == c) for c in chunks], question)
            ]
            position = np.empty(int(words.chunk.max()) + 1, dtype=np.int64)
            position[ranking] = np.arange(len(ranking))
            chunk_rank = position[words.chunk]
            # chunks are kept whole by rank; the one where the budget runs out is compressed further
            spent = np.cumsum([costs[free & (words.chunk == c)].sum() for c in ranking])
            at = min(int(np.searchsorted(spent, budget, side="right")), len(ranking) - 1)
            scored = free & (words.chunk == ranking[at])
        sentences = np.unique(words.sentence[scored])
        if question is not None and len(sentences) > 1:
            # inside that chunk whole sentences go by relevance; the one where the budget runs out loses words
            texts = [_text_of(parsed, words, words.sentence == s) for s in sentences]
            ranked = sentences[self._rank_values(texts, question)]
            position = np.zeros(int(words.sentence.max()) + 1, dtype=np.int64)
            position[ranked] = np.arange(len(ranked))
            sentence_rank = np.where(scored, position[words.sentence], 0)
        score, attention = self._word_scores(parsed, words, scored, question)
        salient, score, unit = _salient_runs(words, score, keep_numbers, question is not None)
        if question is not None:
            candidates = _answer_candidates(question, words, unit, scored, salient < 2)
            likely = _likely_answers(unit, attention, candidates, LIKELY_ANSWERS)
            sentence_rank = np.where(likely >= 0, likely - LIKELY_ANSWERS, sentence_rank)
        position_order = np.arange(n)
        order = np.lexsort((position_order, -score, salient, sentence_rank, chunk_rank, ~words.protected))
        return order, unit, ranking

    def _rank_values(self, texts: list[str], question: str) -> np.ndarray:
        scores = []
        if self.rank_by in ("embedding", "both"):
            scores.append(embedding_relevance(texts, question, model=self.embedder, device=self._device()))
        if self.rank_by in ("lm", "both"):
            lm, tokenizer = self.scorer()
            scores.append(lm_relevance(texts, question, lm, tokenizer, batch_size=self.batch_size))
        return rank_order(scores)

    def _word_scores(
        self, parsed: ParsedPrompt, words: Words, scored: np.ndarray, question: str | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Max token surprisal and answer attention (with a question) per word, for the `scored` words (0
        elsewhere); one forward pass per region."""
        surprisals = np.zeros(len(words), dtype=np.float64)
        attentions = np.zeros(len(words), dtype=np.float64)
        if not scored.any():
            return surprisals, attentions
        lm, tokenizer = self.scorer()
        regions = []  # (segment, first word, last word) of contiguous scored words
        for segment in np.unique(words.segment[scored]):
            rows = np.flatnonzero(scored & (words.segment == segment))
            regions.append((int(segment), int(rows[0]), int(rows[-1])))
        texts = [
            parsed.segments[seg].text[int(words.start[first]) : int(words.end[last])]
            for seg, first, last in regions
        ]
        heads = None
        if question is not None:
            heads = self.answer_heads or default_heads(lm.config, packaged=self.model in (None, "smollm2"))
            _check_heads(heads, lm.config)
        token_scores = surprisal(
            texts,
            lm,
            tokenizer,
            prefix=None if question is None else f"Question: {question}",
            heads=heads,
            window=self.window,
            batch_size=self.batch_size,
        )
        for (_, first, last), tokens in zip(regions, token_scores, strict=True):
            rows = np.arange(first, last + 1)
            base = int(words.start[first])
            owner = np.searchsorted(words.end[rows] - base, tokens.start, side="right")
            inside = owner < len(rows)
            for result, values in ((surprisals, tokens.surprisal), (attentions, tokens.attention)):
                per_word = np.zeros(len(rows))
                np.maximum.at(per_word, owner[inside], values[inside])
                result[rows] = np.where(scored[rows], per_word, 0.0)
        return surprisals, attentions

    def _costs(self, parsed: ParsedPrompt, words: Words) -> np.ndarray:
        """Estimated target-tokenizer tokens per word (tokens counted where they start)."""
        costs = np.zeros(len(words), dtype=np.int64)
        tokenizer = self.target_tokenizer()
        for index, segment in enumerate(parsed.segments):
            rows = np.flatnonzero(words.segment == index)
            if not len(rows):
                continue
            offsets = tokenizer(segment.text, add_special_tokens=False, return_offsets_mapping=True)[
                "offset_mapping"
            ]
            starts = np.array([start for start, _ in offsets], dtype=np.int64)
            owner = np.minimum(np.searchsorted(words.end[rows], starts, side="right"), len(rows) - 1)
            np.add.at(costs, rows[owner], 1)
        return np.maximum(costs, 1)

    def _measure(
        self,
        parsed: ParsedPrompt,
        texts: list[str],
        order: np.ndarray | None = None,
        words: Words | None = None,
    ) -> int:
        if parsed.kind == "chat":
            return sum(self.count(text) for text in texts)
        return self.count(self._join(parsed, texts, order, words))

    @staticmethod
    def _join(parsed: ParsedPrompt, texts: list[str], order: np.ndarray | None, words: Words | None) -> str:
        if order is not None and words is not None and parsed.kind == "documents":
            best = {}
            for rank, chunk in enumerate(order.tolist()):
                segment = int(words.segment[np.searchsorted(words.chunk, chunk)])
                best.setdefault(segment, rank)
            texts = [texts[s] for s in sorted(range(len(texts)), key=lambda s: best.get(s, len(best) + s))]
        return parsed.join(texts)

    def _result(
        self,
        parsed: ParsedPrompt,
        texts: list[str],
        original: int,
        compressed: int,
        target: int,
        began: float,
        *,
        note: str | None = None,
        order: np.ndarray | None = None,
        words: Words | None = None,
    ) -> CompressionResult:
        messages = None
        if parsed.kind == "chat":
            messages = [{**s.extra, "content": text} for s, text in zip(parsed.segments, texts, strict=True)]
            text = json.dumps(messages, ensure_ascii=False)
        else:
            text = self._join(parsed, texts, order, words)
        if note is not None:
            spans = [KeptSpan(i, 0, len(s.text)) for i, s in enumerate(parsed.segments) if s.text]
        else:
            spans = []
        return CompressionResult(
            text=text,
            original_tokens=original,
            compressed_tokens=compressed,
            target_tokens=target,
            ratio=compressed / original if original else 1.0,
            seconds=time.perf_counter() - began,
            kept_spans=spans,
            messages=messages,
            note=note,
        )


def _text_of(parsed: ParsedPrompt, words: Words, mask: np.ndarray) -> str:
    """The original text from the first to the last word of `mask` (words of one segment)."""
    rows = np.flatnonzero(mask)
    text = parsed.segments[int(words.segment[rows[0]])].text
    return text[int(words.start[rows[0]]) : int(words.end[rows[-1]])]


def _salient_runs(
    words: Words, score: np.ndarray, keep_numbers: bool, names_as_numbers: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tier (0 first), score and unit id per word: numbers (when kept) first, then names (with a question,
    as likely an answer as a number: same tier), then the rest. A name is a capitalised word inside a
    sentence, or a sentence's (or line's) first word followed by one. Consecutive numbers and names form
    one run ("Robert E. Lee", "May 18, 2018"), also across up to two connectors between names ("Edward IV
    of England", "Sleeping with the Past"), with its best score and one unit id, kept or dropped as a whole.
    A run stops at a line break, an opening bracket and a comma between a number and a name: "Jean Fernel |
    (1497-1558)", "On December 11, 1941, | Nazi Germany"."""
    n = len(words)
    same_sentence_next = np.append(words.sentence[1:] == words.sentence[:-1], False)
    # a line's first word starts a sentence here (the word after a heading line)
    first = np.insert(words.sentence[1:] != words.sentence[:-1], 0, True) | words.line_start
    next_capital = np.append(words.capital[1:], False) & same_sentence_next
    name = words.capital & (~first | next_capital)
    number = words.number & keep_numbers
    # a connector joins a run when the nearest non-connectors on both sides (at most two words away, same
    # sentence) are names
    index = np.arange(n)
    anchor = ~words.connector
    left = np.maximum.accumulate(np.where(anchor, index, -1))
    right = np.minimum.accumulate(np.where(anchor, index, n)[::-1])[::-1]
    inside = (left >= 0) & (right < n) & (right - left <= 3)
    left_c, right_c = np.clip(left, 0, n - 1), np.clip(right, 0, n - 1)
    joins = (
        words.connector
        & inside
        & name[left_c]
        & name[right_c]
        & (words.sentence[left_c] == words.sentence[right_c])
    )
    tier = np.where(number, 0, np.where(name | joins, int(not names_as_numbers), 2))
    salient = number | name | joins
    breaks = ~salient | first | words.boundary | np.insert(~salient[:-1], 0, True)
    run = np.cumsum(breaks)
    best = np.full(int(run.max()) + 1, -np.inf)
    np.maximum.at(best, run[salient], score[salient])
    run_tier = np.full(int(run.max()) + 1, 2)
    np.minimum.at(run_tier, run[salient], tier[salient])
    unit = np.where(salient, run, run.max() + 1 + index)
    return np.where(salient, run_tier[run], tier), np.where(salient, best[run], score), unit


def _check_heads(heads: Sequence[tuple[int, int]], config: Any) -> None:
    layers, per_layer = int(config.num_hidden_layers), int(config.num_attention_heads)
    wrong = [pair for pair in heads if not (0 <= pair[0] < layers and 0 <= pair[1] < per_layer)]
    if wrong:
        raise CompressionError(
            f"answer_heads {wrong} are outside the scorer's {layers} layers x {per_layer} heads"
        )


def answer_kind(question: str) -> Literal["number", "name", "any"]:
    """What the question asks for: a number or date ("when", "how many"), a name ("who", "where"), or any."""
    text = question.lower()
    number, name = NUMBER_QUESTION.search(text), NAME_QUESTION.search(text)
    # the first asking word decides: "who was president when the canal was built" asks for a name
    if number and not (name and name.start() < number.start()):
        return "number"
    return "name" if name else "any"


def _answer_candidates(
    question: str, words: Words, unit: np.ndarray, region: np.ndarray, salient: np.ndarray
) -> np.ndarray:
    """The name and number runs of the kind the question asks for (all runs when none is of that kind),
    spelled-out numbers included for a number question, less the runs that only repeat the question's
    words (in "who is tinker air force base named after", "Tinker Air Force Base" is not the answer)."""
    asked = set(KEY.findall(question.lower())) | {""}
    new = np.zeros(int(unit.max()) + 1, dtype=bool)
    np.logical_or.at(new, unit, ~np.isin(words.key, list(asked)) & ~words.connector)
    runs = region & salient & new[unit]
    kind = answer_kind(question)
    if kind == "any":
        return runs
    # a run can be both: "Apollo 11"
    numeric, named = np.zeros((2, int(unit.max()) + 1), dtype=bool)
    np.logical_or.at(numeric, unit[runs & words.number], True)
    np.logical_or.at(named, unit[runs & ~words.number & ~words.connector], True)
    if kind == "number":
        wanted = (runs & numeric[unit]) | (region & np.isin(words.key, list(NUMBER_WORDS)) & new[unit])
    else:
        wanted = runs & named[unit]
    return wanted if wanted.any() else runs


def _likely_answers(
    unit: np.ndarray, attention: np.ndarray, candidates: np.ndarray, count: int
) -> np.ndarray:
    """Per word, the rank (0 = most attended) of its unit among the `count` candidate units (name and
    number runs) with the highest answer attention; -1 for every other word."""
    if not candidates.any():
        return np.full(len(unit), -1, dtype=np.int64)
    best = np.zeros(int(unit.max()) + 1)
    np.maximum.at(best, unit[candidates], attention[candidates])
    units = np.unique(unit[candidates])
    top = units[np.argsort(-best[units], kind="stable")[:count]]
    place = np.full(int(unit.max()) + 1, -1, dtype=np.int64)
    place[top] = np.arange(len(top))
    return np.where(candidates, place[unit], -1)


def fit(
    order: np.ndarray,
    unit: np.ndarray,
    required: int,
    target: int,
    measure: Callable[[np.ndarray], tuple[int, list[str]]],
) -> tuple[np.ndarray, list[str], int]:
    """The kept-word mask from the longest prefix of `order` (at least its first `required` words) that fits
    `target`, topped up with later units that still fit. A prefix never splits a unit (words of `order` in a
    row with the same `unit` id: a name or a number run). Returns `(kept, texts, tokens)`; tokens > target
    only when the required words alone are over."""
    total = len(order)
    ordered_units = unit[order]
    cuts = np.flatnonzero(np.append(True, ordered_units[1:] != ordered_units[:-1]))
    cuts = np.append(cuts[cuts >= required], total)  # prefix lengths that end between units
    if required not in cuts:
        cuts = np.insert(cuts, 0, required)

    def prefix(k: int) -> np.ndarray:
        mask = np.zeros(total, dtype=bool)
        mask[order[:k]] = True
        return mask

    low, high = 0, len(cuts) - 1  # invariant: prefix(cuts[low]) fits (or is the required minimum)
    tokens, texts = measure(prefix(int(cuts[low])))
    if tokens > target:
        return prefix(int(cuts[low])), texts, tokens
    while low < high:
        middle = (low + high + 1) // 2
        count, candidate = measure(prefix(int(cuts[middle])))
        if count <= target:
            low, tokens, texts = middle, count, candidate
        else:
            high = middle - 1
    kept = prefix(int(cuts[low]))
    for first, end in zip(
        cuts[low : low + TOP_UP_TRIES], cuts[low + 1 : low + 1 + TOP_UP_TRIES], strict=False
    ):
        if tokens >= target:
            break
        rows = order[first:end]
        kept[rows] = True
        count, candidate = measure(kept)
        if count <= target:
            tokens, texts = count, candidate
        else:
            kept[rows] = False
    return kept, texts, tokens


def _check_budget(rate: float | None, target_tokens: int | None) -> None:
    if (rate is None) == (target_tokens is None):
        raise CompressionError("give exactly one of rate or target_tokens")
    if rate is not None and not (isinstance(rate, int | float) and 0 < rate <= 1):
        raise CompressionError(f"rate must be in (0, 1], not {rate}")
    if target_tokens is not None and (not isinstance(target_tokens, int) or target_tokens < 1):
        raise CompressionError(f"target_tokens must be a positive integer, not {target_tokens}")


def _compile(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    if isinstance(patterns, str):
        patterns = [patterns]
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise CompressionError(
                f"keep pattern {pattern!r} is not a valid regular expression: {error}"
            ) from None
    return compiled


@lru_cache(maxsize=4)
def default_compressor(
    model: str | None = None, tokenizer: str | None = None, device: str = "auto"
) -> Compressor:
    """One `Compressor` per process per (model, tokenizer, device)."""
    return Compressor(model, tokenizer=tokenizer, device=device)


def compress(prompt: PromptInput, **options: Any) -> CompressionResult:
    """Compress with the process's default `Compressor` (packaged SmolLM2, its own tokenizer)."""
    return default_compressor().compress(prompt, **options)
