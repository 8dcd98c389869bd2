"""What a sentence of a prompt is worth: small scorers behind one interface, combined by fitted weights.

A scorer maps the sentences of one prompt (`Sentences`) to one number each. It is its parameters (a
frozen dataclass: kind, repr and equality come from them) and is registered by `kind` in `SCORERS`, so
adding one is a class plus a registry line; `prompts.sentence_model` combines scorers with weights fitted
by `benchmarks/fit_sentence_model.py`. Every scorer is language-neutral: embeddings, lexical overlap over
words and character n-grams (BM25, `bm25s`), position. A scorer marked `relative` is standardised within
the prompt (z-score) before weighting, since only its order inside one prompt means anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

#: texts -> unit-length embedding rows
Embed = Callable[[list[str]], np.ndarray]


@dataclass
class Sentences:
    """The sentences of one prompt that compression may keep or drop, with what scorers read."""

    texts: list[str]
    keys: list[list[str]]  # the words of each sentence, lowercased without punctuation
    chunk: np.ndarray  # chunk number (0, 1, ...) of each sentence, in input order
    chunk_texts: list[str]
    question: str | None = None
    question_keys: list[str] = field(default_factory=list)
    embed: Embed | None = None
    _vectors: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _scores: dict[Scorer, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.texts)

    def vectors(self, what: str) -> np.ndarray:
        """Embeddings of "sentences", "chunks" or "question" (computed once: one call for all three)."""
        if not self._vectors:
            if self.embed is None:
                raise ValueError("these sentences have no embedder")
            extra = [self.question] if self.question else []
            rows = self.embed([*self.texts, *self.chunk_texts, *extra])
            n, c = len(self.texts), len(self.chunk_texts)
            self._vectors = {"sentences": rows[:n], "chunks": rows[n : n + c], "question": rows[n + c :]}
        return self._vectors[what]

    def score(self, scorer: Scorer) -> np.ndarray:
        """`scorer`'s values for these sentences, computed once (a scorer may read another's)."""
        if scorer not in self._scores:
            self._scores[scorer] = np.asarray(scorer(self), dtype=np.float64)
        return self._scores[scorer]

    def chunk_keys(self) -> list[list[str]]:
        """The words of each chunk (its sentences' keys in order)."""
        units: list[list[str]] = [[] for _ in self.chunk_texts]
        for chunk, keys in zip(self.chunk.tolist(), self.keys, strict=True):
            units[chunk].extend(keys)
        return units

    def position(self) -> tuple[np.ndarray, np.ndarray]:
        """Each sentence's index within its chunk and the chunk's sentence count."""
        index = np.zeros(len(self), dtype=np.int64)
        size = np.bincount(self.chunk)[self.chunk]
        first = np.flatnonzero(np.append(True, self.chunk[1:] != self.chunk[:-1]))
        for start, end in zip(first, [*first[1:], len(self)], strict=True):
            index[start:end] = np.arange(end - start)
        return index, size


@dataclass(frozen=True)
class Scorer:
    """One number per sentence; `needs_question` scorers are used only with a question."""

    kind: ClassVar[str]
    relative: ClassVar[bool] = True
    needs_question: ClassVar[bool] = False

    def __call__(self, sentences: Sentences) -> np.ndarray:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """`{"kind": ..., **parameters}`: what `make_scorer` rebuilds it from."""
        return {"kind": self.kind, **asdict(self)}

    @property
    def name(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in asdict(self).items())
        return f"{self.kind}({params})" if params else self.kind


@dataclass(frozen=True)
class EmbeddingRelevance(Scorer):
    """Cosine similarity of the sentence (or its chunk, `of="chunk"`) to the question (all-MiniLM-L6-v2)."""

    kind: ClassVar[str] = "embedding"
    needs_question: ClassVar[bool] = True
    of: str = "sentence"

    def __call__(self, sentences: Sentences) -> np.ndarray:
        question = sentences.vectors("question")[0]
        if self.of == "chunk":
            return (sentences.vectors("chunks") @ question)[sentences.chunk]
        return sentences.vectors("sentences") @ question


@dataclass(frozen=True)
class LexicalRelevance(Scorer):
    """BM25 of the question against the sentence (or its chunk), over words (`n=0`) or character n-grams of
    the words (`n` >= 1; a word shorter than `n` counts whole), document frequencies from this prompt."""

    kind: ClassVar[str] = "lexical"
    needs_question: ClassVar[bool] = True
    n: int = 0
    of: str = "sentence"

    def __call__(self, sentences: Sentences) -> np.ndarray:
        import bm25s

        units = sentences.chunk_keys() if self.of == "chunk" else sentences.keys
        corpus = [grams(keys, self.n) for keys in units]
        query = sorted(set(grams(sentences.question_keys, self.n)))
        if not query or not any(corpus):
            return np.zeros(len(sentences))
        index = bm25s.BM25()
        index.index(corpus, show_progress=False)
        scores = np.asarray(index.get_scores(query), dtype=np.float64)
        return scores[sentences.chunk] if self.of == "chunk" else scores


@dataclass(frozen=True)
class NeighbourRelevance(Scorer):
    """The larger lexical relevance (character n-grams) of the sentences just before and after, in the same
    chunk: an answer often sits next to the sentence that repeats the question's words."""

    kind: ClassVar[str] = "neighbour"
    needs_question: ClassVar[bool] = True
    n: int = 3

    def __call__(self, sentences: Sentences) -> np.ndarray:
        own = sentences.score(LexicalRelevance(n=self.n))
        same_before = np.append(False, sentences.chunk[1:] == sentences.chunk[:-1])
        before = np.where(same_before, np.append(0.0, own[:-1]), 0.0)
        same_after = np.append(sentences.chunk[:-1] == sentences.chunk[1:], False)
        after = np.where(same_after, np.append(own[1:], 0.0), 0.0)
        return np.maximum(before, after)


@dataclass(frozen=True)
class Centrality(Scorer):
    """Without a question: how typical the sentence is of the whole prompt, as the cosine of its TF-IDF
    vector of character n-grams (`n` >= 1) to the prompt's, or of its embedding to the mean (`n=0`)."""

    kind: ClassVar[str] = "centrality"
    n: int = 3

    def __call__(self, sentences: Sentences) -> np.ndarray:
        if self.n == 0:
            rows = sentences.vectors("sentences")
            centre = rows.mean(axis=0)
            return rows @ (centre / max(float(np.linalg.norm(centre)), 1e-12))
        from sklearn.feature_extraction.text import TfidfVectorizer

        corpus = [grams(keys, self.n) for keys in sentences.keys]
        if not any(corpus):
            return np.zeros(len(sentences))
        matrix = TfidfVectorizer(analyzer=lambda tokens: tokens).fit_transform(corpus)
        centre = np.asarray(matrix.mean(axis=0)).ravel()
        return np.asarray(matrix @ (centre / max(float(np.linalg.norm(centre)), 1e-12))).ravel()


@dataclass(frozen=True)
class Position(Scorer):
    """Where the sentence sits in its chunk: `first` (1 for a chunk's first sentence, else 0) or `relative`
    (0 at the chunk's start to 1 at its end)."""

    kind: ClassVar[str] = "position"
    relative: ClassVar[bool] = False
    at: str = "first"

    def __call__(self, sentences: Sentences) -> np.ndarray:
        index, size = sentences.position()
        if self.at == "first":
            return (index == 0).astype(np.float64)
        return index / np.maximum(size - 1, 1)


@dataclass(frozen=True)
class Length(Scorer):
    """The sentence's number of words (log), standardised within the prompt."""

    kind: ClassVar[str] = "length"

    def __call__(self, sentences: Sentences) -> np.ndarray:
        return np.log1p([len(keys) for keys in sentences.keys])


SCORERS: dict[str, type[Scorer]] = {
    cls.kind: cls
    for cls in (EmbeddingRelevance, LexicalRelevance, NeighbourRelevance, Centrality, Position, Length)
}


def make_scorer(spec: dict[str, Any]) -> Scorer:
    """The scorer of a `Scorer.spec()` dictionary."""
    params = dict(spec)
    kind = params.pop("kind", None)
    if kind not in SCORERS:
        raise ValueError(f"unknown scorer kind {kind!r}: one of {', '.join(sorted(SCORERS))}")
    return SCORERS[kind](**params)


def grams(keys: Sequence[str], n: int) -> list[str]:
    """The words themselves (`n=0`) or every character n-gram of each word (a shorter word whole)."""
    if n == 0:
        return [key for key in keys if key]
    out: list[str] = []
    for key in keys:
        if len(key) <= n:
            if key:
                out.append(key)
        else:
            out.extend(key[i : i + n] for i in range(len(key) - n + 1))
    return out


def features(scorers: Sequence[Scorer], sentences: Sentences) -> np.ndarray:
    """`(sentences, scorers)` matrix of scores, `relative` ones standardised within the prompt."""
    columns = []
    for scorer in scorers:
        values = sentences.score(scorer)
        if scorer.relative:
            spread = values.std()
            values = (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)
        columns.append(values)
    return np.stack(columns, axis=1) if columns else np.zeros((len(sentences), 0))
