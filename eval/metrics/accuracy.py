"""`accuracy`: correctness of each side (e.g. gsm8k, math, code_exec judges); a win is 1 / 0.5 / 0."""

from __future__ import annotations

from plot_eval.metrics.base import Metric
from plot_eval.registry import METRICS


@METRICS.register("accuracy")
class Accuracy(Metric):
    good_label = "correct"
    pooled = True
    title = "accuracy"
