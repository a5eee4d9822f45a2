"""Stage-prefixed running weighted means through torchmetrics, so DDP/FSDP reduce them exactly across processes.

One :class:`WeightedMean` per logged name, created up front (before any wrapping); the module logs the metric
objects and Lightning computes/syncs/resets them at epoch end. Names follow TRL: ``train/loss``,
``train/loss/dpo``, ``val/rewards/accuracies``, ``val/helpfulness/rewards/margins``...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from plot_lightning.forward import select_examples
from plot_lightning.losses.types import PreferenceForward

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


class WeightedMean(Metric):
    """``sum_i w_i x_i / sum_i w_i`` over every update on every process (NaN when no weight was seen).

    A NaN value propagates (losses already raise on non-finite values); weights must be >= 0. Not
    ``torchmetrics.MeanMetric``: with ``nan_strategy="disable"`` torchmetrics 1.9 replaces every weight by 1.
    """

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("weighted_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("weight", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, value: Tensor, weight: float | Tensor = 1.0) -> None:
        weight = torch.as_tensor(weight, dtype=torch.float64, device=self.weight.device)
        if bool(weight < 0):
            raise ValueError(f"WeightedMean weight must be >= 0, got {float(weight)}")
        if bool(weight > 0):
            self.weighted_sum += value.detach().to(torch.float64).to(self.weight.device) * weight
            self.weight += weight

    def compute(self) -> Tensor:
        return (self.weighted_sum / self.weight).float()

    def synced_total(self) -> tuple[Tensor, Tensor]:
        """``(mean, total weight)`` over all processes (collective: every process must call it)."""
        with self.sync_context():
            return (self.weighted_sum / self.weight).float(), self.weight.clone()


def _key(name: str) -> str:
    return name.replace(".", "_")  # ModuleDict keys may not contain dots


class StageMetrics(nn.Module):
    """:class:`WeightedMean` objects for ``{stage}/{name}``: the loss, ``loss/<name>`` of each of ``loss_names``
    and TRL's metrics, and in validation the same per subpreference."""

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
        self.means = nn.ModuleDict({_key(name): WeightedMean() for name in names})

    def per_subpreference_names(self) -> list[str]:
        """Metric names reported per subpreference in validation (without the ``val/<sub>/`` prefix)."""
        return [*SUBPREFERENCE_METRICS, *[f"loss/{name}" for name in self.loss_names]]

    def has(self, name: str) -> bool:
        """Whether ``name`` (e.g. ``"val/loss"``) is tracked."""
        return _key(name) in self.means

    def update(self, name: str, value: Tensor, weight: float | Tensor = 1.0) -> WeightedMean:
        """Add ``value`` (a scalar) with ``weight`` to the running mean of ``name``; returns the metric to log."""
        metric = self.means[_key(name)]
        metric(value.detach().float(), weight)
        return metric

    def log_step(
        self, log: Callable[..., None], stage: str, values: dict[str, Tensor], batch_size: int
    ) -> None:
        """Log ``values`` as ``<stage>/<name>`` with ``log`` (``LightningModule.log``): tracked names as their
        exact running mean, the per-term extras as plain tensors that Lightning averages across processes."""
        on_step = stage == "train"
        for name, value in values.items():
            key = f"{stage}/{name}"
            if self.has(key):
                metric = self.update(key, value, batch_size)
                log(key, metric, on_step=on_step, on_epoch=True, prog_bar=name == "loss")
            else:
                value = value.detach().float()
                log(key, value, on_step=on_step, on_epoch=True, sync_dist=True, batch_size=batch_size)

    @torch.no_grad()
    def update_subpreferences(
        self,
        forward: PreferenceForward,
        subpreference_id: Tensor,
        values_of: Callable[[PreferenceForward], dict[str, Tensor]],
    ) -> None:
        """Accumulate ``values_of(examples of one subpreference)`` per subpreference, weighted by its number of
        examples in the batch; :meth:`subpreference_means` reduces them across processes."""
        for index, sub in enumerate(self.subpreferences):
            keep = subpreference_id.to(forward.chosen.logps.device) == index
            count = int(keep.sum())
            if not count:
                continue
            values = values_of(select_examples(forward, keep))
            for name in self.per_subpreference_names():
                if name in values:
                    self.update(f"val/{sub}/{name}", values[name], count)

    def subpreference_means(self) -> dict[str, Tensor]:
        """``{"val/<sub>/<metric>": mean}`` over all processes for the names that saw a weight, then reset.

        Collective: every process must call it (each one syncs every metric in the same order).
        """
        means = {}
        for sub in self.subpreferences:
            for name in self.per_subpreference_names():
                key = f"val/{sub}/{name}"
                metric = self.means[_key(key)]
                mean, weight = metric.synced_total()
                if bool(weight > 0):
                    means[key] = mean
                metric.reset()
        return means
