"""The contract every registered stage keeps, checked over `filters.stages.STAGES` (as scikit-learn's
`check_estimator` runs over every estimator): a new stage in the registry is covered without a new test.

A stage whose config has required fields gets them from `EXAMPLES` (a file, a budget)."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from filters.quality.classifier import QualityClassifier
from filters.stages import STAGES
from pipeline.batch import ID, ORDER, REASON, TEXT
from pipeline.stage import CorpusStage, Filter, Stage, StageConfig
from tests.filters.quality.classifier_util import labelled


def _bad_words(folder: Path) -> dict[str, Any]:
    words = folder / "bad_words.txt"
    words.write_text("grimble\nzorp\n", encoding="utf-8")
    return {"words_file": words}


def _benchmark(folder: Path) -> dict[str, Any]:
    items = folder / "items.jsonl"
    items.write_text(json.dumps({"question": TEXTS[0]}) + "\n", encoding="utf-8")
    return {"benchmarks": [{"path": items, "fields": ["question"]}]}


def _quality_model(folder: Path) -> dict[str, Any]:
    texts, labels = labelled(60, seed=0)
    return {"model": QualityClassifier().fit(texts, labels).save(folder / "quality.wq"), "min_score": 0.5}


#: parameters for configs that cannot be built from their defaults, by stage type
EXAMPLES: dict[str, Callable[[Path], dict[str, Any]]] = {
    "c4_badwords": _bad_words,
    "decontaminate": _benchmark,
    "quality_classifier": _quality_model,
    "select": lambda folder: {"method": "clusters", "budget_docs": 8, "n_clusters": 3},
}

_SENTENCE = "The {0} committee met on {1} May to review the {2} budget and the plan for the new {3} road."
TEXTS = [
    _SENTENCE.format("harbour", 3, "annual", "coastal"),
    _SENTENCE.format("harbour", 3, "annual", "coastal"),  # an exact copy
    _SENTENCE.format("harbour", 3, "annual", "coastal") + " It agreed.",  # a near copy
    "Write to clerk@example.org or call 555-0142 before Friday; the office opens at nine in the morning.",
    "ok",
    "buy buy buy buy buy buy buy buy buy buy buy buy buy buy buy buy buy buy buy buy",
    "Der Ausschuss tagte am Montag und beschloss, die neue Straße am Hafen im nächsten Jahr zu bauen.",
    "A zorp grimble appeared in the report, which the editors removed before it was printed in the paper.",
    "Rainfall in the valley was twice the usual amount this spring, and the farmers planted maize late.",
    "The library will stay open until ten on weekdays while the reading room upstairs is being repaired.",
    "Three new buses now run between the station and the hospital every twenty minutes during the day.",
    "The school choir sang at the town hall on Sunday, and the mayor thanked the teachers for their work.",
]


#: floats computed again (an embedding, a perplexity) may differ in the last bits when a kernel sums in
#: another order: up to n·eps for a float32 sum of n terms; 1,024 terms bound the models' dimensions here
FLOAT_RTOL = 1024 * float(np.finfo(np.float32).eps)


def same(a: pl.DataFrame | None, b: pl.DataFrame | None) -> None:
    """Equal decisions: strings and integers exactly, floats up to `FLOAT_RTOL`."""
    assert (a is None) == (b is None)
    if a is not None:
        assert_frame_equal(a, b, check_exact=False, rel_tol=FLOAT_RTOL, abs_tol=0.0)


def documents() -> pl.DataFrame:
    return pl.DataFrame(
        {ID: [f"doc-{i}" for i in range(len(TEXTS))], TEXT: TEXTS, ORDER: list(range(len(TEXTS)))},
        schema={ID: pl.String, TEXT: pl.String, ORDER: pl.Int64},
    )


def config_of(stage: type[Stage], folder: Path) -> StageConfig:
    """The stage's config: its defaults, or the parameters `EXAMPLES` gives for its type."""
    example = EXAMPLES.get(stage.kind)
    if example is None:
        try:
            return stage.Config()
        except Exception as error:
            pytest.fail(f"{stage.__name__}'s config needs parameters: add its type to EXAMPLES ({error})")
    return stage.Config(**example(folder))


def mark(stage: Stage, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """What the runner does with the stage, on two shards: every document marked, and a corpus
    stage's decisions."""
    shards = [batch[:6], batch[6:]]
    if isinstance(stage, Filter):
        return pl.concat([stage.apply(shard) for shard in shards], how="diagonal_relaxed"), None
    assert isinstance(stage, CorpusStage)
    summaries = pl.concat([stage.summarize(shard) for shard in shards], how="vertical_relaxed")
    decisions = stage.decide(summaries.lazy())
    return pl.concat([stage.apply_decisions(shard, decisions) for shard in shards]), decisions


@pytest.fixture(scope="module", params=STAGES, ids=[stage.kind for stage in STAGES])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    stage_class: type[Stage] = request.param
    config = config_of(stage_class, tmp_path_factory.mktemp(stage_class.kind))
    stage = config.build()
    marked, decisions = mark(stage, documents())
    return {"class": stage_class, "config": config, "stage": stage, "marked": marked, "decisions": decisions}


def test_the_registry_names_each_stage_once_by_its_configs_type() -> None:
    kinds = [stage.kind for stage in STAGES]
    assert len(set(kinds)) == len(kinds)
    for stage in STAGES:
        assert "Config" in vars(stage), f"{stage.__name__} names no Config of its own"
        assert stage.kind == stage.Config.kind() == stage.Config.model_fields["type"].default
        assert stage.Config.stage_class is stage


def test_a_stage_is_its_config(case: dict[str, Any]) -> None:
    stage, config, stage_class = case["stage"], case["config"], case["class"]
    assert type(stage) is stage_class and stage.config is config
    changed = config.model_dump(exclude_defaults=True, exclude={"type"})
    assert repr(stage).startswith(f"{stage_class.__name__}(")
    assert all(f"{key}=" in repr(stage) for key in changed)
    twin = stage_class.Config.model_validate(config.model_dump()).build()
    assert twin == stage and hash(twin) == hash(stage) and repr(twin) == repr(stage) and twin is not stage
    assert stage_class(**config.model_dump(exclude={"type"})) == stage  # keyword parameters, same stage


def test_its_identity_is_its_recipe_table(case: dict[str, Any]) -> None:
    stage = case["stage"]
    table = json.loads(json.dumps(stage.identity()))  # plain JSON, as the run manifest stores it
    assert table["type"] == stage.kind
    assert case["class"].Config.model_validate(table).build() == stage


def test_it_pickles_for_dask_workers_and_decides_the_same_there(case: dict[str, Any]) -> None:
    stage = pickle.loads(pickle.dumps(case["stage"]))
    assert stage == case["stage"]
    marked, _ = mark(stage, documents())
    same(marked, case["marked"])


def test_it_is_deterministic(case: dict[str, Any]) -> None:
    marked, decisions = mark(case["config"].build(), documents())
    same(marked, case["marked"])
    same(decisions, case["decisions"])


def test_every_document_gets_a_reason_and_the_declared_columns(case: dict[str, Any]) -> None:
    stage, marked = case["stage"], case["marked"]
    assert marked[ORDER].to_list() == documents()[ORDER].to_list()  # every document, in order
    assert marked[ID].to_list() == documents()[ID].to_list()
    assert marked.schema[REASON] == pl.String
    reasons = marked[REASON].drop_nulls()
    assert (reasons.str.len_chars() > 0).all(), "a removal says why"
    for column, dtype in stage.score_columns.items():
        assert marked.schema.get(column) == dtype, f"score column {column}"
    declared = {ORDER, ID, TEXT, REASON, *stage.score_columns, *stage.detail_columns}
    assert set(marked.columns) <= declared, f"undeclared columns {set(marked.columns) - declared}"
    if case["decisions"] is not None:
        decisions = case["decisions"]
        assert decisions.columns == [ORDER, REASON, *stage.detail_columns]
        for column, dtype in stage.detail_columns.items():
            assert decisions.schema[column] == dtype, f"detail column {column}"
        assert decisions[REASON].null_count() == 0


#: stages that must remove some of `TEXTS` by their defaults: else the checks above could pass vacuously
REMOVING = {
    "decontaminate",
    "exact_dedup",
    "minhash_dedup",
    "gopher_quality",
    "gopher_repetition",
    "language",
    "c4_badwords",
}


def test_the_batch_gives_stages_something_to_remove(case: dict[str, Any]) -> None:
    if case["stage"].kind in REMOVING:
        assert case["marked"][REASON].null_count() < len(TEXTS)
