"""AdvBench harmful behaviors CSV: Behavior, Category, Tags, ContextString, BehaviorID (advbench_1..520)."""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, read_csv, require, user_prompt


@SOURCES.register("advbench")
def load(path: Path) -> list[PromptItem]:
    items = []
    for row_no, row in read_csv(path, ("Behavior", "BehaviorID")):
        for name in ("Behavior", "BehaviorID"):
            require(path, row_no, row, name)
        items.append(user_prompt(row["BehaviorID"], row["Behavior"].strip()))
    return items
