"""Every quality stage of issue 4 from one recipe inside `clean_corpus`, on a real Prefect server."""

import gzip
from pathlib import Path

import orjson
import polars as pl

from filters.quality.classifier import QualityClassifier
from flows.clean import clean_corpus
from flows.demo_corpus import write_demo_corpus
from flows.recipe import parse_recipe
from tests.filters.quality.classifier_util import labelled

CONTACT = (
    "Write to the harbour office at harbour.office@example.org or call +1 (555) 123-4567 before noon. "
    "The office server at 203.0.113.7 publishes the tide tables that the pilots read every morning."
)
BAD_WORD = "zorbleflax"


def corpus(tmp_path: Path) -> Path:
    """The demo generator's documents plus two of our own: contact details, and a planted bad word."""
    write_demo_corpus(tmp_path / "demo.jsonl.gz", n_docs=120, seed=3)
    with gzip.open(tmp_path / "demo.jsonl.gz", "rt") as lines:
        records = [line for line in lines if line.strip()]
    ours = [
        {"id": "contact", "text": CONTACT},
        {"id": "badword", "text": f"The committee met on Monday and discussed the {BAD_WORD} at length."},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(records) + "".join(orjson.dumps(r).decode() + "\n" for r in ours))
    return path


def test_recipe_runs_every_quality_stage(tmp_path: Path, prefect_server: str) -> None:
    texts, labels = labelled(60)
    model = QualityClassifier(head="ngram").fit(texts, labels).save(tmp_path / "quality.model")
    (tmp_path / "badwords.txt").write_text(f"{BAD_WORD}\n")
    recipe = parse_recipe(
        {
            "read": {"batch_size": 50},
            "stages": [
                {"type": "pii"},
                {"type": "c4_badwords", "words_file": str(tmp_path / "badwords.txt")},
                {"type": "language", "languages": ["en"], "min_score": 0.5},
                {"type": "gopher_repetition"},
                {"type": "gopher_quality", "min_doc_words": 20},
                {"type": "c4_quality", "filter_no_terminal_punct": False, "min_num_sentences": 2},
                {"type": "fineweb_quality"},
                {"type": "quality_classifier", "model": str(model)},
                {"type": "perplexity", "max_tokens": 32, "max_perplexity": 5000.0},
                {"type": "exact_dedup"},
                {"type": "minhash_dedup", "keep": "quality_score"},
            ],
        }
    )
    out = tmp_path / "out"
    stats = clean_corpus(inputs=[str(corpus(tmp_path))], out=str(out), recipe=recipe)

    names = [stage.name for stage in stats.stages]
    assert names == [stage.type for stage in recipe.stages]
    assert stats.input == stats.kept + stats.removed + stats.quarantined
    by_name = {stage.name: stage for stage in stats.stages}
    assert by_name["pii"].counters == {"email": 1, "ip": 1, "phone": 1}
    assert by_name["pii"].removed == 0
    assert by_name["c4_badwords"].reasons == {"document_removed_with_badwords": 1}
    assert by_name["gopher_repetition"].removed > 0 and by_name["language"].removed > 0

    kept = pl.read_parquet(out / "kept")
    removed = pl.read_parquet(out / "removed")
    for column in ("lang", "lang_score", "quality_score", "perplexity"):
        assert kept[column].null_count() == 0, column
    assert set(kept["lang"]) == {"en"} and (kept["lang_score"] >= 0.5).all()
    assert kept["quality_score"].is_between(0, 1).all() and (kept["perplexity"] > 1).all()
    # every removal names its stage and the rule; PII was redacted before any later stage saw the text
    assert removed["stage"].is_not_null().all() and removed["reason"].is_not_null().all()
    everything = pl.concat([kept.select("id", "text"), removed.select("id", "text")])
    contact = everything.filter(pl.col("id") == "contact")["text"].item()
    assert "<EMAIL>" in contact and "<PHONE>" in contact and "<IP>" in contact
    assert "example.org" not in contact and "123-4567" not in contact
    # dedup kept the better-scored copy of each near-duplicate cluster
    near = removed.filter(pl.col("reason") == "near_duplicate")
    pairs = near.join(
        kept.select("id", pl.col("quality_score").alias("kept_score")), left_on="duplicate_of", right_on="id"
    )
    assert pairs.height == near.height > 0
    assert (pairs["kept_score"] >= pairs["quality_score"]).all()
