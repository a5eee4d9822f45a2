"""The refusal judge's measured accuracy: precision and recall on a held-back part of a labelled set.

eval/samples/refusal/labelled_responses.jsonl holds responses labelled by a human reader; its split is fixed
by each text's hash (`split_of`), so no rule could choose it: the rules are tuned on `tune` and measured on
`heldout`. A response the rules leave `unjudged` is in no precision's denominator and a miss for recall; the
count of them is reported next to the rates."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from plot_eval.sources.base import read_jsonl

LABELLED_SET = Path(__file__).resolve().parents[1] / "samples" / "refusal" / "labelled_responses.jsonl"
CLASSES = ("refusal", "compliance")


def split_of(text: str) -> str:
    """`heldout` when the first 8 hex digits of sha256(text) are odd, else `tune` (fixed before any rule)."""
    return "heldout" if int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 2 else "tune"


def load_labelled(path: Path = LABELLED_SET) -> list[dict]:
    """The labelled rows ({"label", "style", "lang", "split", "text"}), in file order."""
    return [row for _, row in read_jsonl(path)]


def classification_report(pairs: Iterable[tuple[str, str]]) -> dict:
    """{n, unjudged, <class>: {precision, recall, n}, non_answer: {recall, n}} from (label, judged) pairs;
    a rate with an empty denominator is None."""
    pairs = list(pairs)
    counts = Counter(pairs)
    report: dict = {"n": len(pairs), "unjudged": sum(judged == "unjudged" for _, judged in pairs)}
    for name in (*CLASSES, "non_answer"):
        hits = counts[(name, name)]
        labelled = sum(label == name for label, _ in pairs)
        judged = sum(j == name for _, j in pairs)
        report[name] = {
            "precision": round(hits / judged, 4) if judged else None,
            "recall": round(hits / labelled, 4) if labelled else None,
            "n": labelled,
        }
    return report


def measure(judge_label: Callable[[str], str], split: str = "heldout", path: Path = LABELLED_SET) -> dict:
    """`classification_report` of `judge_label` on one split of the labelled set, with its size and file."""
    rows = [row for row in load_labelled(path) if row["split"] == split]
    report = classification_report((row["label"], judge_label(row["text"])) for row in rows)
    return {"set": f"{path.parent.name}/{path.name}", "split": split, **report}
