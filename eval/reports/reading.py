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
