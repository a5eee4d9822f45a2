"""Paired bootstrap of two runs on the same prompts: hand-derived differences, the pairing's gain, refusals."""

from __future__ import annotations

import math

import pytest

from plot_eval.aggregation.paired import PairingError, pair_samples, paired_comparison, paired_difference
from plot_eval.aggregation.stats import bootstrap_ci
from plot_eval.suite import ScoringSettings

SCORING = ScoringSettings(bootstrap_resamples=2000, seed=0)
LABELS = ("a", "b")


def _samples(wins, *, set_name="s", sub="math", metric="winrate", prefix="p"):
    return [
        {
            "subpreference": sub,
            "set": set_name,
            "metric": metric,
            "judge": "j",
            "prompt_id": f"{prefix}{i}",
            "prompt": f"question {i}",
            "baseline_response": f"base {i}",
            "win": win,
        }
        for i, win in enumerate(wins)
    ]


def _results(baseline_fingerprint="b" * 64):
    return {"models": {"baseline": {"name": "base", "fingerprint": baseline_fingerprint}}}


def _compare(samples_a, samples_b):
    return paired_comparison(_results(), samples_a, _results(), samples_b, LABELS, SCORING)


def test_paired_b_wins_every_prompt_a_loses():
    """A (1, 0, 1, 0, 0.5), B (1, 1, 1, 1, 0.5): d = (0, 1, 0, 1, 0), mean 0.4 = 0.9 - 0.5; the interval is
    the bootstrap of those five differences."""
    result = _compare(_samples([1, 0, 1, 0, 0.5]), _samples([1, 1, 1, 1, 0.5]))
    assert result["direction"] == "B - A" and result["n_prompts"] == 5
    d = result["subpreferences"]["math"]["sets"]["s"]
    assert d["mean"] == pytest.approx(0.4) and d["n"] == 5 and not d["degenerate"]
    assert d["winrate_a"] == pytest.approx(0.5) and d["winrate_b"] == pytest.approx(0.9)
    expected = bootstrap_ci([0, 1, 0, 1, 0], n_resamples=2000, seed=0)
    assert (d["ci_low"], d["ci_high"]) == (expected["ci_low"], expected["ci_high"])


def test_paired_identical_runs_give_zero_with_degenerate_interval():
    wins = [1, 0, 0.5, 1, 0]
    d = _compare(_samples(wins), _samples(wins))["subpreferences"]["math"]["pooled"]
    assert d["mean"] == 0.0 and d["ci_low"] == d["ci_high"] == 0.0 and d["degenerate"]
    sweep = _compare(_samples([0] * 4), _samples([1] * 4))["subpreferences"]["math"]["pooled"]
    assert sweep["mean"] == 1.0 and sweep["ci_low"] == sweep["ci_high"] == 1.0 and sweep["degenerate"]


def test_paired_interval_excludes_zero_where_unpaired_intervals_overlap():
    """100 prompts, A wins 50; B = A with 10 of A's losses turned into wins. d has ten 1s and ninety 0s:
    mean 0.1, se = sqrt(0.1 * 0.9 / 100) = 0.03, 95% CI ~ 0.1 +- 0.059, above 0. The unpaired CIs of A
    (0.5 +- 0.098) and B (0.6 +- 0.096) overlap: the pairing removes the prompt-to-prompt variance."""
    wins_a = [1.0 if i % 2 else 0.0 for i in range(100)]
    wins_b = [1.0 if (i % 2 or i < 20) else 0.0 for i in range(100)]
    d = _compare(_samples(wins_a), _samples(wins_b))["subpreferences"]["math"]["sets"]["s"]
    assert d["mean"] == pytest.approx(0.1)
    half_width = 1.96 * math.sqrt(0.1 * 0.9 / 100)
    assert d["ci_low"] == pytest.approx(0.1 - half_width, abs=0.02) and d["ci_low"] > 0
    assert d["ci_high"] == pytest.approx(0.1 + half_width, abs=0.02)
    ci_a, ci_b = bootstrap_ci(wins_a, seed=0), bootstrap_ci(wins_b, seed=0)
    assert ci_b["ci_low"] < ci_a["ci_high"]


def test_paired_swapping_the_runs_negates_the_difference():
    wins_a, wins_b = [1, 0, 0.5, 0, 1, 0], [1, 1, 0, 0.5, 1, 1]
    forward = _compare(_samples(wins_a), _samples(wins_b))["subpreferences"]["math"]["sets"]["s"]
    backward = _compare(_samples(wins_b), _samples(wins_a))["subpreferences"]["math"]["sets"]["s"]
    assert backward["mean"] == pytest.approx(-forward["mean"])
    assert backward["ci_low"] == pytest.approx(-forward["ci_high"])
    assert backward["ci_high"] == pytest.approx(-forward["ci_low"])


def test_paired_drops_pairs_with_an_invalid_verdict_and_counts_them():
    """Pairs (1, 1), (None, 1), (0, None), (0, 1): only the first and last count, d = (0, 1)."""
    d = paired_difference(
        list(zip(_samples([1, None, 0, 0]), _samples([1, 1, None, 1]), strict=True)), SCORING
    )
    assert d["n"] == 2 and d["invalid_pairs"] == 2 and d["mean"] == pytest.approx(0.5)
    none = paired_difference(list(zip(_samples([None]), _samples([1]), strict=True)), SCORING)
    assert none["mean"] is None and none["n"] == 0 and none["invalid_pairs"] == 1


def test_paired_pools_winrate_and_accuracy_sets_but_not_asr():
    """Set x (winrate): d = (1, 0); set y (accuracy): d = (1,); ASR set: d = (-1, -1). Pooled (1 + 0 + 1) / 3."""
    a = _samples([0, 1], set_name="x") + _samples([0], set_name="y", metric="accuracy")
    a += _samples([1, 1], set_name="red", metric="asr")
    b = _samples([1, 1], set_name="x") + _samples([1], set_name="y", metric="accuracy")
    b += _samples([0, 0], set_name="red", metric="asr")
    block = _compare(a, b)["subpreferences"]["math"]
    assert block["pooled"]["mean"] == pytest.approx(2 / 3) and block["pooled"]["n"] == 3
    assert block["sets"]["red"]["mean"] == -1.0
    only_asr = _compare(_samples([1], metric="asr"), _samples([0], metric="asr"))["subpreferences"]["math"]
    assert only_asr["pooled"] is None


def test_paired_refuses_runs_on_other_prompts_listing_the_unmatched_counts():
    a = _samples([1, 0, 1, 1])  # p0..p3
    b = _samples([1, 0]) + _samples([1], prefix="q")  # p0, p1, q0
    with pytest.raises(PairingError, match=r"2 of a's 4 prompts are not in b, 1 of b's 3 not in a") as err:
        pair_samples(a, b, LABELS)
    assert "math/s/p2" in str(err.value) and "math/s/q0" in str(err.value)
    other_text = _samples([1, 0])
    other_text[1]["prompt"] = "another question"
    with pytest.raises(PairingError, match="1 prompts have the same id but another prompt"):
        pair_samples(_samples([1, 0]), other_text, LABELS)
    other_judge = _samples([1, 0])
    other_judge[0]["judge"] = "k"
    with pytest.raises(PairingError, match="another judge"):
        pair_samples(_samples([1, 0]), other_judge, LABELS)
    with pytest.raises(PairingError, match="a: prompt math/s/p0 appears twice"):
        pair_samples(_samples([1]) + _samples([0]), _samples([1]), LABELS)


def test_paired_refuses_runs_against_different_baselines():
    with pytest.raises(PairingError, match="baselines differ: a was judged against 'base'"):
        paired_comparison(_results("c" * 64), _samples([1]), _results(), _samples([1]), LABELS, SCORING)


def test_paired_counts_prompts_where_the_baseline_response_differs():
    b = _samples([1, 0, 1])
    b[2]["baseline_response"] = "resampled"
    assert _compare(_samples([1, 0, 1]), b)["baseline_responses_differ"] == 1


def test_paired_matches_by_the_sample_id_the_pipeline_writes():
    """Samples carry `id` = <subpreference>/<set>/<item id> (sources/plan.py); older files are keyed the same."""
    new, old = _samples([1, 0]), _samples([0, 0])
    for sample in new:
        sample["id"] = f"{sample['subpreference']}/{sample['set']}/{sample['prompt_id']}"
    pairs = pair_samples(old, new, LABELS)
    assert [(a["prompt_id"], b["prompt_id"]) for a, b in pairs] == [("p0", "p0"), ("p1", "p1")]
    new[0]["id"] = "math/s/renamed"
    with pytest.raises(PairingError, match="1 of a's 2 prompts are not in b, 1 of b's 2 not in a"):
        pair_samples(old, new, LABELS)
