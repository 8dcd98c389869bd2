"""Benchmark decontamination on real data: GSM8K test questions planted into C4 pages are found, untouched
pages are kept, redaction cuts only the planted words, and bad benchmarks fail before any work."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from filters.dedup.decontaminate import ITEM, MATCHES, NGRAM, Decontaminate, normalized_words
from pipeline.batch import ID, REASON, TEXT
from pipeline.errors import InputError
from tests.conftest import shared_file

pytestmark = pytest.mark.shared_data

PLANTS = 400
#: measured: 0.98 of the edited plants are found (seed 0); the floor leaves room for another sample
EDITED_FLOOR = 0.95


@pytest.fixture(scope="module")
def gsm8k() -> Path:
    return shared_file("gsm8k_test.jsonl.gz")


@pytest.fixture(scope="module")
def questions(gsm8k: Path) -> list[str]:
    return pl.read_ndjson(gsm8k)["question"].to_list()


@pytest.fixture(scope="module")
def pages() -> pl.DataFrame:
    return pl.read_ndjson(shared_file("c4_sample1k.jsonl.gz")).select(ID, TEXT)


@pytest.fixture(scope="module")
def stage(gsm8k: Path) -> Decontaminate:
    return Decontaminate(benchmarks=[{"path": gsm8k, "name": "gsm8k", "fields": ["question", "answer"]}])


def plant(rng: random.Random, page: str, item: str) -> tuple[str, str, str]:
    """`page` with `item` inserted after a random space: (before, item, after) joined by spaces."""
    spaces = [m.start() for m in re.finditer(" ", page)] or [len(page)]
    cut = rng.choice(spaces)
    return page[:cut], item, page[cut:].lstrip(" ")


def edit(rng: random.Random, question: str) -> str:
    """A light edit: other numbers, a few words cased differently, commas dropped, one word replaced."""
    text = re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), question)
    text = text.replace(",", "").replace("?", " ?")
    words = text.split(" ")
    for i in rng.sample(range(len(words)), k=min(3, len(words))):
        words[i] = words[i].upper() if rng.random() < 0.5 else words[i].capitalize()
    words[rng.randrange(len(words))] = "something"
    return " ".join(words)


def planted_corpus(pages: pl.DataFrame, questions: list[str]) -> tuple[pl.DataFrame, list[int]]:
    """Untouched pages, then pages with a verbatim question, then pages with an edited one; the items."""
    rng = random.Random(0)
    items = rng.sample(range(len(questions)), 2 * PLANTS)
    texts = pages[TEXT].to_list()
    planted = []
    for k, item in enumerate(items):
        question = questions[item] if k < PLANTS else edit(rng, questions[item])
        planted.append(" ".join(plant(rng, texts[k % len(texts)], question)))
    kinds = ["untouched"] * len(texts) + ["verbatim"] * PLANTS + ["edited"] * PLANTS
    corpus = pl.DataFrame({ID: [f"d{i}" for i in range(len(kinds))], TEXT: texts + planted, "kind": kinds})
    return corpus, items


def test_planted_questions_are_found_and_untouched_pages_kept(
    stage: Decontaminate, pages: pl.DataFrame, questions: list[str]
) -> None:
    corpus, items = planted_corpus(pages, questions)
    marked = stage.apply(corpus)
    found = marked.group_by("kind").agg(pl.col(REASON).is_not_null().mean().alias("recall"))
    recall = dict(found.rows())
    print(f"recall verbatim {recall['verbatim']:.4f}, edited {recall['edited']:.4f}")
    assert recall["verbatim"] >= 0.99
    assert recall["edited"] >= EDITED_FLOOR
    untouched = marked.filter(pl.col("kind") == "untouched")
    assert untouched[REASON].drop_nulls().len() <= 1, "under 0.1% of untouched pages removed"
    verbatim = marked.filter(pl.col("kind") == "verbatim")
    expected = [f"gsm8k_test.jsonl.gz:{item + 1}" for item in items[:PLANTS]]  # JSON Lines count from 1
    named = sum(got == want for got, want in zip(verbatim[ITEM].to_list(), expected, strict=True))
    assert named >= 0.99 * PLANTS, "the ledger names the planted item"


def test_the_reason_names_benchmark_item_and_ngram(stage: Decontaminate, questions: list[str]) -> None:
    page = "Posted in Kids' Corner. " + questions[16] + " Share this post with your friends."
    row = stage.apply(pl.DataFrame({ID: ["p"], TEXT: [page]})).row(0, named=True)
    assert row[REASON] == "contaminated_gsm8k"
    assert row[ITEM] == "gsm8k_test.jsonl.gz:17"
    words = " ".join(normalized_words(pl.Series([questions[16]])).item().to_list())
    assert len(row[NGRAM].split(" ")) == 13 and row[NGRAM] in words
    assert row[MATCHES] == len(words.split(" ")) - 12  # every 13-gram of the question


def test_redact_cuts_the_planted_words_and_keeps_the_rest_byte_for_byte(
    gsm8k: Path, pages: pl.DataFrame, questions: list[str]
) -> None:
    stage = Decontaminate(benchmarks=[{"path": gsm8k, "fields": ["question"]}], mode="redact")
    rng = random.Random(3)
    planted = [plant(rng, pages[TEXT][i], questions[i * 7]) for i in range(20)]
    batch = pl.DataFrame({ID: [f"r{i}" for i in range(20)], TEXT: [" ".join(p) for p in planted]})
    batch = pl.concat([batch, pages.head(50)])
    marked = stage.apply(batch)
    assert marked[REASON].null_count() == marked.height, "redaction keeps every document"
    for (before, question, after), text in zip(planted, marked[TEXT].head(20).to_list(), strict=True):
        trailing = re.search(r"[^\w]*$", question).group()  # the question mark after the last word stays
        assert text == f"{before} {trailing} {after}"
    assert marked[TEXT].tail(50).to_list() == pages[TEXT].head(50).to_list()
    assert stage.counters(marked) == {
        "documents_redacted": 20,
        "ngrams_redacted": int(marked[MATCHES].sum()),
    }
    assert stage.apply(marked.select(ID, TEXT))[MATCHES].sum() == 0, "nothing of the items is left"


def test_matching_ignores_case_punctuation_digits_and_accents(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    item = "Zoë bought 12 apples, 3.5 kg of pears and a café crème at the market on Tuesday morning."
    items.write_text(json.dumps({"text": item}) + "\n")
    stage = Decontaminate(benchmarks=[{"path": items}])
    page = "Notes: ZOE bought 7 apples 9,5 kg of PEARS - and a cafe creme at the market on tuesday morning!!"
    other = "Zoe bought 7 apples and pears at the market on Tuesday, then went home for a café crème."
    marked = stage.apply(pl.DataFrame({ID: ["a", "b"], TEXT: [page, other]}))
    assert marked[REASON].to_list() == ["contaminated_items", None]


def test_a_list_field_contributes_each_string(tmp_path: Path) -> None:
    items = tmp_path / "mc.jsonl"
    choices = ["the mitochondria is the powerhouse of the cell and makes most of its chemical energy", "no"]
    items.write_text(json.dumps({"question": "Which is true?", "choices": choices}) + "\n")
    stage = Decontaminate(benchmarks=[{"path": items, "fields": ["question", "choices"]}])
    page = "Biology class: " + choices[0].upper() + ", as we learned."
    assert stage.apply(pl.DataFrame({ID: ["a"], TEXT: [page]}))[REASON].item() == "contaminated_mc"


def questions_in_pages(pages: pl.DataFrame, questions: pl.Series) -> tuple[pl.DataFrame, list[int]]:
    """The untouched pages, then `PLANTS` of them with a seeded sample of `questions` planted verbatim; the
    questions planted."""
    rng = random.Random(0)
    planted = rng.sample(range(len(questions)), PLANTS)
    texts = pages[TEXT].to_list()
    with_questions = [" ".join(plant(rng, texts[k], questions[q])) for k, q in enumerate(planted)]
    ids = [f"d{i}" for i in range(len(texts) + PLANTS)]
    return pl.DataFrame({ID: ids, TEXT: texts + with_questions}), planted


def test_short_questions_are_matched_whole_and_what_goes_unchecked_is_counted(
    tmp_path: Path, pages: pl.DataFrame
) -> None:
    """NaturalQuestions-open questions (median 9 words) planted verbatim into C4 pages: 13-word n-grams alone
    (datatrove's rule) check only the few of 13 words or more; matched whole from 8 words (NeMo Curator's),
    every planted question of 8 words or more is found, and no untouched page is removed."""
    questions = pl.read_ndjson(shared_file("nq_open_oracle.jsonl.gz"))["question"]
    bench = tmp_path / "nq.jsonl"
    pl.DataFrame({"question": questions}).write_ndjson(bench)
    lengths = normalized_words(questions).list.len().to_numpy()
    corpus, planted = questions_in_pages(pages, questions)
    texts = pages[TEXT].to_list()
    recall = {}
    for min_ngram in (8, 13):
        stage = Decontaminate(benchmarks=[{"path": bench, "fields": ["question"]}], min_ngram=min_ngram)
        found = stage.apply(corpus)[REASON].is_not_null().to_numpy()
        assert not found[: len(texts)].any(), "untouched pages are kept"
        assert (found[len(texts) :] == (lengths[planted] >= min_ngram)).all()
        recall[min_ngram] = found[len(texts) :].mean()
        (coverage,) = stage.facts["decontamination"]["benchmarks"]
        assert coverage == {
            "name": "nq",
            "items": len(questions),
            "by_ngrams": int((lengths >= 13).sum()),
            "whole": int(((lengths >= min_ngram) & (lengths < 13)).sum()),
            "unchecked": int((lengths < min_ngram).sum()),
        }
    assert recall[8] >= 0.99 and recall[13] < 0.1


def test_chinese_and_japanese_characters_are_words_of_their_own() -> None:
    texts = pl.Series(["谁是第一位现代主义作家？", "東京タワーは 2 km", "Café 世界"])
    assert normalized_words(texts).to_list() == [
        ["谁", "是", "第", "一", "位", "现", "代", "主", "义", "作", "家"],
        ["東", "京", "タ", "ワ", "ー", "は", "0", "km"],
        ["cafe", "世", "界"],
    ]


def test_chinese_questions_are_checked_and_found(tmp_path: Path, pages: pl.DataFrame) -> None:
    """XQuAD's Chinese questions (no spaces between words) planted into C4 pages are found: a character is a
    word, so nearly all of them have 8 characters or more; a Chinese page quoting one is redacted exactly."""
    xquad = pl.read_ndjson(shared_file("xquad_dev.jsonl.gz")).filter(pl.col("lang") == "zh")
    questions = xquad.explode("qas").select(pl.col("qas").struct.field("question"))["question"]
    bench = tmp_path / "xquad_zh.jsonl"
    pl.DataFrame({"question": questions}).write_ndjson(bench)
    stage = Decontaminate(benchmarks=[{"path": bench, "fields": ["question"]}])
    (coverage,) = stage.facts["decontamination"]["benchmarks"]
    assert coverage["by_ngrams"] + coverage["whole"] >= 0.95 * coverage["items"] == 0.95 * len(questions)
    lengths = normalized_words(questions).list.len().to_numpy()
    corpus, planted = questions_in_pages(pages, questions)
    texts = pages[TEXT].to_list()
    found = stage.apply(corpus)[REASON].is_not_null().to_numpy()
    assert not found[: len(texts)].any()
    assert (found[len(texts) :] == (lengths[planted] >= 8)).all() and found[len(texts) :].mean() >= 0.95
    question = questions[planted[0]].rstrip("？?。 ")
    page = f"背景：{question}，谢谢。"
    redact = Decontaminate(benchmarks=[{"path": bench, "fields": ["question"]}], mode="redact")
    assert redact.apply(pl.DataFrame({ID: ["p"], TEXT: [page]}))[TEXT].item() == "背景：，谢谢。"


def test_a_short_item_matches_only_whole_and_redaction_cuts_it(tmp_path: Path) -> None:
    items = tmp_path / "quiz.jsonl"
    items.write_text(json.dumps({"text": "Who wrote the song 'You Light Up My Life'?"}) + "\n")
    page = "Quiz night: who wrote the song You light up my life? Answer below."
    partial = "Who wrote the song you light up my heart, and when?"
    batch = pl.DataFrame({ID: ["a", "b"], TEXT: [page, partial]})
    marked = Decontaminate(benchmarks=[{"path": items}]).apply(batch)
    assert marked[REASON].to_list() == ["contaminated_quiz", None]
    assert marked[NGRAM][0] == "who wrote the song you light up my life"
    redacted = Decontaminate(benchmarks=[{"path": items}], mode="redact").apply(batch)
    assert redacted[TEXT].to_list() == ["Quiz night: ? Answer below.", partial]


def test_bad_benchmarks_fail_when_the_stage_is_built(tmp_path: Path, gsm8k: Path) -> None:
    with pytest.raises(ValidationError, match=r"benchmark file .*missing\.jsonl does not exist"):
        Decontaminate(benchmarks=[{"path": tmp_path / "missing.jsonl"}])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.jsonl.*empty"):
        Decontaminate(benchmarks=[{"path": empty}])
    short = tmp_path / "short.jsonl"
    short.write_text(json.dumps({"text": "too short to hold a 13-gram"}) + "\n")
    with pytest.raises(InputError, match=r"no item has 8 words \(the longest has 7\): lower `min_ngram`"):
        Decontaminate(benchmarks=[{"path": short}])
    with pytest.raises(InputError, match="no item has 13 words"):
        Decontaminate(benchmarks=[{"path": short}], min_ngram=13)
    with pytest.raises(InputError, match=r"gsm8k_test.*field 'problem'.*no item has a text field problem"):
        Decontaminate(benchmarks=[{"path": gsm8k, "fields": ["problem"]}])
    with pytest.raises(InputError, match=r"no item has field 'solution' \(fields: question, answer\)"):
        Decontaminate(benchmarks=[{"path": gsm8k, "fields": ["question", "solution"]}])
    with pytest.raises(ValidationError, match="share the name gsm8k_test"):
        Decontaminate(benchmarks=[{"path": gsm8k}, {"path": gsm8k, "fields": ["answer"]}])
    broken = tmp_path / "broken.jsonl"  # one unreadable item is an error: skipped, it would go unchecked
    item = json.dumps({"text": "a benchmark question long enough to hold a thirteen word n gram of its own"})
    broken.write_text(item + '\n{"text": "cut off\n' + item + "\n")
    with pytest.raises(InputError, match=r"broken\.jsonl, line 2: malformed JSON"):
        Decontaminate(benchmarks=[{"path": broken}])
    choices = tmp_path / "choices.jsonl"
    choices.write_text(json.dumps({"question": "q", "choices": [json.loads(item)["text"], "b"]}) + "\n")
    with pytest.raises(InputError, match=r"got list\); a list field is read beside a text field"):
        Decontaminate(benchmarks=[{"path": choices, "fields": ["choices"]}])
