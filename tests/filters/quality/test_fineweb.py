import gzip
import json

import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.fineweb import (
    TERMINAL_PUNCTUATION,
    FineWebQuality,
    FineWebQualityConfig,
    fineweb_quality,
)
from filters.quality.words import word_count
from pipeline.batch import ID, ORDER, REASON, TEXT
from tests.conftest import shared_file

#: long (> 30 characters), distinct lines without terminal punctuation
PLAIN = [f"Line number {i} of a plain list of items" for i in range(20)]
#: long, distinct lines that end in a full stop
PROSE = [f"Sentence number {i} tells a short story." for i in range(20)]


def reasons(*texts: str, config: FineWebQualityConfig | None = None) -> list[str | None]:
    out = fineweb_quality(pl.DataFrame({TEXT: list(texts)}), config)
    return out[REASON].to_list()


def test_documents_without_a_non_blank_line_are_empty() -> None:
    assert reasons("", " \n\t\n\u3000") == ["empty", "empty"]


def test_share_of_lines_ending_in_terminal_punctuation() -> None:
    one_in_nine = "\n".join([PROSE[0], *PLAIN[:8]])  # 0.111 < 0.12
    one_in_eight = "\n".join([PROSE[0], *PLAIN[:7]])  # 0.125
    # lines are not stripped: a stop followed by a space does not count; blank lines are not lines
    trailing_space = "\n".join([PROSE[0] + " ", *PLAIN[:7]])
    with_blanks = "\n\n  \n".join([PROSE[0], *PLAIN[:7]])
    other_script = "\n".join(["これは日本語の文であり十分な長さがあります。" * 2, *PLAIN[:7]])
    out = reasons(one_in_nine, one_in_eight, trailing_space, with_blanks, other_script)
    assert out == ["line_punct_ratio", None, "line_punct_ratio", None, None]
    assert "。" in TERMINAL_PUNCTUATION


def test_exclude_zero_spares_documents_with_no_punctuated_line() -> None:
    text = "\n".join(PLAIN[:5])
    assert reasons(text) == ["line_punct_ratio"]
    assert reasons(text, config=FineWebQualityConfig(line_punct_exclude_zero=True)) == [None]


def test_share_of_short_lines() -> None:
    short = "Thirty characters, exactly ok."  # 30 characters counts as short
    assert len(short) == 30
    two_of_three = "\n".join([short, "Another short line here.", PROSE[0]])  # 0.667 <= 0.67
    three_of_four = "\n".join([short, "Another short line here.", "A third one.", PROSE[0]])
    assert reasons(two_of_three, three_of_four) == [None, "short_line_ratio"]
    assert reasons(three_of_four, config=FineWebQualityConfig(short_line_thr=0.75)) == [None]


def test_characters_of_repeated_lines() -> None:
    repeated = "Same line again."  # 16 characters
    body = "\n".join(PROSE)  # 20 lines of 40 characters
    low = "\n".join([body, repeated, repeated])  # 16 / (800 + 32) = 0.019 > 0.01
    once = "\n".join([body, repeated])
    out = fineweb_quality(pl.DataFrame({TEXT: [low, once]}))
    assert out[REASON].to_list() == ["char_dup_ratio", None]
    assert out["fineweb_char_dup_ratio"][0] == pytest.approx(16 / (len(low) - low.count("\n")))
    loose = FineWebQualityConfig(char_duplicates_ratio=0.02)
    assert reasons(low, config=loose) == [None]


def test_newlines_per_spacy_word() -> None:
    # two tokens a line ("word" "!"): 5 newlines / 10 words = 0.5 > 0.3
    listy = "".join(f"Supercalifragilisticexpialidocious{i}!\n" for i in range(5))
    # two whitespace words but four spaCy tokens a line: 5 / 20 = 0.25, kept
    wordy = "".join(f"Antidisestablishmentarianism{i}, indeed.\n" for i in range(5))
    out = fineweb_quality(pl.DataFrame({TEXT: [listy, wordy]}), FineWebQualityConfig(keep_scores=True))
    assert out[REASON].to_list() == ["list_ratio", None]
    assert out["fineweb_list_ratio"].to_list() == [0.5, 0.25]
    assert reasons(listy, config=FineWebQualityConfig(new_line_ratio=0.5)) == [None]


def test_config_defaults_are_datatrove_s() -> None:
    config = FineWebQualityConfig()
    assert (config.line_punct_thr, config.short_line_thr, config.short_line_length) == (0.12, 0.67, 30)
    assert (config.char_duplicates_ratio, config.new_line_ratio) == (0.01, 0.3)
    with pytest.raises(ValidationError):
        FineWebQualityConfig(line_punct_thr=1.5)
    custom = "\n".join(f"{line};" for line in PLAIN[:4])
    assert reasons(custom, config=FineWebQualityConfig(stop_chars=(";",))) == [None]


def test_stage_marks_without_dropping_and_keeps_scores_on_request() -> None:
    batch = pl.DataFrame({ID: ["a", "b"], TEXT: ["\n".join(PROSE), "\n".join(PLAIN)], ORDER: [3, 4]})
    stage = FineWebQualityConfig().build()
    marked = stage.apply(batch)
    assert marked.columns == [ID, TEXT, ORDER, REASON]
    assert marked[REASON].to_list() == [None, "line_punct_ratio"]
    scored = FineWebQuality(FineWebQualityConfig(keep_scores=True))
    marked = scored.apply(batch)
    assert set(scored.score_columns) <= set(marked.columns)
    assert marked["fineweb_line_punct_ratio"].to_list() == [1.0, 0.0]


# --- real data: a plain Python reading of the rules -------------------------------------------------------


def reference_fineweb(text: str, words: int) -> str | None:
    """FineWeb's rules in plain Python, from the spec (`words`: spaCy's word count)."""
    lines = [line for line in text.split("\n") if line.strip() != ""]
    if not lines:
        return "empty"
    if sum(line.endswith(tuple(TERMINAL_PUNCTUATION)) for line in lines) / len(lines) < 0.12:
        return "line_punct_ratio"
    if sum(len(line) <= 30 for line in lines) / len(lines) > 0.67:
        return "short_line_ratio"
    seen: set[str] = set()
    repeated = 0
    for line in lines:
        if line in seen:
            repeated += len(line)
        seen.add(line)
    if repeated / len(text.replace("\n", "")) > 0.01:
        return "char_dup_ratio"
    if text.count("\n") / words > 0.3:
        return "list_ratio"
    return None


@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "size"), [("reuters21578.jsonl.gz", 3000), ("c4_sample1k.jsonl.gz", 1000)])
def test_matches_a_plain_python_reading_on_real_documents(name: str, size: int) -> None:
    with gzip.open(shared_file(name), "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for _, line in zip(range(size), handle, strict=False)]
    frame = pl.DataFrame({TEXT: texts})
    counts = frame.select(word_count(pl.col(TEXT)))[TEXT].to_list()
    expected = [reference_fineweb(t, n) for t, n in zip(texts, counts, strict=True)]
    got = fineweb_quality(frame)[REASON].to_list()
    assert got == expected
    assert len(set(expected)) > 1
