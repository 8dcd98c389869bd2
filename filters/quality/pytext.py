"""Python `str` semantics as polars expressions, for rule sets that must match Python reference code.

Rust (polars) and Python disagree on a few edges: Python's `str.strip()`/`str.split()` also treat the
separators U+001C..U+001F as whitespace, and `str.splitlines()` breaks on eleven line boundaries and
drops the empty piece after a final one.
"""

from __future__ import annotations

import re

import polars as pl

#: the characters for which Python's `str.isspace()` is true
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: a regex character class of `PY_WHITESPACE`, without the brackets
PY_WHITESPACE_CLASS = "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE)
#: the line boundaries of `str.splitlines()` other than "\n" ("\r\n" counts once)
_LINE_BOUNDARY = r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"


def py_strip(text: pl.Expr) -> pl.Expr:
    """`str.strip()`."""
    return text.str.strip_chars(PY_WHITESPACE)


def py_word_count(text: pl.Expr) -> pl.Expr:
    """`len(str.split())`: the number of runs of non-whitespace characters."""
    return text.str.count_matches(f"[^{PY_WHITESPACE_CLASS}]+")


def py_has_word_longer_than(text: pl.Expr, length: int) -> pl.Expr:
    """`any(len(word) > length for word in str.split())`."""
    return text.str.contains(f"[^{PY_WHITESPACE_CLASS}]{{{length + 1}}}")


def py_splitlines(text: pl.Expr) -> pl.Expr:
    """`str.splitlines()` as a List[String] (an empty text has no lines)."""
    normalized = text.str.replace_all(_LINE_BOUNDARY, "\n")
    lines = normalized.str.strip_suffix("\n").str.split("\n")
    return (
        pl.when(normalized.str.len_bytes() == 0).then(pl.lit([], dtype=pl.List(pl.String))).otherwise(lines)
    )


def py_endswith(text: pl.Expr, suffixes: tuple[str, ...] | list[str]) -> pl.Expr:
    """`str.endswith(suffixes)` for a tuple of suffixes (False when the tuple is empty)."""
    if not suffixes:
        return text.is_null() & False
    return text.str.contains("(?:" + "|".join(re.escape(s) for s in suffixes) + r")\z")
