"""Fitted weights over sentence scorers: which sentences compression keeps first.

Two linear models (logistic regression) stored in `sentence_model.json` beside this module, one used with
a question and one without; each lists its scorers (`prompts.scorers` specs), their weights and how they
were fitted. `benchmarks/fit_sentence_model.py` writes the file from labels the project derives itself: a
sentence is positive when it holds a gold answer (NQ-open, XQuAD de/zh/ar), on records and articles that
the compression benchmark does not report on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from prompts.scorers import Scorer, Sentences, features, make_scorer

PACKAGED = Path(__file__).with_name("sentence_model.json")


@dataclass(frozen=True)
class LinearModel:
    """`intercept + features @ weights` over `scorers` (higher = keep first)."""

    scorers: tuple[Scorer, ...]
    weights: tuple[float, ...]
    intercept: float = 0.0

    def score(self, sentences: Sentences) -> np.ndarray:
        return self.intercept + features(self.scorers, sentences) @ np.asarray(self.weights)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorers": [s.spec() for s in self.scorers],
            "weights": list(self.weights),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        scorers = tuple(make_scorer(spec) for spec in data["scorers"])
        weights = tuple(float(w) for w in data["weights"])
        if len(scorers) != len(weights):
            raise ValueError(f"{len(scorers)} scorers but {len(weights)} weights")
        return cls(scorers, weights, float(data.get("intercept", 0.0)))


@dataclass(frozen=True)
class SentenceModel:
    """The model used with a question and the one used without."""

    question: LinearModel
    agnostic: LinearModel

    def score(self, sentences: Sentences) -> np.ndarray:
        model = self.question if sentences.question else self.agnostic
        return model.score(sentences)


@lru_cache(maxsize=4)
def load_sentence_model(path: str | None = None) -> SentenceModel:
    """The sentence model in `path` (JSON), else the packaged one."""
    file = Path(path) if path else PACKAGED
    try:
        data = json.loads(file.read_text())
        return SentenceModel(LinearModel.from_dict(data["question"]), LinearModel.from_dict(data["agnostic"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{file}: not a sentence model ({error})") from error
