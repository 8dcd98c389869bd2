import json
from pathlib import Path
from typing import ClassVar, Literal

import orjson
import polars as pl
import pytest

from filters.dedup.exact import ExactDedup
from pipeline.batch import ORDER, TEXT
from pipeline.errors import AccountingError, InputError, RunFolderError
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from pipeline.stage import Filter, FunctionFilter, StageConfig


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    lines = [r if isinstance(r, str) else orjson.dumps(r).decode() for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_all(folder: Path) -> pl.DataFrame:
    files = sorted(folder.glob("part-*"))
    if not files:
        return pl.DataFrame()
    frames = [pl.read_ndjson(f) if f.suffix == ".jsonl" else pl.read_parquet(f) for f in files]
    return pl.concat(frames, how="diagonal_relaxed")


def options(**read: object) -> RunOptions:
    return RunOptions(read=ReadOptions(**read))  # type: ignore[arg-type]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "docs.jsonl",
        [
            {"id": "a", "text": "The first document.", "lang": "en"},
            {"id": "b", "text": "A second one.", "lang": "en"},
            {"id": "c", "text": "the  FIRST document.", "lang": "en"},
            "{not json",
            {"id": "d", "text": None},
            {"id": "e", "text": "A second one.", "lang": "de", "extra": [1, 2]},
            {"id": "f", "text": "Unique text here."},
        ],
    )


def test_every_document_is_accounted_for(tmp_path: Path, corpus: Path) -> None:
    result = run([corpus], tmp_path / "out", [ExactDedup()], options(batch_size=2))
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats == result.stats.to_json()
    assert (stats["input"], stats["kept"], stats["removed"], stats["quarantined"]) == (7, 3, 2, 2)
    kept = read_all(tmp_path / "out" / "kept")
    assert kept["id"].to_list() == ["a", "b", "f"]
    assert set(kept.columns) == {"id", "text", "lang", "extra"}  # every input column, no provenance
    removed = read_all(tmp_path / "out" / "removed")
    assert removed.select("id", "stage", "reason", "duplicate_of", "source", "line").rows() == [
        ("c", "exact_dedup", "exact_duplicate", "a", "docs.jsonl", 3),
        ("e", "exact_dedup", "exact_duplicate", "b", "docs.jsonl", 6),
    ]
    assert removed["text"].to_list() == ["the  FIRST document.", "A second one."]  # whole documents kept
    quarantine = read_all(tmp_path / "out" / "quarantine").sort("line")
    assert quarantine.select("line", "error").rows()[1] == (5, "text is null")
    assert quarantine["error"][0].startswith("malformed JSON")
    assert stats["read"]["quarantine_errors"] == {"malformed JSON": 1, "text is null": 1}
    assert stats["stages"][0]["reasons"] == {"exact_duplicate": 2}
    assert "exact_dedup" in (tmp_path / "out" / "report.md").read_text()
    assert not (tmp_path / "out" / "_work").exists()


def test_results_do_not_depend_on_batch_size(tmp_path: Path, corpus: Path) -> None:
    small = run([corpus], tmp_path / "small", [ExactDedup()], options(batch_size=1))
    large = run([corpus], tmp_path / "large", [ExactDedup()], options(batch_size=1000))
    assert read_all(tmp_path / "small" / "kept").equals(read_all(tmp_path / "large" / "kept"))
    assert small.stats.removed == large.stats.removed


def test_field_names_are_restored_in_kept(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"url": "u1", "id": 7, "content": "alpha text"},
            {"url": "u2", "id": 8, "content": "beta text"},
        ],
    )
    run([path], tmp_path / "out", [], options(text_field="content", id_field="url"))
    kept = read_all(tmp_path / "out" / "kept")
    assert sorted(kept.columns) == ["content", "id", "url"]
    assert kept.select("url", "id", "content").rows() == [("u1", 7, "alpha text"), ("u2", 8, "beta text")]


def test_schemas_of_different_inputs_are_unified(tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": "one doc", "score": 1}])
    b = write_jsonl(tmp_path / "b.jsonl", [{"text": "two doc", "score": 2.5, "url": "x"}])
    run([a, b], tmp_path / "out", [ExactDedup()], options())
    parts = (tmp_path / "out" / "kept").glob("*.parquet")
    schemas = {tuple(pl.read_parquet_schema(p).items()) for p in parts}
    assert len(schemas) == 1
    kept = read_all(tmp_path / "out" / "kept")
    assert kept.schema["score"] == pl.Float64
    assert kept["id"].to_list() == ["a.jsonl:1", "b.jsonl:1"]  # stable generated ids


def test_duplicate_ids_are_quarantined_after_the_first(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "ids.jsonl",
        [
            {"id": "x", "text": "first"},
            {"id": "y", "text": "second"},
            {"id": "x", "text": "third"},
        ],
    )
    result = run([path], tmp_path / "out", [], options(batch_size=2))
    assert read_all(tmp_path / "out" / "kept")["text"].to_list() == ["first", "second"]
    quarantine = read_all(tmp_path / "out" / "quarantine")
    assert quarantine.select("line", "field", "error").rows() == [
        (3, "id", "duplicate id 'x' (first used at ids.jsonl, line 1)")
    ]
    assert json.loads(quarantine["raw"][0])["text"] == "third"
    assert result.stats.read.quarantine_errors == {"duplicate id": 1}


def test_duplicate_ids_fail_with_location(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ids.jsonl", [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}])
    with pytest.raises(InputError) as error:
        run([path], tmp_path / "out", [], options(on_error="fail"))
    assert (error.value.source, error.value.line, error.value.field) == ("ids.jsonl", 2, "id")
    assert "duplicate id 'x'" in str(error.value)


def test_jsonl_output_and_filter_stage_with_details(tmp_path: Path, corpus: Path) -> None:
    class ShortConfig(StageConfig):
        type: Literal["short"] = "short"

    class Short(Filter):
        Config = ShortConfig
        detail_columns: ClassVar[dict[str, pl.DataType]] = {"length": pl.UInt32()}

        def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
            length = pl.col(TEXT).str.len_chars()
            return batch.with_columns(
                length.alias("length"), pl.when(length < 15).then(pl.lit("too_short")).alias("reason")
            )

    no_digits = FunctionFilter("no_f", lambda batch: pl.when(pl.col("id") == "f").then(pl.lit("is_f")))
    result = run(
        [corpus],
        tmp_path / "out",
        [Short(), no_digits],
        RunOptions(read=ReadOptions(), output_format="jsonl"),
    )
    kept = read_all(tmp_path / "out" / "kept")
    assert list((tmp_path / "out" / "kept").glob("*.jsonl"))
    assert kept["id"].to_list() == ["a", "c"]
    assert "length" not in kept.columns
    reasons = {s.name: s.reasons for s in result.stats.stages}
    assert reasons == {"short": {"too_short": 2}, "no_f": {"is_f": 1}}
    removed = read_all(tmp_path / "out" / "removed")
    assert removed.filter(pl.col("stage") == "short")["length"].to_list() == [13, 13]


def test_transform_stage_rewrites_text_and_its_counters_add_up_across_shards(
    tmp_path: Path, corpus: Path
) -> None:
    class UpperConfig(StageConfig):
        type: Literal["upper"] = "upper"

    class Upper(Filter):
        Config = UpperConfig

        def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
            return batch.with_columns(
                pl.col(TEXT).str.to_uppercase(),
                pl.col(TEXT).str.count_matches("e").alias("e_count"),
                pl.lit(None, pl.String).alias("reason"),
            )

        def counters(self, marked: pl.DataFrame) -> dict[str, int]:
            return {"letters_e": int(marked["e_count"].sum())}

    result = run([corpus], tmp_path / "out", [Upper()], options(batch_size=2))
    kept = read_all(tmp_path / "out" / "kept").sort("id")
    assert kept["text"].to_list() == [
        "THE FIRST DOCUMENT.",
        "A SECOND ONE.",
        "THE  FIRST DOCUMENT.",
        "A SECOND ONE.",
        "UNIQUE TEXT HERE.",
    ]
    (stage,) = result.stats.stages
    assert stage.counters == {"letters_e": 2 + 2 + 2 + 2 + 4}
    assert "| upper | letters_e | 12 |" in (tmp_path / "out" / "report.md").read_text()


def test_a_stage_that_loses_documents_fails_the_run(tmp_path: Path, corpus: Path) -> None:
    class LossyConfig(StageConfig):
        type: Literal["lossy"] = "lossy"

    class Lossy(Filter):
        Config = LossyConfig

        def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
            return batch.filter(pl.col(ORDER) % 2 == 0).with_columns(pl.lit(None, pl.String).alias("reason"))

    with pytest.raises(AccountingError, match="input 7 != kept"):
        run([corpus], tmp_path / "out", [Lossy()], options())


def test_rerun_is_complete_and_other_runs_are_refused(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "out"
    first = run([corpus], out, [ExactDedup()], options())
    again = run([corpus], out, [ExactDedup()], options())
    assert again.already_complete and again.stats.to_json() == first.stats.to_json()
    other = write_jsonl(tmp_path / "other.jsonl", [{"text": "x"}])
    with pytest.raises(RunFolderError, match="holds a run of other inputs"):
        run([other], out, [ExactDedup()], options())
    with pytest.raises(RunFolderError, match="holds a run of other recipe"):
        run([corpus], out, [], options())


def test_in_memory_dataset(tmp_path: Path) -> None:
    from datasets import Dataset

    dataset = Dataset.from_dict({"text": ["same", "same", "other"], "n": [1, 2, 3]})
    result = run([dataset], tmp_path / "out", [ExactDedup()], options())
    assert (result.stats.kept, result.stats.removed) == (2, 1)
    assert read_all(tmp_path / "out" / "kept")["n"].to_list() == [1, 3]


def test_input_columns_named_like_ledger_columns_survive(tmp_path: Path) -> None:
    own = {"source": "crawl-7", "line": 99, "reason": "mine", "stage": "raw", "duplicate_of": "theirs"}
    records = [{"id": "a", "text": "same", **own}, {"id": "b", "text": "same", **own}]
    path = write_jsonl(tmp_path / "in.jsonl", records)
    run([path], tmp_path / "out", [ExactDedup()], options())
    kept = read_all(tmp_path / "out" / "kept")
    assert kept.select(*own).row(0, named=True) == own
    removed = read_all(tmp_path / "out" / "removed").row(0, named=True)
    ledger = (removed["stage"], removed["reason"], removed["duplicate_of"])
    assert ledger == ("exact_dedup", "exact_duplicate", "a")
    assert (removed["source"], removed["line"]) == ("in.jsonl", 2)
    assert removed["duplicate_of__input"] == "theirs" and removed["source__input"] == "crawl-7"
