"""The output of a recipe: standard preference rows plus counts of what was dropped and why."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def distinct_texts(texts) -> list[str]:
    """The stripped, non-empty ``texts``, each once, in first-seen order."""
    return list(dict.fromkeys(text.strip() for text in texts if text.strip()))


def user_prompt(text: str) -> list[dict[str, str]]:
    """A one-turn chat prompt."""
    return [{"role": "user", "content": text}]


@dataclass
class RecipeResult:
    """Rows ``{"prompt": [messages], "chosen", "rejected", "subpreference", "source", "source_id"}``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def add(
        self,
        prompt: list[dict[str, str]],
        chosen: str,
        rejected: str,
        subpreference: str,
        source: str,
        source_id: str,
    ) -> None:
        self.rows.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
                "subpreference": subpreference,
                "source": source,
                "source_id": source_id,
            }
        )

    def summary(self, name: str) -> str:
        dropped = ", ".join(f"{reason}: {count}" for reason, count in sorted(self.dropped.items()))
        return f"{name}: {len(self.rows)} pairs" + (f" (dropped {dropped})" if dropped else "")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a (possibly gzipped) JSON-lines file."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    """Write rows as UTF-8 JSON lines (non-ASCII kept as is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
