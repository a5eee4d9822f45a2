"""Per-sample verdicts -> win rates and each set's metric entries with their intervals: the metric part of
results.json (`summarize_run`).

A win rate is the mean of the valid wins in {0, 0.5, 1} (ties count as half; invalid verdicts, None, are
counted and left out) with a percentile bootstrap CI; next to it `lc_winrate`, the length-controlled win rate
of the same verdicts (lengths in words), wherever records carry responses. Every other number of a set comes
from its registered metric (`Metric.summarize`). A subpreference's win rate pools the sets whose metric is
`pooled` (built-ins: `winrate`, `accuracy`; `asr` and `over_refusal` are reported on their own)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from plot_eval.aggregation.length_control import length_controlled_winrate, word_count
from plot_eval.metrics.base import bootstrap_interval as interval
from plot_eval.registry import METRICS
from plot_eval.suite import ScoringSettings, Suite


def winrate_summary(wins: list[float | None], scoring: ScoringSettings) -> dict[str, Any] | None:
    """CI of the valid wins plus counts {ties, invalid}; None when no verdict is valid."""
    valid = [w for w in wins if w is not None]
    counts = {"ties": sum(w == 0.5 for w in valid), "invalid": len(wins) - len(valid)}
    return {**interval(valid, scoring), **counts} if valid else {"n": 0, **counts}


def lc_winrate_summary(records: list[dict[str, Any]], scoring: ScoringSettings) -> dict[str, Any] | None:
    """Length-controlled win rate of the valid verdicts of `records` (keys `win`, `model_response`,
    `baseline_response`); None when no verdict is valid or the records carry no responses."""
    valid = [r for r in records if r["win"] is not None]
    if not valid or any("model_response" not in r or "baseline_response" not in r for r in valid):
        return None
    return length_controlled_winrate(
        [r["win"] for r in valid],
        [word_count(r["model_response"]) for r in valid],
        [word_count(r["baseline_response"]) for r in valid],
        n_resamples=scoring.bootstrap_resamples,
        confidence=scoring.confidence,
        seed=scoring.seed,
    )


def summarize_set(records: list[dict[str, Any]], metric: str, scoring: ScoringSettings) -> dict[str, Any]:
    """Win rate, length-controlled win rate and the entries of the set's registered `metric`, described
    (title, direction, note) so that reports read them from the results alone."""
    registered = METRICS.get(metric).component()
    return {
        "metric": metric,
        **registered.described(),
        "winrate": winrate_summary([r["win"] for r in records], scoring),
        "lc_winrate": lc_winrate_summary(records, scoring),
        **registered.summarize(records, scoring),
    }


def summarize_subpreference(
    records_by_set: dict[str, list[dict[str, Any]]], metrics: dict[str, str], scoring: ScoringSettings
) -> dict[str, Any]:
    """Per-set summaries plus the win rate pooled over the sets whose metric is `pooled` (None when none is)."""
    sets = {name: summarize_set(records, metrics[name], scoring) for name, records in records_by_set.items()}
    pooled = [
        r
        for name, records in records_by_set.items()
        if METRICS.get(metrics[name]).component.pooled
        for r in records
    ]
    return {
        "winrate": winrate_summary([r["win"] for r in pooled], scoring) if pooled else None,
        "lc_winrate": lc_winrate_summary(pooled, scoring),
        "sets": sets,
    }


def summarize_scores(rows: list[dict[str, float]], scoring: ScoringSettings) -> dict[str, dict[str, float]]:
    """Mean + CI of every numeric key in per-response score dicts (e.g. perplexity, distinct_2).

    Non-finite values (e.g. the perplexity of an empty response) are left out and counted in `dropped`."""
    keys = sorted({key for row in rows for key in row})
    out = {}
    for key in keys:
        values = [float(row[key]) for row in rows if isinstance(row.get(key), (int, float))]
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            out[key] = {**interval(finite, scoring), "dropped": len(rows) - len(finite)}
    return out


def summarize_run(suite: Suite, samples: list[dict[str, Any]], lm_eval: dict[str, Any]) -> dict[str, Any]:
    """{suite, subpreferences, scores, lm_eval} for the results file, e.g.
    subpreferences["math"]["sets"]["gsm8k"] (`summarize_set`), scores["fluency"]["model"]["perplexity"]."""
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
            "config": {k: v for k, v in dataclasses.asdict(suite).items() if k != "path"},
        },
        "subpreferences": subpreferences,
        "scores": scores,
        "lm_eval": lm_eval,
    }
