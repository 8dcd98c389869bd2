"""Language identification: the bundled fastText model labels real sentences; the stage's reasons."""

from __future__ import annotations

import gzip
import pickle

import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.language import (
    REASON_LOW_SCORE,
    REASON_NOT_ALLOWED,
    LanguageConfig,
    LanguageFilter,
    identify_language,
)
from pipeline.batch import REASON
from tests.conftest import shared_file

SENTENCES = {
    "en": "The committee met on Tuesday to discuss the budget for next year.\nMost members agreed that "
    "the library should stay open longer during the winter months.",
    "fr": "Le comité s'est réuni mardi pour discuter du budget de l'année prochaine.\nLa plupart des "
    "membres pensent que la bibliothèque devrait rester ouverte plus longtemps en hiver.",
    "de": "Der Ausschuss hat sich am Dienstag getroffen, um den Haushalt für das nächste Jahr zu besprechen. "
    "Die meisten Mitglieder finden, dass die Bibliothek im Winter länger geöffnet bleiben sollte.",
    "es": "El comité se reunió el martes para hablar del presupuesto del año que viene. La mayoría de los "
    "miembros cree que la biblioteca debería abrir más horas durante el invierno.",
}


def frame(texts: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"id": [f"d{i}" for i in range(len(texts))], "text": texts, "__order": range(len(texts))},
        schema={"id": pl.String, "text": pl.String, "__order": pl.Int64},
    )


def test_identifies_each_language_confidently() -> None:
    out = identify_language(frame(list(SENTENCES.values())))
    assert out["lang"].to_list() == list(SENTENCES)
    assert out["lang_score"].min() > 0.8
    assert out.schema["lang"] == pl.String and out.schema["lang_score"] == pl.Float64


def test_text_without_words_gets_no_language() -> None:
    out = identify_language(frame(["", "  \n\t ", None, SENTENCES["en"]]))
    assert out["lang"].to_list() == [None, None, None, "en"]
    assert out["lang_score"].to_list()[:3] == [0.0, 0.0, 0.0]


def test_max_chars_bounds_what_the_model_reads() -> None:
    mixed = SENTENCES["en"] + " " + " ".join([SENTENCES["fr"]] * 4)
    assert identify_language(frame([mixed]), max_chars=None)["lang"].item() == "fr"
    assert identify_language(frame([mixed]), max_chars=len(SENTENCES["en"]))["lang"].item() == "en"


def test_filter_marks_other_languages_and_weak_scores() -> None:
    batch = frame([SENTENCES["en"], SENTENCES["fr"], SENTENCES["de"], ""])
    out = LanguageFilter(languages=["en", "de"], min_score=0.65).apply(batch)
    assert out.columns == [*batch.columns, "lang", "lang_score", REASON]
    assert out[REASON].to_list() == [None, REASON_NOT_ALLOWED, None, REASON_LOW_SCORE]
    assert out.select("id", "text", "__order").equals(batch)


def test_empty_language_list_allows_any_language_above_the_score() -> None:
    out = LanguageFilter(languages=[], min_score=0.5).apply(frame([SENTENCES["fr"], SENTENCES["es"], "   "]))
    assert out[REASON].to_list() == [None, None, REASON_LOW_SCORE]


def test_allowed_language_below_min_score_is_marked() -> None:
    out = LanguageFilter(languages=["en"], min_score=1.0).apply(frame([SENTENCES["en"]]))
    assert out[REASON].item() == REASON_LOW_SCORE


def test_config_normalises_codes_and_builds_a_picklable_stage() -> None:
    config = LanguageConfig(languages=["EN", " fr", "en"], min_score=0.5, max_chars=2000)
    assert config.languages == ["en", "fr"]
    stage = pickle.loads(pickle.dumps(config.build()))
    assert stage.config == config and stage == config.build()
    assert stage.apply(frame([SENTENCES["de"]]))[REASON].item() == REASON_NOT_ALLOWED
    assert LanguageConfig().languages == ["en"] and LanguageConfig().min_score == 0.65


@pytest.mark.parametrize(
    "fields",
    [{"languages": ["english"]}, {"min_score": 1.5}, {"max_chars": 0}, {"threshold": 0.5}],
)
def test_config_rejects_bad_values(fields: dict) -> None:
    with pytest.raises(ValidationError):
        LanguageConfig(**fields)


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "share"), [("reuters21578.jsonl.gz", 0.99), ("c4_sample1k.jsonl.gz", 0.98)])
def test_english_corpora_are_detected_as_english(name: str, share: float) -> None:
    with gzip.open(shared_file(name)) as handle:
        docs = pl.read_ndjson(handle.read()).select("id", "text").head(2000)
    out = identify_language(docs)
    assert (out["lang"] == "en").mean() >= share
