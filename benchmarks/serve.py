"""End-to-end latency with and without `winnow serve`, and the prompt size where compression pays for itself.

    python benchmarks/serve.py                       # CPU: transformers serve + the packaged SmolLM2
    python benchmarks/serve.py --upstream http://gpu-host:8000 --model meta-llama/Llama-3.1-8B-Instruct \
        --tokenizer /models/llama-3.1-8b                # any OpenAI-compatible server (vLLM, TGI, ...)

Prompts are NQ-open questions (`../shared/data/nq_open_oracle.jsonl.gz`) over their gold Wikipedia passage
hidden among other questions' passages, filled to each size (tokens of the upstream model's tokenizer);
the chat asks for a short answer (`--max-tokens`, greedy). For each size, requests go straight to the
upstream and through a `winnow serve` process started here (`--rate`), interleaved, `--repeats` times;
the table gives medians: prompt tokens the upstream counted (`usage.prompt_tokens`), seconds end to end,
the proxy's compression seconds (its `winnow.seconds`), and proxy / direct. The break-even is the prompt
size where the two lines cross (linear between measured sizes): above it, compression saves more upstream
time than it costs. Whether the gold answer appears in the reply is counted for both paths (a small model
answers few; it is a sanity check, not an accuracy benchmark).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import itertools
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.prompts.serve.processes import model_name, transformers_serve, winnow_serve  # noqa: E402

NQ = ROOT.parent / "shared" / "data" / "nq_open_oracle.jsonl.gz"
SYSTEM = "Answer the question from the documents with a few words."


def records() -> list[dict[str, Any]]:
    with gzip.open(NQ, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def build_prompt(data: list[dict[str, Any]], index: int, size: int, count: Any, rng: random.Random) -> str:
    """Question `index`'s gold passage among other passages, about `size` tokens, then the question."""
    question = data[index]
    gold = f"{question['ctxs'][0]['title']}\n{question['ctxs'][0]['text']}"
    others, used = [], count(gold)
    for other in rng.sample(range(len(data)), len(data)):
        if other == index:
            continue
        passage = f"{data[other]['ctxs'][0]['title']}\n{data[other]['ctxs'][0]['text']}"
        cost = count(passage) + 2
        if used + cost > size:
            break
        others.append(passage)
        used += cost
    others.insert(rng.randrange(len(others) + 1), gold)
    return "\n\n".join(others) + f"\n\nQuestion: {question['question']}?"


def ask(base: str, model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    body = {
        "model": model,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    began = time.perf_counter()
    response = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=1800)
    seconds = time.perf_counter() - began
    response.raise_for_status()
    data = response.json()
    return {
        "seconds": seconds,
        "prompt_tokens": data.get("usage", {}).get("prompt_tokens"),
        "reply": data["choices"][0]["message"]["content"] or "",
        "compression": (data.get("winnow") or {}).get("seconds", 0.0),
    }


def break_even(rows: list[dict[str, Any]]) -> str:
    """The size where proxy and direct latency cross, linear between measured sizes."""
    gains = [(row["size"], row["direct"] - row["proxy"]) for row in rows]
    if all(gain > 0 for _, gain in gains):
        return f"below {gains[0][0]} tokens (compression already pays at the smallest size measured)"
    if all(gain <= 0 for _, gain in gains):
        return f"above {gains[-1][0]} tokens (compression never paid for itself here)"
    for (size_a, gain_a), (size_b, gain_b) in itertools.pairwise(gains):
        if gain_a <= 0 < gain_b:
            return f"about {size_a + (size_b - size_a) * (-gain_a) / (gain_b - gain_a):,.0f} tokens"
    return "no single crossing (noisy): see the table"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 500, 1000, 4000, 8000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.33)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument(
        "--min-tokens", type=int, default=100, help="the proxy's --min-tokens (low: every size is compressed)"
    )
    parser.add_argument("--upstream", help="an OpenAI-compatible server (default: start transformers serve)")
    parser.add_argument("--model", help="the model name requests give (default: the packaged SmolLM2)")
    parser.add_argument("--tokenizer", help="the upstream model's tokenizer folder (sizes and budgets)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from prompts.compress import Compressor

    count = Compressor(tokenizer=args.tokenizer).count
    data = records()
    rng = random.Random(args.seed)
    with contextlib.ExitStack() as stack:
        upstream = args.upstream or stack.enter_context(transformers_serve())
        model = args.model or model_name()
        options = ["--rate", str(args.rate), "--min-tokens", str(args.min_tokens), "--log-level", "warning"]
        options += ["--tokenizer", args.tokenizer] if args.tokenizer else []
        proxy = stack.enter_context(winnow_serve(upstream, *options))
        ask(upstream, model, "Hello.", 4)  # both warm
        ask(proxy, model, "Hello.", 4)
        rows = []
        for size in args.sizes:
            runs: dict[str, list[dict[str, Any]]] = {"direct": [], "proxy": []}
            answered = {"direct": 0, "proxy": 0}
            for _ in range(args.repeats):
                index = rng.randrange(len(data))
                prompt = build_prompt(data, index, size, count, rng)
                for path, base in (("direct", upstream), ("proxy", proxy)):
                    result = ask(base, model, prompt, args.max_tokens)
                    runs[path].append(result)
                    answers = data[index]["answers"]
                    answered[path] += any(a.lower() in result["reply"].lower() for a in answers)
            row = {
                "size": size,
                "tokens_direct": statistics.median(r["prompt_tokens"] or 0 for r in runs["direct"]),
                "tokens_proxy": statistics.median(r["prompt_tokens"] or 0 for r in runs["proxy"]),
                "direct": statistics.median(r["seconds"] for r in runs["direct"]),
                "proxy": statistics.median(r["seconds"] for r in runs["proxy"]),
                "compression": statistics.median(r["compression"] for r in runs["proxy"]),
                "answered": f"{answered['direct']}/{answered['proxy']} of {args.repeats}",
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(
        f"\nupstream: {args.upstream or 'transformers serve, packaged SmolLM2-135M, CPU float32'}; "
        f"rate {args.rate}; max_tokens {args.max_tokens}; medians of {args.repeats}"
    )
    print(
        "| prompt | upstream tokens direct / via proxy | direct s | via proxy s | compression s "
        "| proxy / direct | answer in reply (direct/proxy) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(
            f"| {row['size']:,} | {row['tokens_direct']:,.0f} / {row['tokens_proxy']:,.0f} "
            f"| {row['direct']:.2f} | {row['proxy']:.2f} | {row['compression']:.2f} "
            f"| {row['proxy'] / row['direct']:.2f}x | {row['answered']} |"
        )
    print(f"\nbreak-even: {break_even(rows)}")


if __name__ == "__main__":
    main()
