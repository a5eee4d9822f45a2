"""AOT: distributional alignment via 1-D optimal transport (Melnyk et al., NeurIPS 2024, arXiv 2406.05882).

The paired form (this file, TRL's ``aot``): the policy's chosen-vs-rejected log-likelihood ratio
``rho = log pi(y_w) - log pi(y_l)`` should dominate the reference's ``rho_ref`` in the first order (every
quantile above the same quantile). Its convex relaxation is a 1-D OT problem with a convex cost
``h(rho - rho_ref)``, solved in closed form by sorting: the optimal coupling of two empirical measures of
equal size matches order statistics. The loss averages ``h`` over quantile-matched pairs,
``h(t) = -(1-eps) log sigmoid(beta*t) - eps log sigmoid(-beta*t)`` (logistic, the paper's main choice).

The unpaired form is TRL's ``aot_unpaired`` (:mod:`.aot_unpaired`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import LOSSES
from .reward_term import NoisyLabelRewardLoss
from .types import PreferenceForward


def quantile_logistic_loss(upper: Tensor, lower: Tensor, beta: float, label_smoothing: float) -> Tensor:
    """Logistic loss between matched order statistics of two ``(B,)`` samples.

    Returns ``(B,)``: entry ``i`` is ``-(1-eps) log sigmoid(beta*d_i) - eps log sigmoid(-beta*d_i)`` with
    ``d = sort(upper) - sort(lower)``; indexed by quantile rank, not by example (the mean is the
    objective and is invariant to permutations of either sample). Gradients flow through the sort.
    """
    gap = torch.sort(upper, dim=0).values - torch.sort(lower, dim=0).values
    scaled = beta * gap
    return -(1.0 - label_smoothing) * F.logsigmoid(scaled) - label_smoothing * F.logsigmoid(-scaled)


def quantile_violations(upper: Tensor, lower: Tensor) -> Tensor:
    """Fraction of quantile ranks where ``sort(upper) <= sort(lower)`` (detached scalar)."""
    gap = torch.sort(upper.detach()).values - torch.sort(lower.detach()).values
    return (gap <= 0).float().mean()


@LOSSES.register("aot")
class AOTLoss(NoisyLabelRewardLoss):
    """Paired AOT (TRL's ``aot``): ``mean_i h(sort(rho)_i - sort(rho_ref)_i)``; with ``B = 1`` it is DPO.

    The loss is ``(B,)``, one entry per quantile rank; its extra metric is the fraction of violated quantiles.

    Args:
        beta: scale of the logistic loss, > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``.
    """

    def __init__(self, beta: float = 0.1, label_smoothing: float = 0.0) -> None:
        super().__init__(beta, label_smoothing)

    def samples(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        """``(upper (B,), lower (B,))``: the two samples whose quantiles are matched (here the policy's and the
        reference's chosen-minus-rejected margins)."""
        return batch.chosen.logps - batch.rejected.logps, batch.chosen.ref_logps - batch.rejected.ref_logps

    def pair_loss(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        upper, lower = self.samples(chosen_logratios, rejected_logratios, batch)
        loss = quantile_logistic_loss(upper, lower, self.beta, self.label_smoothing)
        return loss, {"quantile_violations": quantile_violations(upper, lower)}
