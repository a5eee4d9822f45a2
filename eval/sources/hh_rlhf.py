"""Held-out hh-rlhf prompts: the transcript of `chosen` before its last "Assistant:" turn, as a chat.

`split="holdout"` (default) keeps the last `holdout_fraction` of the file (at most, and by default, the 10%
the training recipes leave out: eval/sources/holdout.py); `split="all"` reads every row, for files holding
held-out rows alone, such as eval/samples. A few real transcripts are malformed (e.g. two assistant turns in
a row): `malformed="skip"` (default) drops them with one warning naming the rows, `"error"` raises."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_jsonl, require
from plot_eval.sources.holdout import HH_RLHF_HOLDOUT_FRACTION, SPLITS, check_fraction, holdout_start

_TURN = re.compile(r"\n\nHuman:|\n\nAssistant:")


def transcript_to_messages(prompt: str) -> list[dict[str, str]] | None:
    """Split "\\n\\nHuman: a\\n\\nAssistant: b\\n\\nHuman: c\\n\\nAssistant:" into user/assistant messages."""
    markers = list(_TURN.finditer(prompt))
    if not markers or markers[0].start() != 0:
        return None
    messages = []
    for i, marker in enumerate(markers):
        end = markers[i + 1].start() if i + 1 < len(markers) else len(prompt)
        role = "user" if "Human" in marker.group() else "assistant"
        messages.append({"role": role, "content": prompt[marker.end() : end].strip()})
    if messages[-1] != {"role": "assistant", "content": ""}:
        return None
    messages.pop()
    if not messages or messages[-1]["role"] != "user":
        return None
    return messages


@SOURCES.register("hh_rlhf")
def load(
    path: Path,
    *,
    holdout_fraction: float = HH_RLHF_HOLDOUT_FRACTION,
    split: str = "holdout",
    malformed: str = "skip",
) -> list[PromptItem]:
    if split not in SPLITS or malformed not in ("skip", "error"):
        raise ValueError(
            f"hh_rlhf: split must be holdout|all ({split!r}), malformed skip|error ({malformed!r})"
        )
    check_fraction("hh_rlhf", holdout_fraction, HH_RLHF_HOLDOUT_FRACTION)
    rows = list(read_jsonl(path))
    start = 0 if split == "all" else holdout_start(len(rows), holdout_fraction)
    items, skipped = [], []
    for row_no, row in rows[start:]:
        chosen = require(path, row_no, row, "chosen")
        cut = chosen.rfind("\n\nAssistant:")
        if cut < 0:
            raise SourceRowError(path, row_no, "chosen", "no '\\n\\nAssistant:' turn")
        messages = transcript_to_messages(chosen[: cut + len("\n\nAssistant:")])
        if messages is None and malformed == "error":
            raise SourceRowError(path, row_no, "chosen", "not an alternating Human/Assistant transcript")
        if messages is None:
            skipped.append(row_no)
            continue
        items.append(PromptItem(f"{path.name}:{row_no}", tuple(messages), {"row": row_no}))
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} malformed transcript(s), rows {skipped[:10]}", stacklevel=2
        )
    return items
