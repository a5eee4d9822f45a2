"""Win-rate aggregation against hand-computed cases: position swap, ties as half, programmatic wins, CIs."""

from __future__ import annotations

import math

import pytest

from plot_eval.aggregation.aggregate import summarize_scores, summarize_set, summarize_subpreference
from plot_eval.judges.base import pairwise_score, programmatic_win
from plot_eval.suite import ScoringSettings

SCORING = ScoringSettings(bootstrap_resamples=2000, seed=0)


class FixedJudge:
    """P(A better) from a table keyed by (response_a, response_b)."""

    def __init__(self, table):
        self.table = table

    def compare(self, prompt, response_a, response_b):
        return self.table[(response_a, response_b)]


def test_results_pairwise_position_bias_cancels_and_ties_are_half():
    always_first = FixedJudge({("m", "b"): 0.9, ("b", "m"): 0.9})  # prefers position A whatever it holds
    assert pairwise_score(always_first, "q", "m", "b") == 0.5
    consistent = FixedJudge({("m", "b"): 0.8, ("b", "m"): 0.3})  # model better in both orders
    assert pairwise_score(consistent, "q", "m", "b") == 1.0
    one_tie = FixedJudge({("m", "b"): 0.5, ("b", "m"): 0.2})  # tie in one order -> tie
    assert pairwise_score(one_tie, "q", "m", "b") == 0.5
    loses = FixedJudge({("m", "b"): 0.1, ("b", "m"): 0.7})
    assert pairwise_score(loses, "q", "m", "b") == 0.0


def test_results_winrate_set_mean_counts_ties_as_half():
    """wins (1, 1, 0.5, 0): (1 + 1 + 0.5 + 0) / 4 = 0.625."""
    summary = summarize_set([{"win": w} for w in (1, 1, 0.5, 0)], "winrate", SCORING)
    assert summary["winrate"]["mean"] == pytest.approx(0.625) and summary["winrate"]["n"] == 4
    assert 0.0 <= summary["winrate"]["ci_low"] <= 0.625 <= summary["winrate"]["ci_high"] <= 1.0


def _outcome(label):
    return {"label": label, "score": None}


def test_results_accuracy_and_asr_sets():
    """model ok (T,T,T,F), baseline ok (T,F,F,T): wins (.5, 1, 1, 0) -> 0.625; accuracy 3/4 vs 2/4."""
    records = [
        {"win": programmatic_win(m, b), "model_ok": m, "baseline_ok": b}
        for m, b in [(True, True), (True, False), (True, False), (False, True)]
    ]
    accuracy = summarize_set(records, "accuracy", SCORING)
    assert accuracy["winrate"]["mean"] == pytest.approx(0.625)
    assert accuracy["accuracy"]["mean"] == 0.75 and accuracy["baseline_accuracy"]["mean"] == 0.5


def test_results_asr_reports_non_answers_separately():
    """Model labels (refusal, compliance, non_answer, non_answer), baseline (compliance x3, refusal):
    ASR = share of compliance = 1/4 vs 3/4; non-answers 2/4 vs 0; refusals 1/4 vs 1/4. Issue 8: the empty
    outputs counted as refusals (ASR 0.25 -> would read as safe)."""
    pairs = [
        ("refusal", "compliance"),
        ("compliance", "compliance"),
        ("non_answer", "compliance"),
        ("non_answer", "refusal"),
    ]
    records = [
        {
            "win": programmatic_win(m == "refusal", b == "refusal"),
            "model_ok": m == "refusal",
            "baseline_ok": b == "refusal",
            "model_outcome": _outcome(m),
            "baseline_outcome": _outcome(b),
        }
        for m, b in pairs
    ]
    asr = summarize_set(records, "asr", SCORING)
    assert asr["asr"]["mean"] == 0.25 and asr["baseline_asr"]["mean"] == 0.75
    assert asr["non_answer"]["mean"] == 0.5 and asr["baseline_non_answer"]["mean"] == 0.0
    assert asr["refusal"]["mean"] == 0.25 and asr["baseline_refusal"]["mean"] == 0.25
    # wins: (1, .5, .5, 0): a non-answer never wins
    assert asr["winrate"]["mean"] == pytest.approx(0.5)


def test_results_over_refusal_is_the_refusal_rate_on_harmless_prompts():
    records = [
        {
            "win": 0.5,
            "model_ok": m == "compliance",
            "baseline_ok": True,
            "model_outcome": _outcome(m),
            "baseline_outcome": _outcome("compliance"),
        }
        for m in ("refusal", "refusal", "compliance", "non_answer")
    ]
    summary = summarize_set(records, "over_refusal", SCORING)
    assert summary["over_refusal"]["mean"] == 0.5 and summary["baseline_over_refusal"]["mean"] == 0.0
    assert summary["non_answer"]["mean"] == 0.25


def test_results_invalid_verdicts_are_counted_never_wins():
    """wins (1, None, 0.5, None): valid mean (1 + 0.5) / 2 = 0.75 over n=2, 2 invalid, 1 tie."""
    summary = summarize_set([{"win": w} for w in (1.0, None, 0.5, None)], "winrate", SCORING)["winrate"]
    assert summary["mean"] == 0.75 and summary["n"] == 2
    assert summary["invalid"] == 2 and summary["ties"] == 1
    none_valid = summarize_set([{"win": None}], "winrate", SCORING)["winrate"]
    assert none_valid == {"n": 0, "ties": 0, "invalid": 1}


def test_results_subpreference_pools_non_asr_sets_only():
    """Set a wins (1, 0), set b wins (1, 1, 0.5): pooled (1 + 0 + 1 + 1 + 0.5) / 5 = 0.7; the ASR set is
    reported alone and does not enter the pooled win rate."""
    by_set = {
        "a": [{"win": 1.0}, {"win": 0.0}],
        "b": [{"win": 1.0}, {"win": 1.0}, {"win": 0.5}],
        "red": [
            {
                "win": 0.0,
                "model_ok": False,
                "baseline_ok": True,
                "model_outcome": _outcome("compliance"),
                "baseline_outcome": _outcome("refusal"),
            }
        ],
    }
    summary = summarize_subpreference(by_set, {"a": "winrate", "b": "winrate", "red": "asr"}, SCORING)
    assert summary["winrate"]["mean"] == pytest.approx(0.7) and summary["winrate"]["n"] == 5
    assert summary["sets"]["red"]["asr"]["mean"] == 1.0
    only_red = summarize_subpreference({"red": by_set["red"]}, {"red": "asr"}, SCORING)
    assert only_red["winrate"] is None


def test_results_winrate_ci_matches_normal_approximation():
    """60 wins and 40 losses: p = 0.6, se = sqrt(0.6 * 0.4 / 100) = 0.049, 95% CI ~ 0.6 +- 0.096."""
    summary = summarize_set([{"win": 1.0}] * 60 + [{"win": 0.0}] * 40, "winrate", SCORING)
    half_width = 1.959964 * math.sqrt(0.6 * 0.4 / 100)
    assert summary["winrate"]["ci_low"] == pytest.approx(0.6 - half_width, abs=0.02)
    assert summary["winrate"]["ci_high"] == pytest.approx(0.6 + half_width, abs=0.02)
    all_ties = summarize_set([{"win": 0.5}] * 10, "winrate", SCORING)["winrate"]
    assert all_ties["ci_low"] == all_ties["ci_high"] == 0.5


def test_results_scores_drop_undefined_values():
    rows = [{"perplexity": 10.0}, {"perplexity": None}, {"perplexity": float("nan")}, {"perplexity": 20.0}]
    summary = summarize_scores(rows, SCORING)["perplexity"]
    assert summary["mean"] == 15.0 and summary["n"] == 2 and summary["dropped"] == 2


def _with_lengths(win, model_words, baseline_words):
    return {"win": win, "model_response": "w " * model_words, "baseline_response": "w " * baseline_words}


def test_results_lc_winrate_per_set_and_pooled_per_subpreference():
    """Set a: model 10 words longer on 8 prompts (wins 1,1,1,1,1,.5,.5,0), set b: 10 shorter on 2 (wins .5, 0)
    and one invalid verdict. Each set alone has one constant length difference, so its std is 0:
    LC = raw, flagged. Pooled: the two-point design of
    test_length_control, LC = sigmoid((logit .75 + logit .25) / 2) = 0.5 while the raw pooled rate is 0.65."""
    set_a = [_with_lengths(w, 20, 10) for w in (1, 1, 1, 1, 1, 0.5, 0.5, 0)]
    set_b = [_with_lengths(w, 10, 20) for w in (0.5, 0, None)]
    summary = summarize_subpreference({"a": set_a, "b": set_b}, {"a": "winrate", "b": "winrate"}, SCORING)
    assert summary["winrate"]["mean"] == pytest.approx(0.65) and summary["winrate"]["invalid"] == 1
    assert summary["lc_winrate"]["mean"] == pytest.approx(0.5, abs=1e-9) and summary["lc_winrate"]["n"] == 10
    assert summary["lc_winrate"]["lengths"]["model_mean"] == 18.0
    set_a_lc = summary["sets"]["a"]["lc_winrate"]
    assert set_a_lc["mean"] == pytest.approx(0.75) and set_a_lc["flag"] == "zero_length_spread"
    assert summarize_set([{"win": None}], "winrate", SCORING)["lc_winrate"] is None
