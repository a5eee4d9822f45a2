"""Contrasts: hand-computed bootstrap distributions, Holm, Wilson and the MDE."""

import math

import numpy as np
import pytest

from experiments.contrasts import (
    bootstrap_replicates,
    holm,
    minimum_detectable_effect,
    paired_contrast,
    wilson_interval,
)


def _shares(replicates: np.ndarray, values: list[float]) -> list[float]:
    return [float(np.mean(np.isclose(replicates, value))) for value in values]


def test_items_are_resampled():
    """One seed, item differences (0, 1): a replicate mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4."""
    replicates = bootstrap_replicates(np.array([[0.0, 1.0]]), 40_000, np.random.default_rng(1))
    assert _shares(replicates, [0.0, 0.5, 1.0]) == pytest.approx([0.25, 0.5, 0.25], abs=0.01)


def test_seeds_are_resampled():
    """Two seeds of one item, differences (0, 1): the same 1/4, 1/2, 1/4 law, so seeds vary too."""
    replicates = bootstrap_replicates(np.array([[0.0], [1.0]]), 40_000, np.random.default_rng(2))
    assert _shares(replicates, [0.0, 0.5, 1.0]) == pytest.approx([0.25, 0.5, 0.25], abs=0.01)


def test_seeds_and_items_are_resampled_independently():
    """d = [[0, 0], [0, 4]]: the replicate is k_s * k_i with k_s, k_i ~ Binomial(2, 1/2) independent, so
    P(0) = 1 - (3/4)^2 = 7/16, P(1) = (1/2)^2 = 1/4, P(2) = 2 * (1/2)(1/4) = 1/4, P(4) = 1/16; the mean is 1."""
    replicates = bootstrap_replicates(np.array([[0.0, 0.0], [0.0, 4.0]]), 40_000, np.random.default_rng(3))
    assert _shares(replicates, [0.0, 1.0, 2.0, 4.0]) == pytest.approx(
        [7 / 16, 1 / 4, 1 / 4, 1 / 16], abs=0.01
    )
    assert replicates.mean() == pytest.approx(1.0, abs=0.02)


def test_paired_contrast_on_the_hand_case():
    """treated - base = (0, 1) over two items: estimate 0.5, interval [0, 1], p = 2 * P*(d <= 0) ~ 0.5,
    se = sqrt(E d^2 - (E d)^2) = sqrt(0.375 - 0.25) ~ 0.354."""
    result = paired_contrast("x", np.array([[1.0, 3.0]]), np.array([[1.0, 2.0]]), n_resamples=40_000, seed=4)
    assert result.estimate == 0.5
    assert (result.low, result.high) == (0.0, 1.0)
    assert result.p_value == pytest.approx(0.5, abs=0.02)
    assert result.se == pytest.approx(math.sqrt(0.125), abs=0.01)
    assert not result.degenerate


def test_bounded_metric_interval_stays_in_range():
    """Accuracy differences lie in [-1, 1]; a percentile interval can never leave it (a t-interval can)."""
    rng = np.random.default_rng(5)
    treated = (rng.random((3, 12)) < 0.9).astype(float)
    base = np.zeros((3, 12))
    base[0, 0] = 1.0
    result = paired_contrast("acc", treated, base, n_resamples=2_000)
    assert -1.0 <= result.low <= result.high <= 1.0


def test_constant_differences_are_degenerate_not_certain():
    result = paired_contrast("acc", np.full((3, 4), 0.7), np.full((3, 4), 0.7), n_resamples=500)
    assert result.degenerate and result.se == 0.0
    assert "degenerate" in result.format()


def test_shape_and_finiteness_are_checked():
    with pytest.raises(ValueError, match="one shape"):
        paired_contrast("x", np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        paired_contrast("x", np.array([[np.nan]]), np.array([[0.0]]))


def test_holm_hand_example():
    """Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06 for the last."""
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_wilson_hand_values():
    """7/12: centre (p + z^2/2n)/(1 + z^2/n) = 0.5631, half-width 0.2436; 0/10: upper bound z^2/(n + z^2)."""
    low, high = wilson_interval(7, 12)
    assert (low, high) == pytest.approx((0.3195, 0.8067), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 3.841459 / 13.841459), abs=1e-6)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_minimum_detectable_effect():
    """(z_0.975 + z_0.8) * se = (1.95996 + 0.84162) * se."""
    assert minimum_detectable_effect(1.0) == pytest.approx(2.801585, abs=1e-6)
    assert minimum_detectable_effect(0.5, level=0.025) == pytest.approx(0.5 * (2.241403 + 0.841621), abs=1e-5)
