import gzip
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from filters.select import sampled_kmeans, selection, target_classifier
from filters.select.selection import SelectConfig, Selection, read_target
from pipeline import runner
from pipeline.batch import ORDER, REASON
from pipeline.errors import InputError
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions
from tests.conftest import shared_file
from tests.filters.select.test_dsir import COOKING, FINANCE


def shard(texts: list[str], start: int, **columns: list) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [f"d{start + i}" for i in range(len(texts))],
            "text": texts,
            ORDER: list(range(start, start + len(texts))),
            **columns,
        }
    )


def run(stage: Selection, shards: list[pl.DataFrame]) -> pl.DataFrame:
    """summarize every shard, decide once, apply to every shard: the documents with their reasons."""
    decisions = stage.decide(pl.concat([stage.summarize(s) for s in shards]).lazy())
    return pl.concat([stage.apply_decisions(s, decisions) for s in shards])


def write_jsonl(path: Path, texts: list[str]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.writelines(json.dumps({"text": t}) + "\n" for t in texts)
    return path


def test_config_needs_one_budget_and_a_target_for_targeted_methods(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"text": "a target document"}\n')
    with pytest.raises(ValidationError, match="give budget_docs or budget_tokens"):
        SelectConfig(method="kcenter")
    with pytest.raises(ValidationError, match="not both"):
        SelectConfig(method="kcenter", budget_docs=3, budget_tokens=10)
    with pytest.raises(ValidationError, match="target"):
        SelectConfig(method="dsir", budget_docs=3)
    with pytest.raises(ValidationError, match="quality_column"):
        SelectConfig(method="knn", budget_docs=3, target=tmp_path / "t.jsonl", quality_column="q")
    with pytest.raises(ValidationError, match="target"):
        SelectConfig(method="embedding", budget_docs=3)
    SelectConfig(method="embedding", budget_docs=3, target=tmp_path / "t.jsonl", quality_column="q")
    # a minimum log-odds may replace the budget, for the embedding method only
    SelectConfig(method="embedding", target=tmp_path / "t.jsonl", min_log_odds=0.0)
    with pytest.raises(ValidationError, match="min_log_odds applies to method embedding"):
        SelectConfig(method="dsir", budget_docs=3, target=tmp_path / "t.jsonl", min_log_odds=0.0)
    with pytest.raises(ValidationError, match="finite number"):
        SelectConfig(method="embedding", target=tmp_path / "t.jsonl", min_log_odds=float("nan"))
    with pytest.raises(ValidationError):
        SelectConfig(method="kcenter", budget_docs=3, extra_field=1)
    assert SelectConfig(method="clusters", budget_tokens=100).build().kind == "select"


def test_dsir_stage_keeps_the_budget_of_target_like_documents_across_shards(tmp_path):
    target = write_jsonl(tmp_path / "target.jsonl.gz", COOKING[3:])
    stage = SelectConfig(method="dsir", budget_docs=3, target=target).build()
    shards = [shard(FINANCE + COOKING[:1], 0), shard(FINANCE + COOKING[1:3], 7), shard(FINANCE, 15)]
    marked = run(stage, shards)
    kept = marked.filter(pl.col(REASON).is_null())
    assert sorted(kept["text"].to_list()) == sorted(COOKING[:3])
    removed = marked.filter(pl.col(REASON).is_not_null())
    assert removed[REASON].unique().to_list() == ["not_selected"]
    assert removed["selection_score"].null_count() == 0
    assert len(marked) == 21


def test_embedding_stage_keeps_target_like_documents_and_adds_the_quality_z_score(tmp_path):
    target = write_jsonl(tmp_path / "target.jsonl.gz", COOKING[3:])
    shards = [shard(FINANCE + COOKING[:1], 0), shard(FINANCE + COOKING[1:3], 7), shard(FINANCE, 15)]
    stage = SelectConfig(method="embedding", budget_docs=3, target=target, cache=tmp_path / "cache").build()
    kept = run(stage, shards).filter(pl.col(REASON).is_null())
    assert sorted(kept["text"].to_list()) == sorted(COOKING[:3])
    quality = [[0.0] * 7, [0.0] * 8, [100.0] + [0.0] * 5]  # one finance document far above the rest
    shards = [s.with_columns(quality=pl.Series(q)) for s, q in zip(shards, quality, strict=True)]
    config = SelectConfig(
        method="embedding", budget_docs=3, target=target, quality_column="quality", cache=tmp_path / "cache"
    )
    kept = run(config.build(), shards).filter(pl.col(REASON).is_null())["text"].to_list()
    assert FINANCE[0] in kept and len(set(kept) & set(COOKING[:3])) == 2


def recipes(n: int, rng: np.random.Generator) -> list[str]:
    """`n` seeded cooking instructions."""
    verbs = ["Stir", "Simmer", "Roast", "Whisk", "Knead", "Bake", "Fry", "Chop", "Season", "Grill"]
    things = ["the onions", "the dough", "the sauce", "the eggs", "the vegetables", "the bread", "the fish"]
    ends = ["until golden", "for ten minutes", "over a low heat", "with a pinch of salt", "in a warm oven"]
    return [
        f"{rng.choice(verbs)} {rng.choice(things)} {rng.choice(ends)}, then "
        f"{rng.choice(verbs).lower()} {rng.choice(things)} {rng.choice(ends)}."
        for _ in range(n)
    ]


def markets(n: int, rng: np.random.Generator) -> list[str]:
    """`n` seeded financial news sentences."""
    subjects = ["The company", "The bank", "The central bank", "Analysts", "The firm", "Investors", "Traders"]
    verbs = ["reported", "expected", "forecast", "said", "announced", "priced in"]
    objects = ["higher quarterly profit", "a loss per share", "lower interest rates", "a stronger dollar"]
    ends = ["in the second quarter", "for the fiscal year", "after approval", "on higher oil prices"]
    picks = (subjects, verbs, objects, ends)
    return [" ".join(str(rng.choice(words)) for words in picks) + "." for _ in range(n)]


def test_embedding_stage_with_a_minimum_log_odds_keeps_only_the_target_like_documents(tmp_path):
    """No budget, or one larger than the pool holds of the target's kind (a user does not know that count):
    the documents under the minimum are removed as `unlike_target`, and the facts count the documents the
    classifier finds more like the target than like the pool (the 15 recipes among 60 market reports)."""
    rng = np.random.default_rng(0)
    pool_recipes, target = recipes(15, rng), write_jsonl(tmp_path / "target.jsonl.gz", recipes(15, rng))
    texts = [str(t) for t in rng.permutation(markets(60, rng) + pool_recipes)]
    shards = [shard(texts[:40], 0), shard(texts[40:], 40)]
    config = SelectConfig(method="embedding", target=target, min_log_odds=0.0, cache=tmp_path / "c", lm=False)
    for budget in (None, 30):
        stage = config.model_copy(update={"budget_docs": budget}).build()
        marked = run(stage, shards)
        kept = marked.filter(pl.col(REASON).is_null())
        assert sorted(kept["text"].to_list()) == sorted(pool_recipes)
        removed = marked.filter(pl.col(REASON).is_not_null())
        assert removed[REASON].unique().to_list() == ["unlike_target"] and removed.height == 60
        assert (removed["selection_score"] < 0).all()
        facts = {"documents": 75, "like_target": 15, "kept": 15, "kept_like_target": 15, "min_log_odds": 0.0}
        assert stage.facts["target"] == facts
    # a budget smaller than the target-like documents: those it cannot hold are not_selected
    stage = config.model_copy(update={"budget_docs": 10}).build()
    reasons = run(stage, shards)[REASON].value_counts().sort(REASON).rows()
    assert reasons == [(None, 10), ("not_selected", 5), ("unlike_target", 60)]
    assert stage.facts["target"]["like_target"] == 15 and stage.facts["target"]["kept_like_target"] == 10
    # without the minimum, the budget is filled from the top of the ranking, and the facts say how many of
    # the kept documents the classifier finds unlike the target
    stage = config.model_copy(update={"budget_docs": 30, "min_log_odds": None}).build()
    kept = run(stage, shards).filter(pl.col(REASON).is_null())
    assert kept.height == 30 and set(pool_recipes) <= set(kept["text"])
    assert stage.facts["target"] == {**facts, "kept": 30, "min_log_odds": None}


def test_embedding_stage_hashes_ngrams_measures_layout_and_runs_the_lm_unless_told_not_to(tmp_path):
    target = write_jsonl(tmp_path / "target.jsonl.gz", COOKING[3:])
    shards = [shard(FINANCE + COOKING[:1], 0), shard(FINANCE + COOKING[1:3], 7), shard(FINANCE, 15)]
    every = SelectConfig(method="embedding", budget_docs=3, target=target, cache=tmp_path / "cache").build()
    alone = every.config.model_copy(
        update={"ngrams": False, "layout": False, "lm": False, "self_training": False}
    ).build()
    names = ("ngrams", "layout", "lm", "self_training")
    assert every != alone and all(f"{name}=False" in repr(alone) for name in names)
    summary = every.summarize(shards[0])
    assert {"vector", "bucket", "count", "layout", "lm_state"} <= set(summary.columns)
    assert summary.schema["layout"] == pl.Array(pl.Float32, 10)
    assert summary.schema["lm_state"] == pl.Array(pl.Float32, 576)  # SmolLM2-135M's hidden size
    assert not {"bucket", "layout", "lm_state"} & set(alone.summarize(shards[0]).columns)
    kept = run(every, shards).filter(pl.col(REASON).is_null())
    assert sorted(kept["text"].to_list()) == sorted(COOKING[:3])
    kept = run(alone, shards).filter(pl.col(REASON).is_null())
    assert sorted(kept["text"].to_list()) == sorted(COOKING[:3])  # cooking vs finance: the embedding suffices
    no_layout = every.config.model_copy(update={"layout": False}).build()
    assert "layout" not in no_layout.summarize(shards[0]).columns
    kept = run(no_layout, shards).filter(pl.col(REASON).is_null())
    assert sorted(kept["text"].to_list()) == sorted(COOKING[:3])


def test_a_pinned_dtype_reaches_the_encoder_and_the_lm(tmp_path):
    """Workers on different CPUs resolve "auto" differently; a pinned `dtype` makes every one compute
    the summaries as that dtype's encoder and LM do."""
    from filters.select.lm_states import lm_states
    from pipeline.embeddings import embed

    target = write_jsonl(tmp_path / "target.jsonl.gz", COOKING[3:])
    texts = FINANCE + COOKING[:1]
    for dtype in ("float32", "bfloat16"):  # one of them differs from what "auto" picks on this machine
        stage = SelectConfig(method="embedding", budget_docs=3, target=target, dtype=dtype).build()
        assert f"dtype='{dtype}'" in repr(stage)
        summary = stage.summarize(shard(texts, 0))
        np.testing.assert_array_equal(summary["vector"].to_numpy(), embed(texts, dtype=dtype))
        np.testing.assert_array_equal(summary["lm_state"].to_numpy(), lm_states(texts, dtype=dtype))
    with pytest.raises(ValidationError, match="dtype"):
        SelectConfig(method="embedding", budget_docs=3, target=target, dtype="float16")


def test_token_budget_limits_the_words_kept(tmp_path):
    target = write_jsonl(tmp_path / "target.jsonl.gz", COOKING[3:])
    stage = SelectConfig(method="dsir", budget_tokens=35, target=target, seed=3).build()
    marked = run(stage, [shard(COOKING[:3] + FINANCE, 0)])
    kept = marked.filter(pl.col(REASON).is_null())
    assert 1 <= len(kept) <= 3
    assert kept["text"].str.split(" ").list.len().sum() <= 35


def test_read_target_reads_jsonl_parquet_csv_hf_folders_and_text_lines(tmp_path):
    import datasets

    assert read_target(write_jsonl(tmp_path / "t.jsonl.gz", ["a", "b"])).to_list() == ["a", "b"]
    pl.DataFrame({"body": ["x", None, " ", "y"]}).write_parquet(tmp_path / "t.parquet")
    assert read_target(tmp_path / "t.parquet", "body").to_list() == ["x", "y"]  # no text: skipped
    pl.DataFrame({"question": ["q1", "q2"], "answer": ["1", "2"]}).write_csv(tmp_path / "t.csv")
    assert read_target(tmp_path / "t.csv", "question").to_list() == ["q1", "q2"]
    datasets.Dataset.from_dict({"text": ["h1", "h2"]}).save_to_disk(tmp_path / "hf")
    assert read_target(tmp_path / "hf").to_list() == ["h1", "h2"]
    (tmp_path / "t.txt").write_text("one\n\ntwo\n")
    assert read_target(tmp_path / "t.txt").to_list() == ["one", "two"]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"text": "ok"}', '{"text": "cut'], r"t.jsonl, line 2: malformed JSON"),
        (['{"text": "ok"}', '{"text": ["a", "b"]}'], r"t.jsonl, line 2, field 'text': text must be a string"),
        (['{"question": "q"}'], r"t.jsonl, line 1, field 'text': missing field 'text'"),
        (['{"text": ""}', '{"text": null}'], r"t.jsonl, field 'text': the target corpus has no documents"),
        ([], r"t.jsonl, field 'text': the target corpus has no documents"),
    ],
)
def test_read_target_names_file_line_and_field_of_a_bad_record(tmp_path, lines, message):
    (tmp_path / "t.jsonl").write_text("".join(line + "\n" for line in lines))
    with pytest.raises(InputError, match=message):
        read_target(tmp_path / "t.jsonl")


def test_config_refuses_a_target_corpus_that_does_not_exist(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        SelectConfig(method="dsir", budget_docs=1, target=tmp_path / "missing.jsonl")


def test_kcenter_stage_on_real_embeddings_keeps_one_document_per_topic(tmp_path):
    topics = [COOKING[:4], FINANCE[:4], ["The striker scored twice as the home team won the cup final."]]
    texts = [t for group in topics for t in group]
    quality = [1.0] * len(texts)
    config = SelectConfig(method="kcenter", budget_docs=3, quality_column="quality", cache=tmp_path / "cache")
    stage = config.build()
    marked = run(stage, [shard(texts[:5], 0, quality=quality[:5]), shard(texts[5:], 5, quality=quality[5:])])
    kept = marked.filter(pl.col(REASON).is_null())["text"].to_list()
    assert len(kept) == 3
    assert sum(t in COOKING for t in kept) == 1
    assert sum(t in FINANCE for t in kept) == 1
    assert topics[2][0] in kept
    assert any((tmp_path / "cache").rglob("*.parquet"))  # a re-run reads the embeddings back
    summary = stage.summarize(shard(texts[:2], 0, quality=quality[:2]))
    assert summary.schema["vector"] == pl.Array(pl.Float32, 384)  # fixed-size float32, not Python lists


# ---------------------------------------------------------------- decided in parts

#: every method, each selecting from what the one before kept (300 Reuters documents in)
CHAIN = (
    ("dsir", 250, {"target": True}),
    ("embedding", 225, {"target": True}),
    ("knn", 200, {"target": True, "neighbours": 3}),
    ("centroid", 150, {"target": True}),
    ("clusters", 100, {"n_clusters": 8, "quality_column": "quality"}),
    ("kcenter", 40, {"quality_column": "quality"}),
)


def chain_recipe(folder: Path) -> list[Selection]:
    """The `CHAIN` stages, their target the 100 Reuters documents after the corpus's 300."""
    reuters = pl.read_ndjson(shared_file("reuters21578.jsonl.gz"))
    target = folder / "target.jsonl"
    reuters.slice(300, 100).select("text").write_ndjson(target)
    stages = []
    for method, budget, options in CHAIN:
        extra = {**options, "target": target} if options.get("target") else options
        stages.append(
            SelectConfig(method=method, budget_docs=budget, cache=folder / "cache", **extra).build()
        )
    return stages


def chain_run(folder: Path, parts: int) -> tuple[pl.DataFrame, list[dict], Path]:
    """The chain over 300 Reuters documents (shards of 40) decided in `parts` parts: every document's fate
    (id, reason, stage, score), each stage's facts and the run folder (its `_work/` kept)."""
    reuters = pl.read_ndjson(shared_file("reuters21578.jsonl.gz")).head(300)
    corpus = folder / "corpus.jsonl"
    if not corpus.exists():
        quality = pl.col("text").str.len_chars().mod(97).cast(pl.Float64).alias("quality")
        reuters.select("id", "text", quality).write_ndjson(corpus)
    out = folder / f"p{parts}"
    options = RunOptions(read=ReadOptions(id_field="id", batch_size=40), partitions=parts, keep_work=True)
    result = runner.run([corpus], out, chain_recipe(folder), options)
    kept = pl.read_parquet(out / "kept").select(pl.col("id").cast(pl.String))
    removed = pl.read_parquet(out / "removed").select("id", "stage", REASON, "selection_score")
    fates = pl.concat([kept, removed], how="diagonal_relaxed").sort("id")
    return fates, [stage.facts for stage in result.stats.stages], out


@pytest.fixture(scope="module")
def chain_parts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[pl.DataFrame, list[dict], Path]]:
    """The chain decided as 1, 7 and 64 parts, k-means fitted on a sample of 4 documents per cluster, the
    target classifier against a sample of 100 of the 250 documents, the parts reading 16 rows at a time (so
    a part's first and last blocks are shared with its neighbours)."""
    folder = tmp_path_factory.mktemp("selection-parts")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sampled_kmeans, "SAMPLE_PER_CLUSTER", 4)
        patch.setattr(target_classifier, "MIN_POOL_SAMPLE", 10)
        patch.setattr(target_classifier, "POOL_PER_TARGET", 1)
        patch.setattr(selection, "BLOCK", 16)
        return {parts: chain_run(folder, parts) for parts in (1, 7, 64)}


@pytest.mark.shared_data
@pytest.mark.parametrize("parts", [7, 64])
def test_any_split_selects_what_one_part_selects_on_reuters(chain_parts, parts: int) -> None:
    one, one_facts, _ = chain_parts[1]
    split, split_facts, _ = chain_parts[parts]
    assert split.equals(one)  # the same documents kept, removed by the same stage with the same score
    assert split_facts == one_facts
    assert one["reason"].null_count() == 40 and (one["reason"].drop_nulls() == "not_selected").all()
    assert one["selection_score"].is_not_null().sum() == 150  # dsir, embedding, knn and centroid score
    documents = [facts["embeddings"]["documents"] for facts in one_facts[1:]]
    assert documents == [250, 225, 200, 150, 100]  # what each embedding stage saw
    assert [facts["embeddings"]["kept"] for facts in one_facts[1:]] == [225, 200, 150, 100, 40]
    assert len(one_facts[4]["embeddings"]["cluster_sizes"]) == 8


@pytest.mark.shared_data
def test_each_part_is_a_task_and_shared_values_are_computed_once(chain_parts) -> None:
    work = chain_parts[7][2] / "_work"
    shared = {}
    for decide in sorted(work.glob("*-select-decide")):
        assert len(list((decide / "parts-of-7").glob("part-*.parquet"))) == 7
        state = decide / "state"
        shared[decide.name] = sorted(p.name for p in state.iterdir() if not p.name.startswith("."))
    assert shared == {
        "00-select-decide": ["dsir-weights.npy", "dsir-weights.npy.lock"],
        "01-select-decide": [
            "layout-scaling.npy",
            "layout-scaling.npy.lock",
            "lm-state-mean.npy",
            "lm-state-mean.npy.lock",
            "target-classifier.npy",
            "target-classifier.npy.lock",
            "target-embeddings.npy",
            "target-embeddings.npy.lock",
        ],
        "02-select-decide": ["target-embeddings.npy", "target-embeddings.npy.lock"],
        "03-select-decide": ["target-embeddings.npy", "target-embeddings.npy.lock"],
        "04-select-decide": ["centers.npy", "centers.npy.lock"],
        "05-select-decide": ["kcenter-vectors.npy"],
    }
    weights = np.load(work / "01-select-decide" / "state" / "target-classifier.npy")
    # coefficients (the embedding's 384, the hashed n-grams' 10,000, the layout's 10, the LM state's 576)
    # and the intercept
    assert weights.dtype == np.float64 and weights.shape == (384 + 10_000 + 10 + 576 + 1,)
    scaling = np.load(work / "01-select-decide" / "state" / "layout-scaling.npy")
    assert scaling.shape == (2, 10) and (scaling[1] > 0).all()  # means, then standard deviations
    assert np.load(work / "01-select-decide" / "state" / "lm-state-mean.npy").shape == (576,)
    vectors = np.load(work / "05-select-decide" / "state" / "kcenter-vectors.npy", mmap_mode="r")
    assert vectors.dtype == np.float32 and vectors.shape == (100, 384)
