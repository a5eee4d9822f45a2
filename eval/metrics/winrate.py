"""`winrate`: a pairwise judge compares the model's response with the baseline's, in both orders."""

from __future__ import annotations

from plot_eval.metrics.base import Metric
from plot_eval.registry import METRICS


@METRICS.register("winrate")
class WinRate(Metric):
    kind = "pairwise"
    pooled = True
    title = "pairwise judge"
