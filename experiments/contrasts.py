"""Paired contrasts between two arms over seeds and items: bootstrap intervals, Holm correction, the MDE.

An arm's measurement is a ``(S, I)`` array: one value per seed (rows) and held-out item (columns), the same
items for every seed and arm. A contrast ``A - B`` pairs the arms by seed and by item. Both seeds and items
are samples (another seed trains another model; another draw of items is another test set), so the
interval resamples both: each replicate draws ``S`` seeds with replacement and, independently, ``I`` items
with replacement, and takes the mean of ``A[s, i] - B[s, i]`` over the drawn cells (a two-way bootstrap;
Davison & Hinkley 1997, sec. 3.8). The interval is the percentile interval of the replicates, so it stays
inside the metric's range for a bounded metric (an accuracy difference stays within [-1, 1]).

The two-sided p-value is ``2 * min(P*(d <= 0), P*(d >= 0))`` over the replicates, with the +1 correction
that keeps it above zero for a finite number of replicates. ``holm`` adjusts a family of p-values (Holm
1979). ``minimum_detectable_effect`` is the true difference a contrast would detect with 80% power at its
level: ``(z_{1 - level/2} + z_{power}) * se``, with ``se`` the replicates' standard deviation.

A zero-width interval (every replicate equal) is reported as ``degenerate``, never printed as certainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

CONFIDENCE = 0.95
POWER = 0.8


@dataclass(frozen=True)
class ContrastResult:
    """``A - B`` over seeds and items: the point difference, its percentile interval and p-value."""

    name: str
    estimate: float
    low: float
    high: float
    p_value: float
    se: float
    n_seeds: int
    n_items: int
    p_adjusted: float = math.nan

    @property
    def degenerate(self) -> bool:
        """True when every replicate gave the same value: the interval says nothing about uncertainty."""
        return self.se == 0.0

    def format(self, digits: int = 3) -> str:
        if self.degenerate:
            return f"{self.estimate:+.{digits}g} (degenerate: every resample equal; n={self.n_seeds}x{self.n_items})"
        return (
            f"{self.estimate:+.{digits}g} [{self.low:+.{digits}g}, {self.high:+.{digits}g}] "
            f"(n={self.n_seeds} seeds x {self.n_items} items)"
        )


def _check_pair(treated: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    treated, base = np.asarray(treated, dtype=np.float64), np.asarray(base, dtype=np.float64)
    if treated.ndim != 2 or treated.shape != base.shape:
        raise ValueError(
            f"arms must be (seeds, items) arrays of one shape, got {treated.shape} and {base.shape}"
        )
    if treated.size == 0 or not (np.isfinite(treated).all() and np.isfinite(base).all()):
        raise ValueError("arms must be non-empty and finite")
    return treated, base


def bootstrap_replicates(differences: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_resamples,)`` means of ``differences (S, I)`` over seeds and items drawn with replacement."""
    seeds, items = differences.shape
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, 256):  # blocks keep the (block, S, I) gather small
        block = min(256, n_resamples - start)
        rows = rng.integers(0, seeds, size=(block, seeds))
        cols = rng.integers(0, items, size=(block, items))
        drawn = differences[rows[:, :, None], cols[:, None, :]]  # (block, S, I)
        out[start : start + block] = drawn.mean(axis=(1, 2))
    return out


def paired_contrast(
    name: str,
    treated: np.ndarray,
    base: np.ndarray,
    n_resamples: int = 10_000,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> ContrastResult:
    """``treated - base`` (each ``(S, I)``) with a two-way bootstrap over seeds and items."""
    treated, base = _check_pair(treated, base)
    differences = treated - base
    replicates = bootstrap_replicates(differences, n_resamples, np.random.default_rng(seed))
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    below = (np.count_nonzero(replicates <= 0) + 1) / (n_resamples + 1)
    above = (np.count_nonzero(replicates >= 0) + 1) / (n_resamples + 1)
    return ContrastResult(
        name=name,
        estimate=float(differences.mean()),
        low=float(low),
        high=float(high),
        p_value=min(1.0, 2 * min(below, above)),
        se=float(replicates.std(ddof=1)),
        n_seeds=differences.shape[0],
        n_items=differences.shape[1],
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order: ``max_{j <= k} min(1, (m - j) p_(j))`` over sorted ``p``."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def minimum_detectable_effect(se: float, level: float = 1 - CONFIDENCE, power: float = POWER) -> float:
    """The smallest true difference detected with probability ``power`` at two-sided ``level``."""
    return float((norm.ppf(1 - level / 2) + norm.ppf(power)) * se)


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion (inside [0, 1] for every count, non-zero width for n > 0)."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
