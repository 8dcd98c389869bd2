"""report.html of real run folders (`winnow clean`, `winnow select`), read as HTML and rendered in headless
Chromium through the DevTools protocol: charts drawn, no console error, no request beyond the file."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
)
from websockets.sync.client import ClientConnection, connect

from flows.demo_corpus import write_demo_corpus
from pipeline.batch import REASON
from pipeline.report_html import (
    EXAMPLE_CHARS,
    RunData,
    duplicate_clusters,
    embedding_view,
    render_report,
    write_html_report,
)
from pipeline.runner import RunOptions, run
from pipeline.stage import FunctionFilter
from tests.conftest import flow_run_artifacts

TRICKY = '<script>alert("report")</script> & <b>not bold</b>'
CLEAN_RECIPE = """
[[stages]]
type = "language"
languages = ["en"]
[[stages]]
type = "gopher_quality"
keep_scores = true
[[stages]]
type = "exact_dedup"
[[stages]]
type = "minhash_dedup"
threshold = 0.8
"""


# ---------------------------------------------------------------- run folders made with the real CLI


def demo_documents(folder: Path, n_docs: int) -> list[str]:
    """JSON lines of the project's generated demo corpus, only `id` and `text` (bad records as they are)."""
    demo = write_demo_corpus(folder / "demo.jsonl.gz", n_docs=n_docs, seed=0)
    lines = []
    with gzip.open(demo.path, "rt", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                lines.append(line.rstrip("\n"))
                continue
            lines.append(json.dumps({k: record[k] for k in ("id", "text") if k in record}))
    return lines


def has_text(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and isinstance(record.get("text"), str) and bool(record["text"].strip())


def winnow_cli(prefect_server: str, *args: str | Path) -> None:
    env = {**os.environ, "PREFECT_API_URL": prefect_server, "WINNOW_TORCH_THREADS": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "winnow"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def clean_run(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `winnow clean` run folder (language, Gopher with scores, exact and MinHash dedup) and its report."""
    folder = tmp_path_factory.mktemp("report-clean")
    lines = [json.dumps({"id": "tricky", "text": TRICKY}), *demo_documents(folder, 300)]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "recipe.toml").write_text(CLEAN_RECIPE)
    out = folder / "out"
    recipe = ("--recipe", folder / "recipe.toml", "--batch-size", "40")  # removals spread over shards
    winnow_cli(prefect_server, "clean", folder / "corpus.jsonl", "--out", out, *recipe)
    write_html_report(out)
    return out


@pytest.fixture(scope="module")
def select_run(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `winnow select --method clusters` run folder (no embedding cache: the stage records what the report
    draws), and its report."""
    folder = tmp_path_factory.mktemp("report-select")
    lines = [line for line in demo_documents(folder, 80) if has_text(line)][:60]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    out = folder / "out"
    winnow_cli(
        prefect_server,
        "select",
        folder / "corpus.jsonl",
        "--out",
        out,
        "--method",
        "clusters",
        "--budget",
        "20",
    )
    write_html_report(out)
    return out


# ---------------------------------------------------------------- reading the page


class Page(HTMLParser):
    """Tables (by id or class) as rows of cell texts, charts by their key, and every tag and attribute."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.charts: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.tags.append((tag, named))
        if tag == "table":
            self._table = self.tables.setdefault(named.get("id") or named.get("class") or "", [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")
        elif tag == "figure":
            self.charts.append(named.get("data-chart") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_of(root: Path) -> Page:
    return Page((root / "report.html").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- headless Chromium (DevTools protocol)


def chromium() -> str:
    """The Chromium binary; missing fails under CI=true (never a silent skip there), else skips."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium is missing (Debian: apt-get install -y chromium chromium-driver)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


MEASURE = """JSON.stringify({
  charts: Array.from(document.querySelectorAll('figure.chart')).map(figure => {
    const svg = figure.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const drawn = svg ? svg.querySelector('g').getBBox() : {width: 0, height: 0};
    const marks = svg ? svg.querySelectorAll('path, use, rect').length : 0;
    return {key: figure.dataset.chart, width: box.width, height: box.height,
            drawn: drawn.width * drawn.height, marks: marks};
  }),
  svgs: document.querySelectorAll('svg').length,
  stageRows: document.querySelectorAll('#stage-table tbody tr').length,
  title: document.title,
})"""


@dataclass
class Rendered:
    """What Chromium saw: console errors and exceptions, every URL requested, and the measured page."""

    errors: list[str]
    requests: list[str]
    page: dict[str, Any]


class DevTools:
    """A minimal DevTools protocol client over one websocket: commands to a page session, events kept."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.events: list[dict[str, Any]] = []
        self.last = 0
        self.session: str | None = None

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.last += 1
        message: dict[str, Any] = {"id": self.last, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(self.socket.recv(timeout=60))
            if reply.get("id") == self.last:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(event.get("method") == method for event in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.socket.recv(timeout=left)))
            except TimeoutError:
                return


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    """Headless Chromium, started as CI starts it, with a DevTools session on a blank page."""
    profile = tmp_path / "chromium-profile"
    process = subprocess.Popen(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
        while len(lines := (port_file.read_text().split() if port_file.is_file() else [])) < 2:
            assert process.poll() is None, f"chromium exited with {process.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port in 60 s"
            time.sleep(0.1)
        with connect(f"ws://127.0.0.1:{lines[0]}{lines[1]}", max_size=None, proxy=None) as socket:
            tools = DevTools(socket)
            target = tools.call("Target.createTarget", url="about:blank")["targetId"]
            tools.session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                tools.call(f"{domain}.enable")
            yield tools
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def render(tools: DevTools, page: Path) -> Rendered:
    """Open `page` and measure it once loaded."""
    tools.call("Page.navigate", url=page.resolve().as_uri())
    tools.wait_for("Page.loadEventFired", timeout=60)
    tools.drain(0.5)
    measured = tools.call("Runtime.evaluate", expression=MEASURE, returnByValue=True)
    errors, requests = [], []
    for event in tools.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(json.dumps(params.get("args")))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            requests.append(params["request"]["url"])
    return Rendered(errors, requests, json.loads(measured["result"]["value"]))


def check_rendered(rendered: Rendered, page: Page, root: Path) -> None:
    """No console error, nothing fetched but the file, every chart drawn with a size, the stage table."""
    assert rendered.errors == []
    assert rendered.requests == [(root / "report.html").resolve().as_uri()]
    charts = rendered.page["charts"]
    assert [chart["key"] for chart in charts] == page.charts
    assert rendered.page["svgs"] == len(charts)
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50, chart
        assert chart["drawn"] > 0 and chart["marks"] > 5, chart
    assert rendered.page["stageRows"] == 1 + len(json.loads((root / "stats.json").read_text())["stages"])


# ---------------------------------------------------------------- the clean run


def test_stage_table_counts_every_step_and_reason(clean_run: Path) -> None:
    stats = json.loads((clean_run / "stats.json").read_text())
    rows = page_of(clean_run).tables["stage-table"]
    assert rows[0][:5] == ["step", "kind", "in", "kept", "removed"]
    expected = [["read", "read", stats["input"], stats["input"] - stats["quarantined"], stats["quarantined"]]]
    expected += [[s["name"], s["kind"], s["input"], s["kept"], s["removed"]] for s in stats["stages"]]
    assert [[r[0], r[1], *(int(v.replace(",", "")) for v in r[2:5])] for r in rows[1:]] == expected
    for row, stage in zip(rows[2:], stats["stages"], strict=True):
        assert row[5].split("\n") == [f"{reason}: {n}" for reason, n in stage["reasons"].items()]
    assert stats["quarantined"] == 4 and all(s["removed"] > 0 for s in stats["stages"])


def test_every_numeric_score_column_gets_a_histogram(clean_run: Path) -> None:
    kept = pl.read_parquet(clean_run / "kept")
    scores = {name for name, dtype in kept.schema.items() if dtype.is_numeric()}
    assert {"lang_score", "gopher_words", "gopher_alpha_words_ratio"} <= scores
    charts = page_of(clean_run).charts
    histograms = {key.removeprefix("histogram:") for key in charts if key.startswith("histogram:")}
    assert histograms == scores | {"similarity"}  # MinHash's detail of its removals
    assert charts[:2] == ["stages", "reasons"]
    assert [key for key in charts if key.startswith("duplicates:")] == [
        "duplicates:exact_dedup",
        "duplicates:minhash_dedup",
    ]


def test_duplicate_clusters_come_from_the_ledger(clean_run: Path) -> None:
    removed = pl.read_parquet(clean_run / "removed").filter(pl.col("duplicate_of").is_not_null())
    rows = page_of(clean_run).tables["duplicate-table"]
    assert rows[0] == ["stage", "clusters", "removed", "mean size", "largest"]
    for row in rows[1:]:
        mine = removed.filter(pl.col("stage") == row[0])
        sizes = mine.group_by("duplicate_of").len()["len"] + 1
        assert [int(row[1]), int(row[2]), int(row[4])] == [sizes.len(), mine.height, sizes.max()]
    assert [row[0] for row in rows[1:]] == ["exact_dedup", "minhash_dedup"]


def test_removed_examples_are_escaped_and_cut(clean_run: Path) -> None:
    text = (clean_run / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text and "<b>not bold" not in text
    assert "&lt;script&gt;alert(&quot;report&quot;)&lt;/script&gt; &amp; &lt;b&gt;not bold" in text
    rows = page_of(clean_run).tables["example-table"][1:]
    removed = pl.read_parquet(clean_run / "removed")
    assert rows[0][2].startswith("tricky") and rows[0][4] == TRICKY
    by_reason = removed.group_by("stage", REASON).len()
    shown = pl.DataFrame([r[:2] for r in rows], schema=["stage", REASON], orient="row").group_by(
        "stage", REASON
    )
    assert shown.len().sort("stage", REASON)["len"].to_list() == [
        min(3, n) for n in by_reason.sort("stage", REASON)["len"]
    ]
    assert all(len(row[4]) <= EXAMPLE_CHARS + 1 for row in rows)
    assert any(row[4].endswith("…") for row in rows)
    first = removed.filter(pl.int_range(pl.len()).over("stage", REASON) < 3)  # in the ledger's file order
    assert len(list((clean_run / "removed").glob("part-*"))) > 4
    assert [row[2].split("\n")[0] for row in rows] == first["id"].to_list()
    quarantined = page_of(clean_run).tables["quarantine-table"][1:]
    assert len(quarantined) == 4 and all(row[0].startswith("corpus.jsonl:") for row in quarantined)


def test_report_is_self_contained(clean_run: Path) -> None:
    page = page_of(clean_run)
    assert {tag for tag, _ in page.tags}.isdisjoint({"script", "link", "img", "iframe", "object"})
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), (tag, attrs)
    assert "@import" not in (clean_run / "report.html").read_text()


def test_report_renders_in_headless_chromium(clean_run: Path, browser: DevTools) -> None:
    rendered = render(browser, clean_run / "report.html")
    check_rendered(rendered, page_of(clean_run), clean_run)
    assert rendered.page["title"] == f"winnow run {clean_run.name}"
    assert len(rendered.page["charts"]) == 2 + 11 + 2  # stages and reasons, 11 histograms, 2 duplicate charts


def test_flow_publishes_the_report_tables_as_artifacts(clean_run: Path, prefect_server: str) -> None:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"clean {clean_run}"]))
        )
        assert len(runs) == 1
        by_key = flow_run_artifacts(client, runs[0].id)
    assert sorted(by_key) == [
        "winnow-clean",
        "winnow-clean-duplicates",
        "winnow-clean-reasons",
        "winnow-clean-stages",
    ]
    stats = json.loads((clean_run / "stats.json").read_text())
    stages = json.loads(by_key["winnow-clean-stages"].data)
    assert [(row["step"], row["kept"]) for row in stages[1:]] == [
        (s["name"], s["kept"]) for s in stats["stages"]
    ]
    reasons = json.loads(by_key["winnow-clean-reasons"].data)
    assert sum(row["documents"] for row in reasons) == stats["removed"] + stats["quarantined"]
    duplicates = json.loads(by_key["winnow-clean-duplicates"].data)
    assert [row["stage"] for row in duplicates] == ["exact_dedup", "minhash_dedup"]


# ---------------------------------------------------------------- the select run


def test_selection_shows_embedding_clusters_and_coverage(select_run: Path, browser: DevTools) -> None:
    page = page_of(select_run)
    cells = dict(row for row in page.tables["embedding-table"] if len(row) == 2)
    assert cells["documents"] == "60"
    assert cells["selected"] == "20"
    clusters, covered = cells["k-means clusters (with a selected document)"].rstrip(")").split(" (")
    # the stage's own clusters, so its cluster-balanced pick of 20 covers 20 clusters
    assert int(clusters) >= 20 and int(covered) == 20
    coverage = float(cells["coverage: mean cosine distance to the nearest selected"])
    assert 0 < coverage <= float(cells["radius: largest such distance"]) <= 2
    assert page.charts == ["stages", "reasons", "embedding-clusters:select", "coverage:select"]
    check_rendered(render(browser, select_run / "report.html"), page, select_run)


def test_a_stage_that_recorded_no_clusters_says_why(select_run: Path) -> None:
    data = RunData.load(select_run)
    assert not isinstance(embedding_view(data, 0), str)
    data.stats.stages[0].facts = {}  # as in a run folder an older winnow wrote
    assert "recorded no embedding clusters" in str(embedding_view(data, 0))


def test_a_target_selection_that_kept_nothing_still_gives_its_count_of_target_like_documents(
    select_run: Path,
) -> None:
    data = RunData.load(select_run)
    likeness = {"documents": 60, "like_target": 7, "kept": 0, "kept_like_target": 0, "min_log_odds": 5.0}
    data.stats.stages[0].facts = {"target": likeness}  # as an embedding selection over its minimum records
    page = render_report(data, duplicate_clusters(data))
    assert "select: 7 of 60 documents score more like the target than like the pool" in page
    assert "recorded no embedding clusters" in page


# ---------------------------------------------------------------- edge cases (library runs)


def test_run_that_kept_nothing_in_json_lines(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": f"document number {i}"}) + "\n" for i in range(5)))
    drop = FunctionFilter("drop_all", lambda batch: pl.lit("dropped"))
    out = tmp_path / "out"
    run([corpus], out, [drop], RunOptions(output_format="jsonl"))
    path = write_html_report(out)
    first = path.read_bytes()
    page = page_of(out)
    assert page.charts == ["stages", "reasons"]
    assert [row[:5] for row in page.tables["stage-table"][1:]] == [
        ["read", "read", "5", "5", "0"],
        ["drop_all", "filter", "5", "0", "5"],
    ]
    assert len(page.tables["example-table"]) == 1 + 3
    assert write_html_report(out).read_bytes() == first  # the same run gives the same page
