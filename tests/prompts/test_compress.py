"""Prompt compression end to end, with the real packaged SmolLM2 scorer and MiniLM ranker (no mocks).

Results are memoised per module (`run`), so several tests assert different promises of one compression.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import WinnowError
from pipeline.models import embedding_model_path
from prompts.compress import CompressionError, CompressionResult, Compressor, compress

SENTENCES = [
    "The village library reopened last spring after the roof was repaired by a crew of local carpenters.",
    "Its reading room now has twelve long oak tables, green lamps and a quiet corner for children.",
    "Every Thursday evening a retired teacher reads old sea stories aloud to anyone who wants to listen.",
    "The orchard behind the school grows apples, pears and a single stubborn plum tree that rarely fruits.",
    "In October the pupils press the apples into cider and sell the bottles at the harvest market.",
    "A narrow footpath runs from the orchard down to the river, where herons wait in the shallow water.",
    "The old mill on the river stopped grinding flour long ago, but its wheel still turns in winter floods.",
    "Hikers often stop at the mill to eat lunch on the stone steps and watch the water rush past.",
    "The bus to the market town leaves from the post office twice a day, except on Sundays.",
    "Most passengers are farmers carrying eggs, cheese and baskets of vegetables to sell.",
    "The driver knows everyone by name and waits patiently when somebody is running late.",
    "On the hill above the village stands a small observatory built by an amateur astronomer.",
    "On clear nights she opens the dome and lets visitors look at the rings of Saturn through her telescope.",
    "She keeps careful notes of every comet she has seen in a leather notebook on her desk.",
    "The village baker starts work before dawn, when the streets are still dark and empty.",
    "His rye bread is dense and sour, and people drive from neighbouring towns to buy it.",
    "During the summer festival the main square fills with musicians, dancers and food stalls.",
    "Children race wooden boats along the canal while their parents argue about the fastest design.",
    "The blacksmith still repairs gates and garden tools, though he mostly makes decorative lanterns now.",
    "A stray cat has lived in his workshop for years and sleeps beside the warm forge every night.",
    "Snow closes the mountain pass for several weeks each winter, cutting the valley off from the city.",
    "When that happens the villagers share firewood, soup and news at the town hall.",
    "The doctor visits on skis if the roads are blocked, carrying medicine in a canvas backpack.",
    "In spring the meadows turn yellow with dandelions and the beekeepers move their hives up the slope.",
]
SHORT = " ".join(SENTENCES[:3])  # about 55 tokens
MEDIUM = " ".join(SENTENCES[:10])  # about 190 tokens
LONG = " ".join(SENTENCES)  # about 440 tokens
NUMBERS = (
    "The ferry leaves the harbour at 7 in the morning and comes back at 19 in the evening. It carries up to "
    "240 passengers, and a single ticket costs 14 euros while a return ticket costs 25. Last year the crew "
    "made 1830 crossings and lost only 3 days to storms. While they wait on the quay, the children count the "
    "gulls on the pier out loud: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10."
)
TRAIN = (
    "The night train to the coast leaves the central station at a quarter past eleven. It has four sleeping "
    "cars and a small dining car that serves soup and tea until midnight."
)
DOCUMENTS = [
    " ".join(SENTENCES[0:2]),
    " ".join(SENTENCES[3:5]),
    " ".join(SENTENCES[11:13]),
    TRAIN,
    " ".join(SENTENCES[14:16]),
    " ".join(SENTENCES[18:20]),
]
RELEVANT = 3
QUESTION = "At what time does the night train to the coast leave the station?"
PARAGRAPHS = [
    " ".join(SENTENCES[0:3]),
    " ".join(SENTENCES[11:14]),
    TRAIN,
    " ".join(SENTENCES[14:17]),
]
RECIPE_LINES = [
    "Preheat the oven to a moderate heat and grease a round cake tin with plenty of soft butter.",
    "Beat the butter and the brown sugar together until the mixture turns pale and fluffy.",
    "Add the eggs one at a time, beating well after each, then gently fold in the sifted flour.",
    "Pour the batter into the tin and smooth the top with the back of a large spoon.",
    "Bake for about forty minutes, until a skewer pushed into the middle comes out clean.",
    "Leave the cake to cool in the tin before turning it out onto a wire rack.",
]
CHAT = [
    {
        "role": "system",
        "content": "You are a patient assistant for a small village. Answer briefly and politely.",
    },
    {"role": "user", "content": " ".join(SENTENCES[:6]) + " When did the village library reopen?"},
    {
        "role": "assistant",
        "content": "The library reopened last spring, after the roof was repaired.",
        "name": "guide",
    },
]

Run = Callable[..., CompressionResult]


@pytest.fixture(scope="module")
def run(compressor: Compressor) -> Run:
    """`compressor.compress`, memoised on its arguments for this module."""
    cache: dict[str, CompressionResult] = {}

    def compress_once(prompt: Any, **options: Any) -> CompressionResult:
        key = json.dumps([prompt, options], sort_keys=True)
        if key not in cache:
            cache[key] = compressor.compress(prompt, **options)
        return cache[key]

    return compress_once


def is_subsequence(part: Sequence[str], whole: Sequence[str]) -> bool:
    remaining = iter(whole)
    return all(item in remaining for item in part)


def assert_budget(result: CompressionResult, target: int, count: Callable[[str], int]) -> None:
    assert result.target_tokens == target
    assert result.compressed_tokens == count(result.text)
    assert result.compressed_tokens <= target
    if target >= 20:
        assert result.compressed_tokens >= 0.95 * target, (result.compressed_tokens, target)
    assert result.ratio == pytest.approx(result.compressed_tokens / result.original_tokens)


# --- budget -------------------------------------------------------------------------------------------------

BUDGET_CASES = [
    pytest.param(SHORT, {"rate": 0.5}, id="short-rate0.5"),
    pytest.param(SHORT, {"target_tokens": 30}, id="short-target30"),
    pytest.param(MEDIUM, {"rate": 0.33}, id="medium-rate0.33"),
    pytest.param(MEDIUM, {"rate": 0.7}, id="medium-rate0.7"),
    pytest.param(LONG, {"rate": 0.2}, id="long-rate0.2"),
    pytest.param(LONG, {"target_tokens": 250}, id="long-target250"),
]


@pytest.mark.parametrize(("text", "budget"), BUDGET_CASES)
def test_budget_is_met_exactly_in_the_compressor_tokenizer(
    run: Run, compressor: Compressor, text: str, budget: dict[str, Any]
) -> None:
    result = run(text, **budget)
    original = compressor.count(text)
    assert result.original_tokens == original
    target = budget.get("target_tokens") or math.floor(budget["rate"] * original)
    assert_budget(result, target, compressor.count)
    assert result.note is None


@pytest.mark.parametrize(("text", "budget"), BUDGET_CASES)
def test_output_is_whole_input_words_in_order(run: Run, text: str, budget: dict[str, Any]) -> None:
    output = run(text, **budget).text.split()
    assert output
    assert set(output) <= set(text.split())
    assert is_subsequence(output, text.split())


@pytest.mark.parametrize(("text", "budget"), BUDGET_CASES[:3])
def test_kept_spans_appear_in_the_output(run: Run, text: str, budget: dict[str, Any]) -> None:
    result = run(text, **budget)
    assert result.kept_spans
    for span in result.kept_spans:
        assert span.segment == 0
        assert 0 <= span.start < span.end <= len(text)
        assert text[span.start : span.end] in result.text
    assert sum(len(text[s.start : s.end].split()) for s in result.kept_spans) == len(result.text.split())


def test_short_prompts_are_compressed(run: Run) -> None:
    result = run(SHORT, rate=0.5)
    assert result.original_tokens < 200
    assert result.compressed_tokens < result.original_tokens
    assert len(result.text) < len(SHORT)


def test_result_serialises_to_json(run: Run) -> None:
    data = json.loads(json.dumps(run(SHORT, rate=0.5).to_dict()))
    assert data["text"] == run(SHORT, rate=0.5).text
    assert all(len(span) == 3 for span in data["kept_spans"])
    assert "messages" not in data
    assert {"original_tokens", "compressed_tokens", "target_tokens", "ratio", "seconds", "note"} <= set(data)


def test_budget_is_counted_in_the_target_tokenizer(compressor: Compressor) -> None:
    from transformers import AutoTokenizer

    folder = embedding_model_path()
    bert = Compressor(tokenizer=folder)
    wordpiece = AutoTokenizer.from_pretrained(folder)

    def count(text: str) -> int:
        return len(wordpiece(text, add_special_tokens=False)["input_ids"])

    result = bert.compress(MEDIUM, rate=0.4)
    assert result.original_tokens == count(MEDIUM) != compressor.count(MEDIUM)
    assert_budget(result, math.floor(0.4 * count(MEDIUM)), count)
    assert is_subsequence(result.text.split(), MEDIUM.split())


# --- what is kept -------------------------------------------------------------------------------------------


def number_words(text: str) -> Counter[str]:
    return Counter(word for word in text.split() if re.search(r"\d", word))


def test_numbers_are_kept_by_default(run: Run) -> None:
    result = run(NUMBERS, rate=0.5)
    assert result.compressed_tokens <= result.target_tokens
    assert number_words(result.text) == number_words(NUMBERS)


def test_low_value_numbers_may_go_without_keep_numbers(run: Run) -> None:
    kept = run(NUMBERS, rate=0.5, keep_numbers=False)
    assert kept.compressed_tokens <= kept.target_tokens
    assert number_words(kept.text) < number_words(NUMBERS)  # the predictable count 1, 2, 3 ... thins out


def test_keep_patterns_survive_a_low_rate(run: Run) -> None:
    text = f"{' '.join(SENTENCES[:8])} Your booking reference is QX-7741 and your seat is 14C. {MEDIUM}"
    result = run(text, rate=0.1, keep=[r"QX-\d+", r"\b\d+[A-F]\b"])
    assert "QX-7741" in result.text
    assert "14C." in result.text.split()
    assert result.compressed_tokens <= result.target_tokens


def test_verbatim_markers_are_kept_and_removed(run: Run) -> None:
    secret = "Do not share the gate code with anyone, not even the driver."
    text = f"{SENTENCES[8]} <winnow-keep>{secret}</winnow-keep> {' '.join(SENTENCES[9:13])}"
    result = run(text, rate=0.3)
    assert secret in result.text
    assert "winnow-keep" not in result.text
    assert result.compressed_tokens <= result.target_tokens < result.original_tokens


CODE = '```python\ndef greet(name):\n    return f"Hello, {name}!"\n```'


@pytest.mark.parametrize("around", ["\n\n", "\n"], ids=["own-paragraph", "inside-a-paragraph"])
def test_fenced_code_is_kept_verbatim(run: Run, compressor: Compressor, around: str) -> None:
    text = f"{' '.join(SENTENCES[:4])}{around}{CODE}{around}{' '.join(SENTENCES[4:7])}"
    result = run(text, rate=0.4)
    assert CODE in result.text
    assert_budget(result, math.floor(0.4 * compressor.count(text)), compressor.count)


BLANK_LINE_CODE = (
    "```python\ndef total(items):\n    count = 0\n\n    for item in items:\n        count += item\n"
    "    return count\n```"
)


@pytest.mark.parametrize(
    ("block", "chunk_by"),
    [
        pytest.param(BLANK_LINE_CODE, "auto", id="indent-after-blank-line-in-code"),
        pytest.param(
            "<winnow-keep>Rules:\n  - no dogs\n  - no bikes</winnow-keep>", "sentences", id="indent"
        ),
        pytest.param("<winnow-keep>Gate code 4417.  Never share it.</winnow-keep>", "sentences", id="spaces"),
    ],
)
def test_protected_text_across_chunks_is_kept_verbatim(run: Run, block: str, chunk_by: str) -> None:
    prose = " ".join(SENTENCES[:6])
    result = run(f"{prose}\n\n{block}\n\n{prose}", rate=0.4, chunk_by=chunk_by)
    assert block.removeprefix("<winnow-keep>").removesuffix("</winnow-keep>") in result.text


# --- question-aware -----------------------------------------------------------------------------------------


def test_the_relevant_document_survives_whole_and_ranks_first(run: Run, compressor: Compressor) -> None:
    result = run(DOCUMENTS, rate=0.25, question=QUESTION)
    assert result.chunk_ranking[0] == RELEVANT
    assert sorted(result.chunk_ranking) == list(range(len(DOCUMENTS)))
    parts = result.text.split("\n\n")
    assert TRAIN in parts
    assert all(any(is_subsequence(part.split(), doc.split()) for doc in DOCUMENTS) for part in parts)
    others = [doc for i, doc in enumerate(DOCUMENTS) if i != RELEVANT]
    assert sum(doc in result.text for doc in others) == 0
    assert QUESTION not in result.text
    assert_budget(result, math.floor(0.25 * compressor.count("\n\n".join(DOCUMENTS))), compressor.count)


def test_chunk_ranking_uses_document_indices(run: Run) -> None:
    result = run(["", *DOCUMENTS], rate=0.25, question=QUESTION)
    assert TRAIN in result.text.split("\n\n")
    assert result.chunk_ranking[0] == RELEVANT + 1


def test_documents_keep_their_order_without_reorder_and_not_with_it(run: Run, compressor: Compressor) -> None:
    plain = run(DOCUMENTS, rate=0.6, question=QUESTION)
    reordered = run(DOCUMENTS, rate=0.6, question=QUESTION, reorder=True)
    kept = sorted({span.segment for span in plain.kept_spans})
    assert kept == sorted({span.segment for span in reordered.kept_spans})
    assert min(kept) < RELEVANT < max(kept)  # else reordering would not show
    by_rank = [index for index in plain.chunk_ranking if index in kept]
    for result, order in ((plain, kept), (reordered, by_rank)):
        assert_budget(result, math.floor(0.6 * compressor.count("\n\n".join(DOCUMENTS))), compressor.count)
        parts = result.text.split("\n\n")
        assert len(parts) == len(order)
        for part, index in zip(parts, order, strict=True):
            assert is_subsequence(part.split(), DOCUMENTS[index].split())
    assert reordered.text.split("\n\n")[0] == TRAIN
    for result in (plain, reordered):  # each document's own text, in input order either way
        assert result.documents is not None and len(result.documents) == len(DOCUMENTS)
        assert [i for i, text in enumerate(result.documents) if text] == kept
        assert [text for text in result.documents if text] == plain.text.split("\n\n")


DEMOS = [
    "Question: Ana has 3 apples and buys 4 more. How many apples does she have?\nAnswer: 3 + 4 = 7. #### 7",
    "Question: Ben runs 5 km a day for 6 days. How far does he run?\nAnswer: 5 * 6 = 30 km. #### 30",
    "Question: Cleo pays 12 dollars for 3 pens. What does one pen cost?\nAnswer: 12 / 3 = 4 dollars. #### 4",
    "Question: Dan reads 9 pages a night. How many pages in 7 nights?\nAnswer: 9 * 7 = 63 pages. #### 63",
    "Question: Eva had 50 stamps and gave away 18. How many are left?\nAnswer: 50 - 18 = 32. #### 32",
]


@pytest.mark.parametrize("rate", [0.5, 0.3])
def test_documents_without_a_question_are_kept_whole_first(
    run: Run, compressor: Compressor, rate: float
) -> None:
    result = run(DEMOS, rate=rate)
    assert_budget(result, math.floor(rate * compressor.count("\n\n".join(DEMOS))), compressor.count)
    parts = result.text.split("\n\n")
    whole = [part for part in parts if part in DEMOS]
    assert len(whole) >= len(parts) - 1  # at most one demonstration is cut, to fill what is left
    assert len(whole) >= 1
    assert all(any(is_subsequence(part.split(), demo.split()) for demo in DEMOS) for part in parts)
    by_sentence = run(DEMOS, rate=rate, whole_chunks=False)
    assert sum(part in DEMOS for part in by_sentence.text.split("\n\n")) < len(whole)


def test_whole_chunks_is_asked_for_not_assumed_with_a_question(run: Run) -> None:
    text = "\n\n".join(DEMOS)
    assert not any(
        demo in run(DEMOS, rate=0.5, question="How many pages does Dan read?").text for demo in DEMOS[:2]
    )
    assert sum(demo in run(text, rate=0.5, whole_chunks=True).text for demo in DEMOS) >= 2


def test_kept_spans_of_documents_appear_in_the_output(run: Run) -> None:
    result = run(DOCUMENTS, rate=0.25, question=QUESTION)
    assert any(span.segment == RELEVANT for span in result.kept_spans)
    for span in result.kept_spans:
        assert DOCUMENTS[span.segment][span.start : span.end] in result.text


def test_paragraphs_kept_whole_keep_their_blank_lines(run: Run) -> None:
    text = "\n\n".join(PARAGRAPHS)
    result = run(text, rate=0.6, question=QUESTION)
    parts = result.text.split("\n\n")
    assert TRAIN in parts
    # each kept part is its own paragraph's words, paragraphs in their order
    owners = [
        next(i for i, p in enumerate(PARAGRAPHS) if is_subsequence(part.split(), p.split())) for part in parts
    ]
    assert owners == sorted(set(owners))


def test_every_paragraph_keeps_its_own_block(run: Run) -> None:
    text = "\n\n".join(PARAGRAPHS)
    result = run(text, rate=0.5)
    parts = result.text.split("\n\n")
    assert len(parts) == len(PARAGRAPHS)
    for part, paragraph in zip(parts, PARAGRAPHS, strict=True):
        assert "\n" not in part
        assert is_subsequence(part.split(), paragraph.split())


def test_keep_newlines_keeps_line_structure(run: Run) -> None:
    text = "\n".join(RECIPE_LINES)
    result = run(text, rate=0.5, keep_newlines=True, chunk_by="paragraphs")
    line_of = [text.count("\n", 0, position) for position in range(len(text))]
    kept_lines = sorted(
        {line_of[p] for s in result.kept_spans for p in range(s.start, s.end) if text[p] != "\n"}
    )
    output_lines = result.text.split("\n")
    assert len(output_lines) == len(kept_lines) > 1
    for line, index in zip(output_lines, kept_lines, strict=True):
        assert line.split() and is_subsequence(line.split(), RECIPE_LINES[index].split())


ZH_SENTENCES = [
    "这个小镇的图书馆去年春天重新开放，屋顶由当地木匠修好了。",
    "阅览室里有十二张长橡木桌子和一个安静的儿童角。",
    "每个星期四晚上，一位退休教师给大家朗读古老的航海故事。",
    "开往海边的夜班火车在晚上十一点一刻从中央车站出发。",
    "学校后面的果园种着苹果、梨和一棵很少结果的李子树。",
    "十月里学生们把苹果榨成果汁，在丰收集市上出售。",
]
ZH = "".join(ZH_SENTENCES)


def test_chinese_is_compressed_in_whole_words_and_sentences(run: Run, compressor: Compressor) -> None:
    result = run(ZH, rate=0.4, question="夜班火车几点从车站出发？")
    assert ZH_SENTENCES[3] in result.text  # the sentence that answers, found by its words
    assert " " not in result.text  # no space is put between words of a script written without them
    assert is_subsequence(list(result.text), list(ZH))
    assert_budget(result, math.floor(0.4 * compressor.count(ZH)), compressor.count)


def test_without_fill_words_only_whole_sentences_are_kept() -> None:
    result = Compressor(fill_words=False).compress(MEDIUM, rate=0.5, question="Who reads stories aloud?")
    kept = result.text.split(". ")
    assert SENTENCES[2] in result.text
    assert all(any(part.rstrip(".") in s for s in SENTENCES[:10]) for part in kept)
    assert result.compressed_tokens <= result.target_tokens


@pytest.mark.parametrize("fill_by", ["position", "surprisal"])
def test_the_fill_takes_words_of_one_sentence_that_did_not_fit(fill_by: str) -> None:
    whole = Compressor(fill_words=False).compress(
        SHORT, target_tokens=30, question="Who reads stories aloud?"
    )
    filled = Compressor(fill_by=fill_by).compress(
        SHORT, target_tokens=30, question="Who reads stories aloud?"
    )
    assert whole.compressed_tokens <= filled.compressed_tokens <= 30
    assert whole.text in filled.text  # the whole sentence stays
    added = filled.text.replace(whole.text, " ").split()
    assert added, "the fill added no word"
    assert any(is_subsequence(added, sentence.split()) for sentence in SENTENCES[:3])
    if fill_by == "position":  # in reading order: the beginning of that sentence
        assert any(sentence.startswith(" ".join(added)) for sentence in SENTENCES[:3])


def test_the_default_fill_goes_by_surprisal_with_a_question_and_in_reading_order_without() -> None:
    question = "Who reads stories aloud?"
    by_surprisal = Compressor(fill_by="surprisal").compress(SHORT, target_tokens=30, question=question)
    by_position = Compressor(fill_by="position").compress(SHORT, target_tokens=30, question=question)
    assert by_surprisal.text != by_position.text  # else this test could not tell them apart
    assert Compressor().compress(SHORT, target_tokens=30, question=question).text == by_surprisal.text
    without = Compressor(fill_by="position").compress(SHORT, target_tokens=30)
    assert Compressor().compress(SHORT, target_tokens=30).text == without.text


def test_a_lower_sentence_never_jumps_ahead_of_the_best_one_cut_to_fit(run: Run) -> None:
    best = (
        "The night train to the coast leaves the central station at a quarter past eleven and stops at "
        "every village along the river before it reaches the harbour at dawn."
    )
    text = f"Cats sleep a lot. {best} Bread is sold early. Rain fell."
    result = run(text, target_tokens=15, question="When does the night train to the coast leave the station?")
    assert result.text and is_subsequence(result.text.split(), best.split())  # words of the best only


def test_text_without_spaces_is_never_silently_emptied(compressor: Compressor) -> None:
    text = "北京是中国的首都。上海是中国最大的城市。" * 8
    try:
        result = compressor.compress(text, rate=0.5)
    except CompressionError:
        return  # a clear error is fine too
    assert result.text
    assert result.compressed_tokens >= 0.95 * result.target_tokens


# --- chat ---------------------------------------------------------------------------------------------------


def test_chat_compresses_only_the_named_roles(run: Run, compressor: Compressor) -> None:
    result = run(CHAT, rate=0.6, roles=["user"])
    assert result.messages is not None
    assert json.loads(result.text) == result.messages
    assert [m["role"] for m in result.messages] == [m["role"] for m in CHAT]
    assert result.messages[0] == CHAT[0]
    assert result.messages[2] == CHAT[2]
    user = result.messages[1]["content"]
    assert len(user) < len(CHAT[1]["content"])
    assert is_subsequence(user.split(), CHAT[1]["content"].split())
    assert result.compressed_tokens == sum(compressor.count(m["content"]) for m in result.messages)
    assert result.original_tokens == sum(compressor.count(m["content"]) for m in CHAT)
    assert result.compressed_tokens <= result.target_tokens


def test_chat_message_marked_not_to_compress_is_kept(run: Run) -> None:
    chat = [{**CHAT[0], "compress": False}, CHAT[1], CHAT[2]]
    result = run(chat, rate=0.6)
    assert result.messages is not None
    assert result.messages[0]["content"] == CHAT[0]["content"]
    assert result.messages[0]["role"] == "system"
    assert json.loads(result.text) == result.messages
    assert result.compressed_tokens <= result.target_tokens


def test_chat_with_an_unknown_role_is_an_error(compressor: Compressor) -> None:
    with pytest.raises(CompressionError, match="tool"):
        compressor.compress(CHAT, rate=0.5, roles=["tool"])


# --- long prompts -------------------------------------------------------------------------------------------


def kept_word_starts(result: CompressionResult, text: str) -> set[int]:
    return {
        span.start + m.start()
        for span in result.kept_spans
        for m in re.finditer(r"\S+", text[span.start : span.end])
    }


def test_a_prompt_longer_than_the_window_is_windowed_not_truncated(run: Run, compressor: Compressor) -> None:
    small = Compressor(window=64)
    assert compressor.count(LONG) > 6 * 64
    result = small.compress(LONG, target_tokens=250)
    assert_budget(result, 250, compressor.count)
    assert is_subsequence(result.text.split(), LONG.split())
    # the same words as with one window: every token was scored, none truncated
    windowed, whole = kept_word_starts(result, LONG), kept_word_starts(run(LONG, target_tokens=250), LONG)
    assert len(windowed & whole) >= 0.75 * len(windowed | whole)


# --- unchanged ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [{"target_tokens": 10_000}, {"rate": 1.0}])
def test_a_target_at_or_over_the_prompt_returns_it_unchanged(compressor: Compressor, budget: dict) -> None:
    result = compressor.compress(MEDIUM, **budget)
    assert result.text == MEDIUM
    assert result.compressed_tokens == result.original_tokens == compressor.count(MEDIUM)
    assert result.note and "unchanged" in result.note


def test_documents_under_a_large_target_come_back_joined() -> None:
    result = compress(DOCUMENTS, target_tokens=10_000)
    assert result.text == "\n\n".join(DOCUMENTS)
    assert result.note and "unchanged" in result.note


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "options", "message"),
    [
        ("", {"rate": 0.5}, "empty"),
        ("   \n\t ", {"rate": 0.5}, "empty"),
        ("some text\x00with a NUL", {"rate": 0.5}, "NUL"),
        (b"some bytes", {"rate": 0.5}, "bytes"),
        ([], {"rate": 0.5}, "non-empty"),
        (["", "  "], {"rate": 0.5}, "empty"),
        (SHORT, {"rate": 0}, "rate"),
        (SHORT, {"rate": 1.5}, "rate"),
        (SHORT, {"rate": -0.2}, "rate"),
        (SHORT, {}, "exactly one"),
        (SHORT, {"rate": 0.5, "target_tokens": 20}, "exactly one"),
        (SHORT, {"target_tokens": 0}, "target_tokens"),
        (SHORT, {"rate": 0.001}, "no token"),
        (SHORT, {"rate": 0.5, "keep": ["(unclosed"]}, "regular expression"),
        (SHORT, {"rate": 0.5, "chunk_by": "words"}, "chunk_by"),
        (f"<winnow-keep>{SHORT}", {"rate": 0.5}, "no </winnow-keep>"),
        (f"<winnow-keep>{SHORT}</winnow-keep>", {"rate": 0.5}, "protected parts"),
        (SHORT, {"rate": 0.3, "keep": [r"\w+"]}, "protected parts"),
        (CHAT, {"rate": 0.1, "roles": ["assistant"]}, "protected parts"),
    ],
)
def test_bad_input_is_a_clear_error(compressor: Compressor, prompt: Any, options: dict, message: str) -> None:
    with pytest.raises(CompressionError, match=re.escape(message)) as caught:
        compressor.compress(prompt, **options)
    assert isinstance(caught.value, WinnowError)


def test_bad_compressor_settings_are_errors(tmp_path: Path) -> None:
    with pytest.raises(CompressionError, match="window"):
        Compressor(window=16)
    with pytest.raises(CompressionError, match="fill_by must be auto, position or surprisal"):
        Compressor(fill_by="attention")  # type: ignore[arg-type]
    model = tmp_path / "model.json"
    model.write_text('{"question": {"scorers": [{"kind": "bm25"}], "weights": [1]}}')
    with pytest.raises(CompressionError, match=r"model.json: not a sentence model .*bm25"):
        Compressor(sentence_model=model)


def test_a_compressor_is_its_parameters() -> None:
    assert repr(Compressor()) == "Compressor()"
    assert repr(Compressor(fill_words=False, window=512)) == "Compressor(fill_words=False, window=512)"


def test_run_many_gives_what_single_runs_give(run: Run, compressor: Compressor) -> None:
    from prompts.compress import CompressionRequest

    asks = [
        (DOCUMENTS, {"rate": 0.25, "question": QUESTION}),
        (MEDIUM, {"rate": 0.33}),
        (ZH, {"rate": 0.4, "question": "夜班火车几点从车站出发？"}),
    ]
    together = compressor.run_many([CompressionRequest(prompt, **options) for prompt, options in asks])
    assert [r.text for r in together] == [run(prompt, **options).text for prompt, options in asks]
