"""Choose a scorer's answer heads (`prompts.attention`) on NaturalQuestions-open passages.

For each record of `--records` (default 300-599: the compression benchmark uses records 0-99), the scorer
reads `Question: Q?`, the gold passage and the answer cue (compression reads the question as given: NQ
questions have no "?", and without the added one the last two of the 8 heads chosen for SmolLM2 would be
(24, 7), (23, 5) instead of (22, 2), (24, 7)); for every (layer, head) the last token's attention goes to
each passage word (its tokens' maximum), and the head is scored by the share of other words that get more
attention than the best answer word (0 = the answer is the top word). The heads with the lowest mean share
are printed, best first, as a Python tuple for `answer_heads=`.

    .venv/bin/python benchmarks/answer_heads.py [--model DIR] [--records 300 600] [--top 8]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

import numpy as np

from pipeline.models import causal_lm_path, configure_threads
from prompts.attention import ANSWER_CUE
from prompts.segments import parse_prompt
from prompts.words import split_words

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def head_shares(
    model: object, tokenizer: object, question: str, passage: str, answer: re.Match
) -> np.ndarray:
    """(layers, heads): share of passage words with more last-token attention than the best answer word."""
    import torch

    parsed = parse_prompt(passage, None)
    words = split_words(parsed.segments, "auto", parsed.kind)
    head = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    head += tokenizer(f"Question: {question}?\n", add_special_tokens=False)["input_ids"]
    body = tokenizer(passage, add_special_tokens=False, return_offsets_mapping=True)
    ids = head + body["input_ids"] + tokenizer(ANSWER_CUE, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        attentions = model(torch.tensor([ids]), output_attentions=True).attentions
    first, end = len(head), len(head) + len(body["input_ids"])
    weights = (
        torch.stack([a[0, :, -1, first:end] for a in attentions]).float().numpy()
    )  # layers, heads, tokens
    starts = np.array([start for start, _ in body["offset_mapping"]])
    owner = np.minimum(np.searchsorted(words.end, starts, side="right"), len(words) - 1)
    per_word = np.zeros((*weights.shape[:2], len(words)))
    np.maximum.at(per_word, (slice(None), slice(None), owner), weights)
    in_answer = (words.start < answer.end()) & (words.end > answer.start())
    best = per_word[:, :, in_answer].max(axis=2)
    return (per_word[:, :, ~in_answer] > best[:, :, None]).mean(axis=2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="a local Hugging Face causal LM folder (default: packaged SmolLM2)")
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--records", type=int, nargs=2, default=[300, 600])
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    configure_threads()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = causal_lm_path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.bfloat16, attn_implementation="eager"
    ).eval()
    with gzip.open(args.data_dir / "nq_open_oracle.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines][args.records[0] : args.records[1]]
    shares = []
    for record in records:
        gold = record["ctxs"][0]
        passage = f"{gold['title']}\n{gold['text']}"
        found = [re.search(re.escape(a), passage, re.IGNORECASE) for a in record["answers"]]
        found = [match for match in found if match]
        if found:
            shares.append(head_shares(model, tokenizer, record["question"], passage, found[0]))
    mean = np.mean(shares, axis=0)
    best = np.argsort(mean, axis=None)[: args.top]
    heads = [tuple(int(i) for i in np.unravel_index(k, mean.shape)) for k in best]
    print(f"{len(shares)} passages; mean share of words above the answer, best heads first:")
    for layer, head in heads:
        print(f"  layer {layer:2d} head {head}: {mean[layer, head]:.3f}")
    print(tuple(heads))


if __name__ == "__main__":
    main()
