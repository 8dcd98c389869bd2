"""Recipes that ship with winnow: `winnow clean --preset NAME`, or `winnow recipe NAME` to start your own.

- `dedup` (the default): exact then MinHash near-duplicate removal; removes nothing else.
- `web`: the FineWeb pipeline of datatrove 0.10.1 for English web text, with its thresholds: language ID,
  Gopher repetition, Gopher quality, C4 quality (line removal, without its terminal-punctuation line rule, as
  FineWeb runs it), FineWeb quality, then exact and MinHash dedup. No model beyond the packaged language ID.
"""

from __future__ import annotations

PRESETS: dict[str, str] = {
    "dedup": """\
# Exact, then MinHash near-duplicate removal (winnow's default recipe).
[[stages]]
type = "exact_dedup"

[[stages]]
type = "minhash_dedup"
threshold = 0.8
""",
    "web": """\
# English web text, as FineWeb cleans it (datatrove 0.10.1 defaults), then deduplication.
[[stages]]
type = "language"
languages = ["en"]
min_score = 0.65

[[stages]]
type = "gopher_repetition"

[[stages]]
type = "gopher_quality"

[[stages]]
type = "c4_quality"
filter_no_terminal_punct = false

[[stages]]
type = "fineweb_quality"

[[stages]]
type = "exact_dedup"

[[stages]]
type = "minhash_dedup"
threshold = 0.8
""",
}
