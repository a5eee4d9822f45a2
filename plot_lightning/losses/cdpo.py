"""Conservative DPO (cDPO; Mitchell, 2023, "A note on DPO with noisy preferences"): label-smoothed DPO.

``-(1-eps) log sigmoid(beta*h) - eps log sigmoid(-beta*h)``: the cross-entropy to a preference label that
is flipped with probability ``eps``. TRL 1.16 has no loss of this form (its ``sigmoid`` ignores
``label_smoothing`` and its ``robust`` is the unbiased estimator, our ``robust``), hence its own name here.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .registry import LOSSES
from .reward_term import NoisyLabelRewardLoss
from .types import PreferenceForward


@LOSSES.register("cdpo")
class ConservativeDPOLoss(NoisyLabelRewardLoss):
    """``loss = -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h)``; ``eps = 0`` gives DPO.

    Bounded below by the entropy of the smoothed label, so it stops pushing once ``sigmoid(beta h) = 1-eps``.

    Args:
        beta: DPO's inverse temperature, > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``, the weight of the flipped label in the smoothed target.
    """

    def pair_loss(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        scaled, eps = self.beta * (chosen_logratios - rejected_logratios), self.label_smoothing
        return -(1.0 - eps) * F.logsigmoid(scaled) - eps * F.logsigmoid(-scaled), {}
