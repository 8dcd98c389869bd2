"""The compiled word scan finds exactly the words of `str.extract_all(r"\\w+")`, in every script, and hashes
each as `hash_strings` (numpy) hashes that word's text; the numpy path for small inputs gives the same."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from filters.dedup.normalize import DEFAULT, normalize_series
from filters.dedup.word_hashes import FNV_BASIS, FNV_PRIME, SEED, hash_strings, word_hashes
from tests.conftest import shared_file


def regex_words(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """What the scan must give: the regex's words per text and their hashes."""
    words = texts.str.extract_all(r"\w+")
    flat = words.explode().drop_nulls()
    return words.list.len().fill_null(0).to_numpy(), hash_strings(flat)


@pytest.mark.parametrize("compiled", [True, False])
def test_words_are_the_regexs_in_edge_cases(compiled: bool) -> None:
    texts = pl.Series(
        [
            "Hello, world_1 foo",
            "",
            None,
            "  leading and trailing  ",
            "snake_case and x2 and __dunder__",
            "Grüße aus Köln! Ça va? naïve café",
            "日本語のテキスト、句読点。",
            "emoji 🙂 between 🙂🙂 words",
            "tab\tnew\nline\r\nend",
            "dashes—and–hyphens-here …ellipsis",
            "عربي، نص",
        ]
    )
    counts, hashes = word_hashes(texts, compiled=compiled)
    expected_counts, expected_hashes = regex_words(texts.fill_null(""))
    assert counts.tolist() == expected_counts.tolist()
    assert np.array_equal(hashes, expected_hashes)
    assert counts[0] == 3 and counts[2] == 0 and counts[4] == 5


@pytest.mark.parametrize("compiled", [True, False])
def test_the_same_word_hashes_alike_in_plain_and_non_ascii_texts(compiled: bool) -> None:
    _, plain = word_hashes(pl.Series(["report one"]), compiled=compiled)
    _, wide = word_hashes(pl.Series(["report — one"]), compiled=compiled)
    assert np.array_equal(plain, wide) and plain[0] != plain[1]
    assert len(set(hash_strings(pl.Series([f"w{i}" for i in range(10_000)])).tolist())) == 10_000


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "field"), [("c4_sample1k.jsonl.gz", "text"), ("xquad_dev.jsonl.gz", "context")]
)
def test_words_are_the_regexs_on_real_text(name: str, field: str) -> None:
    texts = normalize_series(pl.read_ndjson(shared_file(name))[field], DEFAULT, layout=False)
    expected_counts, expected_hashes = regex_words(texts)
    for compiled in (True, False):
        counts, hashes = word_hashes(texts, compiled=compiled)
        assert np.array_equal(counts, expected_counts) and np.array_equal(hashes, expected_hashes)
    assert counts.sum() > 10_000


def test_hash_strings_is_fnv1a_then_splitmix_over_the_utf8_bytes() -> None:
    """Spelled out for one string in plain Python: the hash an index on disk depends on."""
    mask = (1 << 64) - 1
    h = FNV_BASIS ^ SEED
    for byte in "grüße".encode():
        h = ((h ^ byte) * FNV_PRIME) & mask
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & mask
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & mask
    h ^= h >> 31
    assert hash_strings(pl.Series(["grüße", "", None])).tolist()[0] == h
    assert hash_strings(pl.Series([""])).tolist() == hash_strings(pl.Series([None])).tolist()


def test_a_very_long_word_goes_to_the_compiled_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy would take a step per byte of it; the hashes are the same either way."""
    from filters.dedup import compiled

    monkeypatch.setattr(compiled, "_loaded", False)
    texts = pl.Series(["short words here", "x" * 50_000 + " tail"])
    counts, hashes = word_hashes(texts)
    assert compiled._loaded  # the compiled scan ran
    expected_counts, expected_hashes = regex_words(texts)
    assert counts.tolist() == expected_counts.tolist() == [3, 2]
    assert np.array_equal(hashes, expected_hashes)
