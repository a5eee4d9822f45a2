"""What a metric is: how a prompt set's per-sample verdicts become the numbers reported next to its win rate.

A metric is registered the way judges are (eval/registry.py `METRICS`)::

    @METRICS.register("brevity")
    class Brevity(Metric):
        kind, good_label, title = "outcome", "concise", "brief answers"

and declares everything the pipeline needs to run, aggregate and report it, so nothing downstream names it:
- `kind`: "pairwise" (the judge compares the two responses: `compare`) or "outcome" (it labels each
  response: `outcome`); a judge declares the metrics it can feed;
- `good_label`: for outcome metrics, the label that is a good outcome (a sample's win is 1 when only the
  model has it, 0.5 when both or neither do, 0 otherwise); a non-answer is never good;
- `pooled`: whether the set's wins enter its subpreference's pooled win rate;
- `higher_is_better`, `title` (how reports name the main value), `titles` (names of further entries) and
  `note` (a sentence reports print under any table holding the metric);
- `interval(values, scoring)`: the estimate with its interval (default: mean with percentile bootstrap CI);
- `summarize(records, scoring)`: the set's entries, each `<entry>` for the model and `baseline_<entry>` for
  the baseline (default: the rate of `good_label` per side, named after the metric).
Reports, charts and MLflow read those entries from results.json by that convention alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plot_eval.aggregation.stats import bootstrap_ci

KINDS = ("pairwise", "outcome")


def bootstrap_interval(values: Sequence[float], scoring) -> dict[str, float]:
    """Mean with its percentile bootstrap CI under `scoring` (resamples, confidence, seed): {mean, ci_low,
    ci_high, n}."""
    if not values:
        raise ValueError("values: need at least one sample to summarise")
    return bootstrap_ci(
        [float(v) for v in values],
        n_resamples=scoring.bootstrap_resamples,
        confidence=scoring.confidence,
        seed=scoring.seed,
    )


class Metric:
    """Base of registered metrics; a subclass sets the class attributes and may override the two methods."""

    registered_name = "unregistered"
    kind: str = "outcome"
    good_label: str | None = None
    pooled: bool = False
    higher_is_better: bool = True
    title: str = ""
    titles: dict[str, str] = {}
    note: str | None = None

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
