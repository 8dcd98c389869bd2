"""Sentence scorers: one contract for every registered scorer, then what each one promises."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.embeddings import embed
from prompts.scorers import (
    SCORERS,
    Centrality,
    EmbeddingRelevance,
    LexicalRelevance,
    NeighbourRelevance,
    Position,
    Scorer,
    Sentences,
    features,
    grams,
    make_scorer,
)
from prompts.sentence_model import PACKAGED, LinearModel, load_sentence_model
from prompts.words import word_key

TEXTS = [
    "The night train leaves the central station at a quarter past eleven.",
    "It has four sleeping cars and a dining car.",
    "The orchard grows apples and pears.",
    "In October the pupils press the apples into cider.",
    "Der Nachtzug fährt um Viertel nach elf vom Hauptbahnhof ab.",
]
QUESTION = "When does the night train leave the station?"


def sentences(question: str | None = QUESTION) -> Sentences:
    keys = [[word_key(w) for w in text.split()] for text in TEXTS]
    chunk = np.array([0, 0, 1, 1, 2])
    chunk_texts = [" ".join(TEXTS[0:2]), " ".join(TEXTS[2:4]), TEXTS[4]]
    question_keys = [word_key(w) for w in question.split()] if question else []
    return Sentences(TEXTS, keys, chunk, chunk_texts, question, question_keys, lambda t: embed(t))


def every_scorer() -> list[Scorer]:
    return [cls() for cls in SCORERS.values()]


@pytest.mark.parametrize("scorer", every_scorer(), ids=lambda s: s.kind)
def test_every_scorer_keeps_the_contract(scorer: Scorer) -> None:
    assert make_scorer(scorer.spec()) == scorer  # an object is its parameters
    assert json.loads(json.dumps(scorer.spec())) == scorer.spec()
    assert scorer.name.startswith(scorer.kind)
    values = scorer(sentences(QUESTION if scorer.needs_question else None))
    assert values.shape == (len(TEXTS),)
    assert np.isfinite(values).all()


def test_an_unknown_scorer_kind_is_named() -> None:
    with pytest.raises(ValueError, match="unknown scorer kind 'bm25'"):
        make_scorer({"kind": "bm25"})


@pytest.mark.parametrize(
    "scorer",
    [EmbeddingRelevance(), LexicalRelevance(n=0), LexicalRelevance(n=3), LexicalRelevance(n=3, of="chunk")],
    ids=lambda s: s.name,
)
def test_relevance_scorers_put_the_answering_sentence_first(scorer: Scorer) -> None:
    assert int(np.argmax(scorer(sentences()))) == 0


def test_character_ngrams_match_across_languages_where_words_do_not() -> None:
    german = sentences("Wann fährt der Nachtzug ab?")
    assert int(np.argmax(LexicalRelevance(n=3)(german))) == 4


def test_neighbour_relevance_is_the_best_adjacent_sentence_in_the_same_chunk() -> None:
    own = LexicalRelevance(n=3)(sentences())
    assert NeighbourRelevance(n=3)(sentences())[1] == pytest.approx(own[0])
    assert NeighbourRelevance(n=3)(sentences())[4] == 0.0  # alone in its chunk


def test_positions_within_chunks() -> None:
    assert Position(at="first")(sentences()).tolist() == [1, 0, 1, 0, 1]
    assert Position(at="relative")(sentences()).tolist() == [0, 1, 0, 1, 0]


def test_centrality_prefers_the_typical_sentence() -> None:
    values = Centrality(n=3)(sentences(None))
    assert int(np.argmin(values)) == 4  # the one German sentence among English ones


def test_grams_of_words_and_characters() -> None:
    assert grams(["night", "at", ""], 0) == ["night", "at"]
    assert grams(["night", "at"], 3) == ["nig", "igh", "ght", "at"]


def test_relative_features_are_standardised_within_the_prompt() -> None:
    matrix = features([LexicalRelevance(n=3), Position()], sentences())
    assert matrix[:, 0].mean() == pytest.approx(0.0, abs=1e-9)
    assert matrix[:, 0].std() == pytest.approx(1.0)
    assert matrix[:, 1].tolist() == [1, 0, 1, 0, 1]  # not relative: as is


def test_the_packaged_sentence_model_loads_and_round_trips() -> None:
    model = load_sentence_model()
    fitted = json.loads(PACKAGED.read_text())
    assert model.question.to_dict() == {k: fitted["question"][k] for k in ("scorers", "weights", "intercept")}
    assert all(scorer.needs_question is False for scorer in model.agnostic.scorers)
    assert LinearModel.from_dict(model.agnostic.to_dict()) == model.agnostic


def test_a_sentence_model_with_mismatched_weights_is_refused(tmp_path: Path) -> None:
    bad = {"scorers": [{"kind": "position", "at": "first"}], "weights": [1.0, 2.0]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"question": bad, "agnostic": bad}))
    with pytest.raises(ValueError, match="1 scorers but 2 weights"):
        load_sentence_model(str(path))
