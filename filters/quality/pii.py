"""PII redaction: e-mail addresses, IP addresses (v4 and v6) and phone numbers become placeholders.

Vectorised with polars regexes (the Rust `regex` crate: no look-around, so the patterns consume the
context they need and re-emit it). What counts as each kind:

- `email`: `local@domain.tld` with an ASCII domain of one or more labels and a 2-24 letter TLD.
- `ip`: IPv4 host addresses (octets 0-255 without leading zeros, the last 1-254: `x.x.x.0` networks and
  `x.x.x.255` broadcasts name no machine, and sparing them spares version numbers like `4.23.0.0`), not
  part of a longer dotted number (`1.2.3.4.5`) or a word (`v1.2.3.4`). IPv6 in full or `::`-compressed
  form whose first group starts with a digit: every global unicast address (2000::/3), while `fe80::1`,
  `::1`, `fd00::` and code like `std::vector` or `Face::Add` are left alone.
- `phone`: international numbers written with `+` and a country code (`+44 20 7946 0958`,
  `+1 (555) 123-4567`, `+14155552671`) and North American numbers with an area code, either parenthesised
  or with consistent `-`/`.` separators (`(555) 123-4567`, `555-123-4567`, `1-800-555-1234`, `555.123.4567`).
  Bare digit runs, space-separated local numbers and 7-digit numbers are not matched: too many false positives
  (dates like 2023-01-15, amounts like 1,234,567 and prices never match).

Library use: `redact_pii(frame)` or `redact_pii_text("...")`. Pipeline use: the `PiiRedaction` transform,
which never removes a document and reports how many of each kind it replaced through `counters`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from pipeline.batch import REASON, TEXT
from pipeline.stage import Filter, StageConfig

PiiKind = Literal["email", "ip", "phone"]
KINDS: tuple[PiiKind, ...] = ("email", "ip", "phone")
#: the count column of each kind
COUNT_COLUMNS: dict[PiiKind, str] = {kind: f"pii_{kind}" for kind in KINDS}

_EMAIL = r"\w[\w.%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_HOST_OCTET = r"(?:25[0-4]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]?)"  # 1-254: no network or broadcast address
#: IPv4 with its surroundings captured: `pre`/`post` are re-emitted around the placeholder
_IPV4 = rf"(?P<pre>^|[^\w.]){_OCTET}(?:\.{_OCTET}){{2}}\.{_HOST_OCTET}(?P<post>$|[^\w.]|\.$|\.[^\w])"
_HEX = r"[0-9A-Fa-f]{1,4}"
_HEX_FIRST = r"\b[0-9][0-9A-Fa-f]{0,3}"
_IPV6 = (
    rf"{_HEX_FIRST}(?::{_HEX}){{7}}\b"  # full form
    rf"|{_HEX_FIRST}(?::{_HEX}){{0,6}}::{_HEX}(?::{_HEX}){{0,6}}\b"  # compressed, groups after ::
    rf"|{_HEX_FIRST}(?::{_HEX}){{1,6}}::"  # compressed, ends with :: (at least two groups before)
)
_PHONE_INTL = (
    r"\+[1-9][0-9]{0,2}"  # country code
    r"(?:[ .-]?\([0-9]{1,4}\)[ .-]?[0-9]{1,8}|[ .-][0-9]{1,8}){1,5}[ .-][0-9]{2,8}\b"  # separated groups
    r"|\+[1-9][0-9]{7,14}\b"  # E.164 without separators
)
_PHONE_NANP = (
    r"(?:\b1[ .-]?)?"
    r"(?:\([2-9][0-9]{2}\) ?[0-9]{3}[ .-][0-9]{4}"
    r"|\b[2-9][0-9]{2}-[0-9]{3}-[0-9]{4}"
    r"|\b[2-9][0-9]{2}\.[0-9]{3}\.[0-9]{4})\b"
)


@dataclass(frozen=True)
class _Rule:
    """One regex of a kind. `context`: it captures `pre`/`post`; such a rule runs twice, because a match
    that consumed the character after it hides that character from the next match (`1.1.1.1 2.2.2.2`)."""

    pattern: str
    context: bool = False

    def replacement(self, template: str) -> str:
        escaped = template.replace("$", "$$")
        return f"${{pre}}{escaped}${{post}}" if self.context else escaped

    @property
    def passes(self) -> int:
        return 2 if self.context else 1


RULES: dict[PiiKind, tuple[_Rule, ...]] = {
    "email": (_Rule(_EMAIL),),
    "ip": (_Rule(_IPV6), _Rule(_IPV4, context=True)),
    "phone": (_Rule(_PHONE_INTL), _Rule(_PHONE_NANP)),
}


def _matches(pattern: str, text: str) -> bool:
    return bool(pl.select(pl.lit(text, pl.String).str.contains(pattern)).item())


class PiiConfig(StageConfig):
    """Recipe table for `type = "pii"`: which kinds to redact and their placeholders."""

    type: Literal["pii"] = "pii"
    kinds: list[PiiKind] = Field(default_factory=lambda: list(KINDS), min_length=1)
    email_replacement: str = Field("<EMAIL>", min_length=1)
    ip_replacement: str = Field("<IP>", min_length=1)
    phone_replacement: str = Field("<PHONE>", min_length=1)

    @field_validator("kinds")
    @classmethod
    def _ordered(cls, value: list[PiiKind]) -> list[PiiKind]:
        return [kind for kind in KINDS if kind in value]  # the fixed order, no repeats

    @model_validator(mode="after")
    def _placeholders(self) -> PiiConfig:
        for kind in KINDS:
            template = self.replacement(kind)
            for other in KINDS:
                if any(_matches(rule.pattern, template) for rule in RULES[other]):
                    raise ValueError(f"{kind}_replacement {template!r} would itself be redacted as {other}")
        return self

    def replacement(self, kind: PiiKind) -> str:
        """The placeholder that replaces each match of `kind`."""
        return {"email": self.email_replacement, "ip": self.ip_replacement, "phone": self.phone_replacement}[
            kind
        ]


DEFAULT = PiiConfig()


def redact_pii(frame: pl.DataFrame, config: PiiConfig = DEFAULT, *, text: str = TEXT) -> pl.DataFrame:
    """`frame` with `text` redacted and a UInt32 count column (`pii_email`, ...) for each kind in `config`."""
    counts = {kind: COUNT_COLUMNS[kind] for kind in config.kinds}
    frame = frame.with_columns(pl.lit(0, pl.UInt32).alias(column) for column in counts.values())
    for kind in config.kinds:
        column = pl.col(counts[kind])
        for rule in RULES[kind]:
            replacement = rule.replacement(config.replacement(kind))
            for _ in range(rule.passes):
                found = pl.col(text).str.count_matches(rule.pattern).fill_null(0)
                frame = frame.with_columns(
                    (column + found).alias(counts[kind]),
                    pl.col(text).str.replace_all(rule.pattern, replacement),
                )
    return frame


def redact_pii_text(text: str, config: PiiConfig = DEFAULT) -> tuple[str, dict[str, int]]:
    """One string redacted, and how many of each kind were replaced: `("mail <EMAIL>", {"email": 1, ...})`."""
    row = redact_pii(pl.DataFrame({TEXT: [text]}, schema={TEXT: pl.String}), config).row(0, named=True)
    return row[TEXT], {kind: row[COUNT_COLUMNS[kind]] for kind in config.kinds}


class PiiRedaction(Filter):
    """Rewrite `text` with PII replaced by placeholders; never removes a document (`reason` stays null)."""

    Config = PiiConfig

    config: PiiConfig

    @property
    def score_columns(self) -> dict[str, pl.DataType]:  # type: ignore[override]
        return {COUNT_COLUMNS[kind]: pl.UInt32() for kind in self.config.kinds}

    def apply(self, batch: pl.DataFrame) -> pl.DataFrame:
        return redact_pii(batch, self.config).with_columns(pl.lit(None, pl.String).alias(REASON))

    def counters(self, marked: pl.DataFrame) -> dict[str, int]:
        """How many of each kind this batch had replaced: `{"email": n, "ip": n, "phone": n}`."""
        return {kind: int(marked[COUNT_COLUMNS[kind]].sum()) for kind in self.config.kinds}
