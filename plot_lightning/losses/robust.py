"""Robust DPO (Chowdhury et al., 2024, arXiv 2403.00409, eq. 8): TRL's ``robust`` loss.

``[-(1-eps) log sigmoid(beta*h) + eps log sigmoid(-beta*h)] / (1 - 2*eps)`` is an unbiased estimate of the
clean DPO loss when each preference label is flipped with probability ``eps`` (it is not bounded below).
The label-smoothed cross-entropy (conservative DPO, cDPO) is a different loss: ``cdpo`` (:mod:`.cdpo`).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .registry import LOSSES
from .reward_term import NoisyLabelRewardLoss
from .types import PreferenceForward


@LOSSES.register("robust")
class RobustDPOLoss(NoisyLabelRewardLoss):
    """TRL's ``robust``: ``((1-eps) * l(h) - eps * l(-h)) / (1 - 2 eps)``, ``l(h) = -log sigmoid(beta h)``.

    ``h`` is the difference of policy/reference log-ratios (summed log-probs); ``eps = 0`` gives DPO.
    TRL's default ``label_smoothing`` is 0.0 (then ``robust`` is ``sigmoid``); ours is 0.1, so that the
    loss differs from DPO unless asked otherwise.

    Args:
        beta: DPO's inverse temperature, > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``, the flip rate the estimator corrects for.
    """

    def pair_loss(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        scaled, eps = self.beta * (chosen_logratios - rejected_logratios), self.label_smoothing
        return (-(1.0 - eps) * F.logsigmoid(scaled) + eps * F.logsigmoid(-scaled)) / (1.0 - 2.0 * eps), {}
