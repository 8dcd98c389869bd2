"""Few-shot selection: MMR picks relevant and diverse demonstrations, within a token budget."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from prompts.fewshot import FewShotError, FewShotSelector, mmr_select, select_demonstrations
from tests.conftest import shared_file

# three near-duplicates on the query's topic, two more on temperature, the rest unrelated
POOL = [
    {
        "question": "How do I convert 30 degrees Celsius to Fahrenheit?",
        "answer": "Multiply by 9/5, add 32: 86.",
    },
    {"question": "How can I convert 30 degrees Celsius into Fahrenheit?", "answer": "30 * 1.8 + 32 = 86."},
    {"question": "Convert 30 degrees Celsius to Fahrenheit, how?", "answer": "It is 86 degrees Fahrenheit."},
    {"question": "What is 100 Fahrenheit in Celsius?", "answer": "Subtract 32, times 5/9: about 37.8."},
    {
        "question": "At what temperature does water boil in Kelvin?",
        "answer": "About 373 kelvin at sea level.",
    },
    {"question": "Who painted the ceiling of the Sistine Chapel?", "answer": "Michelangelo."},
    {"question": "How many legs does a spider have?", "answer": "Eight."},
    {"question": "What is the capital city of Canada?", "answer": "Ottawa."},
    {"question": "How long should I boil an egg for a runny yolk?", "answer": "About six minutes."},
    {"question": "Which planet is closest to the sun?", "answer": "Mercury."},
]
QUERY = "How do I turn 25 degrees Celsius into Fahrenheit?"
NEAR_DUPLICATES = {0, 1, 2}


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def selector() -> FewShotSelector:
    return FewShotSelector(
        pl.DataFrame(POOL), fields=["question", "answer"], template="Q: {question}\nA: {answer}"
    )


def test_lambda_one_is_top_k_by_similarity() -> None:
    rng = np.random.default_rng(0)
    pool, query = unit(rng.normal(size=(200, 16))), unit(rng.normal(size=16))
    picked = [row for row, _ in mmr_select(query, pool, k=5, lambda_=1.0)]
    assert picked == list(np.argsort(-(pool @ query), kind="stable")[:5])


def test_duplicates_of_a_chosen_example_fall_behind_unless_lambda_is_one() -> None:
    query = unit(np.array([1.0, 0.0, 0.0, 0.0]))
    near = unit(np.array([0.9, 0.1, 0.0, 0.0]))
    pool = np.stack(
        [near, near, near, unit(np.array([0.6, 0.0, 0.8, 0.0])), unit(np.array([0.6, 0, 0, 0.8]))]
    )
    assert [row for row, _ in mmr_select(query, pool, k=3, lambda_=1.0)] == [0, 1, 2]
    assert [row for row, _ in mmr_select(query, pool, k=3, lambda_=0.5)] == [0, 3, 4]


def test_ties_go_to_the_more_similar_then_the_earlier_example() -> None:
    pool = unit(np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.6, 0.8]]))
    # lambda 0: every first score is 0; the most similar wins, and of two equal ones the first
    assert mmr_select(unit(np.array([1.0, 0.0])), pool, k=1, lambda_=0.0)[0][0] == 1
    assert mmr_select(unit(np.array([1.0, 0.0])), pool, k=2, lambda_=1.0) == [(1, 1.0), (2, 1.0)]


def test_budget_skips_what_does_not_fit_and_goes_on() -> None:
    query = unit(np.array([1.0, 0.0, 0.0]))
    pool = unit(np.array([[1.0, 0.1, 0.0], [1.0, 0.2, 0.0], [1.0, 0.3, 0.0], [1.0, 0.4, 0.0]]))
    costs = np.array([50, 80, 30, 10])
    picked = [row for row, _ in mmr_select(query, pool, k=4, lambda_=1.0, costs=costs, budget=100)]
    assert picked == [0, 2, 3]  # 1 (80 tokens) would pass 100 after 0 (50): skipped, the shorter ones follow
    assert costs[picked].sum() <= 100
    assert mmr_select(query, pool, k=4, costs=costs, budget=5) == []


def test_k_larger_than_the_pool_returns_each_example_once() -> None:
    rng = np.random.default_rng(1)
    pool, query = unit(rng.normal(size=(6, 8))), unit(rng.normal(size=8))
    picked = [row for row, _ in mmr_select(query, pool, k=50, lambda_=0.3)]
    assert sorted(picked) == list(range(6))


@pytest.mark.parametrize(("k", "lambda_"), [(0, 0.5), (2, 1.5), (2, -0.1)])
def test_bad_k_or_lambda_is_an_error(k: int, lambda_: float) -> None:
    with pytest.raises(FewShotError):
        mmr_select(unit(np.ones(3)), unit(np.eye(3)), k=k, lambda_=lambda_)


def test_picks_the_most_relevant_first_and_one_near_duplicate_at_lambda_half(
    selector: FewShotSelector,
) -> None:
    diverse = selector.select(QUERY, k=3, lambda_=0.5)
    assert diverse[0].index in NEAR_DUPLICATES
    assert len({d.index for d in diverse} & NEAR_DUPLICATES) == 1
    similar = selector.select(QUERY, k=3, lambda_=1.0)
    assert {d.index for d in similar} == NEAR_DUPLICATES
    assert [d.similarity for d in similar] == sorted((d.similarity for d in similar), reverse=True)


def test_demonstrations_carry_the_rendered_example(selector: FewShotSelector) -> None:
    first = selector.select(QUERY, k=1)[0]
    record = POOL[first.index]
    assert first.text == f"Q: {record['question']}\nA: {record['answer']}"
    assert first.example == record
    # all-MiniLM-L6-v2's WordPiece splits words and punctuation: more tokens than whitespace words
    assert first.tokens > len(first.text.split())


def test_token_budget_is_respected(selector: FewShotSelector) -> None:
    chosen = selector.select(QUERY, k=10, lambda_=0.7, max_tokens=60)
    assert chosen
    assert sum(d.tokens for d in chosen) <= 60
    assert sum(d.tokens for d in selector.select(QUERY, k=10, lambda_=0.7)) > 60


def test_select_many_matches_select(selector: FewShotSelector) -> None:
    queries = [QUERY, "Name a painter of the Renaissance."]
    many = selector.select_many(queries, k=2)
    assert [[d.index for d in picks] for picks in many] == [
        [d.index for d in selector.select(query, k=2)] for query in queries
    ]


def test_a_cache_folder_serves_the_pool_vectors_again(tmp_path: Path) -> None:
    first = FewShotSelector(POOL, fields=["question"], tokenizer="words", cache=tmp_path)
    assert any(path.is_file() for path in tmp_path.rglob("*"))
    again = FewShotSelector(POOL, fields=["question"], tokenizer="words", cache=tmp_path)
    np.testing.assert_array_equal(again.embeddings, first.embeddings)
    assert [d.index for d in again.select(QUERY, k=3)] == [d.index for d in first.select(QUERY, k=3)]


def test_plain_strings_and_whitespace_word_counts() -> None:
    texts = [row["question"] for row in POOL]
    chosen = select_demonstrations(QUERY, texts, k=2, tokenizer="words", max_tokens=9)
    assert all(d.tokens == len(d.text.split()) for d in chosen)
    assert sum(d.tokens for d in chosen) <= 9
    assert chosen[0].text == texts[chosen[0].index]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"fields": ["question", "solution"]}, "unknown field 'solution'"),
        ({"fields": ["question"], "template": "{question} {hint}"}, "unknown field 'hint'"),
        ({"fields": ["question"], "template": "{0}"}, "bad template"),
    ],
)
def test_unknown_fields_are_errors(options: dict, message: str) -> None:
    with pytest.raises(FewShotError, match=message):
        FewShotSelector(pl.DataFrame(POOL), tokenizer="words", embeddings=np.zeros((len(POOL), 4)), **options)


def test_empty_pool_is_an_error() -> None:
    with pytest.raises(FewShotError, match="no examples"):
        select_demonstrations(QUERY, [], tokenizer="words")


@pytest.mark.shared_data
def test_gsm8k_demonstrations_are_closer_than_random_ones() -> None:
    """20 held-out GSM8K questions, 4 demonstrations each from 300 others: MMR against random picks."""
    with gzip.open(shared_file("gsm8k_test.jsonl.gz"), "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines][:320]
    queries, pool = records[:20], pl.DataFrame(records[20:])
    selector = FewShotSelector(pool, fields=["question", "answer"])
    vectors = selector.embed_queries([r["question"] for r in queries])
    rng = np.random.default_rng(0)
    random = np.mean([selector.embeddings[rng.choice(len(pool), 4, replace=False)] @ v for v in vectors])
    top = np.mean([np.sort(selector.embeddings @ v)[-4:].mean() for v in vectors])
    budgeted = [selector.select(v, k=4, lambda_=0.5, max_tokens=600) for v in vectors]
    similar = [selector.select(v, k=4, lambda_=1.0) for v in vectors]
    mmr, plain = (np.mean([d.similarity for picks in run for d in picks]) for run in (budgeted, similar))
    print(
        f"GSM8K mean cosine to the query: MMR(0.5, 600 tokens) {mmr:.3f}, top-4 {plain:.3f}, "
        f"random {random:.3f}"
    )
    assert all(1 <= len(picks) <= 4 and sum(d.tokens for d in picks) <= 600 for picks in budgeted)
    assert plain == pytest.approx(top, abs=1e-5)
    assert mmr > random + 0.08
