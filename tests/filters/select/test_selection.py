import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from filters.select.selection import SelectConfig, Selection, read_target
from pipeline.batch import ORDER, REASON
from pipeline.errors import InputError
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
    with pytest.raises(ValidationError, match="exactly one"):
        SelectConfig(method="kcenter")
    with pytest.raises(ValidationError, match="exactly one"):
        SelectConfig(method="kcenter", budget_docs=3, budget_tokens=10)
    with pytest.raises(ValidationError, match="target"):
        SelectConfig(method="dsir", budget_docs=3)
    with pytest.raises(ValidationError, match="quality_column"):
        SelectConfig(method="knn", budget_docs=3, target=tmp_path / "t.jsonl", quality_column="q")
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


def test_token_budget_limits_the_words_kept(tmp_path):
    target = write_jsonl(tmp_path / "target.jsonl.gz", COOKING[3:])
    stage = SelectConfig(method="dsir", budget_tokens=35, target=target, seed=3).build()
    marked = run(stage, [shard(COOKING[:3] + FINANCE, 0)])
    kept = marked.filter(pl.col(REASON).is_null())
    assert 1 <= len(kept) <= 3
    assert kept["text"].str.split(" ").list.len().sum() <= 35


def test_read_target_reads_jsonl_parquet_and_text_lines(tmp_path):
    assert read_target(write_jsonl(tmp_path / "t.jsonl.gz", ["a", "b"])).to_list() == ["a", "b"]
    pl.DataFrame({"body": ["x", None]}).write_parquet(tmp_path / "t.parquet")
    assert read_target(tmp_path / "t.parquet", "body").to_list() == ["x"]
    (tmp_path / "t.txt").write_text("one\n\ntwo\n")
    assert read_target(tmp_path / "t.txt").to_list() == ["one", "two"]
    with pytest.raises(InputError, match="no field"):
        read_target(tmp_path / "t.parquet")


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
