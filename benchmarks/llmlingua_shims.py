"""Run `llmlingua` 0.2.2 offline on transformers 5 with a local causal LM, for the benchmarks only.

Three shims, each as small as it can be, none touching winnow's own code:

- tiktoken: `PromptCompressor.__init__` calls `tiktoken.encoding_for_model("gpt-3.5-turbo")`, which downloads
  its encoding. llmlingua's `tiktoken` name is pointed at a stand-in whose encoding counts tokens with the
  local model's Hugging Face tokenizer (llmlingua only calls `.encode(text)` on it, to count tokens for the
  `origin_tokens` / `compressed_tokens` it reports).
- nltk: `nltk.sent_tokenize` needs the punkt data (another download); llmlingua's `nltk` name is pointed at a
  regex sentence splitter (only used by `use_sentence_level_filter=True`, which the benchmark does not set).
- cache: llmlingua 0.2.2 indexes `past_key_values[0][0]`, slices each layer's `(key, value)` and passes lists
  back in; transformers 5 models take and return `DynamicCache` objects instead. The model is wrapped so that
  legacy per-layer `(key, value)` lists go in as a `DynamicCache` and the returned cache comes out as a list
  of `(key, value)` tuples again. The arithmetic is untouched.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class HFTokenCounter:
    """What llmlingua uses of a tiktoken encoding (`encode`), backed by a Hugging Face tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def encode(self, text: str, **_: Any) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` (split after . ! ? and whitespace), each starting where the text has it."""
    return [part for part in SENTENCE_END.split(text) if part]


class LegacyCacheModel(torch.nn.Module):
    """A causal LM that takes and returns `past_key_values` as per-layer `(key, value)` pairs."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.inner = model
        self.config = model.config
        self.device = model.device

    def forward(self, *args: Any, past_key_values: Any = None, **kwargs: Any) -> Any:
        from transformers import DynamicCache

        if past_key_values is not None and not isinstance(past_key_values, DynamicCache):
            past_key_values = DynamicCache([(key, value) for key, value in past_key_values])
        output = self.inner(*args, past_key_values=past_key_values, **kwargs)
        cache = getattr(output, "past_key_values", None)
        if isinstance(cache, DynamicCache):
            output.past_key_values = [(layer.keys, layer.values) for layer in cache.layers]
        return output


def prompt_compressor(
    model_path: str | Path, *, dtype: torch.dtype = torch.bfloat16, device: str = "cpu"
) -> Any:
    """An offline `llmlingua.PromptCompressor` (LLMLingua, LongLLMLingua) on the local model `model_path`."""
    from llmlingua import prompt_compressor as module
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    module.tiktoken = SimpleNamespace(encoding_for_model=lambda _name: HFTokenCounter(tokenizer))
    module.nltk = SimpleNamespace(sent_tokenize=split_sentences)
    compressor = module.PromptCompressor(
        model_name=str(model_path), device_map=device, model_config={"torch_dtype": dtype}
    )
    compressor.model.eval().requires_grad_(False)
    compressor.model = LegacyCacheModel(compressor.model)
    return compressor
