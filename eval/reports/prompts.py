"""`plot-eval prompts`: every prompt a suite evaluates, as JSONL in suite order, for generating responses elsewhere.

    {"id": "math/gsm8k/gsm8k:3", "subpreference": "math", "set": "gsm8k", "item_id": "gsm8k:3",
     "messages": [{"role": "user", "content": "..."}], "prompt": "...", "answer": "18"}

`id` is the sample's id in samples.jsonl too (a responses file answers it); `messages` is the chat the model
is sent, `prompt` its last user turn; `answer` (the reference `gold`) only when the source has one. References
are checked by their judges first, as `run` does; the file is replaced atomically."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from plot_eval.judges.base import JudgeContext
from plot_eval.judges.engine import VerdictEngine
from plot_eval.models.handle import ModelPool
from plot_eval.reports.results import atomic_write_text
from plot_eval.runner import checked_plan
from plot_eval.sources.plan import PlannedPrompt
from plot_eval.suite import load_suite


def prompt_record(planned: PlannedPrompt) -> dict[str, Any]:
    """The JSON object of one planned prompt (schema in the module docstring)."""
    record = {
        "id": planned.id,
        "subpreference": planned.subpreference,
        "set": planned.prompt_set.name,
        "item_id": planned.item.id,
        "messages": planned.messages,
        "prompt": planned.messages[-1]["content"],
    }
    if isinstance(planned.item.reference.get("gold"), str):
        record["answer"] = planned.item.reference["gold"]
    return record


def export_prompts(
    config: str | os.PathLike,
    out: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    limit: int | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """Write every prompt of suite `config` (after set limits and `limit`) to `out`; returns the count and
    the rows left out as unreadable by sets with `unreadable: skip` (runner.check_plan)."""
    if limit is not None and limit < 1:
        raise ValueError(f"--limit must be a positive integer, got {limit}")
    suite = load_suite(config)
    root = suite.resolve_data_root(data_root)
    plan, skipped = checked_plan(
        suite, root, limit, VerdictEngine(suite.judges, None, JudgeContext(ModelPool()))
    )
    duplicates = sorted(i for i, n in Counter(p.id for p in plan).items() if n > 1)
    if duplicates:  # sample_id is unique when each source's ids are: guard it anyway
        raise ValueError(f"{config}: prompts share ids {duplicates[:10]}")
    text = "".join(json.dumps(prompt_record(p), ensure_ascii=False) + "\n" for p in plan)
    atomic_write_text(Path(out), text)
    return len(plan), skipped
