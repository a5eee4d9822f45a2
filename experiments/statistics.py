"""Means over seeds with 95% Student-t intervals, and paired (by seed) differences X+PLOT - X.

The interval is ``mean +- t_{0.975, n-1} * s / sqrt(n)`` with the sample standard deviation ``s``; it needs
``n >= 2`` seeds (with one seed the interval is undefined: NaN). A paired difference uses only the seeds
present for both methods and is the t-interval of the per-seed differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import t as student_t

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A mean with its ``CONFIDENCE`` t-interval over ``n`` values (``low``/``high`` NaN when n < 2)."""

    mean: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 3) -> str:
        if self.n == 0:
            return "n/a"
        if math.isnan(self.low):
            return f"{self.mean:.{digits}g} (n={self.n})"
        return f"{self.mean:.{digits}g} [{self.low:.{digits}g}, {self.high:.{digits}g}] (n={self.n})"


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean and t-interval of ``values`` (finite floats)."""
    values = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = sum(values) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(treated: dict[int, float], base: dict[int, float]) -> Interval:
    """t-interval of ``treated[seed] - base[seed]`` over the seeds both have."""
    seeds = sorted(set(treated) & set(base))
    return t_interval([treated[seed] - base[seed] for seed in seeds])
