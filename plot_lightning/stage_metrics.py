"""Stage-prefixed running means through torchmetrics, so DDP/FSDP reduce them correctly across processes.

One ``MeanMetric`` per logged name, created up front (before any wrapping) and kept in a ``ModuleDict``; the
module logs the metric objects and Lightning computes/syncs/resets them at epoch end. Names follow TRL:
``train/loss``, ``train/loss/dpo``, ``val/rewards/accuracies``, ``val/helpfulness/rewards/margins``...
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn
from torchmetrics import MeanMetric

TRL_METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracies",
    "rewards/margins",
    "logps/chosen",
    "logps/rejected",
    "logits/chosen",
    "logits/rejected",
)
SUBPREFERENCE_METRICS = ("loss", "rewards/accuracies", "rewards/margins")


def _key(name: str) -> str:
    return name.replace(".", "_")  # ModuleDict keys may not contain dots


class StageMetrics(nn.Module):
    """``MeanMetric`` objects for ``{stage}/{name}``.

    Args:
        loss_names: loss registry names (each gets ``loss/<name>``).
        subpreferences: subpreference names (validation is also reported per subpreference).
        stages: stage prefixes, e.g. ``("train", "val")``.
    """

    def __init__(
        self, loss_names: Iterable[str], subpreferences: Iterable[str], stages=("train", "val")
    ) -> None:
        super().__init__()
        self.loss_names = list(loss_names)
        self.subpreferences = list(subpreferences)
        base = ["loss", *[f"loss/{name}" for name in self.loss_names], *TRL_METRICS]
        per_sub = self.per_subpreference_names()
        names = [f"{stage}/{name}" for stage in stages for name in base]
        if len(self.subpreferences) > 1:
            names += [f"val/{sub}/{name}" for sub in self.subpreferences for name in per_sub]
        self.means = nn.ModuleDict({_key(name): MeanMetric(nan_strategy="disable") for name in names})

    def per_subpreference_names(self) -> list[str]:
        """Metric names reported per subpreference in validation (without the ``val/<sub>/`` prefix)."""
        return [*SUBPREFERENCE_METRICS, *[f"loss/{name}" for name in self.loss_names]]

    def has(self, name: str) -> bool:
        """Whether ``name`` (e.g. ``"val/loss"``) is tracked."""
        return _key(name) in self.means

    def update(self, name: str, value: Tensor, weight: float | Tensor = 1.0) -> MeanMetric:
        """Add ``value`` (a scalar) with ``weight`` to the running mean of ``name``; returns the metric to log."""
        metric = self.means[_key(name)]
        metric(value.detach().float(), weight)
        return metric
