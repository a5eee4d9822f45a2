"""Ratios between two configurations round by round, their median and spread, and whether the difference is
resolved (the verdict the speed tables print for every ratio).

A round runs every configuration once, each in its own process, in alternating order; the ratio of a round
compares two configurations of the same round (same machine state), so slow drifts of the machine cancel.

Rule: with ``r_1..r_n`` the per-round ratios, ``m`` their median and ``s = (max r - min r) / 2`` their
half-range, the difference from 1 is **resolved** when ``s < |m - 1|`` (every round then lies on the same
side of 1), else **not resolved**. One round has no spread: never resolved.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RoundRatio:
    """One ratio (``numerator / denominator``) of one quantity, over rounds."""

    quantity: str  # "tokens/s" or "peak MB"
    numerator: str
    denominator: str
    per_round: tuple[float, ...]
    median: float
    half_range: float
    verdict: str

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        rounds = " ".join(f"{r:.3f}" for r in self.per_round)
        return (
            f"{self.numerator} / {self.denominator} {self.quantity}: median {self.median:.3f}, half-range "
            f"{self.half_range:.3f} over {len(self.per_round)} rounds [{rounds}] -> {self.verdict}"
        )


def verdict(per_round: list[float], above: str, below: str) -> tuple[float, float, str]:
    """Median, half-range and the verdict of ``per_round`` ratios (see the module docstring)."""
    if not per_round:
        raise ValueError("no rounds to compare")
    median = statistics.median(per_round)
    half_range = (max(per_round) - min(per_round)) / 2
    if len(per_round) < 2:
        return median, half_range, "not resolved (1 round: no spread)"
    if half_range >= abs(median - 1.0):
        return median, half_range, f"not resolved (half-range {half_range:.3f} >= |median - 1|)"
    return median, half_range, f"resolved: {above if median > 1 else below}"


def round_ratios(numerator: list[dict], denominator: list[dict], names: tuple[str, str]) -> list[RoundRatio]:
    """tokens/s and peak-memory ratios of two configurations' runs, round ``i`` against round ``i``.

    Each run is a ``vs_trl.py one`` result: ``step_s`` (seconds per timed step) and ``step_peak_mb``."""
    if len(numerator) != len(denominator):
        raise ValueError(f"{names}: {len(numerator)} rounds against {len(denominator)}")
    speed = [
        statistics.median(b["step_s"]) / statistics.median(a["step_s"])
        for a, b in zip(numerator, denominator, strict=True)
    ]  # tokens/s ratio = inverse step-time ratio (same tokens per step)
    peak = [a["step_peak_mb"] / b["step_peak_mb"] for a, b in zip(numerator, denominator, strict=True)]
    out = []
    for quantity, values, above, below in (
        ("tokens/s", speed, "faster", "slower"),
        ("peak MB", peak, "heavier", "lighter"),
    ):
        median, half_range, word = verdict(values, above, below)
        out.append(RoundRatio(quantity, names[0], names[1], tuple(values), median, half_range, word))
    return out


def comparisons(configs: list[str]) -> list[tuple[str, str]]:
    """Which pairs to compare: every configuration against TRL, what PLOT adds over DPO (with PLOT against
    without it, same head), the fused head against the unfused one and prefix sharing against none (same
    losses: the defaults' rules)."""
    pairs = [(config, "trl") for config in configs if config != "trl" and "trl" in configs]
    for with_plot, without in (
        ("fused", "fused_dpo"),
        ("shared", "shared_dpo"),
        ("dpo_plot", "dpo"),
        ("fused", "dpo_plot"),
        ("shared", "fused"),
    ):
        if with_plot in configs and without in configs:
            pairs.append((with_plot, without))
    return pairs
