"""Few-shot demonstration selection: the k pool examples most similar to a query, kept diverse by maximal
marginal relevance (MMR, Carbonell & Goldstein 1998), within a token budget.

Each pick maximises `lambda_ * sim(query, x) - (1 - lambda_) * max(sim(x, s) for s already chosen)` (cosine
similarities of unit-length sentence embeddings): `lambda_=1` is plain top-k by similarity, lower values
trade relevance for diversity, so near-duplicates of a chosen example fall behind. Ties go to the more
similar example, then to the earlier one in the pool. With `max_tokens`, an example that would take the
chosen ones past the budget is skipped and the search goes on with the rest. With MiniLM, unrelated texts
sit near cosine 0.1, so the diversity term weighs heavily: on GSM8K (20 questions, 4 picks from 300 others)
the picks' mean cosine to the question is 0.34 at random, 0.30 at `lambda_=0.3`, 0.48 at 0.5, 0.57 at 0.7
and 0.58 at 1.0 (their mean pairwise cosine 0.12, 0.32, 0.48, 0.56): the default 0.7 keeps near top-k
relevance with less alike picks.

An example is one pool record: `fields` name the columns rendered into its text (by `template`, default the
values joined by a newline), and `match_field` (default the first field) is what is compared with the
query, as in KATE (Liu et al. 2022): the question, not its worked answer. Tokens are counted on the rendered
text with the embedding model's tokenizer (all-MiniLM-L6-v2's WordPiece, no special tokens, no truncation)
unless `tokenizer` names another local Hugging Face tokenizer folder, `"words"` (whitespace words), or is a
callable from texts to token counts. Embeddings come from `pipeline.embeddings.embed`; `cache=FOLDER` reuses
the pool's vectors across runs.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipeline.batch import TEXT
from pipeline.embeddings import PACKAGED_ENCODER, embed, load_encoder
from pipeline.errors import WinnowError
from pipeline.models import LOADING, ModelError, load_tokenizer
from pipeline.readers import ReadOptions, read_all_documents
from pipeline.readers.validate import output_renames

#: `tokenizer=` value that counts whitespace-separated words instead of model tokens
WORDS = "words"

TokenCounter = Callable[[list[str]], Sequence[int]]


class FewShotError(WinnowError):
    """A pool or a request the selector cannot serve (empty pool, unknown field, k < 1, bad template)."""


@dataclass(frozen=True)
class Demonstration:
    """One chosen example: its pool row, rendered text, token count and scores."""

    index: int  #: row of the example in the pool (0-based)
    text: str  #: the example rendered by the template
    example: dict[str, Any]  #: the example's fields
    similarity: float  #: cosine similarity of its match field to the query
    mmr: float  #: its MMR score when it was picked
    tokens: int  #: tokens of `text`


def mmr_select(
    query: np.ndarray,
    pool: np.ndarray,
    *,
    k: int = 4,
    lambda_: float = 0.7,
    costs: np.ndarray | None = None,
    budget: int | None = None,
) -> list[tuple[int, float]]:
    """`(row, MMR score)` of up to `k` rows of `pool` (unit vectors) picked for the unit vector `query`.

    With `costs` and `budget`, a row whose cost would take the picked rows' total past `budget` is skipped.
    """
    if k < 1:
        raise FewShotError(f"k must be at least 1, got {k}")
    if not 0.0 <= lambda_ <= 1.0:
        raise FewShotError(f"lambda must be between 0 and 1, got {lambda_}")
    relevance = pool @ query
    redundancy = np.zeros(len(pool), dtype=np.float64)
    open_ = np.ones(len(pool), dtype=bool)
    left = None if budget is None else int(budget)
    cost = np.zeros(len(pool), dtype=np.int64) if costs is None else np.asarray(costs, dtype=np.int64)
    chosen: list[tuple[int, float]] = []
    while len(chosen) < k:
        if left is not None:
            open_ &= cost <= left
        candidates = np.flatnonzero(open_)
        if candidates.size == 0:
            break
        scores = lambda_ * relevance[candidates] - (1.0 - lambda_) * redundancy[candidates]
        # best score, then most similar, then first in the pool (lexsort: last key is the primary one)
        best = candidates[np.lexsort((candidates, -relevance[candidates], -scores))[0]]
        chosen.append((int(best), float(scores[np.searchsorted(candidates, best)])))
        open_[best] = False
        if left is not None:
            left -= int(cost[best])
        redundancy = np.maximum(redundancy, pool @ pool[best])
    return chosen


def template_fields(template: str) -> list[str]:
    """The field names a `str.format`-style template uses ("{question}" -> ["question"])."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise FewShotError(f"bad template {template!r}: {error}") from None
    names = [name for _, name, _, _ in parsed if name is not None]
    if any(not name or not name.isidentifier() for name in names):
        raise FewShotError(f"bad template {template!r}: use named fields like {{question}}")
    return names


def render(pool: pl.DataFrame, template: str) -> pl.Series:
    """Every pool row rendered by `template` (missing values as empty strings), without per-row Python."""
    pieces: list[pl.Expr] = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append(pl.lit(literal))
        if name is not None:
            pieces.append(pl.col(name).cast(pl.String).fill_null(""))
    if not pieces:
        return pl.Series(TEXT, [""] * pool.height, dtype=pl.String)
    return pool.select(pl.concat_str(pieces).alias(TEXT)).to_series()


def token_counter(tokenizer: str | Path | TokenCounter | None, model: str = PACKAGED_ENCODER) -> TokenCounter:
    """Texts -> token counts: the embedding model's tokenizer (None), "words", a folder, or a callable."""
    if callable(tokenizer):
        return tokenizer
    if tokenizer == WORDS:
        return lambda texts: pl.Series(texts, dtype=pl.String).str.count_matches(r"\S+").to_list()
    if tokenizer is None:
        loaded = load_encoder(model).tokenizer
    else:
        path = Path(tokenizer).expanduser()
        if not path.is_dir():
            raise ModelError(f"no tokenizer folder at {path}: give a local Hugging Face folder or 'words'")
        with LOADING:
            loaded = load_tokenizer(str(path.resolve()))

    def count(texts: list[str]) -> list[int]:
        if not texts:
            return []
        ids = loaded(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        return [len(row) for row in ids]

    return count


def as_pool(pool: Sequence[str] | Sequence[Mapping[str, Any]] | pl.DataFrame) -> pl.DataFrame:
    """A pool as a frame: strings become a `text` column, mappings one column per key."""
    if isinstance(pool, pl.DataFrame):
        return pool
    if isinstance(pool, str):
        raise FewShotError("the pool must be a sequence of examples, not one string")
    items = list(pool)
    if items and all(isinstance(item, str) for item in items):
        return pl.DataFrame({TEXT: items}, schema={TEXT: pl.String})
    if all(isinstance(item, Mapping) for item in items):
        return pl.DataFrame([dict(item) for item in items])
    raise FewShotError("the pool must hold strings, mappings, or be a polars DataFrame")


class FewShotSelector:
    """A pool embedded and token-counted once, to pick demonstrations for many queries (e.g. in a server)."""

    def __init__(
        self,
        pool: Sequence[str] | Sequence[Mapping[str, Any]] | pl.DataFrame,
        *,
        fields: Sequence[str] = (TEXT,),
        match_field: str | None = None,
        template: str | None = None,
        model: str = PACKAGED_ENCODER,
        tokenizer: str | Path | TokenCounter | None = None,
        batch_size: int = 32,
        device: str = "cpu",
        cache: Path | None = None,
        embeddings: np.ndarray | None = None,
    ) -> None:
        frame = as_pool(pool)
        if frame.height == 0:
            raise FewShotError("the pool has no examples")
        fields = list(fields)
        if not fields:
            raise FewShotError("give at least one field")
        self.match_field = match_field or fields[0]
        self.template = template if template is not None else "\n".join(f"{{{name}}}" for name in fields)
        used = [*fields, self.match_field, *template_fields(self.template)]
        unknown = [name for name in dict.fromkeys(used) if name not in frame.columns]
        if unknown:
            raise FewShotError(
                f"unknown field {', '.join(map(repr, unknown))} (the pool has: {', '.join(frame.columns)})"
            )
        self.fields = list(dict.fromkeys([*fields, *template_fields(self.template)]))
        self.pool = frame
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.cache = cache
        self.texts = render(frame, self.template).to_list()
        self.tokens = np.asarray(token_counter(tokenizer, model)(self.texts), dtype=np.int64)
        if embeddings is None:
            keys = frame[self.match_field].cast(pl.String).fill_null("").to_list()
            embeddings = embed(keys, model=model, batch_size=batch_size, device=device, cache=cache)
        if embeddings.shape[0] != frame.height:
            raise FewShotError(f"{embeddings.shape[0]} embeddings for {frame.height} examples")
        self.embeddings = np.asarray(embeddings, dtype=np.float32)

    def __len__(self) -> int:
        return self.pool.height

    def embed_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings of `queries` with the pool's model."""
        return embed(list(queries), model=self.model, batch_size=self.batch_size, device=self.device)

    def select(
        self, query: str | np.ndarray, *, k: int = 4, lambda_: float = 0.7, max_tokens: int | None = None
    ) -> list[Demonstration]:
        """Up to `k` demonstrations for `query` (a string or its unit embedding), in the order picked."""
        if max_tokens is not None and max_tokens < 1:
            raise FewShotError(f"max_tokens must be at least 1, got {max_tokens}")
        vector = self.embed_queries([query])[0] if isinstance(query, str) else np.asarray(query, np.float32)
        picked = mmr_select(
            vector, self.embeddings, k=k, lambda_=lambda_, costs=self.tokens, budget=max_tokens
        )
        relevance = self.embeddings @ vector
        return [
            Demonstration(
                index=row,
                text=self.texts[row],
                example={name: self.pool[row, name] for name in self.fields},
                similarity=float(relevance[row]),
                mmr=score,
                tokens=int(self.tokens[row]),
            )
            for row, score in picked
        ]

    def select_many(
        self, queries: Sequence[str], *, k: int = 4, lambda_: float = 0.7, max_tokens: int | None = None
    ) -> list[list[Demonstration]]:
        """`select` for each query, embedding the queries in batches."""
        vectors = self.embed_queries(queries)
        return [self.select(vector, k=k, lambda_=lambda_, max_tokens=max_tokens) for vector in vectors]


def select_demonstrations(
    query: str,
    pool: Sequence[str] | Sequence[Mapping[str, Any]] | pl.DataFrame,
    *,
    k: int = 4,
    lambda_: float = 0.7,
    max_tokens: int | None = None,
    tokenizer: str | Path | TokenCounter | None = None,
    fields: Sequence[str] = (TEXT,),
    match_field: str | None = None,
    template: str | None = None,
    model: str = PACKAGED_ENCODER,
    batch_size: int = 32,
    device: str = "cpu",
    cache: Path | None = None,
) -> list[Demonstration]:
    """Up to `k` demonstrations from `pool` for `query`: relevant, diverse (MMR), within `max_tokens`."""
    selector = FewShotSelector(
        pool,
        fields=fields,
        match_field=match_field,
        template=template,
        model=model,
        tokenizer=tokenizer,
        batch_size=batch_size,
        device=device,
        cache=cache,
    )
    return selector.select(query, k=k, lambda_=lambda_, max_tokens=max_tokens)


def read_pool(path: str | Path, *, match_field: str = TEXT, input_format: str = "auto") -> pl.DataFrame:
    """A pool file's examples (JSON Lines, Parquet, CSV, ...) under their own column names, with provenance.

    Every example needs a non-empty string `match_field`; a bad record is an error.
    """
    options = ReadOptions(text_field=match_field, on_error="fail", format=input_format)  # type: ignore[arg-type]
    frame = read_all_documents([str(path)], options)
    if frame is None:
        raise FewShotError(f"{path}: the pool has no examples")
    return frame.rename(output_renames(options, frame.columns))
