"""ORPO: odds-ratio preference optimisation (Hong et al., 2024, arXiv 2403.07691, eqs. 2-7)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .logprobs import pair_logps
from .types import LossOutput, PreferenceForward


def log_odds(avg_logps: Tensor) -> Tensor:
    """``log(P / (1 - P))`` for ``P = exp(avg_logps)``, ``avg_logps (B,) <= 0`` (stable).

    ``log(1 - P)`` is ``log(-expm1(x))`` near ``x = 0`` and ``log1p(-exp(x))`` below ``-ln 2`` (Maechler,
    "Accurately computing log(1 - exp(-|a|))"). ``x`` is capped at ``-eps`` of its dtype so a response the
    model is certain of (``P = 1``) gives a large finite log-odds rather than inf (zero gradient there).
    """
    capped = avg_logps.clamp(max=-torch.finfo(avg_logps.dtype).eps)
    near_zero = capped > -0.6931471805599453
    log_one_minus = torch.where(
        near_zero,
        torch.log(-torch.expm1(capped.clamp(min=-0.6931471805599453))),
        torch.log1p(-torch.exp(capped.clamp(max=-0.6931471805599453))),
    )
    return capped - log_one_minus


class ORPOLoss(nn.Module):
    """``loss = NLL(y_w) - lam * log sigmoid(log odds(y_w) - log odds(y_l))``.

    ``NLL`` is the mean negative log-prob per chosen response token; the odds use ``P(y|x) = exp(mean
    token log-prob)`` as in the paper. Reference-free.

    Args:
        lam: weight ``lambda`` of the odds-ratio term, >= 0 (the paper uses 0.1-0.25; TRL's ``beta``).
    """

    requires_reference = False
    requires_rejected = True
    requires_logits = False
    requires_reference_topk = False

    def __init__(self, lam: float = 0.1) -> None:
        super().__init__()
        if not lam >= 0:
            raise ValueError(f"'lam' must be >= 0, got {lam}")
        self.lam = float(lam)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss; metrics: the NLL, the log-odds ratio and the odds-ratio accuracy."""
        pair_logps(batch, "orpo")
        chosen_avg, rejected_avg = batch.chosen.avg_logps, batch.rejected.avg_logps
        log_odds_ratio = log_odds(chosen_avg) - log_odds(rejected_avg)
        nll = -chosen_avg
        loss = nll - self.lam * F.logsigmoid(log_odds_ratio)
        detached = log_odds_ratio.detach()
        metrics = {
            "nll_loss": nll.detach().mean(),
            "log_odds_ratio": detached.mean(),
            "log_odds_accuracy": (detached > 0).float().mean(),
        }
        return LossOutput(loss=loss, metrics=metrics)
