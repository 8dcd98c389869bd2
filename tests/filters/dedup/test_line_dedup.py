"""Repeated-line removal (`line_dedup`): boilerplate lines planted into real C4 pages are cut from every page
that has them, every other page keeps its text byte for byte, the same for any split of the decision, and
the stage runs from a recipe inside `clean_corpus` with its counts in the stats and `report.html`."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import polars as pl
import pytest

from filters.dedup.line_dedup import (
    REASON_TOO_SHORT,
    LineDedup,
    LineDedupConfig,
    remove_repeated_lines,
    segments,
)
from flows.recipe import load_recipe, parse_recipe
from pipeline.errors import RecipeError
from pipeline.readers import ReadOptions
from pipeline.runner import RunOptions, run
from tests.conftest import shared_file

#: made-up site furniture, planted at the top or bottom of pages
BOILERPLATE = (
    "Skip to main content",
    "Home | Shop | Blog | Contact",
    "We use cookies to improve your visit. Accept all",
    "(c) 2021 Example Press Ltd. All rights reserved.",
    "Follow us on social media",
)


def plant(texts: list[str], seed: int = 0, share: float = 0.3) -> tuple[list[str], list[int]]:
    """`texts` with one to three `BOILERPLATE` lines added to a seeded `share` of them (the first lines
    above the text, the others below it), and how many each page got."""
    rng = random.Random(seed)
    planted, counts = [], []
    for text in texts:
        if rng.random() >= share:
            planted.append(text)
            counts.append(0)
            continue
        lines = rng.sample(BOILERPLATE, rng.randint(1, 3))
        head, tail = lines[:1], lines[1:]
        planted.append("".join(f"{line}\n" for line in head) + text + "".join(f"\n{line}" for line in tail))
        counts.append(len(lines))
    return planted, counts


@pytest.fixture(scope="module")
def c4() -> pl.DataFrame:
    return pl.read_ndjson(shared_file("c4_sample1k.jsonl.gz")).select("id", "text")


@pytest.mark.shared_data
def test_c4_pages_have_no_lines_repeated_across_documents(c4: pl.DataFrame) -> None:
    out = remove_repeated_lines(c4, LineDedupConfig(min_documents=1))
    assert out["repeated_lines"].sum() == 0 and out["reason"].null_count() == c4.height
    assert out["text"].to_list() == c4["text"].to_list()  # C4 deduplicated its lines itself


@pytest.mark.shared_data
def test_planted_boilerplate_is_cut_from_every_page_and_other_pages_stay_byte_for_byte(
    c4: pl.DataFrame,
) -> None:
    texts = c4["text"].to_list()
    planted, counts = plant(texts)
    out = remove_repeated_lines(c4.with_columns(pl.Series("text", planted)), LineDedupConfig())
    words = c4["text"].str.count_matches(r"\S+").to_list()
    assert out["repeated_lines"].to_list() == counts
    short = [count > 0 and n < 20 for count, n in zip(counts, words, strict=True)]
    assert out["reason"].to_list() == [REASON_TOO_SHORT if s else None for s in short]
    for text, original, with_plants, count, removed in zip(
        out["text"], texts, planted, counts, short, strict=True
    ):
        if removed:
            assert text == with_plants  # the ledger shows the page as it came
        else:
            assert text == original  # planted lines cut with their newline; untouched pages byte for byte
        if count == 0:
            assert text == original
    assert sum(1 for count in counts if count) > 250


def test_line_endings_blank_lines_and_symbol_lines_stay() -> None:
    pages = [f"Intro {i} of a page.\r\n\r\n|\r\nHome - Shop\r\nBody {i} goes on.\r\n" for i in range(3)]
    out = remove_repeated_lines(
        pl.DataFrame({"text": pages}), LineDedupConfig(min_documents=2, min_words_left=1)
    )
    # "Intro 0 of a page." differs per page; the blank line and "|" normalise to nothing: never cut
    assert out["text"].to_list() == [
        f"Intro {i} of a page.\r\n\r\n|\r\nBody {i} goes on.\r\n" for i in range(3)
    ]
    assert out["repeated_lines"].to_list() == [1, 1, 1]


def test_normalisation_merges_case_and_punctuation_but_not_digits() -> None:
    pages = ["Share this page!\nA", "share this page\nB", "SHARE THIS PAGE...\nC", "Call 555 0101\nD"]
    pages += ["Call 555 0102\nE", "Call 555 0103\nF"]
    frame = pl.DataFrame({"text": pages})
    kept = remove_repeated_lines(frame, LineDedupConfig(min_documents=2, min_words_left=1))
    assert kept["text"].to_list() == ["A", "B", "C", *pages[3:]]
    merged = remove_repeated_lines(frame, LineDedupConfig(min_documents=2, min_words_left=1, digits=True))
    assert merged["text"].to_list() == ["A", "B", "C", "D", "E", "F"]


def test_only_segments_in_more_than_min_documents_are_cut() -> None:
    pages = [f"Menu\nPage {i} text" for i in range(3)] + [f"Other page {i}" for i in range(3)]
    frame = pl.DataFrame({"text": pages})
    at_three = remove_repeated_lines(frame, LineDedupConfig(min_documents=3, min_words_left=1))
    assert at_three["text"].to_list() == pages  # in 3 documents, not more than 3
    at_two = remove_repeated_lines(frame, LineDedupConfig(min_documents=2, min_words_left=1))
    assert at_two["text"].to_list()[:3] == [f"Page {i} text" for i in range(3)]
    short = remove_repeated_lines(frame, LineDedupConfig(min_documents=2, min_words_left=1, min_chars=5))
    assert short["text"].to_list() == pages  # "menu" is under 5 characters: never counted


def test_pages_left_too_short_are_removed_and_short_untouched_pages_stay() -> None:
    nav = "Home | News | Sport | Weather | Contact | Sign in"
    pages = [f"{nav}\nStory {i}." for i in range(3)] + [
        f"{nav}\n" + " ".join(["word"] * 30) + f" {i}" for i in range(3)
    ]
    pages.append("Tiny.")  # loses nothing: never removed, however short
    out = remove_repeated_lines(
        pl.DataFrame({"text": pages}), LineDedupConfig(min_documents=2, min_words_left=5)
    )
    assert out["reason"].to_list() == [REASON_TOO_SHORT] * 3 + [None] * 4
    assert out["text"].to_list()[:3] == pages[:3]  # removed pages keep their text for the ledger
    assert out["text"].to_list()[3:6] == [p.split("\n", 1)[1] for p in pages[3:6]]
    stage = LineDedup(min_documents=2, min_words_left=5)
    assert stage.counters(out) == {"lines_removed": 3, "documents_changed": 3}


def test_paragraphs_go_with_their_blank_lines() -> None:
    footer = "Posted in News.\nTagged: travel, food."
    pages = [f"Opening {i} line.\nSecond {i} line.\n\n{footer}\n\n\nLast {i}.\n" for i in range(3)]
    out = remove_repeated_lines(
        pl.DataFrame({"text": pages}), LineDedupConfig(unit="paragraph", min_documents=2, min_words_left=1)
    )
    assert out["text"].to_list() == [f"Opening {i} line.\nSecond {i} line.\n\nLast {i}.\n" for i in range(3)]
    assert segments(pl.Series(["a\nb\n\n\nc"]), "paragraph")["__segment"].to_list() == ["a\nb\n\n\n", "c"]


def write(path: Path, texts: list[str]) -> Path:
    path.write_bytes(
        b"".join(orjson.dumps({"id": f"d{i:04d}", "text": t}) + b"\n" for i, t in enumerate(texts))
    )
    return path


def fates(corpus: Path, out: Path, parts: int, batch_size: int) -> pl.DataFrame:
    options = RunOptions(read=ReadOptions(id_field="id", batch_size=batch_size), partitions=parts)
    result = run([corpus], out, [LineDedup()], options)
    assert result.stats.input == result.stats.kept + result.stats.removed
    kept = pl.read_parquet(out / "kept").select(
        "id", "text", "repeated_lines", pl.lit(None, pl.String).alias("reason")
    )
    removed = pl.read_parquet(out / "removed").select("id", "text", "repeated_lines", "reason")
    return pl.concat([kept, removed]).sort("id")


@pytest.mark.shared_data
def test_the_same_for_any_split_of_the_decision(c4: pl.DataFrame, tmp_path: Path) -> None:
    planted, counts = plant(c4["text"].to_list(), seed=1)
    corpus = write(tmp_path / "c4.jsonl", planted)
    one = fates(corpus, tmp_path / "one", 1, 1000)
    assert one["repeated_lines"].to_list() == counts
    for parts, batch_size in ((3, 170), (7, 400)):
        assert fates(corpus, tmp_path / f"parts-{parts}", parts, batch_size).equals(one)


def test_a_recipe_runs_it_inside_clean_corpus(tmp_path: Path, prefect_server: str) -> None:
    from flows.clean import clean_corpus

    reports = [f"Report {i}: " + " ".join(f"w{i}x{j}" for j in range(25)) for i in range(60)]
    planted, counts = plant(reports, seed=2, share=0.6)
    planted.append("Skip to main content\nToo short.")  # left with 2 words
    corpus = write(tmp_path / "pages.jsonl", planted)
    recipe = parse_recipe(
        {"read": {"batch_size": 25}, "stages": [{"type": "line_dedup", "min_documents": 5}]}
    )
    state = clean_corpus(inputs=[str(corpus)], out=str(tmp_path / "out"), recipe=recipe, return_state=True)
    assert state.is_completed()
    stats = state.result()
    (stage,) = stats.stages
    assert stage.name == "line_dedup" and stage.reasons == {REASON_TOO_SHORT: 1}
    assert stage.counters == {"documents_changed": sum(1 for c in counts if c), "lines_removed": sum(counts)}
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    assert not kept["text"].str.contains("Skip to main content|All rights reserved").any()
    html = (tmp_path / "out" / "report.html").read_text()
    assert "line_dedup" in html and REASON_TOO_SHORT in html and "repeated_lines" in html


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("min_documents = 0", "stages.0.min_documents: Input should be greater than or equal to 1"),
        ("unit = 'sentence'", "stages.0.unit: Input should be 'line' or 'paragraph'"),
        ("min_words_left = 0", "stages.0.min_words_left: Input should be greater than or equal to 1"),
        ("min_chars = -1", "stages.0.min_chars: Input should be greater than or equal to 1"),
        (
            "normalization = { digits = true }",
            "stages.0.normalization.digits: Extra inputs are not permitted",
        ),
        ("threshold = 0.8", "stages.0.threshold: Extra inputs are not permitted"),
    ],
)
def test_bad_recipe_values_are_clear_errors(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "recipe.toml"
    path.write_text(f"[[stages]]\ntype = 'line_dedup'\n{table}\n")
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert str(path) in str(error.value) and message in str(error.value)
