"""AOT, unpaired: distributional alignment via 1-D optimal transport (Melnyk et al., NeurIPS 2024,
arXiv 2406.05882).

AOT asks the distribution of chosen rewards ``r_w = log pi(y_w)/ref(y_w)`` to dominate the distribution
of rejected rewards ``r_l`` in the first order (every quantile of ``r_w`` above the same quantile of
``r_l``). Its convex relaxation is a 1-D OT problem with a convex cost ``h(r_w - r_l)``, solved in closed
form by sorting: the optimal coupling of two empirical measures of equal size matches order statistics.
The loss averages ``h`` over quantile-matched pairs, ``h(t) = -log sigmoid(beta*t)`` (logistic, the
paper's main choice), optionally label-smoothed as in TRL.

Name mapping to TRL: this ``aot`` (unpaired) is TRL's ``aot_unpaired`` (formerly ``aot_pair``); our
``aot_pair`` (paired) is TRL's ``aot``. We name the paired one ``aot_pair`` because it uses the pairing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .types import LossOutput, PreferenceForward


def quantile_logistic_loss(upper: Tensor, lower: Tensor, beta: float, label_smoothing: float) -> Tensor:
    """Logistic loss between matched order statistics of two ``(B,)`` samples.

    Returns ``(B,)``: entry ``i`` is ``-(1-eps) log sigmoid(beta*d_i) - eps log sigmoid(-beta*d_i)`` with
    ``d = sort(upper) - sort(lower)``; indexed by quantile rank, not by example (the mean is the
    objective and is invariant to permutations of either sample). Gradients flow through the sort.
    """
    gap = torch.sort(upper, dim=0).values - torch.sort(lower, dim=0).values
    scaled = beta * gap
    return -(1.0 - label_smoothing) * F.logsigmoid(scaled) - label_smoothing * F.logsigmoid(-scaled)


def check_aot_args(beta: float, label_smoothing: float) -> None:
    """ValueError unless ``beta > 0`` and ``label_smoothing`` in ``[0, 0.5)``."""
    if not beta > 0:
        raise ValueError(f"'beta' must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"'label_smoothing' must lie in [0, 0.5), got {label_smoothing}")


class AOTLoss(nn.Module):
    """Unpaired AOT: ``mean_i h(sort(r_w)_i - sort(r_l)_i)`` over the batch (see the module docstring).

    Works for unpaired data: only the two batch distributions of log-ratios matter, not which chosen goes
    with which rejected. With ``B = 1`` it is DPO.

    Args:
        beta: scale of the logistic loss, > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``.
    """

    requires_reference = True
    requires_rejected = True
    requires_logits = False
    requires_reference_topk = False

    def __init__(self, beta: float = 0.1, label_smoothing: float = 0.0) -> None:
        super().__init__()
        check_aot_args(beta, label_smoothing)
        self.beta = float(beta)
        self.label_smoothing = float(label_smoothing)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """``(B,)`` loss per quantile rank; metrics: rewards and the fraction of violated quantiles."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "aot")
        loss = quantile_logistic_loss(chosen_logratios, rejected_logratios, self.beta, self.label_smoothing)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        gap = torch.sort(chosen_logratios.detach()).values - torch.sort(rejected_logratios.detach()).values
        metrics["quantile_violations"] = (gap <= 0).float().mean()
        return LossOutput(loss=loss, metrics=metrics)
