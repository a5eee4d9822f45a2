"""Length-controlled win rate: hand-derived MLEs, an sklearn oracle, invariants and every degenerate case."""

from __future__ import annotations

import math

import pytest
import torch

from plot_eval.aggregation.length_control import (
    fit_logistic,
    length_controlled_winrate,
    length_feature,
    word_count,
)


def _lc(wins, model_lengths, baseline_lengths, **kwargs):
    return length_controlled_winrate(wins, model_lengths, baseline_lengths, n_resamples=400, **kwargs)


def test_lc_two_point_design_has_closed_form_and_removes_a_length_explained_win():
    """Two feature values only (model longer by 10 words on 8 prompts, shorter by 10 on 2), so x = +-c and the
    model is saturated: the MLE fits each group's mean verdict, p(+c) = 6/8 = 0.75, p(-c) = 0.5/2 = 0.25.
    From a + bc = logit(0.75) = ln 3 and a - bc = logit(0.25) = -ln 3: a = 0, LC = sigmoid(0) = 0.5, while the
    raw rate is 6.5/10 = 0.65: the model's edge is all in the prompts where it is longer."""
    wins = [1, 1, 1, 1, 1, 0.5, 0.5, 0] + [0.5, 0]
    result = _lc(wins, [20] * 8 + [10] * 2, [10] * 8 + [20] * 2)
    assert sum(wins) / len(wins) == pytest.approx(0.65)
    assert result["mean"] == pytest.approx(0.5, abs=1e-9) and result["flag"] is None
    assert result["lengths"] == {"unit": "words", "model_mean": 18.0, "baseline_mean": 12.0, "diff_std": 8.0}
    assert result["ci_low"] <= result["mean"] <= result["ci_high"]


def test_lc_two_point_design_not_centred_on_half():
    """p(+c) = 9/10, p(-c) = 1/2: a = (ln 9 + 0) / 2 = ln 3, LC = 3/4 (raw 10/12 = 0.833)."""
    result = _lc([1] * 9 + [0] + [1, 0], [20] * 10 + [10] * 2, [10] * 10 + [20] * 2)
    assert result["mean"] == pytest.approx(0.75, abs=1e-9)


def _random_case(seed: int, n: int = 60):
    generator = torch.Generator().manual_seed(seed)
    model = torch.randint(5, 80, (n,), generator=generator)
    baseline = torch.randint(5, 80, (n,), generator=generator)
    x = torch.tanh((model - baseline).double() / (model - baseline).double().std(correction=0))
    p = torch.sigmoid(0.3 + 1.2 * x)
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    wins = torch.where(u < 0.8 * p, 1.0, torch.where(u < 0.8 * p + 0.2, 0.5, 0.0))
    return wins.tolist(), model.tolist(), baseline.tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lc_matches_sklearn_unpenalised_logistic_regression(seed):
    """Oracle: sklearn's LBFGS fit with ties as a win and a loss of weight 1/2 each (the same likelihood)."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    wins, model, baseline = _random_case(seed)
    x, _ = length_feature(model, baseline)
    features = torch.cat([x, x])[:, None].numpy()
    labels = [1] * len(wins) + [0] * len(wins)
    weights = [w for w in wins] + [1 - w for w in wins]
    oracle = linear_model.LogisticRegression(C=math.inf, tol=1e-12, max_iter=10_000)
    oracle.fit(features, labels, sample_weight=weights)
    expected = 1 / (1 + math.exp(-oracle.intercept_[0]))
    assert _lc(wins, model, baseline)["mean"] == pytest.approx(expected, abs=1e-6)


def test_lc_swapping_model_and_baseline_mirrors_the_rate():
    """y -> 1 - y and d -> -d: the fitted (a, b) -> (-a, b), so LC -> 1 - LC."""
    wins, model, baseline = _random_case(5)
    forward = _lc(wins, model, baseline)["mean"]
    backward = _lc([1 - w for w in wins], baseline, model)["mean"]
    assert forward + backward == pytest.approx(1.0, abs=1e-9)


def test_lc_equals_raw_when_lengths_carry_no_information():
    """Equal lengths (or a constant offset): std of the differences is 0, x is collinear with the intercept,
    LC = raw, flagged."""
    wins = [1, 0, 0.5, 1]
    for model in ([3, 3, 3, 3], [7, 7, 7, 7]):
        result = _lc(wins, model, [3, 3, 3, 3])
        assert result["mean"] == pytest.approx(0.625) and result["flag"] == "zero_length_spread"


def test_lc_all_same_verdict_is_the_raw_limit_with_zero_width_ci():
    for verdict in (0.0, 1.0):
        result = _lc([verdict] * 4, [1, 5, 9, 2], [3, 3, 3, 3])
        assert result["mean"] == verdict and result["ci_low"] == result["ci_high"] == verdict
        assert result["flag"] == "all_same_verdict"


def test_lc_all_ties_is_one_half_in_every_resample():
    """All ties: the MLE is a = b = 0 (LC 0.5) where x varies; a resample holding one prompt twice has a
    constant x where a is not identified, yet LC = 0.5 too. Two prompts: the CI is [0.5, 0.5], no resample
    left out (seen on a real 2-prompt set: 513 of 1000 resamples dropped before)."""
    result = _lc([0.5] * 5, [1, 5, 9, 2, 4], [3, 3, 3, 3, 3])
    assert result["mean"] == 0.5 and result["flag"] == "all_same_verdict"
    two = _lc([0.5, 0.5], [25, 26], [26, 26])
    assert two["mean"] == two["ci_low"] == two["ci_high"] == 0.5 and two["undefined_resamples"] == 0


def test_lc_separated_by_length_is_undefined_not_nan():
    """Model wins exactly when it is longer: the MLE does not exist (slope -> inf); mean is None, flagged."""
    result = _lc([1, 1, 0, 0], [9, 8, 2, 3], [5, 5, 5, 5])
    assert result["mean"] is None and result["flag"] == "separable" and result["ci_low"] is None
    tie_on_boundary = _lc([1, 0.5, 0], [9, 5, 2], [5, 5, 5])  # quasi-complete separation
    assert tie_on_boundary["flag"] == "separable"


def test_lc_newton_step_halving_reaches_the_score_equations():
    """At the MLE the gradient sum(y - p) and sum((y - p) x) vanish."""
    wins, model, baseline = _random_case(7, n=200)
    x, _ = length_feature(model, baseline)
    y = torch.tensor(wins, dtype=torch.float64)
    a, b, converged = fit_logistic(x[None], y[None])
    residual = y - torch.sigmoid(a + b * x)
    assert (
        bool(converged[0]) and abs(float(residual.sum())) < 1e-7 and abs(float((residual * x).sum())) < 1e-7
    )


def test_lc_bad_input_and_word_counts():
    with pytest.raises(ValueError, match="lengths differ"):
        length_controlled_winrate([1.0], [1, 2], [1, 2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        length_controlled_winrate([2.0], [1], [1])
    assert word_count("  two\nwords ") == 2 and word_count("") == 0
