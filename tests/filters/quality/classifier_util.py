"""A small labelled corpus written for these tests: plain prose (label 1) against keyword spam (label 0)."""

from __future__ import annotations

import random

SUBJECTS = ["The farmer", "A young teacher", "My neighbour", "The old captain", "Our mayor", "The baker"]
VERBS = ["repaired", "painted", "described", "carried", "visited", "measured", "cleaned", "studied"]
OBJECTS = ["the wooden bridge", "a small boat", "the village school", "an old map", "the garden wall"]
TAILS = [
    "before the winter storms arrived.",
    "while the children watched from the hill.",
    "because nobody else had the time.",
    "and wrote a careful note about it.",
    "after a long conversation with her brother.",
]
KEYWORDS = ["cheap", "casino", "pills", "loans", "bonus", "deal", "replica", "followers", "free", "win"]
SPAM_BITS = ["BUY NOW", "click here", "best price", "100% free", ">>>", "|", "Home | Login | Cart", "***"]


def prose(rng: random.Random) -> str:
    """A paragraph of ordinary sentences."""
    sentences = [
        f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"
        for _ in range(rng.randint(3, 6))
    ]
    return " ".join(sentences)


def spam(rng: random.Random) -> str:
    """Lines of keywords, menus and shouting."""
    lines = [
        " ".join(rng.choice(KEYWORDS + SPAM_BITS) for _ in range(rng.randint(3, 8)))
        for _ in range(rng.randint(3, 6))
    ]
    return "\n".join(lines)


def labelled(n: int = 60, seed: int = 0) -> tuple[list[str], list[int]]:
    """`n` documents, alternating prose (1) and spam (0)."""
    rng = random.Random(seed)
    texts = [prose(rng) if i % 2 == 0 else spam(rng) for i in range(n)]
    return texts, [1 - i % 2 for i in range(n)]
