"""`line_dedup` across runs: an index of segment counts, so nightly runs cut a banner that no single night
repeats often enough; committed once per successful run, the same for any split of the decision."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from filters.dedup.index import IndexError_
from filters.dedup.line_dedup import LineDedup, LineDedupConfig, hash_check, remove_repeated_lines
from filters.dedup.line_index import LineIndex
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from tests.filters.dedup.test_line_dedup import write

BANNER = "Subscribe to our newsletter for weekly deals"


def night(number: int, pages: int = 6) -> list[str]:
    """One night's crawl: `pages` distinct pages, each with the banner at its end."""
    return [
        f"Night {number} page {i}: " + " ".join(f"n{number}p{i}w{j}" for j in range(30)) + f"\n{BANNER}"
        for i in range(pages)
    ]


def index_of(config: LineDedupConfig) -> LineIndex:
    assert config.index is not None
    return LineIndex(config.index, config.index_params(), hash_check(config))


def banner_count(config: LineDedupConfig) -> int:
    """The banner's documents in the index, summed over its runs."""
    counts = index_of(config).counts().collect()
    return int(counts["documents"].max() or 0) if counts.height else 0


def test_nights_below_the_threshold_add_up_to_a_cut(tmp_path: Path) -> None:
    config = LineDedupConfig(min_documents=10, index=tmp_path / "index", update_index=True)
    first = remove_repeated_lines(pl.DataFrame({"text": night(1)}), config)
    assert first["repeated_lines"].sum() == 0  # 6 documents: not repeated yet
    assert banner_count(config) == 6 and index_of(config).runs() == 1
    second = remove_repeated_lines(pl.DataFrame({"text": night(2)}), config)
    assert second["repeated_lines"].to_list() == [1] * 6  # 6 tonight + 6 before > 10
    assert not second["text"].str.contains(BANNER).any()
    assert second["text"].to_list() == [text.removesuffix(f"\n{BANNER}") for text in night(2)]
    assert banner_count(config) == 12 and index_of(config).runs() == 2
    assert not list((tmp_path / "index" / "_pending").glob("*/*"))  # staging cleaned up


def test_reading_the_index_without_update_adds_nothing(tmp_path: Path) -> None:
    writer = LineDedupConfig(min_documents=10, index=tmp_path / "index", update_index=True)
    remove_repeated_lines(pl.DataFrame({"text": night(1, pages=8)}), writer)
    reader = writer.model_copy(update={"update_index": False})
    cut = remove_repeated_lines(pl.DataFrame({"text": night(2, pages=3)}), reader)
    assert cut["repeated_lines"].to_list() == [1] * 3  # 3 + 8 > 10
    assert banner_count(writer) == 8 and index_of(writer).runs() == 1
    alone = remove_repeated_lines(
        pl.DataFrame({"text": night(2, pages=3)}), LineDedupConfig(min_documents=10)
    )
    assert alone["repeated_lines"].sum() == 0  # without the index the night alone is below the threshold


def test_an_index_of_other_parameters_or_another_folder_is_refused(tmp_path: Path) -> None:
    config = LineDedupConfig(min_documents=2, index=tmp_path / "index", update_index=True)
    remove_repeated_lines(pl.DataFrame({"text": night(1)}), config)
    other = config.model_copy(update={"unit": "paragraph"})
    with pytest.raises(IndexError_, match="line index was built with other parameters \\(unit\\)"):
        remove_repeated_lines(pl.DataFrame({"text": night(2)}), other)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    with pytest.raises(IndexError_, match="not a winnow line index"):
        remove_repeated_lines(
            pl.DataFrame({"text": night(2)}), config.model_copy(update={"index": tmp_path / "notes"})
        )
    with pytest.raises(ValidationError, match="update_index needs an index folder"):
        LineDedupConfig(update_index=True)


def test_a_commit_repeated_after_it_wrote_its_run_counts_once(tmp_path: Path) -> None:
    config = LineDedupConfig(index=tmp_path / "index")
    index = index_of(config)
    pending = tmp_path / "run" / "update"
    counts = pl.DataFrame(
        {"key": [1, 2**63], "documents": [3, 4]}, schema={"key": pl.UInt64, "documents": pl.UInt32}
    )
    index.stage(counts.head(1), pending, part=0, parts=2)
    index.stage(counts.tail(1), pending, part=1, parts=2)
    copy = tmp_path / "copy"
    (pending / "key").write_text("k1")
    shutil.copytree(pending, copy)
    assert index.commit(pending) == 2 and not pending.exists()
    shutil.copytree(copy, pending)  # as if the first commit died before it cleaned up
    assert index.commit(pending) == 2 and index.runs() == 1
    assert index.counts().sort("key").collect().rows() == [(1, 3), (2**63, 4)]
    assert index.counts(1, 2).collect().rows() == [(2**63, 4)]  # a part reads its key range
    assert index.commit(tmp_path / "nothing") == 0
    index.stage(counts, pending, part=0, parts=1)  # a retry split otherwise drops the old split's parts
    index.stage(counts.head(1), pending, part=0, parts=3)
    assert [p.name for p in pending.glob("part-*")] == ["part-000000-of-000003.parquet"]


def test_runs_update_the_index_once_they_succeed_for_any_split(tmp_path: Path) -> None:
    fates = {}
    for parts in (1, 3):
        config = LineDedupConfig(min_documents=10, index=tmp_path / f"index-{parts}", update_index=True)
        for number in (1, 2):
            corpus = write(tmp_path / f"night-{number}.jsonl", night(number))
            out = tmp_path / f"out-{parts}-{number}"
            options = RunOptions(read=ReadOptions(id_field="id", batch_size=4), partitions=parts)
            result = run([corpus], out, [LineDedup(config)], options)
            assert result.stats.input == 6 == result.stats.kept
        (stage,) = result.stats.stages
        assert stage.facts == {"repeated_segments": 1, "index_runs": 1, "repeated_with_index": 1}
        fates[parts] = pl.read_parquet(out / "kept").sort("id").select("id", "text", "repeated_lines")
        assert fates[parts]["repeated_lines"].to_list() == [1] * 6
        assert banner_count(config) == 12
        assert index_of(config).counts().collect().height == 1 + 2 * 6  # the banner and every page's own line
    assert fates[3].equals(fates[1])
