"""Paired comparison of two evaluations (A, B) of the same prompts against the same baseline.

Samples pair by id (``<subpreference>/<set>/<item id>``). Where both runs judged validly, d_i = win_B,i -
win_A,i; its mean is B's win rate minus A's on those prompts, and its CI the percentile bootstrap of that mean
resampling prompts, so each resample keeps a prompt's two verdicts together and the prompt-to-prompt variation
both runs share cancels. Per set, and per subpreference over its `pooled` sets. Runs with different baselines
(fingerprint), different prompts, or another prompt text or judge under one id raise PairingError."""

from __future__ import annotations

from typing import Any

from plot_eval.metrics.base import bootstrap_interval
from plot_eval.registry import METRICS
from plot_eval.suite import ScoringSettings

DIRECTION = "B - A"
_SHOWN = 5


class PairingError(ValueError):
    """The two runs cannot be paired (different baselines or prompts); the message says what differs."""


def sample_key(sample: dict[str, Any]) -> str:
    """The sample's `id`, ``<subpreference>/<set>/<item id>`` (built from those fields for files written
    before samples carried it)."""
    return sample.get("id") or f"{sample['subpreference']}/{sample['set']}/{sample['prompt_id']}"


def _index(samples: list[dict[str, Any]], label: str) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {}
    for sample in samples:
        key = sample_key(sample)
        if key in index:
            raise PairingError(f"{label}: prompt {key} appears twice in samples.jsonl")
        index[key] = sample
    return index


def _shown(keys) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def check_same_baseline(
    results_a: dict[str, Any], results_b: dict[str, Any], labels: tuple[str, str]
) -> None:
    """Both runs must have judged against the same baseline model (same content fingerprint)."""
    base_a, base_b = results_a["models"]["baseline"], results_b["models"]["baseline"]
    if base_a["fingerprint"] != base_b["fingerprint"]:
        raise PairingError(
            f"baselines differ: {labels[0]} was judged against {base_a['name']!r} "
            f"(sha256 {base_a['fingerprint'][:12]}), {labels[1]} against {base_b['name']!r} "
            f"(sha256 {base_b['fingerprint'][:12]}); a paired difference needs the same baseline"
        )


def pair_samples(
    samples_a: list[dict[str, Any]], samples_b: list[dict[str, Any]], labels: tuple[str, str]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(sample of A, sample of B) per prompt, in A's order; PairingError unless both hold the same prompts."""
    index_a, index_b = _index(samples_a, labels[0]), _index(samples_b, labels[1])
    only_a, only_b = index_a.keys() - index_b.keys(), index_b.keys() - index_a.keys()
    if only_a or only_b:
        raise PairingError(
            f"the runs are not on the same prompts: {len(only_a)} of {labels[0]}'s {len(index_a)} prompts are "
            f"not in {labels[1]}, {len(only_b)} of {labels[1]}'s {len(index_b)} not in {labels[0]} "
            f"(e.g. {_shown(only_a | only_b)}); evaluate both with the same suite and --limit"
        )
    for field in ("prompt", "judge"):
        differ = [key for key in index_a if index_a[key].get(field) != index_b[key].get(field)]
        if differ:
            raise PairingError(
                f"{len(differ)} prompts have the same id but another {field} in {labels[0]} and {labels[1]} "
                f"(e.g. {_shown(differ)})"
            )
    return [(index_a[key], index_b[key]) for key in index_a]


def paired_difference(
    pairs: list[tuple[dict[str, Any], dict[str, Any]]], scoring: ScoringSettings
) -> dict[str, Any]:
    """{mean (B - A), ci_low, ci_high, n (pairs with two valid verdicts), invalid_pairs, degenerate,
    winrate_a, winrate_b} of the paired win differences; mean None when no pair is valid."""
    valid = [(a["win"], b["win"]) for a, b in pairs if a["win"] is not None and b["win"] is not None]
    counts = {"n": len(valid), "invalid_pairs": len(pairs) - len(valid)}
    if not valid:
        return {"mean": None, "ci_low": None, "ci_high": None, "degenerate": True, **counts}
    ci = bootstrap_interval([b - a for a, b in valid], scoring)
    return {
        **ci,
        **counts,
        "degenerate": ci["ci_low"] == ci["ci_high"],  # every difference equal: the CI says nothing
        "winrate_a": sum(a for a, _ in valid) / len(valid),
        "winrate_b": sum(b for _, b in valid) / len(valid),
    }


def paired_comparison(
    results_a: dict[str, Any],
    samples_a: list[dict[str, Any]],
    results_b: dict[str, Any],
    samples_b: list[dict[str, Any]],
    labels: tuple[str, str],
    scoring: ScoringSettings,
) -> dict[str, Any]:
    """{a, b, direction, n_prompts, baseline_responses_differ, subpreferences: {sub: {pooled, sets: {set:
    difference}}}} with `paired_difference` entries (pooled None when the subpreference has no pooled set)."""
    check_same_baseline(results_a, results_b, labels)
    pairs = pair_samples(samples_a, samples_b, labels)
    groups: dict[str, dict[str, list]] = {}
    for a, b in pairs:
        groups.setdefault(a["subpreference"], {}).setdefault(a["set"], []).append((a, b))
    subpreferences = {}
    for sub, sets in groups.items():
        pooled = [
            p
            for pairs_of_set in sets.values()
            for p in pairs_of_set
            if METRICS.get(p[0]["metric"]).component.pooled
        ]
        subpreferences[sub] = {
            "pooled": paired_difference(pooled, scoring) if pooled else None,
            "sets": {name: paired_difference(set_pairs, scoring) for name, set_pairs in sets.items()},
        }
    return {
        "a": labels[0],
        "b": labels[1],
        "direction": DIRECTION,
        "n_prompts": len(pairs),
        "baseline_responses_differ": sum(
            a.get("baseline_response") != b.get("baseline_response") for a, b in pairs
        ),
        "subpreferences": subpreferences,
    }
