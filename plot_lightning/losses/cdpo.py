"""Conservative DPO (cDPO; Mitchell, 2023, "A note on DPO with noisy preferences"): label-smoothed DPO.

``-(1-eps) log sigmoid(beta*h) - eps log sigmoid(-beta*h)``: the cross-entropy to a preference label that
is flipped with probability ``eps``. TRL 1.16 has no loss of this form (its ``sigmoid`` ignores
``label_smoothing`` and its ``robust`` is the unbiased estimator, our ``robust``), hence its own name here.
"""

from __future__ import annotations

import torch.nn.functional as F

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .registry import LOSSES
from .robust import check_noise_args
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("cdpo")
class ConservativeDPOLoss(LossTerm):
    """``loss = -(1-eps) log sigmoid(beta h) - eps log sigmoid(-beta h)``; ``eps = 0`` gives DPO.

    Bounded below by the entropy of the smoothed label, so it stops pushing once ``sigmoid(beta h) = 1-eps``.

    Args:
        beta: DPO's inverse temperature, > 0.
        label_smoothing: assumed label flip probability ``eps`` in ``[0, 0.5)``.
    """

    needs = TokenNeeds(reference=True, rejected=True)

    def __init__(self, beta: float = 0.1, label_smoothing: float = 0.1) -> None:
        super().__init__()
        check_noise_args(beta, label_smoothing)
        self.beta = float(beta)
        self.label_smoothing = float(label_smoothing)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss plus reward metrics."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "cdpo")
        scaled = self.beta * (chosen_logratios - rejected_logratios)
        eps = self.label_smoothing
        loss = -(1.0 - eps) * F.logsigmoid(scaled) - eps * F.logsigmoid(-scaled)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
