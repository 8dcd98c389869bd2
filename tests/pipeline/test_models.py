"""Shared model loading: the packaged SmolLM2 converted once into the cache, local folders, clear errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from pipeline import models
from pipeline.errors import WinnowError
from pipeline.models import (
    ModelError,
    build_once,
    cache_root,
    causal_lm_path,
    configure_threads,
    embedding_model_path,
    load_causal_lm,
    native_bf16,
    resolve_dtype,
    smollm2_gguf,
)


def test_build_once_builds_then_reuses(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "weights").write_text("w")

    final = tmp_path / "cache" / "model-abc"
    assert build_once(final, build) == final
    assert build_once(final, build) == final
    assert len(calls) == 1
    assert calls[0] != final  # built elsewhere, then renamed into place
    assert (final / "weights").read_text() == "w"
    assert [p.name for p in final.parent.iterdir()] == ["model-abc"]  # no temporary folder left


def test_build_once_failure_leaves_nothing(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "half").write_text("partial")
        raise RuntimeError("conversion failed")

    final = tmp_path / "model-abc"
    with pytest.raises(RuntimeError, match="conversion failed"):
        build_once(final, build)
    assert list(tmp_path.iterdir()) == []


def test_build_once_keeps_the_first_complete_copy(tmp_path: Path) -> None:
    final = tmp_path / "model-abc"

    def build(folder: Path) -> None:
        # another process publishes its copy while this one is still building
        final.mkdir()
        (final / "weights").write_text("winner")
        (folder / "weights").write_text("loser")

    assert build_once(final, build) == final
    assert (final / "weights").read_text() == "winner"
    assert [p.name for p in tmp_path.iterdir()] == ["model-abc"]


def test_cache_root_follows_winnow_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_CACHE", str(tmp_path))
    assert cache_root() == tmp_path / "models"
    monkeypatch.delenv("WINNOW_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "winnow" / "models"


def test_packaged_model_converts_once_and_reloads_from_cache_quickly() -> None:
    gguf = smollm2_gguf()
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and gguf.stat().st_size > 50_000_000

    path = causal_lm_path()  # converts on the very first use (about 30 s), then reads the cache
    assert path.parent == cache_root() and path.name.startswith("smollm2-")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in path.iterdir()}
    assert json.loads((path / "winnow_source.json").read_text())["gguf"] == str(gguf)
    stamp = (path / "model.safetensors").stat().st_mtime_ns

    start = time.perf_counter()
    assert causal_lm_path("smollm2") == path
    assert time.perf_counter() - start < 1
    assert (path / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt

    models._load_causal_lm.cache_clear()
    start = time.perf_counter()
    model, tokenizer = load_causal_lm()
    assert time.perf_counter() - start < 15  # about 1 s on an idle machine
    assert model.dtype == getattr(torch, resolve_dtype("auto")) and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert tokenizer.bos_token == "<|endoftext|>"
    assert load_causal_lm(None) is load_causal_lm("smollm2")  # once per process


def test_a_local_model_folder_is_used_as_is() -> None:
    folder = causal_lm_path()  # any Hugging Face folder; the cached conversion is one
    assert causal_lm_path(str(folder)) == folder
    assert load_causal_lm(folder) is load_causal_lm()  # same folder, same cached model
    model, tokenizer = load_causal_lm(str(folder), dtype="float32")
    assert model.dtype == torch.float32
    assert tokenizer("plain text", add_special_tokens=False).input_ids


def test_bad_model_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model at"):
        causal_lm_path(tmp_path / "missing")
    with pytest.raises(ModelError, match="not a Hugging Face model folder"):
        causal_lm_path(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(ModelError, match="cannot load"):
        load_causal_lm(tmp_path)
    assert issubclass(ModelError, WinnowError)


def test_thread_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("WINNOW_TORCH_THREADS", "1")
        configure_threads()
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("WINNOW_TORCH_THREADS", "many")
        with pytest.raises(ModelError, match="positive integer"):
            configure_threads()
    finally:
        torch.set_num_threads(before)


def test_embedding_model_path_is_the_packaged_minilm() -> None:
    path = embedding_model_path()
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 384
    assert (path / "modules.json").is_file()


def test_concurrent_loads_from_flow_threads_give_one_working_model() -> None:
    from concurrent.futures import ThreadPoolExecutor

    causal_lm_path()  # the conversion, if any, happens once before the race
    models._load_causal_lm.cache_clear()
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: load_causal_lm(dtype="float32"), range(4)))
    assert all(model is loaded[0][0] for model, _ in loaded)
    assert not any(p.is_meta for p in loaded[0][0].parameters())


def test_auto_dtype_is_bfloat16_only_where_it_is_native(monkeypatch: pytest.MonkeyPatch) -> None:
    for native, auto in ((False, "float32"), (True, "bfloat16")):
        monkeypatch.setattr(models, "native_bf16", lambda device, native=native: native)
        assert resolve_dtype("auto") == resolve_dtype("auto", "cuda") == auto
        for name in ("bfloat16", "float32", "float16"):  # explicit names pass through, native or not
            assert resolve_dtype(name, "cpu") == name


def test_bad_dtype_names_are_clear_errors() -> None:
    for bad in ("int8", "bf16", "Float32", ""):
        with pytest.raises(
            ModelError, match=r"dtype must be one of 'auto', 'bfloat16', 'float32', 'float16'"
        ):
            resolve_dtype(bad)
    with pytest.raises(ModelError, match="dtype must be one of"):
        load_causal_lm("smollm2", dtype="int8")  # type: ignore[arg-type]


def test_native_bf16_is_false_on_devices_without_bf16_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(native_bf16("cpu"), bool)
    assert native_bf16("meta") is False
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert native_bf16("cuda") is False


def test_auto_loads_the_resolved_dtype_and_caches_per_resolved_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = load_causal_lm("smollm2", dtype="auto")
    expected = getattr(torch, resolve_dtype("auto", "cpu"))
    assert {p.dtype for p in model.parameters()} == {expected}
    assert load_causal_lm("smollm2", dtype=resolve_dtype("auto", "cpu"))[0] is model  # one cache entry
    monkeypatch.setattr(models, "native_bf16", lambda device: False)  # as on a CPU with AVX2 only
    fp32, _ = load_causal_lm("smollm2")
    assert {p.dtype for p in fp32.parameters()} == {torch.float32}
    assert fp32 is load_causal_lm("smollm2", dtype="float32")[0]
