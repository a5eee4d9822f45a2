"""Assembling the metric part of a results dict from per-sample records."""

from __future__ import annotations

from typing import Any

from plot_eval.aggregation.aggregate import summarize_scores, summarize_subpreference
from plot_eval.suite import Suite


def summarize_run(suite: Suite, samples: list[dict[str, Any]], lm_eval: dict[str, Any]) -> dict[str, Any]:
    """{suite, subpreferences, scores, lm_eval} for the results file.

    subpreferences[name] = {category, paper_named, winrate (pooled CI or None), sets: {set: summary}}.
    scores[scorer] = {"model": {value name: CI}, "baseline": {...}} for every scorer the suite ran (e.g.
    scores["fluency"]["model"]["perplexity"]).
    """
    subpreferences = {}
    for sub in suite.subpreferences:
        by_set = {
            s.name: [r for r in samples if r["subpreference"] == sub.name and r["set"] == s.name]
            for s in sub.sets
        }
        by_set = {name: records for name, records in by_set.items() if records}
        metrics = {s.name: s.metric for s in sub.sets}
        subpreferences[sub.name] = {
            "category": sub.category,
            "paper_named": sub.paper_named,
            "description": sub.description,
            **summarize_subpreference(by_set, metrics, suite.scoring),
        }
    scores: dict[str, dict[str, Any]] = {}
    for group in suite.scorers:
        scores[group] = {
            side: summarize_scores([s[f"{side}_scores"].get(group, {}) for s in samples], suite.scoring)
            for side in ("model", "baseline")
        }
    return {
        "suite": {
            "name": suite.name,
            "version": suite.version,
            "path": suite.path,
            "config": suite.to_dict(),
        },
        "subpreferences": subpreferences,
        "scores": scores,
        "lm_eval": lm_eval,
    }
