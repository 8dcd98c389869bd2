import gzip
import json
import pickle
import random
import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.c4 import (
    C4BadWords,
    C4BadWordsConfig,
    C4Quality,
    C4QualityConfig,
    c4_badwords,
    c4_quality,
)
from filters.quality.pytext import (
    py_endswith,
    py_has_word_longer_than,
    py_splitlines,
    py_strip,
    py_word_count,
)
from filters.quality.sentences import PUNCT_CHARS, sentence_count, sentences, split_sentences
from filters.quality.words import words
from pipeline.batch import ID, ORDER, REASON, TEXT
from tests.conftest import shared_file

CITATION = r"\[\d*]|\[edit]|\[citation needed]"
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
#: five lines of one sentence each: a document C4 keeps as it is
GOOD = [
    "The river rose slowly during the night.",
    "Farmers moved their cattle to higher ground.",
    "By morning the bridge was under water.",
    "Schools in the valley stayed closed.",
    "The rain stopped just before noon.",
]


def frame(*texts: str) -> pl.DataFrame:
    return pl.DataFrame({ID: [f"d{i}" for i in range(len(texts))], TEXT: list(texts)})


def one(text: str, config: C4QualityConfig | None = None) -> dict:
    return c4_quality(frame(text), config).row(0, named=True)


def doc(*extra: str, keep: int = 5) -> str:
    return "\n".join([*GOOD[:keep], *extra])


# --- Python str semantics -------------------------------------------------------------------------


def test_python_string_helpers_match_python_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = list("ab .?\"'\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029\t\xa0\u3000")
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    out = pl.DataFrame({"t": texts}).select(
        py_splitlines(pl.col("t")).alias("lines"),
        py_strip(pl.col("t")).alias("strip"),
        py_word_count(pl.col("t")).alias("words"),
        py_endswith(pl.col("t"), (".", "?", '"')).alias("end"),
        py_has_word_longer_than(pl.col("t"), 2).alias("long"),
    )
    for text, row in zip(texts, out.iter_rows(), strict=True):
        expected = (
            text.splitlines(),
            text.strip(),
            len(text.split()),
            text.endswith((".", "?", '"')),
            any(len(w) > 2 for w in text.split()),
        )
        assert row == expected, repr(text)


# --- sentences --------------------------------------------------------------------------------------


def test_sentence_count_follows_spacy_sentencizer() -> None:
    tokens = [
        ["It", "rained", ".", "We", "stayed", "."],  # 2
        ["Wait", "...", "what", "?"],  # "..." is not a stop: 1
        ["He", "said", ".", '"', "Go", "!"],  # the quote after the stop stays in the sentence: 2
        [".", "Odd", "start"],  # a stop first still splits: 2
        ["Yes", "!", "!", "?"],  # only punctuation follows: 1
        [],
    ]
    out = pl.DataFrame({"t": tokens}, schema={"t": pl.List(pl.String)}).select(sentence_count(pl.col("t")))
    assert out.to_series().to_list() == [2, 1, 2, 2, 1, 0]
    assert {"!", ".", "?", "。", "؟", "।"} <= set(PUNCT_CHARS)


def test_sentences_of_text_need_a_stop_then_a_word() -> None:
    texts = [
        "It rained all day. We stayed at home.",  # 2
        "Mr. Smith paid 5.93 dollars to the U.S. Treasury.",  # abbreviations, decimals: 1
        "Is it over? Yes! It is.",  # 3
        "Well... maybe later.",  # 1
        "",  # datatrove counts an empty text as one
        "Yes.  )",  # spaCy makes a token of the second space, and it is no punctuation: 2
        "Yes. )",  # a single space belongs to the token before it: 1
        "Hi.\t. Yo",  # the tab is a token, then a new stop before "Yo": 3
    ]
    out = pl.DataFrame({"t": texts}).select(sentences(pl.col("t"))).to_series().to_list()
    assert out == [2, 1, 3, 1, 1, 2, 1, 3]


# --- C4 quality: line rules ---------------------------------------------------------------------------


def test_a_clean_document_is_kept_unchanged() -> None:
    row = one(doc())
    assert row[REASON] is None
    assert row[TEXT] == doc()
    assert (row["c4_lines"], row["c4_lines_removed"], row["c4_sentences"]) == (5, 0, 5)


def test_lines_without_terminal_punctuation_are_removed() -> None:
    kept = ["Is that so?", "She said 'no'", 'He said "yes"', "It ended today!"]
    row = one(doc("Read more here", kept[0], kept[1], "And then they left...", kept[2], kept[3]))
    assert row[REASON] is None
    assert row[TEXT] == doc(*kept)
    assert row["c4_lines_no_terminal_punc"] == 2


def test_lines_need_three_whitespace_words() -> None:
    row = one(doc("Two words.", "Exactly three words.", "Tab\tseparated\twords."))
    assert row[TEXT] == doc("Exactly three words.", "Tab\tseparated\twords.")
    assert row["c4_lines_too_few_words"] == 1


def test_words_over_max_length_remove_the_line() -> None:
    long_line = f"A {'x' * 1001} word."
    row = one(doc(long_line, f"A {'x' * 1000} word."))
    assert row[TEXT] == doc(f"A {'x' * 1000} word.")
    assert row["c4_lines_too_long_word"] == 1
    assert one(doc(long_line), C4QualityConfig(max_word_length=-1))[TEXT] == doc(long_line)


def test_javascript_and_policy_lines_are_removed() -> None:
    lines = [
        "Please enable JavaScript to view this page.",
        "Read our Privacy Policy before you sign up.",
        "This website uses cookies to work well.",
        "See the Terms of Use for details.",
    ]
    row = one(doc(*lines))
    assert row[TEXT] == doc()
    assert (row["c4_lines_javascript"], row["c4_lines_policy"], row["c4_lines_removed"]) == (1, 3, 4)
    relaxed = one(doc(*lines), C4QualityConfig(filter_javascript=False, filter_policy=False))
    assert relaxed[TEXT] == doc(*lines)


def test_citations_are_cut_before_the_punctuation_check() -> None:
    row = one(doc("The sky was blue.[1]", "The sea was green.[citation needed]", "The sand was hot. [2]"))
    # "The sand was hot. " ends with a space once the citation is gone, so that line goes
    assert row[TEXT] == doc("The sky was blue.", "The sea was green.")
    kept = one(doc("The sky was blue.[1]"), C4QualityConfig(remove_citations=False))
    assert kept[TEXT] == doc()


def test_lines_are_stripped_and_split_as_python_splitlines() -> None:
    text = "  " + "\r\n".join(GOOD[:3]) + "\u2028" + GOOD[3] + "\x0c" + GOOD[4] + "\t\n"
    row = one(text)
    assert row[REASON] is None
    assert row[TEXT] == doc()


# --- C4 quality: document rules -------------------------------------------------------------------------


def test_fewer_than_five_sentences_remove_the_document() -> None:
    assert one(doc(keep=4))[REASON] == "too_few_sentences"
    # the fifth sentence may share a line with the fourth
    assert one(doc("It rained. We stayed in.", keep=3))[REASON] is None
    # an abbreviation does not end a sentence
    assert one(doc("Mr. Smith came home late.", keep=3))[REASON] == "too_few_sentences"
    assert one(doc(keep=4), C4QualityConfig(min_num_sentences=4))[REASON] is None
    assert one("", C4QualityConfig(min_num_sentences=-1))[REASON] is None


def test_sentences_are_counted_exactly_where_they_decide_or_on_request() -> None:
    text = doc("It rained. We stayed in.")
    # six kept lines are enough whatever their sentences: each counts as one unless scores are kept
    assert one(text)["c4_sentences"] == 6
    assert one(text, C4QualityConfig(keep_scores=True))["c4_sentences"] == 7
    assert one(doc("It rained. We stayed in.", keep=2))["c4_sentences"] == 4


def test_sentence_mode_applies_the_line_rules_to_sentences() -> None:
    text = "The sky was blue. The sea was green.\nRead more here\nThe sand was hot! We swam. We ate fish."
    row = one(text, C4QualityConfig(split_paragraph=False, min_num_sentences=4))
    # "Read more here\nThe sand was hot!" is one sentence (no stop before the newline); "We swam." is short
    assert row[REASON] is None
    assert row[TEXT] == "The sky was blue. The sea was green. Read more here\nThe sand was hot! We ate fish."
    assert (row["c4_lines"], row["c4_lines_too_few_words"], row["c4_sentences"]) == (5, 1, 4)
    assert one(text, C4QualityConfig(split_paragraph=False))[REASON] == "too_few_sentences"


def test_split_sentences_cuts_after_each_sentence_end() -> None:
    texts = ["It rained.  We stayed in.\nThe end", "Mr. Smith left. ", "", "Yes!"]
    out = pl.DataFrame({"t": texts}).select(split_sentences(pl.col("t"))).to_series().to_list()
    assert out == [["It rained.", "  We stayed in.", "\nThe end"], ["Mr. Smith left. "], [""], ["Yes!"]]


def test_removed_documents_keep_their_original_text() -> None:
    text = doc("Read more", keep=4)
    assert one(text)[TEXT] == text


def test_lorem_ipsum_and_curly_brackets_remove_the_document() -> None:
    assert one(doc("Lorem ipsum dolor sit amet."))[REASON] == "lorem_ipsum"
    assert one(doc("The set {a, b} has two items."))[REASON] == "curly_bracket"
    # only lines that survived the line rules count
    assert one(doc("Lorem ipsum dolor sit amet"))[REASON] is None
    assert one(doc("Enable javascript: if (x) { y }."))[REASON] is None
    # the first such line decides; on one line "lorem ipsum" is checked first
    assert one(doc("The set {a} is small.", "Lorem ipsum dolor sit."))[REASON] == "curly_bracket"
    assert one(doc("Lorem ipsum {dolor} sit."))[REASON] == "lorem_ipsum"
    relaxed = C4QualityConfig(filter_lorem_ipsum=False, filter_curly_bracket=False)
    assert one(doc("Lorem ipsum {dolor} sit."), relaxed)[REASON] is None


def test_config_mirrors_datatrove_and_rejects_bad_values() -> None:
    config = C4QualityConfig()
    assert (config.min_num_sentences, config.min_words_per_line, config.max_word_length) == (5, 3, 1000)
    with pytest.raises(ValidationError):
        C4QualityConfig(min_num_sentences=-2)
    with pytest.raises(ValidationError):
        C4QualityConfig(unknown=1)


# --- the stage ------------------------------------------------------------------------------------------


def test_stage_rewrites_text_marks_reasons_and_counts_removed_lines() -> None:
    stage = C4QualityConfig().build()
    batch = frame(doc("Read more"), doc("Menu", keep=2), doc("Two words.", "Nav")).with_columns(
        pl.Series(ORDER, [7, 8, 9])
    )
    marked = pickle.loads(pickle.dumps(stage)).apply(batch)
    assert marked.columns == [ID, TEXT, ORDER, REASON, "c4_lines_removed"]
    assert set(stage.score_columns) == {"c4_lines_removed"}
    assert marked[REASON].to_list() == [None, "too_few_sentences", None]
    assert marked[TEXT].to_list() == [doc(), doc("Menu", keep=2), doc()]
    assert marked[ORDER].to_list() == [7, 8, 9]
    # lines removed from the documents that stay, not from removed ones
    assert stage.counters(marked) == {"lines_removed": 3}
    # a batch that already went through a filter gets fresh decisions
    again = stage.apply(marked.drop("c4_lines_removed").with_columns(pl.lit("earlier").alias(REASON)))
    assert again[REASON].to_list() == [None, "too_few_sentences", None]


def test_stage_keeps_every_statistic_on_request() -> None:
    stage = C4Quality(C4QualityConfig(keep_scores=True))
    marked = stage.apply(frame(doc("Two words.")))
    assert set(stage.score_columns) <= set(marked.columns)
    assert stage.counters(marked)["lines_too_few_words"] == 1


# --- bad words ------------------------------------------------------------------------------------------


@pytest.fixture
def badwords_file(tmp_path: Path) -> Path:
    path = tmp_path / "badwords.txt"
    path.write_text("grumble\nmud pie\n\nsm\n", encoding="utf-8")
    return path


def test_badwords_match_whole_words_case_insensitively(badwords_file: Path) -> None:
    texts = ["They GRUMBLE a lot.", "Grumbled at dawn.", "A mud pie, again", "mud pies", "sm", "grumble"]
    out = c4_badwords(frame(*texts), C4BadWordsConfig(words_file=badwords_file))
    reason = "document_removed_with_badwords"
    # "sm" is on datatrove's allowlist; the blank line is ignored (it would match almost anything)
    assert out[REASON].to_list() == [reason, None, reason, None, None, reason]


def test_badwords_keep_fraction_is_seeded(badwords_file: Path) -> None:
    texts = [f"Item {i}: grumble." for i in range(400)]
    spared = C4BadWordsConfig(words_file=badwords_file, keep_fraction=0.5, seed=3)
    first = c4_badwords(frame(*texts), spared)[REASON]
    assert 120 < first.null_count() < 280
    assert first.equals(c4_badwords(frame(*texts), spared)[REASON])
    everything = C4BadWordsConfig(words_file=badwords_file, keep_fraction=1.0)
    assert c4_badwords(frame(*texts), everything)[REASON].null_count() == 400


def test_badwords_stage_and_missing_file(badwords_file: Path, tmp_path: Path) -> None:
    stage = C4BadWordsConfig(words_file=badwords_file).build()
    assert isinstance(stage, C4BadWords)
    marked = stage.apply(frame("no trouble here", "grumble grumble"))
    assert marked.columns == [ID, TEXT, REASON]
    assert marked[REASON].to_list() == [None, "document_removed_with_badwords"]
    with pytest.raises(ValidationError, match="does not exist"):
        C4BadWordsConfig(words_file=tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    assert c4_badwords(frame("a -- b"), C4BadWordsConfig(words_file=empty))[REASON].to_list() == [None]


# --- real data: a plain Python reading of the rules -------------------------------------------------------


def reference_c4(text: str, tokens: dict[str, list[str]]) -> tuple[str | None, str]:
    """C4's rules line by line in plain Python (spaCy's sentencizer over `tokens`), from the spec."""
    kept, sentence_total = [], 0
    for raw in text.splitlines():
        line = raw.strip()
        split = line.split()
        if any(len(w) > 1000 for w in split):
            continue
        line = re.sub(CITATION, "", line)
        if not line.endswith((".", "?", "!", '"', "'")) or line.endswith("..."):
            continue
        if len(split) < 3:
            continue
        lower = line.lower()
        if "lorem ipsum" in lower:
            return "lorem_ipsum", text
        if "javascript" in lower:
            continue
        if "{" in line:
            return "curly_bracket", text
        if any(p in lower for p in POLICY):
            continue
        sentence_total += count_sentences(tokens[line])
        kept.append(line)
    if sentence_total < 5:
        return "too_few_sentences", text
    return None, "\n".join(kept).strip()


def count_sentences(tokens: list[str]) -> int:
    """spaCy's sentencizer loop."""
    starts, seen_stop = 1, False
    for token in tokens:
        is_stop = token in PUNCT_CHARS
        is_punct = all(unicodedata.category(c).startswith("P") for c in token)
        if seen_stop and not is_punct and not is_stop:
            starts, seen_stop = starts + 1, False
        elif is_stop:
            seen_stop = True
    return starts


@pytest.mark.shared_data
def test_matches_a_plain_python_reading_on_c4_pages() -> None:
    with gzip.open(shared_file("c4_sample1k.jsonl.gz"), "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle][:150]
    out = c4_quality(pl.DataFrame({TEXT: texts}))
    lines = pl.Series([re.sub(CITATION, "", line.strip()) for t in texts for line in t.splitlines()]).unique()
    tokens = dict(zip(lines, pl.select(words(pl.lit(lines))).to_series().to_list(), strict=True))
    expected = [reference_c4(t, tokens) for t in texts]
    assert list(zip(out[REASON], out[TEXT], strict=True)) == expected
    assert 0 < out[REASON].null_count() < len(texts)
