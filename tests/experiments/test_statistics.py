"""t-intervals over seeds and paired differences, against hand-derived values."""

from __future__ import annotations

import math

import pytest

from experiments.statistics import paired_difference, t_interval


def test_t_interval_matches_the_hand_computation():
    """[1, 2, 3]: mean 2, s = 1, t_{0.975, 2} = 4.302653 -> half width 4.302653 / sqrt(3) = 2.484138."""
    interval = t_interval([1.0, 2.0, 3.0])
    assert interval.mean == pytest.approx(2.0)
    assert interval.high - interval.mean == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert interval.low == pytest.approx(2.0 - 2.484138, rel=1e-6) and interval.n == 3


def test_one_seed_has_no_interval_and_none_has_no_mean():
    single = t_interval([0.5])
    assert single.mean == 0.5 and math.isnan(single.low) and single.format() == "0.5 (n=1)"
    assert t_interval([]).format() == "n/a"


def test_paired_difference_uses_only_shared_seeds():
    """Seeds 0 and 1 in both: differences 0.2 and 0.4 -> mean 0.3, s = 0.1414, t_{0.975,1} = 12.7062."""
    diff = paired_difference({0: 1.2, 1: 1.4, 2: 9.0}, {0: 1.0, 1: 1.0})
    assert diff.n == 2 and diff.mean == pytest.approx(0.3)
    assert diff.high - diff.mean == pytest.approx(12.706205 * math.sqrt(0.02) / math.sqrt(2), rel=1e-6)
