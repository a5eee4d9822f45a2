"""Registered metrics: what a metric declares decides how a set aggregates and whether it is pooled."""

from __future__ import annotations

import pytest

from plot_eval.aggregation.aggregate import summarize_set, summarize_subpreference
from plot_eval.aggregation.paired import paired_comparison
from plot_eval.metrics.base import Metric
from plot_eval.registry import METRICS
from plot_eval.suite import ScoringSettings

SCORING = ScoringSettings(bootstrap_resamples=200, seed=0)


class Kept(Metric):
    good_label, pooled, title = "kept", True, "kept answers"


class Aside(Metric):
    good_label, higher_is_better, title = "kept", False, "set aside"


@pytest.fixture
def registered():
    METRICS.register("kept")(Kept)
    METRICS.register("aside")(Aside)
    yield
    METRICS.unregister("kept")
    METRICS.unregister("aside")


def _records(wins, model_ok, baseline_ok):
    return [
        {"win": w, "model_ok": m, "baseline_ok": b, "model_outcome": {}, "baseline_outcome": {}}
        for w, m, b in zip(wins, model_ok, baseline_ok, strict=True)
    ]


def test_builtin_metrics_declare_kind_good_label_and_pooling():
    declared = {
        name: (m.kind, m.good_label, m.pooled, m.higher_is_better)
        for name in ("winrate", "accuracy", "asr", "over_refusal")
        for m in [METRICS.get(name).component]
    }
    assert declared == {
        "winrate": ("pairwise", None, True, True),
        "accuracy": ("outcome", "correct", True, True),
        "asr": ("outcome", "refusal", False, False),
        "over_refusal": ("outcome", "compliance", False, False),
    }


def test_a_metric_summarises_its_good_label_rate_per_side_and_describes_itself(registered):
    """Model kept on 3 of 4 -> 0.75, baseline on 1 of 4 -> 0.25, named after the metric."""
    summary = summarize_set(_records([1, 1, 0.5, 0.5], [1, 1, 1, 0], [0, 0, 1, 0]), "kept", SCORING)
    assert summary["kept"]["mean"] == 0.75 and summary["baseline_kept"]["mean"] == 0.25
    assert (summary["title"], summary["higher_is_better"], summary["metric"]) == (
        "kept answers",
        True,
        "kept",
    )
    assert "note" not in summary


def test_pooling_follows_the_metric_declaration_in_win_rates_and_paired_differences(registered):
    """Set k (pooled) wins (1, 0), set s (not pooled) wins (1, 1): pooled win rate (1 + 0) / 2 = 0.5, not
    3 / 4. Paired, B - A per prompt: k (0, 1) -> pooled 0.5; s (-1, -1) stays out."""
    records = {"k": _records([1, 0], [1, 0], [0, 1]), "s": _records([1, 1], [1, 1], [0, 0])}
    summary = summarize_subpreference(records, {"k": "kept", "s": "aside"}, SCORING)
    assert summary["winrate"]["mean"] == 0.5 and summary["winrate"]["n"] == 2

    def samples(wins_k, wins_s):
        rows = [("k", "kept", i, w) for i, w in enumerate(wins_k)] + [
            ("s", "aside", i, w) for i, w in enumerate(wins_s)
        ]
        return [{"subpreference": "sub", "set": s, "metric": m, "judge": "j", "prompt_id": f"{s}{i}", "prompt": "q",
                 "baseline_response": "b", "win": w} for s, m, i, w in rows]  # fmt: skip

    results = {"models": {"baseline": {"name": "base", "fingerprint": "f"}}}
    paired = paired_comparison(
        results, samples([1, 0], [1, 1]), results, samples([1, 1], [0, 0]), ("a", "b"), SCORING
    )
    block = paired["subpreferences"]["sub"]
    assert block["pooled"]["mean"] == 0.5 and block["pooled"]["n"] == 2
    assert block["sets"]["s"]["mean"] == -1.0
