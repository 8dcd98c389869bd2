"""`winnow dedup`: near-duplicate removal as a run folder, and incremental runs against an index."""

import json
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl

from tests.conftest import CliResult

Winnow = Callable[..., CliResult]
WORDS = [f"w{i}" for i in range(3000)]


def document(rng: random.Random, length: int = 150) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(length))


def near(rng: random.Random, text: str) -> str:
    words = text.split()
    words[rng.randrange(len(words))] = "changed"
    return " ".join(words)


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(orjson.dumps(r).decode() + "\n" for r in records))
    return path


def test_dedup_run_folder_and_incremental_index(tmp_path: Path, winnow: Winnow) -> None:
    rng = random.Random(1)
    day1 = [{"id": f"a{i}", "text": document(rng), "score": i} for i in range(40)]
    day1.append({"id": "a40", "text": near(rng, day1[3]["text"]), "score": 100})
    index = tmp_path / "index"
    first = winnow(
        "dedup",
        write(tmp_path / "day1.jsonl", day1),
        "--out",
        tmp_path / "run1",
        "--against",
        index,
        "--update-index",
        "--keep",
        "score",
        "--batch-size",
        "7",
    )
    assert first.exit_code == 0, first.output
    removed = pl.read_parquet(tmp_path / "run1" / "removed")
    assert removed.select("id", "stage", "reason", "duplicate_of", "cluster_id").rows() == [
        ("a3", "minhash_dedup", "near_duplicate", "a40", "a40")  # highest score is kept
    ]
    assert removed["similarity"][0] > 0.9
    assert json.loads((index / "index.json").read_text())["rows"] == 40

    day2 = [{"id": "b0", "text": near(rng, day1[10]["text"])}, {"id": "b1", "text": document(rng)}]
    second = winnow(
        "dedup",
        write(tmp_path / "day2.jsonl", day2),
        "--out",
        tmp_path / "run2",
        "--against",
        index,
        "--update-index",
    )
    assert second.exit_code == 0, second.output
    removed = pl.read_parquet(tmp_path / "run2" / "removed")
    assert removed.select("id", "duplicate_of").rows() == [("b0", "a10")]
    assert pl.read_parquet(tmp_path / "run2" / "kept")["id"].to_list() == ["b1"]
    assert json.loads((index / "index.json").read_text())["rows"] == 41

    other = winnow(
        "dedup", tmp_path / "day2.jsonl", "--out", tmp_path / "run3", "--against", index, "--threshold", "0.5"
    )
    assert other.exit_code == 1 and "index was built with other parameters" in other.output


def test_dedup_usage_and_input_errors(tmp_path: Path, winnow: Winnow) -> None:
    data = write(tmp_path / "a.jsonl", [{"text": "one two three four five six"}])
    no_index = winnow("dedup", data, "--out", tmp_path / "o1", "--update-index")
    assert no_index.exit_code == 2 and "--update-index needs --against" in no_index.output
    bad_threshold = winnow("dedup", data, "--out", tmp_path / "o2", "--threshold", "1.5")
    assert bad_threshold.exit_code == 2
    no_column = winnow("dedup", data, "--out", tmp_path / "o3", "--keep", "quality")
    assert no_column.exit_code == 1 and "keep column 'quality' is not in the documents" in no_column.output
    assert "Traceback" not in no_column.output


def test_default_clean_removes_exact_then_near_duplicates(tmp_path: Path, winnow: Winnow) -> None:
    rng = random.Random(2)
    texts = [document(rng) for _ in range(20)]
    records = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
    records += [{"id": "copy", "text": texts[0].upper()}, {"id": "near", "text": near(rng, texts[1])}]
    result = winnow("clean", write(tmp_path / "c.jsonl", records), "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert [(s["name"], s["reasons"]) for s in stats["stages"]] == [
        ("exact_dedup", {"exact_duplicate": 1}),
        ("minhash_dedup", {"near_duplicate": 1}),
    ]
