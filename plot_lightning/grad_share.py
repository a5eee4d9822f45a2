"""Gradient shares of the loss terms, measured during training, and weights calibrated from them.

``share_k = ||w_k g_k|| / ||w_0 g_0||`` where ``g_k`` is the gradient of term ``k``'s unweighted batch mean
with respect to the policy's trainable parameters and term 0 the first configured loss. Each rank measures
its own batch; the shares are averaged over ranks (the strategy's reduce), so every rank logs the same value.

Cost: a measured step runs one extra backward pass per configured term, with the graph kept for the training
backward. Under FSDP and DeepSpeed nothing is measured (:func:`sharded_reason`) and ``weight_shares`` is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from plot_lightning.losses.gradient_share import term_gradient_norms
from plot_lightning.losses.weighting import check_term_shares

SHARDED_STRATEGIES = ("FSDPStrategy", "ModelParallelStrategy", "DeepSpeedStrategy")


def sharded_reason(strategy: object) -> str | None:
    """Why gradient shares cannot be measured under ``strategy`` (a Lightning strategy), or None."""
    names = {cls.__name__ for cls in type(strategy).__mro__}
    found = sorted(names & set(SHARDED_STRATEGIES))
    if not found:
        return None
    return (
        f"{found[0]} shards the parameters and gathers them in its own backward hooks, which a separate "
        "autograd.grad pass does not run: gradient shares are not measured"
    )


class GradShares:
    """When to measure, the calibrated weights and the values to log.

    Args:
        losses: the configured loss names; ``losses[0]`` is the base term.
        every: measure at step 0 and every ``every`` optimizer steps (0: never, except to calibrate).
        weight_shares: ``{name: share}``: at the first training step, term ``name``'s weight is set to
            ``share / mean_ranks(||g_k|| / ||w_0 g_0||)``, so its measured share there is ``share``.
    """

    def __init__(self, losses: list[str], every: int, weight_shares: dict | None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ValueError(f"'grad_share_every' must be an integer >= 0, got {every!r}")
        self.base, self.others = losses[0], losses[1:]
        self.every = every
        self.targets = check_term_shares("weight_shares", losses, weight_shares, "calibrate")
        self.calibrated: dict[str, float] = {}

    def due(self, step: int) -> bool:
        """Whether step ``step`` measures (a pending calibration always does; a single term never)."""
        if not self.others:  # a share of the base term alone is 1 by definition: nothing to measure
            return False
        return (self.every > 0 and step % self.every == 0) or len(self.calibrated) < len(self.targets)

    def measure(
        self,
        means: dict[str, Tensor],
        factors: dict[str, Tensor | float],
        params: Sequence[Tensor],
        reduce_mean: Callable[[Tensor], Tensor],
    ) -> dict[str, Tensor]:
        """Measure, calibrate what is pending (updating ``factors`` in place) and return the values to log:
        ``grad_share/<name>`` for every term but the base and ``calibrated_weight/<name>``."""
        norms = term_gradient_norms(means, params)
        base = abs(float(factors[self.base])) * norms[self.base]
        # ratio_k = ||g_k|| / ||w_0 g_0|| on this rank, then averaged: one all-reduce for every term
        local = torch.stack([norms[name] / base for name in self.others])
        ratios = dict(zip(self.others, reduce_mean(local).double(), strict=True))
        for name, share in self.targets.items():
            if name not in self.calibrated:
                if not bool(torch.isfinite(ratios[name])) or float(ratios[name]) <= 0:
                    raise ValueError(
                        f"weight_shares: cannot calibrate '{name}': its gradient norm over the base term "
                        f"'{self.base}''s is {float(ratios[name])} at the first step"
                    )
                self.calibrated[name] = share / float(ratios[name])
                factors[name] = self.calibrated[name]
        logs = {f"grad_share/{name}": abs(factors[name]) * ratios[name] for name in self.others}
        return {**logs, **self.weight_logs()}

    def weight_logs(self) -> dict[str, Tensor]:
        """``calibrated_weight/<name>`` of the calibrated terms."""
        return {f"calibrated_weight/{name}": torch.tensor(value) for name, value in self.calibrated.items()}
