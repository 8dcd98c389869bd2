import polars as pl

from filters.dedup.exact import ExactDedup, exact_duplicates
from filters.dedup.normalize import Normalization, normalize
from pipeline.batch import ID, ORDER, TEXT


def frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({ID: [f"d{i}" for i in range(len(texts))], TEXT: texts})


def test_normalize_spells_out_its_rules() -> None:
    assert normalize("  Hello\t\tWORLD \n") == "hello world"
    assert normalize("Ｆｕｌｌ width") == "full width"  # NFKC
    assert normalize("a, b!", Normalization(punctuation=True)) == "a b"
    assert normalize("Keep 1987 digits") == "keep 1987 digits"
    assert normalize("Case", Normalization(lowercase=False)) == "Case"


def test_exact_duplicates_points_at_first_occurrence() -> None:
    out = exact_duplicates(frame(["A  cat.", "a dog.", "a cat.", "A DOG.", "a bird."]))
    assert out["duplicate_of"].to_list() == [None, None, "d0", "d1", None]


def test_digits_distinguish_documents() -> None:
    out = exact_duplicates(frame(["profit 12 mln", "profit 13 mln"]))
    assert out["duplicate_of"].null_count() == 2


def test_stage_decides_across_shards_keeping_the_first() -> None:
    stage = ExactDedup()
    shard_a = frame(["same text", "other"]).with_columns(pl.Series(ORDER, [10, 11]))
    shard_b = frame(["SAME   text", "new"]).with_columns(
        pl.Series(ID, ["e0", "e1"]), pl.Series(ORDER, [5, 20])
    )
    summaries = pl.concat([stage.summarize(shard_a), stage.summarize(shard_b)]).lazy()
    decisions = stage.decide(summaries)
    # ORDER 5 (shard b) comes first in the corpus, so the copy in shard a is the one removed
    assert decisions.select(ORDER, "reason", "duplicate_of").rows() == [(10, "exact_duplicate", "e0")]
    marked = stage.apply_decisions(shard_a, decisions)
    assert marked["reason"].to_list() == ["exact_duplicate", None]
