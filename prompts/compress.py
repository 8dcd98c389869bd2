"""Prompt compression to a token budget: whole sentences by fitted value, then the start of the next best.

1. The prompt is split into words and sentences for its script (`prompts.words`, `prompts.scripts`), and
   into chunks (documents, paragraphs or sentences).
2. Every sentence that may be dropped is scored by a linear model over language-neutral scorers
   (`prompts.scorers`: question relevance by embedding and by BM25 over words and character n-grams, of
   the sentence, its chunk and its neighbours; without a question, centrality and position), with weights
   fitted on data (`prompts.sentence_model`, `benchmarks/fit_sentence_model.py`).
3. Sentences are kept whole, best first, down to the first that does not fit the budget; with
   `fill_words`, that sentence's words fill what is left, numbers first (`keep_numbers`), then with a
   question by the small causal LM's surprisal conditioned on it, without one in reading order. Without
   `fill_words`, sentences that do not fit are skipped and later ones that fit are kept. With
   `whole_chunks` (by default for documents without a question: few-shot demonstrations), whole chunks
   come first, the most central that fit, and a chunk cut to fit keeps its beginning. Whole words only.
4. The budget is met exactly in the target tokenizer: the longest prefix of that priority order whose
   rendered text fits `target_tokens` is found by bisection, then topped up unit by unit. The result never
   exceeds the target.

Protected parts are always kept: `<winnow-keep>` spans, fenced code, `keep` regex matches, and chat
messages whose role is not compressed.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from pipeline.embeddings import embed
from pipeline.models import Precision, causal_lm_path, load_causal_lm, load_tokenizer
from prompts.render import kept_spans, render
from prompts.request import CompressionRequest, PromptInput, RequestError
from prompts.result import CompressionError, CompressionResult, KeptSpan
from prompts.scorers import Centrality, Sentences
from prompts.scripts import word_spans
from prompts.segments import ParsedPrompt
from prompts.sentence_model import SentenceModel, load_sentence_model
from prompts.surprisal import surprisal
from prompts.words import Words, word_key

__all__ = [
    "CompressionError",
    "CompressionRequest",
    "CompressionResult",
    "Compressor",
    "KeptSpan",
    "RequestError",
    "compress",
    "default_compressor",
]

#: how chunks kept whole are ranked (input order and shortest first did no better on a GSM8K tuning draw)
CHUNK_CENTRALITY = Centrality(n=3)

#: which words of the sentence cut to fit fill the rest: "auto" = surprisal with a question, else position
FillBy = Literal["auto", "position", "surprisal"]

#: words tried one by one after bisection, to get as close to the target as possible
TOP_UP_TRIES = 64


class Compressor:
    """Loads its models once; `compress` many prompts with it (servers, batch flows).

    `model`: the scorer LM for the surprisal fill and the default tokenizer, None/"smollm2" (packaged
    SmolLM2-135M) or a local Hugging Face causal-LM folder;
    `tokenizer`: the target model's tokenizer folder that the budget is counted in (default: the scorer's);
    `embedder`: the sentence-transformers folder for the embedding scorers (default: packaged
    all-MiniLM-L6-v2); `sentence_model`: a fitted sentence model JSON (default: the packaged one, see
    `prompts.sentence_model`); `fill_words`: fill what whole sentences leave of the budget with the words of
    the best sentence that did not fit; `fill_by`: which of its words, "position" (its beginning; no LM),
    "surprisal" (the scorer LM's conditioned on the question, one forward pass over that sentence) or
    "auto" (surprisal with a question, position without); `dtype`: the scorer's precision, "auto" =
    bfloat16 where the device has native bfloat16 kernels, else float32; `device`: "auto" = CUDA when present;
    `window`: the LM's tokens per window; `batch_size`: rows per forward pass of the LM and of the embedder
    (small batches of length-sorted texts waste little padding: on CPU 8 embeds 2.3x faster than 32).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        tokenizer: str | Path | None = None,
        embedder: str | Path | None = None,
        sentence_model: str | Path | None = None,
        fill_words: bool = True,
        fill_by: FillBy = "auto",
        dtype: Precision = "auto",
        device: str = "auto",
        window: int = 1024,
        batch_size: int = 8,
    ) -> None:
        if window < 64:
            raise CompressionError(f"window must be at least 64 tokens, not {window}")
        self.model = model
        self.tokenizer = tokenizer
        self.embedder = embedder
        self.sentence_model = sentence_model
        if fill_by not in get_args(FillBy):
            raise CompressionError(f"fill_by must be auto, position or surprisal, not {fill_by!r}")
        self.fill_words = fill_words
        self.fill_by = fill_by
        self.dtype = dtype
        self.device = device
        self.window = window
        self.batch_size = batch_size
        try:
            self.fitted: SentenceModel = load_sentence_model(
                None if sentence_model is None else str(sentence_model)
            )
        except ValueError as error:
            raise CompressionError(str(error)) from None

    def __repr__(self) -> str:
        defaults = Compressor.__init__.__kwdefaults__ or {}
        params = {"model": self.model} if self.model is not None else {}
        params.update({k: getattr(self, k) for k, v in defaults.items() if getattr(self, k) != v})
        return f"Compressor({', '.join(f'{k}={v!r}' for k, v in params.items())})"

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

    def compress(self, prompt: PromptInput, **options: Any) -> CompressionResult:
        """Compress `prompt` (text, a list of documents, or chat messages) to `rate` or `target_tokens`;
        `options` are those of `CompressionRequest`, checked before anything loads."""
        return self.run(CompressionRequest(prompt, **options))

    def run_many(self, requests: Sequence[CompressionRequest]) -> list[CompressionResult]:
        """Compress several requests, their sentences embedded together in one batched pass."""
        with self.batch(requests):
            return [self.run(request) for request in requests]

    @contextmanager
    def batch(self, requests: Sequence[CompressionRequest]) -> Iterator[None]:
        """While inside, `run` finds the embeddings of `requests`' sentences, chunks and questions ready,
        computed up front in one call (batches across prompts, duplicates once)."""
        texts: list[str] = []
        for request in requests:
            parsed = request.parsed
            words = request.words
            ids = np.unique(words.sentence[~words.protected])
            if len(ids):
                sentences, _ = self.sentences(parsed, words, ids, request.question)
                texts += [*sentences.texts, *sentences.chunk_texts, *filter(None, [request.question])]
        unique = list(dict.fromkeys(texts))
        vectors = (
            embed(unique, model=self.embedder, device=self._device(), batch_size=self.batch_size)
            if unique
            else []
        )
        token = _PREFETCHED.set(dict(zip(unique, vectors, strict=True)))
        try:
            yield
        finally:
            _PREFETCHED.reset(token)

    def run(self, request: CompressionRequest) -> CompressionResult:
        """Compress a checked request (see `CompressionRequest`)."""
        began = time.perf_counter()
        rate, target_tokens, question = request.rate, request.target_tokens, request.question
        keep_numbers, keep_newlines, reorder = request.keep_numbers, request.keep_newlines, request.reorder
        parsed = request.parsed
        original = self._measure(parsed, [segment.text for segment in parsed.segments])
        target = target_tokens if target_tokens is not None else math.floor(rate * original)  # type: ignore[operator]
        if target >= original:
            note = f"the target ({target} tokens) is not below the prompt's {original}: returned unchanged"
            texts = [s.text for s in parsed.segments]
            return self._result(parsed, texts, original, original, target, began, note=note)
        if target < 1:
            raise CompressionError(f"a rate of {rate} leaves no token of this {original}-token prompt")
        words = request.words
        order, unit, chunk_ranking = self._priority(
            parsed, words, target, question, keep_numbers, request.keeps_whole_chunks
        )
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
        self,
        parsed: ParsedPrompt,
        words: Words,
        target: int,
        question: str | None,
        keep_numbers: bool,
        whole_chunks: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Word indices in the order they are kept, each word's unit (kept or dropped as a whole), and the
        chunks by relevance (with a question and several chunks): protected words; with `whole_chunks`,
        the sentences of whole chunks (see `_whole_chunks`), else, without a question and with
        `keep_numbers`, every number; whole sentences by value down to the first that does not fit, then
        its words (numbers first, then by `fill_by`), or without `fill_words` every later sentence that
        still fits; then the other sentences."""
        n = len(words)
        free = ~words.protected
        ids = np.unique(words.sentence[free])
        if not len(ids):
            return np.flatnonzero(words.protected), np.arange(n), None
        sentences, chunk_ids = self.sentences(parsed, words, ids, question)
        value = self.fitted.score(sentences)
        costs = self._costs(parsed, words)
        chunk_tier = self._whole_chunks(sentences, chunk_ids, words, costs, target) if whole_chunks else None
        if chunk_tier is None:
            ranked = ids[np.lexsort((ids, -value))].tolist()
        else:  # whole chunks first; a chunk cut to fit keeps its beginning
            ranked = ids[np.lexsort((ids, chunk_tier[sentences.chunk]))].tolist()
        numbers_first = question is None and keep_numbers and chunk_tier is None
        leading = free & words.number if numbers_first else np.zeros(n, dtype=bool)
        group = np.where(words.protected, 0, np.where(leading, 1, 2))
        rest = free & ~leading
        cost = np.zeros(int(words.sentence.max()) + 1, dtype=np.int64)
        np.add.at(cost, words.sentence[rest], costs[rest])
        left = target - int(costs[~rest].sum())
        # with fill_words, the first sentence that does not fit fills the rest: no lower one jumps ahead
        fits, boundary, left = take_while_fits(ranked, cost, left, stop_at_miss=self.fill_words)
        fill = boundary if self.fill_words and left > 0 else None
        sequence = [*fits, *([] if fill is None else [fill])]
        placed = set(sequence)
        sequence += [s for s in ranked if s not in placed]
        rank = np.zeros(len(cost), dtype=np.int64)
        rank[sequence] = np.arange(len(sequence))
        unit = np.where(leading, int(words.sentence.max()) + 1 + np.arange(n), words.sentence)
        score = np.zeros(n)
        tier = np.zeros(n, dtype=np.int64)
        if fill is not None:
            inside = rest & (words.sentence == fill)
            if self.fill_by == "surprisal" or (self.fill_by == "auto" and question is not None):
                score = self._word_scores(parsed, words, inside, question)
            tier = np.where(inside & words.number & keep_numbers, 0, 1)
            unit = np.where(inside, int(words.sentence.max()) + 1 + np.arange(n), unit)
        order = np.lexsort((np.arange(n), -score, tier, rank[words.sentence], group))
        chunk_best = np.full(int(words.chunk.max()) + 1, -np.inf)
        np.maximum.at(chunk_best, chunk_ids[sentences.chunk], value)
        ranking = None
        if question is not None and len(chunk_ids) > 1:
            ranking = chunk_ids[np.lexsort((chunk_ids, -chunk_best[chunk_ids]))]
        return order, unit, ranking

    @staticmethod
    def _whole_chunks(
        sentences: Sentences, chunk_ids: np.ndarray, words: Words, costs: np.ndarray, target: int
    ) -> np.ndarray:
        """Each chunk's place (`Sentences.chunk` numbering) when chunks are kept whole: those that fit the
        budget whole, most central first (character 3-gram TF-IDF cosine to the whole prompt, as for a
        sentence without a question), skipping any that no longer fits; then the others in that order."""
        keys = sentences.chunk_keys()
        whole = Sentences(sentences.chunk_texts, keys, np.arange(len(keys)), sentences.chunk_texts)
        central = CHUNK_CENTRALITY(whole)
        ranked = np.lexsort((np.arange(len(keys)), -central))
        free = ~words.protected
        cost = np.zeros(int(words.chunk.max()) + 1, dtype=np.int64)
        np.add.at(cost, words.chunk[free], costs[free])
        chunk_cost = cost[chunk_ids]
        fits, _, _ = take_while_fits(ranked.tolist(), chunk_cost, target - int(costs[~free].sum()))
        placed = set(fits)
        sequence = [*fits, *(c for c in ranked.tolist() if c not in placed)]
        tier = np.zeros(len(keys), dtype=np.int64)
        tier[sequence] = np.arange(len(sequence))
        return tier

    def sentences(
        self, parsed: ParsedPrompt, words: Words, ids: np.ndarray, question: str | None
    ) -> tuple[Sentences, np.ndarray]:
        """What the sentence scorers read for the sentences `ids` (sorted) of a split prompt, and the ids of
        their chunks (`Sentences.chunk` numbers them from 0)."""
        # sentence and chunk ids grow along the words: each is one run of rows
        first, end = np.searchsorted(words.sentence, ids), np.searchsorted(words.sentence, ids, side="right")
        chunk_ids, chunk = np.unique(words.chunk[first], return_inverse=True)
        texts = [_text_of(parsed, words, a, b) for a, b in zip(first.tolist(), end.tolist(), strict=True)]
        keys = [
            [k for k in words.key[a:b].tolist() if k]
            for a, b in zip(first.tolist(), end.tolist(), strict=True)
        ]
        chunk_first = np.searchsorted(words.chunk, chunk_ids)
        chunk_end = np.searchsorted(words.chunk, chunk_ids, side="right")
        chunk_texts = [
            _text_of(parsed, words, a, b)
            for a, b in zip(chunk_first.tolist(), chunk_end.tolist(), strict=True)
        ]
        device = self._device()

        def embedder(texts: list[str]) -> np.ndarray:  # called only if a scorer reads embeddings
            known = _PREFETCHED.get() or {}
            if all(text in known for text in texts):
                return np.stack([known[text] for text in texts])
            return embed(texts, model=self.embedder, device=device, batch_size=self.batch_size)

        question_keys: list[str] = []
        if question is not None:
            question_keys = [k for k in (word_key(w) for w in question_words(question)) if k]
        return Sentences(texts, keys, chunk, chunk_texts, question, question_keys, embedder), chunk_ids

    def _word_scores(
        self, parsed: ParsedPrompt, words: Words, scored: np.ndarray, question: str | None
    ) -> np.ndarray:
        """Max token surprisal per word for the `scored` words (0 elsewhere), conditioned on the question;
        one forward pass per contiguous region."""
        surprisals = np.zeros(len(words), dtype=np.float64)
        if not scored.any():
            return surprisals
        lm, tokenizer = self.scorer()
        regions = []  # (segment, first word, last word) of contiguous scored words
        for segment in np.unique(words.segment[scored]):
            rows = np.flatnonzero(scored & (words.segment == segment))
            regions.append((int(segment), int(rows[0]), int(rows[-1])))
        texts = [
            parsed.segments[seg].text[int(words.start[first]) : int(words.end[last])]
            for seg, first, last in regions
        ]
        token_scores = surprisal(
            texts,
            lm,
            tokenizer,
            prefix=None if question is None else f"Question: {question}",
            window=self.window,
            batch_size=self.batch_size,
        )
        for (_, first, last), tokens in zip(regions, token_scores, strict=True):
            rows = np.arange(first, last + 1)
            base = int(words.start[first])
            owner = np.searchsorted(words.end[rows] - base, tokens.start, side="right")
            inside = owner < len(rows)
            per_word = np.zeros(len(rows))
            np.maximum.at(per_word, owner[inside], tokens.surprisal[inside])
            surprisals[rows] = np.where(scored[rows], per_word, 0.0)
        return surprisals

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
            documents=list(texts) if parsed.kind == "documents" else None,
            note=note,
        )


def _text_of(parsed: ParsedPrompt, words: Words, first: int, end: int) -> str:
    """The original text of words `first` to `end` (excluded), words of one segment."""
    text = parsed.segments[int(words.segment[first])].text
    return text[int(words.start[first]) : int(words.end[end - 1])]


#: embeddings computed up front by `Compressor.batch`, by text
_PREFETCHED: ContextVar[dict[str, np.ndarray] | None] = ContextVar("winnow_prefetched", default=None)


def question_words(question: str) -> list[str]:
    """The words of a question, split as prompt words are (any script)."""
    return [question[a:b] for a, b in word_spans(question)]


def take_while_fits(
    ranked: Sequence[int], cost: np.ndarray, left: int, *, stop_at_miss: bool = False
) -> tuple[list[int], int | None, int]:
    """Greedy: the units of `ranked` (best first) whose `cost` still fits what is `left`, skipping those
    that do not (or stopping at the first, `stop_at_miss`). Returns `(fits, first miss, tokens left)`."""
    fits: list[int] = []
    miss = None
    for unit in ranked:
        if cost[unit] <= left:
            fits.append(unit)
            left -= int(cost[unit])
        elif miss is None:
            miss = unit
            if stop_at_miss:
                break
    return fits, miss, left


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


@lru_cache(maxsize=4)
def default_compressor(
    model: str | None = None, tokenizer: str | None = None, device: str = "auto"
) -> Compressor:
    """One `Compressor` per process per (model, tokenizer, device)."""
    return Compressor(model, tokenizer=tokenizer, device=device)


def compress(prompt: PromptInput | CompressionRequest, **options: Any) -> CompressionResult:
    """Compress with the process's default `Compressor` (packaged SmolLM2, its own tokenizer): a prompt and
    the options of `CompressionRequest`, or a ready request (then no options)."""
    if isinstance(prompt, CompressionRequest):
        if options:
            raise TypeError(
                f"a CompressionRequest holds its options: give it alone, not with {sorted(options)}"
            )
        return default_compressor().run(prompt)
    return default_compressor().compress(prompt, **options)
