import numpy as np
import polars as pl
import pytest

from filters.select.layout import CLIP, LAYOUT_STATISTICS, SHORT_LINE, LayoutScaling, layout_statistics

PROSE = (
    "The committee met on Tuesday and agreed to extend the programme for another year. "
    "Its members asked for a report on the costs before the next meeting."
)
LIST = "Menu\n- Home\n- Home\n- About us\n1. Contact\n| Price | 20 |\nFOLLOW US"


def as_dict(row: np.ndarray) -> dict[str, float]:
    return dict(zip(LAYOUT_STATISTICS, row.tolist(), strict=True))


def test_statistics_of_a_list_page_spelled_out():
    stats = as_dict(layout_statistics([LIST])[0])
    lines = ["Menu", "- Home", "- Home", "- About us", "1. Contact", "| Price | 20 |", "FOLLOW US"]
    assert stats["log_characters"] == pytest.approx(np.log1p(len(LIST)))
    assert stats["log_line_characters"] == pytest.approx(np.log1p(np.mean([len(x) for x in lines])))
    assert stats["terminal_lines"] == 0.0
    assert stats["short_lines"] == 1.0  # every line is at most SHORT_LINE characters
    assert stats["duplicate_line_characters"] == pytest.approx(len("- Home") / len(LIST))
    assert stats["list_lines"] == pytest.approx(5 / 7)  # three bullets, a number, a table row
    assert stats["digits"] == pytest.approx(3 / len(LIST))
    letters = sum(c.isalpha() for c in LIST)
    assert stats["uppercase"] == pytest.approx(sum(c.isupper() for c in LIST) / letters)
    marks = sum(not c.isalnum() and not c.isspace() for c in LIST)
    assert stats["punctuation"] == pytest.approx(marks / sum(not c.isspace() for c in LIST))
    assert stats["whitespace"] == pytest.approx(sum(c.isspace() for c in LIST) / len(LIST))


def test_prose_and_a_list_of_the_same_words_differ_in_form():
    prose, listed = layout_statistics([PROSE, "\n".join("- " + w for w in PROSE.split())])
    prose, listed = as_dict(prose), as_dict(listed)
    assert prose["terminal_lines"] == 1.0 and listed["terminal_lines"] < 0.1
    assert prose["short_lines"] == 0.0 and listed["short_lines"] == 1.0
    assert prose["list_lines"] == 0.0 and listed["list_lines"] == 1.0
    assert prose["log_line_characters"] > listed["log_line_characters"] + 2


def test_the_statistics_count_characters_and_lines_in_any_script():
    chinese_prose = "北京是中国的首都，也是全国的政治和文化中心。上海是中国最大的城市，位于长江入海口。"
    chinese_list = "首页\n- 新闻\n- 体育\n- 财经\n联系我们"
    prose, listed = (as_dict(r) for r in layout_statistics([chinese_prose, chinese_list]))
    assert prose["terminal_lines"] == 1.0 and listed["terminal_lines"] == 0.0  # 。 ends a sentence
    assert prose["short_lines"] == 0.0 and listed["short_lines"] == 1.0
    assert listed["list_lines"] == pytest.approx(3 / 5)
    assert prose["uppercase"] == 0.0 and prose["whitespace"] == 0.0
    assert prose["punctuation"] == pytest.approx(4 / len(chinese_prose))
    assert len(chinese_prose) > SHORT_LINE


def test_empty_blank_and_null_texts_are_all_zero_and_rows_keep_their_order():
    texts = pl.Series([PROSE, "", None, " \n\t\n", LIST], dtype=pl.String)
    stats = layout_statistics(texts)
    assert stats.shape == (5, len(LAYOUT_STATISTICS)) and stats.dtype == np.float64
    assert not stats[1:3].any()
    assert as_dict(stats[3])["whitespace"] == 1.0 and as_dict(stats[3])["terminal_lines"] == 0.0
    assert np.array_equal(stats[0], layout_statistics([PROSE])[0])
    assert np.array_equal(stats[4], layout_statistics([LIST])[0])
    assert layout_statistics([]).shape == (0, len(LAYOUT_STATISTICS))


def test_scaling_standardizes_on_the_pool_and_clips_outliers():
    rng = np.random.default_rng(0)
    pool = rng.normal(loc=5.0, scale=2.0, size=(1_000, 3))
    pool[:, 2] = 1.0  # a statistic every pool document shares
    scaling = LayoutScaling.fit(pool)
    block = scaling.transform(pool)
    assert np.allclose(block[:, :2].mean(axis=0), 0.0, atol=0.01)
    assert np.allclose(block[:, :2].std(axis=0) * np.sqrt(3), 1.0, atol=0.02)
    assert scaling.scale[2] == 1.0 and not block[:, 2].any()
    far = scaling.transform(np.array([[1e6, -1e6, 1e6]]))
    assert np.array_equal(far, np.array([[CLIP, -CLIP, CLIP]]) / np.sqrt(3))
    again = LayoutScaling.from_array(scaling.to_array())
    assert np.array_equal(again.transform(pool), block)
    with pytest.raises(ValueError, match="shape"):
        scaling.transform(pool[:, :2])
    with pytest.raises(ValueError, match="at least one row"):
        LayoutScaling.fit(pool[:0])
