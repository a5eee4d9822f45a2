"""What a reader is told next to a number: which models it compares, and when its interval means little.

A bootstrap CI over a handful of samples, or one of zero width (every sample gave the same value), says
nothing about uncertainty; drawn as an error bar it looks like a precise result. Such an interval is called
*degenerate* here, in one place, and the charts (hatched bar, "n=2, interval degenerate") and report.md
("degenerate interval") say so.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

MIN_SAMPLES = 10
"""An interval over fewer samples than this is degenerate."""

DEGENERATE_RULE = (
    f"An interval is marked *degenerate* when it rests on fewer than {MIN_SAMPLES} samples or has zero width"
    " (every sample gave the same value): it does not measure the uncertainty."
)


def degenerate_reason(ci: dict[str, Any] | None) -> str | None:
    """Why the interval `ci` ({"mean", "ci_low", "ci_high", "n"}) is degenerate, or None when it is not."""
    if not ci or ci.get("mean") is None:
        return None
    if ci["n"] < MIN_SAMPLES:
        return f"n={ci['n']} < {MIN_SAMPLES}"
    if ci["ci_high"] - ci["ci_low"] <= 0:
        return "zero width"
    return None


def model_label(info: dict[str, str]) -> str:
    """A short readable name of a recorded model: its folder's last two parts (or the recorded name when it is
    not a path) plus the first 8 hex of its fingerprint, e.g. ``dpo_plot/export (1a2b3c4d)``."""
    name = str(info.get("name") or "?")
    if "/" in name or "\\" in name:
        name = "/".join(PurePath(name).parts[-2:])
    fingerprint = str(info.get("fingerprint") or "")[:8]
    return f"{name} ({fingerprint})" if fingerprint else name


def models_line(results: dict[str, Any]) -> str:
    """`<model> vs <baseline>` from results["models"]."""
    models = results["models"]
    return f"{model_label(models['model'])} vs {model_label(models['baseline'])}"


_NOT_ENTRIES = ("winrate", "lc_winrate", "unjudged", "judge_accuracy", "titles")


def set_entries(summary: dict[str, Any]) -> list[str]:
    """The names of a set summary's metric entries (eval/metrics/base.py): each key `<entry>` holding an
    interval (a dict with `n`) for the model, `baseline_<entry>` for the baseline; the metric's own first."""
    names = [
        key
        for key, value in summary.items()
        if key not in _NOT_ENTRIES
        and not key.startswith("baseline_")
        and isinstance(value, dict)
        and "n" in value
    ]
    main = summary.get("metric")
    return sorted(names, key=lambda name: name != main)


def entry_title(summary: dict[str, Any], name: str) -> str:
    """How a report names entry `name` of a set: the metric's title for its own entry, else its `titles`."""
    if name == summary.get("metric"):
        return summary.get("title") or name
    return (summary.get("titles") or {}).get(name, name.replace("_", " "))


def score_values(results: dict[str, Any]) -> list[tuple[str, str]]:
    """(scorer, value name) of every per-response score the run summarised (results["scores"]), sorted
    by value name within each scorer."""
    return [
        (scorer, key)
        for scorer, block in (results.get("scores") or {}).items()
        for key in sorted(block.get("model", {}))
    ]


def metric_notes(results: dict[str, Any]) -> list[str]:
    """The notes the metrics of the run's sets ask to print under their tables, each once, in set order."""
    notes = [s.get("note") for sub in results["subpreferences"].values() for s in sub["sets"].values()]
    return list(dict.fromkeys(note for note in notes if note))
