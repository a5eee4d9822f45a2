"""DPO under label noise: label-smoothed (conservative) DPO, optionally the unbiased "robust" DPO.

- default, ``unbiased=False``: conservative DPO (cDPO; Mitchell, 2023, "A note on DPO with noisy
  preferences"), the form PLOT-NOTES call ``robust``/label-smoothed and TRL's ``sigmoid`` with
  ``label_smoothing``: ``-(1-eps) log sigmoid(beta*h) - eps log sigmoid(-beta*h)``, the cross-entropy to a
  label that is flipped with probability ``eps``.
- ``unbiased=True``: robust DPO of Chowdhury et al. (2024, arXiv 2403.00409, eq. 8), TRL's ``robust``:
  ``[-(1-eps) log sigmoid(beta*h) + eps log sigmoid(-beta*h)] / (1 - 2*eps)``, an unbiased estimate of the
  clean DPO loss under flip noise ``eps`` (it is not bounded below).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .types import LossOutput, PreferenceForward


class RobustDPOLoss(nn.Module):
    """Label-noise-aware DPO (see the module docstring for both forms); ``eps = 0`` gives DPO.

    Args:
        beta: DPO's inverse temperature, > 0.
        label_smoothing: assumed flip probability ``eps`` in ``[0, 0.5)``.
        unbiased: use Chowdhury et al.'s unbiased estimator instead of the smoothed cross-entropy.
    """

    requires_reference = True
    requires_rejected = True
    requires_logits = False
    requires_reference_topk = False

    def __init__(self, beta: float = 0.1, label_smoothing: float = 0.1, unbiased: bool = False) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"'beta' must be > 0, got {beta}")
        if not 0.0 <= label_smoothing < 0.5:
            raise ValueError(f"'label_smoothing' must lie in [0, 0.5), got {label_smoothing}")
        self.beta = float(beta)
        self.label_smoothing = float(label_smoothing)
        self.unbiased = bool(unbiased)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss plus reward metrics."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "robust")
        scaled = self.beta * (chosen_logratios - rejected_logratios)
        eps = self.label_smoothing
        clean, flipped = -F.logsigmoid(scaled), -F.logsigmoid(-scaled)
        if self.unbiased:
            loss = ((1.0 - eps) * clean - eps * flipped) / (1.0 - 2.0 * eps)
        else:
            loss = (1.0 - eps) * clean + eps * flipped
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
