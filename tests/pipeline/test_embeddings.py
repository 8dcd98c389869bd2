"""Sentence embeddings: ST-identical float32, bfloat16 agreement, dedupe, the append-only on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline import embeddings
from pipeline.embeddings import EmbeddingCache, embed, load_encoder, text_hashes
from pipeline.models import ModelError

LONG = " ".join(f"The harbour crane lifted container number {i} onto the waiting ship." for i in range(60))
TEXTS = [
    "The cat sat quietly on the warm windowsill.",
    "Interest rates rose by a quarter point on Tuesday.",
    LONG,  # far past MiniLM's 256 tokens: truncated like SentenceTransformer.encode does
    "Bake the bread for forty minutes until golden.",
    "A short one.",
    "The committee approved the new budget after a long debate about schools, roads and the library.",
]


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text that `embed` sends to the model (a spy: the real encoder still runs)."""
    seen: list[str] = []
    real = embeddings._encode

    def spy(encoder, texts, **kwargs):  # type: ignore[no-untyped-def]
        seen.extend(texts)
        return real(encoder, texts, **kwargs)

    monkeypatch.setattr(embeddings, "_encode", spy)
    return seen


def plain_encode(texts: list[str]) -> np.ndarray:
    return load_encoder().encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def test_float32_matches_sentence_transformers_encode() -> None:
    vectors = embed(TEXTS, dtype="float32", batch_size=2)  # several batches, sorted and put back in order
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(vectors, plain_encode(TEXTS), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_bfloat16_and_auto_agree_with_float32() -> None:
    reference = embed(TEXTS, dtype="float32")
    for dtype in ("bfloat16", "auto"):
        vectors = embed(TEXTS, dtype=dtype)
        assert vectors.dtype == np.float32
        assert np.min(np.sum(vectors * reference, axis=1)) >= 0.99
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_empty_input_and_bad_arguments() -> None:
    assert embed([]).shape == (0, 384)
    with pytest.raises(ValueError, match="dtype"):
        embed(TEXTS, dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        embed(TEXTS, batch_size=0)
    with pytest.raises(ValueError, match="max_tokens"):
        embed(TEXTS, max_tokens=0)


def test_a_folder_that_is_no_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no sentence-transformers model"):
        embed(TEXTS, model=tmp_path)


def test_identical_texts_are_embedded_once(encoded: list[str]) -> None:
    texts = [TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]]
    vectors = embed(texts, dtype="float32")
    assert sorted(encoded) == sorted([TEXTS[0], TEXTS[1]])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[0], vectors[3])


def test_max_tokens_truncates() -> None:
    short = embed([LONG, TEXTS[0]], dtype="float32", max_tokens=16)
    full = embed([LONG, TEXTS[0]], dtype="float32")
    assert float(short[0] @ full[0]) < 0.999  # the long text now reads fewer tokens
    np.testing.assert_allclose(short[1], full[1], atol=1e-5)  # a short text is unaffected


def test_a_rerun_embeds_only_new_texts(tmp_path: Path, encoded: list[str]) -> None:
    first = embed(TEXTS[:4], dtype="float32", cache=tmp_path)
    assert sorted(encoded) == sorted(TEXTS[:4])
    (model_folder,) = [p for p in tmp_path.iterdir()]
    (shard,) = model_folder.glob("*.parquet")
    before = shard.read_bytes()

    encoded.clear()
    again = embed(TEXTS, dtype="float32", cache=tmp_path)
    assert sorted(encoded) == sorted(TEXTS[4:])
    np.testing.assert_array_equal(again[:4], first)
    np.testing.assert_allclose(again, plain_encode(TEXTS), atol=1e-5)
    assert shard.read_bytes() == before  # append-only: old shards are never rewritten
    assert len(list(model_folder.glob("*.parquet"))) == 2
    assert not list(model_folder.glob(".*"))  # no temporary files left

    encoded.clear()
    np.testing.assert_array_equal(embed(TEXTS, dtype="float32", cache=tmp_path), again)
    assert encoded == []


def test_float32_requests_ignore_bfloat16_cache_rows(tmp_path: Path, encoded: list[str]) -> None:
    embed(TEXTS, dtype="bfloat16", cache=tmp_path)
    encoded.clear()
    embed(TEXTS, dtype="auto", cache=tmp_path)  # any precision will do
    assert encoded == []
    vectors = embed(TEXTS, dtype="float32", cache=tmp_path)  # float32 only: embeds again
    assert sorted(encoded) == sorted(TEXTS)
    np.testing.assert_allclose(vectors, plain_encode(TEXTS), atol=1e-5)


def test_the_cache_is_keyed_by_truncation(tmp_path: Path, encoded: list[str]) -> None:
    full = embed([LONG], dtype="float32", cache=tmp_path)
    short = embed([LONG], dtype="float32", cache=tmp_path, max_tokens=16)
    assert encoded == [LONG, LONG]
    assert float(full[0] @ short[0]) < 0.999
    assert len(list(tmp_path.iterdir())) == 2  # one folder per model key


def test_concurrent_writers_share_a_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(2, 4)).astype(np.float32) for _ in range(2))
    hashes = text_hashes(["one", "two", "three"])
    # two runs each write their own shard; both embedded "two"
    EmbeddingCache(tmp_path, "k", 4, {}).add(hashes[:2], a, "float32")
    EmbeddingCache(tmp_path, "k", 4, {}).add(hashes[1:], b, "float32")
    found = EmbeddingCache(tmp_path, "k", 4, {}).lookup(
        [*hashes, text_hashes(["four"])[0]], float32_only=True
    )
    assert set(found) == set(hashes)
    np.testing.assert_array_equal(found[hashes[0]], a[0])
    np.testing.assert_array_equal(found[hashes[2]], b[1])
    assert any(np.array_equal(found[hashes[1]], v) for v in (a[1], b[0]))
    shards = sorted((tmp_path / "k").glob("*.parquet"))
    assert len(shards) == 2
    assert pl.read_parquet(shards[0]).columns == ["hash", "dtype", "vector"]
