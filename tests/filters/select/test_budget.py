import numpy as np
import polars as pl
import pytest

from filters.select.budget import Budget, selection_mask, token_counts


def test_budget_needs_exactly_one_limit():
    with pytest.raises(ValueError):
        Budget()
    with pytest.raises(ValueError):
        Budget(docs=3, tokens=10)
    with pytest.raises(ValueError):
        Budget(docs=-1)


def test_document_budget_takes_a_prefix_of_the_order():
    order = np.array([4, 2, 0, 1, 3])
    assert Budget(docs=3).take(order).tolist() == [4, 2, 0]
    assert Budget(docs=10).take(order).tolist() == [4, 2, 0, 1, 3]
    assert Budget(docs=10).max_docs(5) == 5


def test_token_budget_stops_before_the_first_document_that_overflows():
    lengths = np.array([5, 10, 3, 7])
    order = np.array([1, 3, 0, 2])
    # 10 + 7 = 17 fits in 20, adding 5 would make 22
    assert Budget(tokens=20).take(order, lengths).tolist() == [1, 3]
    assert Budget(tokens=25).take(order, lengths).tolist() == [1, 3, 0, 2]
    assert Budget(tokens=20).max_docs(4, lengths) == 3  # 3 + 5 + 7 = 15, + 10 = 25
    with pytest.raises(ValueError, match="token counts"):
        Budget(tokens=20).take(order)


def test_token_counts_are_whitespace_words_or_a_tokenizers_ids():
    texts = pl.Series(["one two  three", "", "four\nfive", None])
    assert token_counts(texts).tolist() == [3, 0, 2, 0]
    assert token_counts(["ab cd"], lambda batch: [list(t) for t in batch]).tolist() == [5]


def test_selection_mask_marks_the_selected_rows():
    assert selection_mask(4, np.array([3, 1])).tolist() == [False, True, False, True]
