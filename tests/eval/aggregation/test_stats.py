"""Bootstrap intervals against hand-computed cases, and the torchmetrics mean."""

from __future__ import annotations

import pytest
import torch

from plot_eval.aggregation.stats import bootstrap_ci, mean_with_torchmetrics, percentile_interval


def test_percentile_interval_hand_computed():
    """Means 0, 1, ..., 100: the 5% and 95% quantiles (linear interpolation at 0.05*100, 0.95*100) are 5, 95."""
    means = torch.arange(101, dtype=torch.float64)
    assert percentile_interval(means, 0.90) == pytest.approx((5.0, 95.0))


def test_two_point_bootstrap_hand_computed():
    """values [0, 1]: a resample mean is 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 (two draws).

    95%: the 2.5% quantile falls in the 0 block and the 97.5% quantile in the 1 block -> [0, 1].
    40%: the 30% and 70% quantiles both fall in the 0.5 block (CDF 0.25 -> 0.75) -> [0.5, 0.5].
    """
    wide = bootstrap_ci([0.0, 1.0], n_resamples=4000, confidence=0.95, seed=1)
    assert wide == {"mean": 0.5, "ci_low": 0.0, "ci_high": 1.0, "n": 2}
    narrow = bootstrap_ci([0.0, 1.0], n_resamples=4000, confidence=0.40, seed=1)
    assert (narrow["ci_low"], narrow["ci_high"]) == (0.5, 0.5)


def test_interval_contains_mean_and_narrows_with_n():
    generator = torch.Generator().manual_seed(0)
    small = torch.bernoulli(torch.full((20,), 0.6), generator=generator).tolist()
    large = torch.bernoulli(torch.full((2000,), 0.6), generator=generator).tolist()
    ci_small, ci_large = bootstrap_ci(small), bootstrap_ci(large)
    for ci in (ci_small, ci_large):
        assert ci["ci_low"] <= ci["mean"] <= ci["ci_high"]
    assert ci_large["ci_high"] - ci_large["ci_low"] < (ci_small["ci_high"] - ci_small["ci_low"]) / 3


def test_deterministic_with_seed_and_changes_with_it():
    values = [0.1, 0.9, 0.5, 0.3, 0.7, 0.2]
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    assert bootstrap_ci(values, seed=5) != bootstrap_ci(values, seed=6)


@pytest.mark.parametrize("values", [[0.5] * 7, [2.0]])
def test_degenerate_values_give_zero_width(values):
    ci = bootstrap_ci(values)
    assert ci["ci_low"] == ci["mean"] == ci["ci_high"] == values[0]


@pytest.mark.parametrize("bad", [[], [1.0, None], [1.0, float("nan")]])
def test_rejects_empty_none_nan(bad):
    with pytest.raises(ValueError, match="values"):
        bootstrap_ci(bad)


def test_torchmetrics_mean_matches_hand_mean():
    assert mean_with_torchmetrics([1.0, 0.0, 0.5, 0.5]) == 0.5
    assert mean_with_torchmetrics([1e-3, 2e-3]) == pytest.approx(1.5e-3, rel=1e-12)
