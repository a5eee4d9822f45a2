"""Replicates that are not replicates: flag a method whose seeds all gave the same held-out results.

Seeds are the experiment's only estimate of run-to-run variation. If a seed reaches no source of randomness
(with dropout off and full fine-tuning, the training data order is the only one), every seed reproduces the
same run, and a 95% interval over them is zero-width by construction: it looks like a precise result and
says nothing. The table and the paired differences carry this warning whenever it happens.
"""

from __future__ import annotations

from typing import Any

from experiments.runner import flat_metrics

# held-out metrics that are the same for every seed by design (counts of the held-out set)
_CONSTANT_BY_DESIGN = ("n_pairs",)


def _varying(metrics: dict[str, float]) -> dict[str, float]:
    return {
        name: value
        for name, value in metrics.items()
        if name.startswith("heldout/") and not name.endswith(_CONSTANT_BY_DESIGN)
    }


def identical_seed_groups(records: list[dict[str, Any]]) -> list[str]:
    """``"<category>/<method>"`` for every group of main-grid cells with at least two seeds whose held-out
    metrics are all exactly equal across those seeds (sorted)."""
    groups: dict[tuple[str, str], list[dict[str, float]]] = {}
    for record in records:
        if record["sweep"] is None:
            groups.setdefault((record["category"], record["method"]), []).append(
                _varying(flat_metrics(record))
            )
    flagged = []
    for (category, method), runs in groups.items():
        if len(runs) < 2 or not runs[0]:
            continue
        if all(run == runs[0] for run in runs[1:]):
            flagged.append(f"{category}/{method}")
    return sorted(flagged)


def seed_warning(records: list[dict[str, Any]]) -> str:
    """A markdown warning naming the groups of :func:`identical_seed_groups`, or ``""`` when there are none."""
    flagged = identical_seed_groups(records)
    if not flagged:
        return ""
    return (
        f"> **Warning: the seeds did not vary the results.** In {len(flagged)} group(s) ({', '.join(flagged)}) "
        "every held-out metric is identical across seeds: the seed reached no source of randomness, so the "
        "runs are one run repeated and their intervals are zero-width by construction. They say nothing "
        "about run-to-run variation.\n\n"
    )
