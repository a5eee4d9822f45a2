"""What a metric is: how a prompt set's per-sample verdicts become the numbers reported next to its win rate.

A metric registers like a judge (eval/registry.py `METRICS`) and declares everything the pipeline needs, so
nothing downstream names it::

    @METRICS.register("brevity")
    class Brevity(Metric):
        kind, good_label, title = "outcome", "concise", "brief answers"

`summarize` writes each entry as `<entry>` for the model and `baseline_<entry>` for the baseline; reports,
charts and MLflow read the entries from results.json by that convention alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plot_eval.aggregation.stats import bootstrap_ci


def bootstrap_interval(values: Sequence[float], scoring) -> dict[str, float]:
    """`bootstrap_ci` of `values` under `scoring` (resamples, confidence, seed): {mean, ci_low, ci_high, n}."""
    resampling = {"n_resamples": scoring.bootstrap_resamples, "confidence": scoring.confidence}
    return bootstrap_ci(values, **resampling, seed=scoring.seed)


class Metric:
    """Base of registered metrics; a subclass sets the class attributes and may override the two methods."""

    registered_name = "unregistered"
    kind: str = "outcome"  # or "pairwise": the judge compares the two responses; a judge declares its metrics
    good_label: str | None = None  # outcome: a sample's win is 1 when only the model's label is this one
    pooled: bool = False  # the set's wins enter its subpreference's pooled win rate
    higher_is_better: bool = True
    title: str = ""  # how reports name the main value; `titles`: further entries
    titles: dict[str, str] = {}
    note: str | None = None  # a sentence reports print under any table holding the metric

    def interval(self, values: Sequence[float], scoring) -> dict[str, float]:
        return bootstrap_interval(values, scoring)

    def summarize(self, records: list[dict[str, Any]], scoring) -> dict[str, Any]:
        """Entries of one set from its records (`model_ok`, `baseline_ok`, `*_outcome`); {} for pairwise."""
        if self.kind == "pairwise":
            return {}
        name = self.registered_name
        return {
            name: self.interval([r["model_ok"] for r in records], scoring),
            f"baseline_{name}": self.interval([r["baseline_ok"] for r in records], scoring),
        }

    def described(self) -> dict[str, Any]:
        """What results.json keeps of the metric next to its entries, so reports need no registry."""
        described = {
            "title": self.title or self.registered_name,
            "higher_is_better": self.higher_is_better,
            "titles": dict(self.titles),
        }
        return {**described, "note": self.note} if self.note else described
