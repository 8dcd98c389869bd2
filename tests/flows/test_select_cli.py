"""`winnow select` and `winnow fewshot` as a user runs them: the installed command, a real Prefect server."""

import json
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest

from tests.conftest import CliResult

Winnow = Callable[..., CliResult]

SPORT = [
    "The home side won the cup final after a late goal in extra time.",
    "Their striker scored twice as the team climbed to the top of the league.",
    "The coach praised the defenders after a clean sheet in the derby.",
    "Fans filled the stadium to watch the semi-final against the champions.",
]
COOKING = [
    "Simmer the onions in butter until soft, then add the garlic and stock.",
    "Knead the dough for ten minutes and let it rise in a warm place.",
    "Roast the vegetables with olive oil, salt and rosemary for forty minutes.",
    "Whisk the eggs with sugar until pale before folding in the flour.",
]


def jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text(
        "".join(orjson.dumps({"id": f"d{i}", "text": t}).decode() + "\n" for i, t in enumerate(texts))
    )
    return path


def test_select_dsir_keeps_documents_like_the_target(tmp_path: Path, winnow: Winnow) -> None:
    pool = jsonl(tmp_path / "pool.jsonl", SPORT * 3 + COOKING * 3)
    target = tmp_path / "target.jsonl"  # the target's text in a field of its own
    target.write_text("".join(orjson.dumps({"instruction": t}).decode() + "\n" for t in COOKING))
    result = winnow(
        "select",
        str(pool),
        "--out",
        str(tmp_path / "out"),
        "--method",
        "dsir",
        "--target",
        str(target),
        "--target-field",
        "instruction",
        "--budget",
        "6",
    )
    assert result.exit_code == 0, result.output
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    removed = pl.read_parquet(tmp_path / "out" / "removed")
    assert kept.height == 6 and set(kept["text"]) <= set(COOKING)
    assert set(removed["reason"]) == {"not_selected"} and removed.height == 18


@pytest.mark.parametrize(
    ("ngrams", "layout", "lm", "self_training"),
    [
        ("--ngrams", "--layout", "--lm", "--self-training"),
        ("--no-ngrams", "--layout", "--no-lm", "--no-self-training"),
        ("--ngrams", "--no-layout", "--no-lm", "--self-training"),
    ],
)
def test_select_embedding_keeps_documents_like_the_target(
    tmp_path: Path, winnow: Winnow, ngrams: str, layout: str, lm: str, self_training: str
) -> None:
    pool = jsonl(tmp_path / "pool.jsonl", SPORT * 3 + COOKING * 3)
    target = jsonl(tmp_path / "target.jsonl", COOKING)
    args = ["--method", "embedding", "--target", str(target), "--budget", "6", ngrams, layout, lm]
    args += [self_training, "--dtype", "float32"]
    result = winnow("select", str(pool), "--out", str(tmp_path / "out"), *args)
    assert result.exit_code == 0, result.output
    recipe = json.loads((tmp_path / "out" / "run.json").read_text())["identity"]["recipe"]
    assert recipe["stages"][0]["ngrams"] is (ngrams == "--ngrams")
    assert recipe["stages"][0]["layout"] is (layout == "--layout")
    assert recipe["stages"][0]["lm"] is (lm == "--lm")
    assert recipe["stages"][0]["self_training"] is (self_training == "--self-training")
    assert recipe["stages"][0]["dtype"] == "float32"
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    removed = pl.read_parquet(tmp_path / "out" / "removed")
    assert kept.height == 6 and set(kept["text"]) <= set(COOKING)
    assert set(removed["reason"]) == {"not_selected"} and removed.height == 18


def test_select_embedding_with_a_minimum_log_odds_keeps_what_looks_like_the_target(
    tmp_path: Path, winnow: Winnow
) -> None:
    """A budget larger than the pool holds of the target's kind is filled with what is left, and the output
    says how many kept documents score unlike the target; `--min-log-odds 0` (with or without a budget)
    keeps only those that score like it, the rest in the ledger as `unlike_target`."""
    pool = jsonl(tmp_path / "pool.jsonl", SPORT * 3 + COOKING * 3)
    target = jsonl(tmp_path / "target.jsonl", COOKING)
    args = ["--method", "embedding", "--target", str(target), "--no-lm", "--cache", str(tmp_path / "cache")]
    padded = winnow("select", str(pool), "--out", str(tmp_path / "padded"), *args, "--budget", "20")
    assert padded.exit_code == 0, padded.output
    said = " ".join(padded.output.split())
    assert "12 of 24 documents score more like the target than like the pool (log-odds > 0)" in said
    assert "12 of the 20 kept do (a minimum log-odds of 0, --min-log-odds 0, keeps only those)" in said
    assert pl.read_parquet(tmp_path / "padded" / "kept").height == 20
    result = winnow("select", str(pool), "--out", str(tmp_path / "out"), *args, "--min-log-odds", "0")
    assert result.exit_code == 0, result.output
    assert "12 of the 12 kept do" in " ".join(result.output.split())
    kept = pl.read_parquet(tmp_path / "out" / "kept")
    removed = pl.read_parquet(tmp_path / "out" / "removed")
    assert kept.height == 12 and set(kept["text"]) == set(COOKING)
    assert set(removed["reason"]) == {"unlike_target"} and removed.height == 12
    assert "## Target selection" in (tmp_path / "out" / "report.md").read_text()
    assert "12 of 24 documents score more like the target" in (tmp_path / "out" / "report.html").read_text()


def test_select_semdedup_removes_paraphrases(tmp_path: Path, winnow: Winnow) -> None:
    texts = [*SPORT, *COOKING, SPORT[0].replace("home side", "home team"), COOKING[1] + " "]
    pool = jsonl(tmp_path / "pool.jsonl", texts)
    result = winnow(
        "select", str(pool), "--out", str(tmp_path / "out"), "--method", "semdedup", "--eps", "0.1"
    )
    assert result.exit_code == 0, result.output
    removed = pl.read_parquet(tmp_path / "out" / "removed")
    assert set(removed["reason"]) == {"semantic_duplicate"}
    pairs = {tuple(sorted(pair)) for pair in removed.select("id", "duplicate_of").rows()}
    assert pairs == {("d0", "d8"), ("d5", "d9")}
    assert (removed["similarity"] >= 0.9).all()


def test_select_usage_errors(tmp_path: Path, winnow: Winnow) -> None:
    pool = jsonl(tmp_path / "pool.jsonl", SPORT)
    no_target = winnow("select", str(pool), "--out", str(tmp_path / "a"), "--method", "dsir", "--budget", "2")
    assert no_target.exit_code == 1 and "target" in no_target.output
    no_budget = winnow("select", str(pool), "--out", str(tmp_path / "b"), "--method", "kcenter")
    assert no_budget.exit_code == 1 and "budget" in no_budget.output
    args = ["--method", "dsir", "--target", str(pool), "--min-log-odds", "0"]
    not_embedding = winnow("select", str(pool), "--out", str(tmp_path / "b"), *args)
    assert not_embedding.exit_code == 1 and "min_log_odds applies to method embedding" in not_embedding.output
    semdedup = winnow("select", str(pool), "--out", str(tmp_path / "b"), "--method", "semdedup", *args[4:])
    assert semdedup.exit_code != 0 and "no budget, target or minimum log-odds" in semdedup.output
    args = ["--method", "dsir", "--budget", "2", "--target"]
    missing = winnow("select", str(pool), "--out", str(tmp_path / "c"), *args, str(tmp_path / "none.jsonl"))
    assert missing.exit_code == 1 and "none.jsonl does not exist" in missing.output
    assert not (tmp_path / "c").exists()
    # a wrong target field stops the run before the pool is embedded (the cache stays empty)
    target, cache = jsonl(tmp_path / "target.jsonl", COOKING), tmp_path / "cache"
    args = ["--method", "embedding", "--budget", "2", "--cache", str(cache), "--target", str(target)]
    wrong = winnow("select", str(pool), "--out", str(tmp_path / "d"), *args, "--target-field=q")
    assert wrong.exit_code == 1 and "target.jsonl, line 1, field 'q': missing field 'q'" in wrong.output
    assert not cache.exists() or not any(cache.rglob("*.parquet"))


def test_fewshot_picks_relevant_demonstrations(tmp_path: Path, winnow: Winnow) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "".join(
            orjson.dumps({"question": q, "answer": f"answer {i}"}).decode() + "\n"
            for i, q in enumerate(SPORT + COOKING)
        )
    )
    result = winnow(
        "fewshot",
        str(pool),
        "How long should bread dough rise?",
        "-k",
        "2",
        "--fields",
        "question,answer",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    picks = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(picks) == 2
    assert picks[0]["example"]["question"] == COOKING[1]
