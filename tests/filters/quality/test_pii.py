"""PII redaction: what each kind replaces, what it leaves alone, the counts and the transform stage."""

from __future__ import annotations

import gzip
import pickle

import polars as pl
import pytest
from pydantic import ValidationError

from filters.quality.pii import PiiConfig, PiiRedaction, redact_pii, redact_pii_text
from pipeline.batch import REASON
from tests.conftest import shared_file

NONE = {"email": 0, "ip": 0, "phone": 0}


@pytest.mark.parametrize(
    ("text", "redacted", "counts"),
    [
        (
            "Write to maria.lopez+orders@shop.example.co.uk or OPS_team@example.org.",
            "Write to <EMAIL> or <EMAIL>.",
            {"email": 2},
        ),
        ("mailto:a.b@example.com?subject=hi", "mailto:<EMAIL>?subject=hi", {"email": 1}),
        (
            "Our server (203.0.113.54) answers; 192.168.1.10 does not.",
            "Our server (<IP>) answers; <IP> does not.",
            {"ip": 2},
        ),
        ("hosts 8.8.8.8 8.8.4.4,1.1.1.1 and 9.9.9.9.", "hosts <IP> <IP>,<IP> and <IP>.", {"ip": 4}),
        ("ping 10.0.0.7:8080 now", "ping <IP>:8080 now", {"ip": 1}),
        ("v6 at 2001:db8:85a3::8a2e:370:7334 today", "v6 at <IP> today", {"ip": 1}),
        ("full 2001:0db8:0000:0000:0000:ff00:0042:8329.", "full <IP>.", {"ip": 1}),
        ("prefix [2001:db8::] here", "prefix [<IP>] here", {"ip": 1}),
        ("Call +1 (555) 123-4567 today", "Call <PHONE> today", {"phone": 1}),
        ("Call 555-123-4567 or 555.123.4567.", "Call <PHONE> or <PHONE>.", {"phone": 2}),
        ("London office: +44 20 7946 0958.", "London office: <PHONE>.", {"phone": 1}),
        ("Paris +33 1 23 45 67 89, Berlin +49 30 1234567", "Paris <PHONE>, Berlin <PHONE>", {"phone": 2}),
        ("Toll free 1-800-555-1234 or (312) 555-0199", "Toll free <PHONE> or <PHONE>", {"phone": 2}),
        ("SMS +14155552671 now", "SMS <PHONE> now", {"phone": 1}),
        (
            "Ask jo@example.com, from 198.51.100.23, on 555-867-5309.",
            "Ask <EMAIL>, from <IP>, on <PHONE>.",
            {"email": 1, "ip": 1, "phone": 1},
        ),
    ],
)
def test_redacts_each_kind(text: str, redacted: str, counts: dict[str, int]) -> None:
    assert redact_pii_text(text) == (redacted, {**NONE, **counts})


@pytest.mark.parametrize(
    "text",
    [
        "Dates like 2023-01-15 and 15.01.2023, the years 1987-1988, at 12:30:45.",
        "Net 9,139,000 vs 2,894,000; shares rose 1,234,567; price $1,234.56, up +2.5 pct (+12.8 in 1985).",
        "Shr 95 cts vs 30 cts\n    Revs 135.6 mln vs 118.5 mln\n    heifers 2-3 925-1025 lbs 63.00-65.00.",
        "Versions 1.2.3.456, 1.2.3.4.5, v1.2.3.4 and 01.02.03.04; driver 4.23.0.0; mask 255.255.255.255.",
        "C++ code: std::vector, Face::Add, ::1 and fe80::1; MAC 00:1a:2b:3c:4d:5e.",
        "Local 555-1234, ISBN 0-201-53082-1, SSN-like 123-45-6789, user@localhost, @handle.",
    ],
)
def test_leaves_lookalikes_alone(text: str) -> None:
    assert redact_pii_text(text) == (text, NONE)


def test_redaction_is_idempotent() -> None:
    text = "a@b.io 1.1.1.1 2.2.2.2 +44 20 7946 0958 2001:db8::1"
    once, counts = redact_pii_text(text)
    assert counts == {"email": 1, "ip": 3, "phone": 1}
    assert redact_pii_text(once) == (once, NONE)


def test_custom_kinds_and_placeholders() -> None:
    config = PiiConfig(kinds=["phone", "email", "email"], email_replacement="[$mail]", phone_replacement="☎")
    assert config.kinds == ["email", "phone"]
    text, counts = redact_pii_text("x@y.org at 8.8.8.8, +1 555 123 4567", config)
    assert (text, counts) == ("[$mail] at 8.8.8.8, ☎", {"email": 1, "phone": 1})


@pytest.mark.parametrize(
    "fields",
    [
        {"ip_replacement": "0.0.0.1"},
        {"email_replacement": "nobody@example.com"},
        {"phone_replacement": ""},
        {"kinds": []},
        {"kinds": ["ssn"]},
        {"mode": "mask"},
    ],
)
def test_config_rejects_bad_values(fields: dict) -> None:
    with pytest.raises(ValidationError):
        PiiConfig(**fields)


def test_frame_counts_and_null_text() -> None:
    frame = pl.DataFrame({"body": ["a@b.io and c@d.io", None, "no pii"]})
    out = redact_pii(frame, text="body")
    assert out["body"].to_list() == ["<EMAIL> and <EMAIL>", None, "no pii"]
    assert out["pii_email"].to_list() == [2, 0, 0]
    assert out.schema["pii_ip"] == pl.UInt32


def test_stage_rewrites_text_keeps_every_document_and_counts() -> None:
    batch = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "text": ["mail a@b.io or 8.8.8.8", "call 555-123-4567 or 555-123-4568", "nothing here"],
            "__order": [0, 1, 2],
        }
    )
    stage = pickle.loads(pickle.dumps(PiiConfig().build()))
    assert isinstance(stage, PiiRedaction)
    out = stage.apply(batch)
    assert out.height == 3 and out[REASON].null_count() == 3
    assert out["text"].to_list() == ["mail <EMAIL> or <IP>", "call <PHONE> or <PHONE>", "nothing here"]
    assert out.select("id", "__order").equals(batch.select("id", "__order"))
    assert {name: out.schema[name] for name in stage.score_columns} == stage.score_columns
    assert stage.counters(out) == {"email": 1, "ip": 1, "phone": 2}
    assert PiiRedaction(PiiConfig(kinds=["ip"])).counters(out.head(0)) == {"ip": 0}


@pytest.mark.shared_data
def test_reuters_has_no_false_positives() -> None:
    """The 1987 wire has numbers everywhere and no addresses: only two real toll-free numbers match."""
    with gzip.open(shared_file("reuters21578.jsonl.gz")) as handle:
        docs = pl.read_ndjson(handle.read()).select("id", "text")
    out = redact_pii(docs)
    totals = out.select(pl.col("pii_email", "pii_ip", "pii_phone").sum()).row(0, named=True)
    assert totals == {"pii_email": 0, "pii_ip": 0, "pii_phone": 2}
    assert out.filter(pl.col("pii_phone") > 0)["text"].str.contains("call <PHONE>", literal=True).all()
