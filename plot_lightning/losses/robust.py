"""Robust DPO (Chowdhury et al., 2024, arXiv 2403.00409, eq. 8): TRL's ``robust`` loss.

``[-(1-eps) log sigmoid(beta*h) + eps log sigmoid(-beta*h)] / (1 - 2*eps)`` is an unbiased estimate of the
clean DPO loss when each preference label is flipped with probability ``eps`` (it is not bounded below).
The label-smoothed cross-entropy (conservative DPO, cDPO) is a different loss: ``cdpo`` (:mod:`.cdpo`).
"""

from __future__ import annotations

import torch.nn.functional as F

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


def check_noise_args(beta: float, label_smoothing: float) -> None:
    """ValueError unless ``beta > 0`` and ``label_smoothing`` in ``[0, 0.5)``."""
    if not beta > 0:
        raise ValueError(f"'beta' must be > 0, got {beta}")
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"'label_smoothing' must lie in [0, 0.5), got {label_smoothing}")


@LOSSES.register("robust")
class RobustDPOLoss(LossTerm):
    """TRL's ``robust``: ``((1-eps) * l(h) - eps * l(-h)) / (1 - 2 eps)``, ``l(h) = -log sigmoid(beta h)``.

    ``h`` is the difference of policy/reference log-ratios (summed log-probs); ``eps = 0`` gives DPO.
    TRL's default ``label_smoothing`` is 0.0 (then ``robust`` is ``sigmoid``); ours is 0.1, so that the
    loss differs from DPO unless asked otherwise.

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
        chosen_logratios, rejected_logratios = reference_logratios(batch, "robust")
        scaled = self.beta * (chosen_logratios - rejected_logratios)
        eps = self.label_smoothing
        loss = (-(1.0 - eps) * F.logsigmoid(scaled) + eps * F.logsigmoid(-scaled)) / (1.0 - 2.0 * eps)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
