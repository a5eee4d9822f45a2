"""Uncertainty and aggregation for per-sample scores.

``bootstrap_ci`` gives the percentile bootstrap interval of a mean (Efron & Tibshirani 1993, ch. 13):
resample the n values with replacement ``n_resamples`` times, take each resample's mean, and report the
(1 - confidence)/2 and (1 + confidence)/2 quantiles of those means. Seeded, so the same values and seed
give the same interval. Point means go through ``torchmetrics.MeanMetric`` (fp64).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _as_finite_tensor(values: Sequence[float]) -> torch.Tensor:
    if len(values) == 0:
        raise ValueError("values: need at least one value, got an empty sequence")
    if any(v is None for v in values):
        raise ValueError("values: contains None; drop undefined scores before aggregating")
    tensor = torch.as_tensor([float(v) for v in values], dtype=torch.float64)
    if not torch.isfinite(tensor).all():
        raise ValueError(
            f"values: {int((~torch.isfinite(tensor)).sum())} of {len(values)} are NaN or infinite"
        )
    return tensor


def mean_with_torchmetrics(values: Sequence[float]) -> float:
    """Mean of ``values`` (n,) through ``torchmetrics.MeanMetric`` in fp64; ValueError on empty/None/NaN."""
    from torchmetrics.aggregation import MeanMetric  # imported lazily: ~7 s on first import

    metric = MeanMetric(nan_strategy="error")
    metric.set_dtype(torch.float64)
    metric.update(_as_finite_tensor(values))
    return float(metric.compute())


def percentile_interval(resample_means: torch.Tensor, confidence: float) -> tuple[float, float]:
    """The (1-c)/2 and (1+c)/2 quantiles (linear interpolation) of ``resample_means (R,)``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: must be in (0, 1), got {confidence}")
    tail = (1.0 - confidence) / 2.0
    bounds = torch.quantile(resample_means, torch.tensor([tail, 1.0 - tail], dtype=resample_means.dtype))
    return float(bounds[0]), float(bounds[1])


def bootstrap_ci(
    values: Sequence[float], *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict:
    """Mean of ``values`` (n,) with a seeded percentile-bootstrap confidence interval.

    Returns ``{"mean", "ci_low", "ci_high", "n"}`` (floats, n int). All-equal values give a zero-width
    interval; n = 1 gives ``ci_low == ci_high == mean``. Raises ValueError on empty input, None or NaN.
    """
    if n_resamples < 1:
        raise ValueError(f"n_resamples: must be >= 1, got {n_resamples}")
    data = _as_finite_tensor(values)
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randint(len(data), (n_resamples, len(data)), generator=generator)  # (R, n)
    resample_means = data[indices].mean(dim=1)  # (R,)
    low, high = percentile_interval(resample_means, confidence)
    mean = mean_with_torchmetrics(values)
    if bool((data == data[0]).all()):
        low = high = mean  # resample means of identical values differ from them by float rounding only
    return {"mean": mean, "ci_low": low, "ci_high": high, "n": len(data)}
