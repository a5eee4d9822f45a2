"""Supervised fine-tuning term: negative log-likelihood of the chosen response."""

from __future__ import annotations

from torch import nn

from .checks import check_shape
from .types import LossOutput, PreferenceForward


class SFTLoss(nn.Module):
    """``loss_i = -(1/|y_i|) sum_t log pi(y_i,t | x_i, y_i,<t)`` on the chosen response.

    The mean per response token (length-normalised), as a causal-LM cross-entropy with ignored prompt
    tokens gives it for one example. Works on SFT-only data (no rejected side, no reference).
    """

    requires_reference = False
    requires_rejected = False
    requires_logits = False
    requires_reference_topk = False

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """``batch.chosen.logps (B,)`` and ``mask (B, T)`` -> per-example loss ``(B,)`` in nats/token."""
        check_shape("chosen.logps", batch.chosen.logps, (None,))
        return LossOutput(loss=-batch.chosen.avg_logps)
