"""Pool the per-case outcomes of several `benchmarks/compress.py --json` runs (for example the draws of
`--agnostic-window-offset 0`, `8` and `16`) and print, per section title, each method's recovered at each
rate and its gap to the baseline with a 95% paired bootstrap interval, as one run over all their cases
would (ratio of means over the cases; `compress.gaps`). A case that appears in more than one file (the
same section, method, rate and case number) counts once, from the last file given.

    python benchmarks/compress_pool.py agnostic-0.json agnostic-8.json agnostic-16.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from compress import Outcome, gap_line, gaps, reader_metrics  # benchmarks/compress.py, beside this script

Groups = dict[tuple[str, float | None], list[Outcome]]
REFERENCES = ("no context", "original")


def pool(files: list[Path]) -> dict[str, Groups]:
    """Per section title: the outcomes of every file by (method, rate), one per case."""
    by_case: dict[str, dict[tuple[str, float | None, int], Outcome]] = {}
    for file in files:
        report = json.loads(file.read_text())
        for title, section in report.items():
            if isinstance(section, dict) and "outcomes" in section:
                cases = by_case.setdefault(title, {})
                for fields in section["outcomes"]:
                    outcome = Outcome(**fields)
                    cases[(outcome.method, outcome.rate, outcome.case)] = outcome
    pooled: dict[str, Groups] = {}
    for title, cases in by_case.items():
        groups: Groups = {}
        for (method, rate, _), outcome in sorted(cases.items(), key=lambda item: item[0][2]):
            groups.setdefault((method, rate), []).append(outcome)
        pooled[title] = groups
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="+", help="reports written by compress.py --json")
    args = parser.parse_args()
    for title, groups in pool(args.files).items():
        none = {o.case: o.lp for o in groups.get(("no context", None), []) if o.lp is not None}
        full = {o.case: o.lp for o in groups.get(("original", 1.0), []) if o.lp is not None}
        print(f"\n{title}: {len(full)} cases")
        print("| method | rate | cases | recovered |\n|---|---:|---:|---:|")
        for (method, rate), outcomes in groups.items():
            if method in REFERENCES:
                continue
            done = [o for o in outcomes if o.error is None]
            recovered = reader_metrics(done, none, full)["recovered"] if done else None
            cell = "-" if recovered is None else f"{recovered:.3f}"
            print(f"| {method} | {rate} | {len(outcomes)} | {cell} |")
        for entry in gaps(groups):
            print(gap_line(entry))


if __name__ == "__main__":
    main()
