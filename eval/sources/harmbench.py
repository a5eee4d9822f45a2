"""HarmBench behaviors CSV: Behavior, FunctionalCategory, SemanticCategory, Tags, ContextString, BehaviorID.

Keeps `standard` and `contextual` rows (copyright rows need HarmBench's hash judge); for contextual rows the
ContextString is put before the Behavior.
"""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_csv, require, user_prompt

COLUMNS = ("Behavior", "FunctionalCategory", "SemanticCategory", "ContextString", "BehaviorID")


@SOURCES.register("harmbench")
def load(path: Path, *, functional_categories: list[str] | None = None) -> list[PromptItem]:
    keep = functional_categories or ["standard", "contextual"]
    items = []
    for row_no, row in read_csv(path, COLUMNS):
        for name in ("Behavior", "FunctionalCategory", "BehaviorID"):
            require(path, row_no, row, name)
        kind = row["FunctionalCategory"]
        if kind not in keep:
            continue
        text = row["Behavior"].strip()
        if kind == "contextual":
            context = (row.get("ContextString") or "").strip()
            if not context:
                raise SourceRowError(path, row_no, "ContextString", "empty for a contextual behavior")
            text = f"{context}\n\n---\n\n{text}"
        items.append(
            user_prompt(row["BehaviorID"], text, functional=kind, semantic=row.get("SemanticCategory") or "")
        )
    return items
