"""Math problems with LaTeX answers (MATH-style JSONL): `{"problem", "answer"}` or `{"problem", "solution"}`.

With only a `solution`, the gold answer is the content of its last ``\\boxed{...}`` (braces balanced). The
gold answer goes to `reference["gold"]` for the `math` judge (math-verify).
"""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_jsonl, require, user_prompt


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` in `text` with balanced braces, or None."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for position in range(begin - 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[begin:position].strip() or None
    return None


@SOURCES.register("math")
def load(path: Path, *, subjects: list[str] | None = None) -> list[PromptItem]:
    items = []
    for row_no, row in read_jsonl(path):
        problem = require(path, row_no, row, "problem")
        if subjects and row.get("type", row.get("subject")) not in subjects:
            continue
        gold = row.get("answer") or last_boxed(row.get("solution") or "")
        if not isinstance(gold, str) or not gold.strip():
            raise SourceRowError(path, row_no, "answer", "missing (and no \\boxed{} answer in 'solution')")
        items.append(user_prompt(f"math:{row_no}", problem, row=row_no, gold=gold.strip()))
    return items
