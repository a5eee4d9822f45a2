"""Deterministic small samples of every recipe for the demo and the tests (committed in ``data/samples``).

Per recipe: one random pair per distinct prompt, the shortest quarter of those (at least ``2 * count``)
as the pool, then ``count`` pairs drawn from it with ``seed``. ``demo.jsonl`` takes the first
``count - val_count`` pairs of every recipe and ``demo_val.jsonl`` the rest, so their prompts never overlap.
Recipes in ``holdout.EVAL_OVERLAP`` (``code-humaneval``: HumanEval is an eval set) get their own sample file
but stay out of ``demo.jsonl`` / ``demo_val.jsonl``.
``sft.jsonl`` holds a few short GSM8K train question/answer conversations (SFT-only ``messages`` format).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from experiments.recipes import RECIPES
from experiments.recipes.holdout import EVAL_OVERLAP
from experiments.recipes.pairs import read_jsonl, user_prompt, write_jsonl
from experiments.recipes.paths import data_file


def _length(row: dict[str, Any]) -> int:
    return sum(len(json.dumps(row[key], ensure_ascii=False)) for key in ("prompt", "chosen", "rejected"))


def select_sample(rows: list[dict[str, Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` short pairs with distinct prompts, chosen deterministically from ``seed``."""
    rng = random.Random(seed)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    one_per_prompt = list({json.dumps(row["prompt"]): row for row in reversed(shuffled)}.values())
    one_per_prompt.sort(key=lambda row: (_length(row), row["source_id"]))
    pool = one_per_prompt[: max(2 * count, len(one_per_prompt) // 4)]
    return rng.sample(pool, min(count, len(pool)))


def sft_sample(root: Path, count: int, seed: int) -> list[dict[str, Any]]:
    """Short GSM8K train question/answer pairs as ``messages`` conversations."""
    rows = read_jsonl(data_file(root, "gsm8k/train.jsonl"))
    rows = sorted(rows, key=lambda row: (len(row["question"]) + len(row["answer"]), row["question"]))[
        : count * 4
    ]
    return [
        {
            "messages": [*user_prompt(row["question"]), {"role": "assistant", "content": row["answer"]}],
            "subpreference": "math",
            "source": "gsm8k/train",
        }
        for row in random.Random(seed).sample(rows, count)
    ]


def write_samples(
    root: Path, out_dir: Path, *, count: int = 44, val_count: int = 7, seed: int = 0
) -> dict[str, int]:
    """Write ``<recipe>.jsonl``, ``demo.jsonl``, ``demo_val.jsonl`` and ``sft.jsonl``; return rows per file."""
    written: dict[str, int] = {}
    demo, demo_val = [], []
    for name, recipe in RECIPES.items():
        sample = select_sample(recipe(root).rows, count, seed)
        write_jsonl(sample, out_dir / f"{name}.jsonl")
        written[f"{name}.jsonl"] = len(sample)
        if name in EVAL_OVERLAP:
            continue
        demo += sample[: len(sample) - val_count]
        demo_val += sample[len(sample) - val_count :]
    rng = random.Random(seed)
    rng.shuffle(demo)
    rng.shuffle(demo_val)
    sft = sft_sample(root, 16, seed)
    for name, rows in {"demo.jsonl": demo, "demo_val.jsonl": demo_val, "sft.jsonl": sft}.items():
        write_jsonl(rows, out_dir / name)
        written[name] = len(rows)
    return written
