"""AdvBench harmful behaviors CSV: Behavior, Category, Tags, ContextString, BehaviorID (advbench_1..520)."""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_csv, user_prompt


@SOURCES.register("advbench")
def load(path: Path) -> list[PromptItem]:
    items = []
    for row_no, row in read_csv(path, ("Behavior", "BehaviorID")):
        for name in ("Behavior", "BehaviorID"):
            if not (row.get(name) or "").strip():
                raise SourceRowError(path, row_no, name, "empty")
        items.append(user_prompt(row["BehaviorID"], row["Behavior"].strip()))
    return items
