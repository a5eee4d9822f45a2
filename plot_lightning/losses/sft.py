"""Supervised fine-tuning term: negative log-likelihood of the chosen response (TRL's DPO ``sft`` loss)."""

from __future__ import annotations

from typing import Literal

from plot_lightning.tensor_checks import check_choice, check_shape

from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward

SFT_REDUCTIONS = ("token", "example")


@LOSSES.register("sft")
class SFTLoss(LossTerm):
    """Mean negative log-likelihood of the chosen response tokens.

    ``reduction="token"`` (default, TRL's ``sft``): one mean over every response token of the batch,
    ``-sum_{i,t} log pi(y_i,t) / sum_i |y_i|``, so long responses weigh more. The per-example loss
    returned is ``-B * sum_t log pi(y_i,t) / sum_i |y_i|``, whose batch mean is that token mean.
    ``reduction="example"``: the mean per example of the per-token mean, ``-(1/|y_i|) sum_t log pi(y_i,t)``
    (every response weighs the same). Works on SFT-only data (no rejected side, no reference).

    Args:
        reduction: ``"token"`` (TRL's) or ``"example"`` (length-normalised per example).
    """

    needs = TokenNeeds()

    def __init__(self, reduction: Literal["token", "example"] = "token") -> None:
        super().__init__()
        check_choice("reduction", reduction, SFT_REDUCTIONS)
        self.reduction = reduction

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """``batch.chosen.logps (B,)`` and ``mask (B, T)`` -> per-example loss ``(B,)`` in nats/token."""
        chosen = batch.chosen
        check_shape("chosen.logps", chosen.logps, (None,))
        if self.reduction == "example":
            return LossOutput(loss=-chosen.avg_logps)
        tokens = chosen.lengths.sum().clamp(min=1.0)
        return LossOutput(loss=-chosen.logps * (chosen.logps.shape[0] / tokens))
