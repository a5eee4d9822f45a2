"""AOT, paired (Melnyk et al., NeurIPS 2024, arXiv 2406.05882): the policy's chosen-vs-rejected
log-likelihood ratio ``rho = log pi(y_w) - log pi(y_l)`` should dominate the reference's ``rho_ref`` in
the first order. As in :mod:`.aot`, the relaxation is 1-D OT solved by sorting: the logistic loss is
applied to ``sort(rho)_i - sort(rho_ref)_i``. Equals TRL's ``aot`` (see :mod:`.aot` for the naming).
"""

from __future__ import annotations

import torch
from torch import nn

from .aot import check_aot_args, quantile_logistic_loss
from .logprobs import reference_logratios
from .metrics import reward_metrics
from .types import LossOutput, PreferenceForward


class AOTPairLoss(nn.Module):
    """Paired AOT: ``mean_i h(sort(rho)_i - sort(rho_ref)_i)``; with ``B = 1`` it is DPO.

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
        chosen_logratios, rejected_logratios = reference_logratios(batch, "aot_pair")
        policy_margin = batch.chosen.logps - batch.rejected.logps
        reference_margin = batch.chosen.ref_logps - batch.rejected.ref_logps
        loss = quantile_logistic_loss(policy_margin, reference_margin, self.beta, self.label_smoothing)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        gap = torch.sort(policy_margin.detach()).values - torch.sort(reference_margin.detach()).values
        metrics["quantile_violations"] = (gap <= 0).float().mean()
        return LossOutput(loss=loss, metrics=metrics)
