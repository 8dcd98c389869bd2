"""Synthetic demo corpus for ``make demo``.

Every text is produced here from invented word lists and sentence templates (the vocabulary lives in
``flows/demo_data/``: ``vocabulary.json`` holds the word lists, ``templates.json`` the sentence, boilerplate
and junk-line templates): originals in six made-up topics, exact duplicates (byte-identical or differing in
case and whitespace), near duplicates (a few percent of words edited, or a boilerplate line added) with
their achieved word-5-gram Jaccard, several kinds of junk and four bad records for the quarantine stage.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from random import Random
from typing import Any, BinaryIO

__all__ = ["KINDS", "TOPICS", "DemoCorpus", "jaccard", "word_shingles", "write_demo_corpus"]

KINDS = ("original", "exact_duplicate", "near_duplicate", "junk", "bad_record")

# --------------------------------------------------------------------------------------------
# Vocabulary: JSON files next to this module, read once. Word lists become tuples (the template
# engine tells a word list from other parts by its type); JSON keeps list and key order, so every
# seeded draw sees the same sequences as before.


@cache
def _data(name: str) -> Any:
    """Parsed ``flows/demo_data/<name>``, read once."""
    return json.loads((files("flows") / "demo_data" / name).read_text(encoding="utf-8"))


def _words(items: Iterable[str]) -> tuple[str, ...]:
    """A word list as a tuple of strings, order kept."""
    return tuple(str(w) for w in items)


_VOCAB: dict[str, Any] = _data("vocabulary.json")
_TEXTS: dict[str, Any] = _data("templates.json")

_NAMES: dict[str, Any] = _VOCAB["names"]
_FIRST = _words(_NAMES["first"])
_SUR_A = _words(_NAMES["surname_start"])
_SURNAMES = tuple(a + b for a in _SUR_A for b in _words(_NAMES["surname_end"]))
_TOWN_A = _words(_NAMES["town_start"])
_TOWNS = tuple(a + b for a in _TOWN_A for b in _words(_NAMES["town_end"]))
_STREETS = tuple(f"{a} {b}" for a in _words(_NAMES["street_start"]) for b in _words(_NAMES["street_end"]))

# Word lists a "{slot}" in a template draws from.
_LISTS: dict[str, tuple[str, ...]] = {
    "first": _FIRST,
    "surname": _SURNAMES,
    "street": _STREETS,
    **{name: _words(items) for name, items in _VOCAB["slots"].items()},
}
_DAYS = _LISTS["day"]
_MONTHS = _LISTS["month"]
_SITES = _LISTS["site"]
_MEASURES = _words(_VOCAB["measures"])

_CONTEXT: dict[str, Any] = _VOCAB["context"]
_MODEL_LETTERS = "".join(_CONTEXT["model_letters"])
_VALLEY_SUFFIX = _words(_CONTEXT["valley_suffix"])
_BOAT_A = _words(_CONTEXT["boat_start"])
_BOAT_B = _words(_CONTEXT["boat_end"])
_HEADLAND = _words(_CONTEXT["headland"])
_DISH_A = _words(_CONTEXT["dish_style"])
_DISH_B = _words(_CONTEXT["dish"])
_PRODUCT = _words(_CONTEXT["product"])
_TEAM_SUFFIX = _words(_CONTEXT["team_suffix"])

_FILLER = _words(_VOCAB["edit_fillers"])

_JUNK_WORDS: dict[str, Any] = _VOCAB["junk"]
_NAV_ITEMS = _words(_JUNK_WORDS["nav_items"])
_SPAM_WORDS = _words(_JUNK_WORDS["spam_words"])
_FOREIGN_SYL = _words(_JUNK_WORDS["foreign_syllables"])
_FOREIGN_FUNC = _words(_JUNK_WORDS["foreign_function_words"])

_JUNK_LINES: dict[str, Any] = _TEXTS["junk"]
_REPEATED_LINES = _words(_JUNK_LINES["repeated_line"])
_NAV_LINES = _words(_JUNK_LINES["navigation"])
_SHORT_FRAGMENTS = _words(_JUNK_LINES["short_fragment"])
_BREADCRUMB_ROOT = str(_JUNK_LINES["breadcrumb_root"])
_COPYRIGHT = str(_JUNK_LINES["copyright"])

# --------------------------------------------------------------------------------------------
# Template engine: "{slot}" draws from a word list, a number generator or the document context;
# "[a|b|c]" picks one literal alternative.


class _Ctx:
    """Marker for a slot filled from the per-document context."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class _Alt:
    """Alternatives that themselves contain slots."""

    __slots__ = ("options",)

    def __init__(self, options: tuple[tuple[object, ...], ...]) -> None:
        self.options = options


_Part = str | tuple[str, ...] | _Ctx | _Alt | Callable[[Random], str]
_CtxDict = dict[str, str | tuple[str, ...]]
_TOKEN_RE = re.compile(r"(\{\w+\}|\[[^\]]*\])")


def _num(lo: int, hi: int, step: int = 1) -> Callable[[Random], str]:
    def draw(rng: Random) -> str:
        return str(rng.randrange(lo, hi + 1, step))

    return draw


def _time(rng: Random) -> str:
    return f"{rng.randint(5, 11)}:{rng.choice((0, 5, 15, 20, 30, 40, 45, 50)):02d}"


def _time_pm(rng: Random) -> str:
    return f"{rng.randint(1, 9)}:{rng.choice((0, 10, 15, 25, 30, 35, 45, 55)):02d}"


def _money(rng: Random) -> str:
    return f"${rng.randint(2, 480)}.{rng.choice(('00', '25', '50', '75', '99', '49'))}"


def _ordinal(rng: Random) -> str:
    n = rng.randint(1, 28)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _score(rng: Random) -> str:
    lo = rng.randint(0, 3)
    return f"{lo + rng.randint(1, 4)} to {lo}"


def _votes(rng: Random) -> str:
    lo = rng.randint(0, 5)
    return f"{lo + rng.randint(1, 6)} votes to {lo}"


def _measure(rng: Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.randrange(50, 801, 50)} grams"
    if kind == 1:
        return rng.choice(_MEASURES)
    if kind == 2:
        return f"{rng.randint(1, 4)} tablespoons"
    return f"{rng.randrange(100, 1001, 50)} millilitres"


def _tide(rng: Random) -> str:
    return f"{rng.randint(1, 5)}.{rng.randint(0, 9)}"


_NUMS: dict[str, Callable[[Random], str]] = {
    "n_small": _num(2, 12),
    "n_mid": _num(12, 95),
    "n_big": _num(40, 4000),
    "n_min": _num(10, 120, 5),
    "temp": _num(-3, 31),
    "temp_low": _num(-8, 14),
    "pct": _num(5, 95, 5),
    "minute": _num(2, 89),
    "channel": _num(6, 16),
    "oven": _num(150, 240, 10),
    "runs": _num(40, 320),
    "points": _num(3, 61),
    "year": _num(1994, 2024),
    "time": _time,
    "time_pm": _time_pm,
    "money": _money,
    "ordinal": _ordinal,
    "score": _score,
    "votes": _votes,
    "measure": _measure,
    "tide": _tide,
}


def _compile(template: str) -> tuple[_Part, ...]:
    parts: list[_Part] = []
    for piece in _TOKEN_RE.split(template):
        if not piece:
            continue
        if piece[0] == "{" and piece[-1] == "}":
            name = piece[1:-1]
            if name in _LISTS:
                parts.append(_LISTS[name])
            elif name in _NUMS:
                parts.append(_NUMS[name])
            else:
                parts.append(_Ctx(name))
        elif piece[0] == "[" and piece[-1] == "]":
            options = piece[1:-1].split("|")
            if any("{" in o for o in options):
                parts.append(_Alt(tuple(_compile(o) for o in options)))
            else:
                parts.append(tuple(options))
        else:
            parts.append(piece)
    return tuple(parts)


def _render(parts: tuple[_Part, ...], ctx: _CtxDict, rng: Random) -> str:
    s = _fill(parts, ctx, rng)
    return s[:1].upper() + s[1:]


def _fill(parts: tuple[_Part, ...], ctx: _CtxDict, rng: Random) -> str:
    rnd = rng.random
    out: list[str] = []
    for p in parts:
        cls = p.__class__
        if cls is str:
            out.append(p)  # type: ignore[arg-type]
        elif cls is tuple:
            out.append(p[int(rnd() * len(p))])  # type: ignore[index,arg-type]
        elif cls is _Ctx:
            v = ctx[p.key]  # type: ignore[union-attr]
            out.append(v if v.__class__ is str else v[int(rnd() * len(v))])  # type: ignore[index]
        elif cls is _Alt:
            opts = p.options  # type: ignore[union-attr]
            out.append(_fill(opts[int(rnd() * len(opts))], ctx, rng))  # type: ignore[arg-type]
        else:
            out.append(p(rng))  # type: ignore[operator]
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Topics: sentence templates plus a per-document context (names that recur within a document).

_TEMPLATES: dict[str, list[str]] = _TEXTS["topics"]
_COMPILED: dict[str, tuple[tuple[_Part, ...], ...]] = {
    topic: tuple(_compile(t) for t in templates) for topic, templates in _TEMPLATES.items()
}
_COMPILED_GENERIC = tuple(_compile(t) for t in _TEXTS["generic"])
TOPICS = tuple(_TEMPLATES)


def _aliases(rng: Random) -> tuple[str, ...]:
    first, surname = rng.choice(_FIRST), rng.choice(_SURNAMES)
    return (f"{first} {surname}", f"{first} {surname}", first, surname)


def _context(topic: str, rng: Random) -> _CtxDict:
    town, town2, town3 = rng.sample(_TOWNS, 3)
    first, surname = rng.choice(_FIRST), rng.choice(_SURNAMES)
    ctx: _CtxDict = {
        "town": town,
        "town2": town2,
        "person": (f"{first} {surname}", f"{first} {surname}", first, surname),
        "surname_p": surname,
        "person2": _aliases(rng),
    }
    if topic == "review":
        maker = rng.choice(_LISTS["brand"])
        ctx["maker"] = maker
        model, noun = f"{rng.choice(_MODEL_LETTERS)}{rng.randint(2, 990)}", rng.choice(_PRODUCT)
        ctx["product"] = (f"{maker} {model} {noun}", f"{maker} {noun}", f"{model} {noun}", model, noun, noun)
    elif topic == "weather":
        ctx["valley"] = rng.choice(_TOWN_A) + rng.choice(_VALLEY_SUFFIX)
    elif topic == "harbour":
        ctx["boat"] = f"{rng.choice(_BOAT_A)} {rng.choice(_BOAT_B)}"
        ctx["boat2"] = f"{rng.choice(_BOAT_A)} {rng.choice(_BOAT_B)}"
        ctx["port"] = town2
        ctx["headland"] = f"{rng.choice(_TOWN_A)} {rng.choice(_HEADLAND)}"
    elif topic == "recipe":
        dish = rng.choice(_DISH_B)
        ctx["dish"] = (f"{rng.choice(_DISH_A)} {dish}", dish, dish.rsplit(" ", 1)[-1], "dish")
    elif topic == "sports":
        for key, place in (("team", town), ("team2", town2), ("team3", town3)):
            suffix = rng.choice(_TEAM_SUFFIX)
            ctx[key] = (f"{place} {suffix}", f"{place} {suffix}", place, suffix)
        park = rng.choice(_SURNAMES)
        ctx["ground"] = rng.choice(((f"{park} Park", park), (f"the {town} Road ground", f"{town} Road")))
        ctx["player"] = _aliases(rng)
        ctx["player2"] = _aliases(rng)
    return ctx


def _original(topic: str, rng: Random) -> tuple[str, _CtxDict]:
    """One prose document of 80-600 words in 2-8 paragraphs, and its context."""
    ctx = _context(topic, rng)
    templates = _COMPILED[topic]
    target = int(math.exp(rng.uniform(math.log(90), math.log(560))))
    order: list[int] = []
    sentences: list[str] = []
    words = 0
    generic: list[int] = []
    while words < target:
        if not order:
            order = list(range(len(templates)))
            rng.shuffle(order)
        if not generic:
            generic = list(range(len(_COMPILED_GENERIC)))
            rng.shuffle(generic)
        if rng.random() < 0.15:
            sentence = _render(_COMPILED_GENERIC[generic.pop()], ctx, rng)
        else:
            sentence = _render(templates[order.pop()], ctx, rng)
        n = sentence.count(" ") + 1
        if words + n > 600:
            break
        sentences.append(sentence)
        words += n
    n_par = min(rng.randint(2, 8), max(2, len(sentences) // 2))
    cuts = sorted(rng.sample(range(1, len(sentences)), n_par - 1))
    bounds = [0, *cuts, len(sentences)]
    text = "\n\n".join(" ".join(sentences[a:b]) for a, b in itertools.pairwise(bounds))
    return text, ctx


# --------------------------------------------------------------------------------------------
# Duplicates.

_WORD_RE = re.compile(r"\W+")
_BOILERPLATE = tuple(_compile(t) for t in _TEXTS["boilerplate"])


def word_shingles(text: str, n: int = 5) -> set[str]:
    """Lowercased word n-grams (split on ``\\W+``) joined by single spaces."""
    words = [w for w in _WORD_RE.split(text.lower()) if w]
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def _exact_variant(text: str, rng: Random) -> str:
    """Byte-identical copy, or one differing only in case and whitespace."""
    if rng.random() < 0.5:
        return text
    out = text
    case = rng.randrange(4)
    if case == 0:
        out = out.upper()
    elif case == 1:
        out = out.lower()
    elif case == 2:
        out = "\n\n".join(p.title() if rng.random() < 0.5 else p for p in out.split("\n\n"))
    if rng.random() < 0.6:
        words = out.split(" ")
        seps = ["  " if rng.random() < 0.05 else " " for _ in words[1:]]
        out = words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True))
    if rng.random() < 0.5:
        out = out.replace("\n", "\r\n")
    if rng.random() < 0.3:
        out = out.replace("\n\n", "\n \t\n")
    out = " " * rng.randint(0, 3) + out + rng.choice(("", " ", "\n", "  \n", "\t"))
    if out == text:
        out += "\n"
    return out


def _edit_words(paras: list[list[str]], k: int, rng: Random) -> None:
    """Apply ``k`` random word replacements, insertions, deletions or typos in place."""
    for _ in range(k):
        para = paras[rng.randrange(len(paras))]
        i = rng.randrange(len(para))
        word = para[i]
        core = word.rstrip(".,!?;:")
        tail = word[len(core) :]
        op = rng.random()
        if op < 0.4 or not core:
            new = rng.choice(_FILLER)
            if core[:1].isupper():
                new = new.capitalize()
            para[i] = new + tail
        elif op < 0.55 and len(core) > 3:
            j = rng.randrange(len(core) - 1)
            para[i] = core[:j] + core[j + 1] + core[j] + core[j + 2 :] + tail
        elif op < 0.8 or len(para) < 4:
            para.insert(i, rng.choice(_FILLER))
        else:
            del para[i]
            if tail and i > 0:
                para[i - 1] = para[i - 1].rstrip(".,!?;:") + tail


def _near_duplicate(text: str, ctx: _CtxDict, rng: Random) -> tuple[str, float]:
    """Edited copy with word-5-gram Jaccard to ``text`` in about 0.75-0.95."""
    base = word_shingles(text)
    best: tuple[str, float] | None = None
    for _ in range(8):
        target = rng.uniform(0.77, 0.93)
        paras = [p.split(" ") for p in text.split("\n\n")]
        if rng.random() < 0.4:
            line = _render(rng.choice(_BOILERPLATE), ctx, rng).split(" ")
            if rng.random() < 0.5:
                paras.insert(0, line)
            else:
                paras.append(line)
        out = "\n\n".join(" ".join(p) for p in paras)
        sim = jaccard(base, word_shingles(out))
        for _ in range(12):
            if sim <= target + 0.015:
                break
            shingles = word_shingles(out)
            inter = len(base & shingles)
            union = len(base | shingles)
            k = max(1, math.ceil((inter - target * union) / (5 * (1 + target))))
            _edit_words(paras, k, rng)
            out = "\n\n".join(" ".join(p) for p in paras)
            sim = jaccard(base, word_shingles(out))
        if 0.75 <= sim <= 0.95:
            return out, sim
        if best is None or abs(sim - 0.85) < abs(best[1] - 0.85):
            best = (out, sim)
    assert best is not None
    return best


# --------------------------------------------------------------------------------------------
# Junk.


def _junk_char_soup(rng: Random) -> str:
    alphabet = string.ascii_letters + string.digits + string.punctuation + "      \n" + "\u00a4\u00b6\ufffd"
    return "".join(rng.choices(alphabet, k=rng.randint(120, 1500)))


def _junk_repeated_line(rng: Random) -> str:
    # every field is drawn, in this order, before a line is picked: the seeded output depends on it
    fields = {
        "product_a": rng.choice(_PRODUCT),
        "pct": rng.randrange(10, 90, 5),
        "product_b": rng.choice(_PRODUCT),
        "site": rng.choice(_SITES),
        "product_c": rng.choice(_PRODUCT),
        "status": rng.randint(400, 599),
    }
    line = rng.choice(_REPEATED_LINES).format_map(fields)
    return "\n".join([line] * rng.randint(20, 80))


def _junk_navigation(rng: Random) -> str:
    site = rng.choice(_SITES)
    lines = []
    for _ in range(rng.randint(4, 14)):
        kind = rng.randrange(4)
        if kind == 0:
            lines.append(" | ".join(rng.sample(_NAV_ITEMS, rng.randint(3, 8))))
        elif kind == 1:
            lines.append(" > ".join([_BREADCRUMB_ROOT, *rng.sample(_NAV_ITEMS, rng.randint(1, 3))]))
        elif kind == 2:
            lines.append(_COPYRIGHT.format(year=rng.randint(2003, 2024), site=site))
        else:
            lines.append(rng.choice(_NAV_LINES))
    return "\n".join(lines)


def _junk_numbers(rng: Random) -> str:
    kind = rng.randrange(3)
    n = rng.randint(30, 300)
    if kind == 0:
        return ", ".join(str(rng.randint(0, 99999)) for _ in range(n))
    if kind == 1:
        return "\n".join(f"{i} {rng.uniform(0, 500):.2f} {rng.randint(0, 9)}" for i in range(1, n // 3 + 2))
    return " ".join(f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}" for _ in range(n // 2))


def _junk_short(rng: Random) -> str:
    # every field is drawn, in this order, before a fragment is picked: the seeded output depends on it
    fields = {
        "page": rng.randint(1, 9),
        "pages": rng.randint(10, 40),
        "town": rng.choice(_TOWNS),
        "day": rng.choice(_DAYS),
        "month": rng.choice(_MONTHS),
        "year": rng.randint(2005, 2024),
        "product": rng.choice(_PRODUCT).capitalize(),
    }
    return rng.choice(_SHORT_FRAGMENTS).format_map(fields)


def _junk_spam(rng: Random) -> str:
    item, place = rng.choice(_PRODUCT), rng.choice(_TOWNS)
    keys = [f"{w} {item}" for w in rng.sample(_SPAM_WORDS, 4)] + [f"{item} {place}", f"{place} {item} shop"]
    out = [rng.choice(keys) for _ in range(rng.randint(25, 120))]
    return rng.choice((" ", ", ", " | ")).join(out)


def _foreign_word(rng: Random) -> str:
    return "".join(rng.choice(_FOREIGN_SYL) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4))))


def _junk_foreign(rng: Random) -> str:
    lexicon = [_foreign_word(rng) for _ in range(rng.randint(50, 120))]
    n_lex = len(lexicon)
    paras = []
    for _ in range(rng.randint(2, 5)):
        sents = []
        for _ in range(rng.randint(2, 6)):
            ws = [
                rng.choice(_FOREIGN_FUNC) if rng.random() < 0.3 else lexicon[int(n_lex * rng.random() ** 2)]
                for _ in range(rng.randint(5, 16))
            ]
            sents.append(" ".join(ws).capitalize() + rng.choice((".", ".", ".", "?", "!")))
        paras.append(" ".join(sents))
    return "\n\n".join(paras)


_JUNK: dict[str, tuple[float, Callable[[Random], str]]] = {
    "char_soup": (1.0, _junk_char_soup),
    "repeated_line": (1.0, _junk_repeated_line),
    "navigation": (1.0, _junk_navigation),
    "number_list": (0.9, _junk_numbers),
    "short_fragment": (1.0, _junk_short),
    "keyword_spam": (0.9, _junk_spam),
    "pseudo_foreign": (0.5, _junk_foreign),
}


# --------------------------------------------------------------------------------------------
# Writer.


@dataclass(frozen=True)
class DemoCorpus:
    """Where the demo corpus went and what it holds."""

    path: Path
    n_records: int
    counts: dict[str, int]


def _kind_counts(n_docs: int) -> dict[str, int]:
    exact, near, junk = round(0.08 * n_docs), round(0.08 * n_docs), round(0.09 * n_docs)
    return {
        "original": n_docs - exact - near - junk,
        "exact_duplicate": exact,
        "near_duplicate": near,
        "junk": junk,
        "bad_record": 4,
    }


def write_demo_corpus(path: Path, n_docs: int = 3000, seed: int = 0) -> DemoCorpus:
    """Write ``n_docs`` good documents plus 4 bad records as JSON Lines (gzip if ``.gz``)."""
    if n_docs < 0:
        raise ValueError("n_docs must be >= 0")
    path = Path(path)
    rng = Random(seed)
    counts = _kind_counts(n_docs)

    # (sort key, creation index, text, kind, original index or -1, jaccard, topic)
    items: list[tuple[float, int, str, str, int, float | None, str]] = []
    contexts: list[_CtxDict] = []
    for i in range(counts["original"]):
        topic = TOPICS[i % len(TOPICS)] if i < len(TOPICS) else rng.choice(TOPICS)
        text, ctx = _original(topic, rng)
        items.append((rng.random(), len(items), text, "original", -1, None, topic))
        contexts.append(ctx)
    n_orig = len(items)
    for _ in range(counts["exact_duplicate"]):
        j = rng.randrange(n_orig)
        key, _, text, _, _, _, topic = items[j]
        new_key = key + (1.0 - key) * rng.random()
        items.append((new_key, len(items), _exact_variant(text, rng), "exact_duplicate", j, 1.0, topic))
    for _ in range(counts["near_duplicate"]):
        j = rng.randrange(n_orig)
        key, _, text, _, _, _, topic = items[j]
        new_key = key + (1.0 - key) * rng.random()
        near, sim = _near_duplicate(text, contexts[j], rng)
        items.append((new_key, len(items), near, "near_duplicate", j, sim, topic))
    names = list(_JUNK)
    weights = [_JUNK[k][0] for k in names]
    for i in range(counts["junk"]):
        name = names[i] if i < len(names) else rng.choices(names, weights)[0]
        items.append((rng.random(), len(items), _JUNK[name][1](rng), "junk", -1, None, name))

    items.sort(key=lambda it: (it[0], it[1]))
    n_records = len(items) + 4
    bad_slots = sorted(rng.sample(range(n_records), 4))
    width = max(6, len(str(n_records)))
    position = {it[1]: pos for pos, it in enumerate(items)}
    # final line number of each item, accounting for the bad records slotted in between
    line_of: list[int] = []
    b = 0
    for pos in range(len(items)):
        while b < 4 and bad_slots[b] <= pos + b:
            b += 1
        line_of.append(pos + b)

    def ident(line: int) -> str:
        return f"demo-{line + 1:0{width}d}"

    bad_lines = {
        bad_slots[0]: f'{{"id": "{ident(bad_slots[0])}", "text": "This record was cut off, "kind": ',
        bad_slots[1]: _dumps(ident(bad_slots[1]), None, "bad_record", None, None, "null_text"),
        bad_slots[2]: _dumps(ident(bad_slots[2]), 4217, "bad_record", None, None, "numeric_text"),
        bad_slots[3]: _dumps(ident(bad_slots[3]), " \n\t  \r\n ", "bad_record", None, None, "blank_text"),
    }
    lines: list[str] = [""] * n_records
    for line, text in bad_lines.items():
        lines[line] = text
    for pos, (_, _, text, kind, orig, sim, topic) in enumerate(items):
        dup_of = ident(line_of[position[orig]]) if orig >= 0 else None
        lines[line_of[pos]] = _dumps(ident(line_of[pos]), text, kind, dup_of, sim, topic)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw:
        out: BinaryIO = raw
        if path.name.endswith(".gz"):
            # no file name and mtime=0 in the header, so the bytes depend on the seed only
            out = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=4)
        for start in range(0, n_records, 2000):
            out.write(("\n".join(lines[start : start + 2000]) + "\n").encode("utf-8"))
        if out is not raw:
            out.close()
    return DemoCorpus(path=path, n_records=n_records, counts=counts)


def _dumps(ident: str, text: object, kind: str, dup_of: str | None, sim: float | None, topic: str) -> str:
    record = {"id": ident, "text": text, "kind": kind, "duplicate_of": dup_of, "jaccard": sim, "topic": topic}
    return json.dumps(record, ensure_ascii=False)
