"""JSON Lines: records, bad records in both modes, compression, truncation, batching, memory."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import orjson
import polars as pl
import pytest
import zstandard

from pipeline.batch import QUARANTINE_SCHEMA
from pipeline.errors import InputError
from pipeline.readers import ReadOptions, read_documents
from tests.pipeline.readers.readers_util import collect, write_lines

GOOD_A = {"id": "a", "text": "first document"}
GOOD_B = {"id": "b", "text": "last document"}

# (bad line, field, error); the bad line is line 3 of the file, after a blank line 2.
BAD_LINES = [
    (b'{"id": "x", "text": "unclosed', None, "malformed JSON: "),
    (b"[1, 2]", None, "expected a JSON object, got list"),
    (b'"just a string"', None, "expected a JSON object, got string"),
    (b"42", None, "expected a JSON object, got int"),
    (b'{"id": "x", "text": "caf\xff"}', None, "invalid UTF-8 at byte 24"),
    (b'{"id": "x", "title": "no text"}', "text", "missing field 'text'"),
    (b'{"id": "x", "text": null}', "text", "text is null"),
    (b'{"id": "x", "text": 7}', "text", "text must be a string, got int"),
    (b'{"id": "x", "text": 7.5}', "text", "text must be a string, got float"),
    (b'{"id": "x", "text": true}', "text", "text must be a string, got bool"),
    (b'{"id": "x", "text": ["a"]}', "text", "text must be a string, got list"),
    (b'{"id": "x", "text": {"a": 1}}', "text", "text must be a string, got object"),
    (b'{"id": "x", "text": ""}', "text", "text is empty"),
    (b'{"id": "x", "text": " \\t\\n "}', "text", "text is whitespace only"),
    (b'{"id": ["x"], "text": "listed id"}', "id", "id must be a string or number, got list"),
    (b'{"id": {"k": 1}, "text": "object id"}', "id", "id must be a string or number, got object"),
]


def _bad_file(tmp_path: Path, bad: bytes) -> Path:
    return write_lines(tmp_path / "bad.jsonl", [GOOD_A, b"   ", bad, GOOD_B])


@pytest.mark.parametrize(("bad", "field", "error"), BAD_LINES)
def test_bad_record_quarantined(tmp_path: Path, bad: bytes, field: str | None, error: str) -> None:
    docs, quarantined, warnings, _ = collect(_bad_file(tmp_path, bad))
    assert docs["id"].to_list() == ["a", "b"]
    assert docs["__line"].to_list() == [1, 4]
    assert quarantined.schema == pl.Schema(QUARANTINE_SCHEMA)
    row = quarantined.row(0, named=True)
    assert quarantined.height == 1
    assert row["source"] == "bad.jsonl"
    assert (row["line"], row["row"], row["field"]) == (3, None, field)
    assert row["error"].startswith(error)
    assert row["raw"] == bad.decode("utf-8", errors="backslashreplace")
    assert warnings == []


@pytest.mark.parametrize(("bad", "field", "error"), BAD_LINES)
def test_bad_record_fails(tmp_path: Path, bad: bytes, field: str | None, error: str) -> None:
    with pytest.raises(InputError) as info:
        collect(_bad_file(tmp_path, bad), on_error="fail")
    exc = info.value
    assert (exc.source, exc.line, exc.row, exc.field) == ("bad.jsonl", 3, None, field)
    assert exc.message.startswith(error)


def test_invalid_utf8_raw_is_backslash_escaped(tmp_path: Path) -> None:
    _, quarantined, _, _ = collect(_bad_file(tmp_path, b'{"text": "caf\xff"}'))
    assert quarantined["raw"][0] == '{"text": "caf\\xff"}'
    assert quarantined["error"][0] == "invalid UTF-8 at byte 13"


def test_text_field_name_in_messages(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "c.jsonl", [{"body": "ok"}, {"text": "wrong field"}])
    docs, quarantined, _, _ = collect(path, text_field="body")
    assert docs["text"].to_list() == ["ok"]
    assert quarantined.select("field", "error").row(0) == ("body", "missing field 'body'")


def test_explicit_id_field_missing(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "u.jsonl", [{"url": "u1", "text": "one"}, {"text": "two"}, {"url": None, "text": "three"}]
    )
    docs, quarantined, _, _ = collect(path, id_field="url")
    assert docs["id"].to_list() == ["u1"]
    assert quarantined["line"].to_list() == [2, 3]
    assert set(quarantined["error"]) == {"missing id field 'url'"}
    assert set(quarantined["field"]) == {"url"}
    with pytest.raises(InputError) as info:
        collect(path, id_field="url", on_error="fail")
    assert (info.value.line, info.value.field, info.value.message) == (2, "url", "missing id field 'url'")


def test_several_bad_records_in_order(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "m.jsonl", [{"text": ""}, b"not json", {"text": "fine"}, {"text": 3}, {"text": "  "}]
    )
    docs, quarantined, _, _ = collect(path)
    assert docs["__line"].to_list() == [3]
    assert quarantined["line"].to_list() == [1, 2, 4, 5]
    with pytest.raises(InputError) as info:
        collect(path, on_error="fail")
    assert (info.value.line, info.value.message) == (1, "text is empty")


def test_blank_lines_keep_numbering(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "b.jsonl", ["", {"text": "one"}, "  \t", "", {"text": "two"}, ""])
    docs, quarantined, _, _ = collect(path)
    assert docs["__line"].to_list() == [2, 5]
    assert docs["id"].to_list() == ["b.jsonl:2", "b.jsonl:5"]
    assert quarantined.height == 0


def test_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n\r\n{"text": null}\r\n{"text": "three"}\r\n')
    docs, quarantined, _, _ = collect(path)
    assert docs.select("text", "__line").rows() == [("one", 1), ("three", 4)]
    assert quarantined.select("line", "raw").rows() == [(3, '{"text": null}')]


def test_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_bytes(b'{"text": "one"}\n{"text": "two"}')
    docs, _, _, _ = collect(path)
    assert docs["text"].to_list() == ["one", "two"]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    docs, quarantined, warnings, _ = collect(path)
    assert (docs.height, quarantined.height) == (0, 0)
    assert warnings == ["empty.jsonl: file is empty"]
    with pytest.raises(InputError) as info:
        collect(path, on_error="fail")
    assert (info.value.source, info.value.message) == ("empty.jsonl", "file is empty")


def test_empty_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl.gz"
    path.write_bytes(gzip.compress(b""))
    _, _, warnings, _ = collect(path)
    assert warnings == ["empty.jsonl.gz: file is empty"]


RECORDS = [{"id": i, "text": f"document number {i}", "tags": ["x", str(i)]} for i in range(500)]


def _payload() -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in RECORDS)


def _check_round_trip(path: Path) -> None:
    docs, quarantined, _, _ = collect(path, batch_size=128)
    assert quarantined.height == 0
    assert docs["id"].to_list() == [str(i) for i in range(500)]
    assert docs["text"][499] == "document number 499"
    assert docs["tags"][3].to_list() == ["x", "3"]
    assert docs["__line"].to_list() == list(range(1, 501))


def test_gzip_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(gzip.compress(_payload()))
    _check_round_trip(path)


def test_zstd_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "docs.ndjson.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(_payload()))
    _check_round_trip(path)


def test_zstd_several_frames(tmp_path: Path) -> None:
    payload = _payload()
    cctx = zstandard.ZstdCompressor()
    path = tmp_path / "docs.jsonl.zst"
    path.write_bytes(cctx.compress(payload[:5000]) + cctx.compress(payload[5000:]))
    _check_round_trip(path)


def _truncated_gzip(tmp_path: Path) -> tuple[Path, int, bytes]:
    """A gzip file cut in the middle: the path, the number of complete lines, the partial line."""
    records = ({"id": i, "text": f"text {i} " + "w" * (i % 97)} for i in range(4000))
    payload = b"".join(orjson.dumps(r) + b"\n" for r in records)
    whole = gzip.compress(payload)
    cut = whole[: len(whole) // 2]
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(cut)
    got = bytearray()
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read1(1 << 16):
                got += block
    except EOFError:
        pass
    complete = bytes(got).count(b"\n")
    partial = bytes(got[bytes(got).rfind(b"\n") + 1 :])
    return path, complete, partial


def test_truncated_gzip_quarantine(tmp_path: Path) -> None:
    path, complete, partial = _truncated_gzip(tmp_path)
    docs, quarantined, _, _ = collect(path, batch_size=300)
    assert docs.height == complete > 0
    assert docs["__line"][-1] == complete
    row = quarantined.row(0, named=True)
    assert quarantined.height == 1
    assert (row["source"], row["line"], row["field"]) == ("cut.jsonl.gz", complete + 1, None)
    assert row["error"].startswith("truncated compressed file: ")
    assert row["raw"] == partial.decode()


def test_truncated_gzip_fails_after_complete_records(tmp_path: Path) -> None:
    path, complete, _ = _truncated_gzip(tmp_path)
    seen = 0
    with pytest.raises(InputError) as info:
        for batch in read_documents([path], ReadOptions(on_error="fail", batch_size=300)):
            seen += batch.docs.height
    assert seen == complete
    assert (info.value.source, info.value.line) == ("cut.jsonl.gz", complete + 1)
    assert info.value.message.startswith("truncated compressed file: ")


def test_truncated_zstd(tmp_path: Path) -> None:
    whole = zstandard.ZstdCompressor().compress(_payload())
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(whole[: len(whole) // 2])
    docs, quarantined, _, _ = collect(path)
    assert quarantined["error"][0].startswith("truncated compressed file: ")
    assert quarantined["line"][0] == docs.height + 1


def test_corrupt_gzip_raises_in_both_modes(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"this is not gzip data at all" * 10)
    for mode in ("fail", "quarantine"):
        with pytest.raises(InputError) as info:
            collect(path, on_error=mode)
        assert info.value.source == "bad.jsonl.gz"


def test_batch_size_respected(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", [{"text": f"doc {i}"} for i in range(25)])
    _, _, _, batches = collect(path, batch_size=10)
    assert [b.docs.height for b in batches] == [10, 10, 5]


def test_batch_bytes_respected(tmp_path: Path) -> None:
    lines = [{"text": f"{i:03d} " + "x" * 90} for i in range(20)]
    path = write_lines(tmp_path / "s.jsonl", lines)
    line_bytes = len(orjson.dumps(lines[0])) + 1
    _, _, _, batches = collect(path, batch_bytes=3 * line_bytes + 5)
    assert [b.docs.height for b in batches] == [3] * 6 + [2]
    assert pl.concat([b.docs for b in batches])["__line"].to_list() == list(range(1, 21))


def test_large_record_forms_its_own_batch(tmp_path: Path) -> None:
    big = "y" * (20 * 2**20)
    records = [{"text": "small"}, {"id": "big", "text": big}, {"text": "after"}]
    path = write_lines(tmp_path / "big.jsonl", records)
    docs, quarantined, _, batches = collect(path, batch_bytes=2**20)
    assert quarantined.height == 0
    assert [b.docs.height for b in batches] == [1, 1, 1]
    assert docs["id"][1] == "big"
    assert len(docs["text"][1]) == len(big)


def test_twenty_megabyte_document_default_options(tmp_path: Path) -> None:
    big = "word " * (4 * 2**20)
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(gzip.compress(orjson.dumps({"text": big}) + b"\n", compresslevel=1))
    docs, _, _, _ = collect(path)
    assert docs["text"][0] == big


def test_mixed_metadata_types_kept_as_json(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mix.jsonl",
        [{"text": "a", "meta": 1, "score": 1}, {"text": "b", "meta": "one", "score": 0.5}, {"text": "c"}],
    )
    docs, quarantined, _, _ = collect(path)
    assert quarantined.height == 0
    assert docs["meta"].to_list() == ["1", '"one"', None]
    assert docs["score"].to_list() == [1.0, 0.5, None]


def test_fallback_chunk_keeps_metadata(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "f.jsonl", [{"text": "a", "n": 1, "tags": ["t"]}, {"text": None}])
    docs, quarantined, _, _ = collect(path)
    assert docs.select("text", "n").row(0) == ("a", 1)
    assert docs["tags"][0].to_list() == ["t"]
    assert quarantined["error"].to_list() == ["text is null"]


def test_date_strings_stay_strings(tmp_path: Path) -> None:
    record = {"text": "a", "date": "1987-02-26 15:01:01", "nested": {"when": "2020-01-01T00:00:00"}}
    docs, _, _, _ = collect(write_lines(tmp_path / "d.jsonl", [record]))
    assert docs["date"].to_list() == ["1987-02-26 15:01:01"]
    assert docs["nested"][0] == {"when": "2020-01-01T00:00:00"}


def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "large.jsonl"
    filler = "lorem ipsum dolor sit amet " * 37
    with path.open("wb") as fh:
        for start in range(0, 60_000, 5_000):
            records = ({"id": i, "text": f"{i} {filler}"} for i in range(start, start + 5000))
            fh.write(b"".join(orjson.dumps(r) + b"\n" for r in records))
    size = path.stat().st_size
    assert size > 55 * 2**20
    tracemalloc.start()
    try:
        count = sum(b.docs.height for b in read_documents([path], ReadOptions(batch_size=1000)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 60_000
    assert peak < size / 8, f"peak {peak} for a {size}-byte file"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lines_found_by_blocks_are_those_of_a_plain_line_split(tmp_path: Path, seed: int) -> None:
    """Random files of CRLF and LF lines, blank and whitespace-only lines (form feeds too), bad records,
    lines longer than a read block, a BOM, no final newline: every document and quarantined record has
    the line number and text a plain `split(b"\\n")` gives, in batches within their limits."""
    import random

    rng = random.Random(seed)
    lines: list[bytes] = []
    for i in range(3_000):
        kind = rng.random()
        if kind < 0.08:
            lines.append(rng.choice([b"", b"   ", b"\t", b"\r", b" \x0c ", b"\x0b"]))
        elif kind < 0.10:
            lines.append(b'{"id": "bad%d", "text": ' % i)  # malformed
        else:
            size = rng.choice([10, 200, 3_000]) if rng.random() > 0.002 else 1_500_000  # > a 1 MiB block
            start = rng.randrange(7)
            text = ("abc éñ\u4e2d" * (size // 7 + 2))[start : start + size]
            lines.append(orjson.dumps({"id": f"d{i}", "text": text}))
        if rng.random() < 0.3:
            lines[-1] += b"\r"
    data = b"\xef\xbb\xbf" + b"\n".join(lines)  # BOM, and no newline after the last line
    path = tmp_path / "random.jsonl"
    path.write_bytes(data)
    limits = {
        "batch_size": rng.choice([7, 100, 20_000]),
        "batch_bytes": rng.choice([5_000, 2**20, 64 * 2**20]),
    }
    docs, quarantined, _, batches = collect(path, **limits)

    expected_docs, expected_bad = [], []
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.removesuffix(b"\r").removeprefix(b"\xef\xbb\xbf" if number == 1 else b"")
        if not line or line.isspace():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            expected_bad.append(number)
        else:
            expected_docs.append((number, record["id"], record["text"]))
    assert list(zip(docs["__line"], docs["id"], docs["text"], strict=True)) == expected_docs
    assert quarantined["line"].to_list() == expected_bad
    for batch in batches:
        assert batch.docs.height + batch.quarantined.height <= limits["batch_size"]
