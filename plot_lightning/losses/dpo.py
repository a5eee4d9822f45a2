"""Direct Preference Optimization, sigmoid form (Rafailov et al., 2023, arXiv 2305.18290, eq. 7)."""

from __future__ import annotations

import torch.nn.functional as F

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("dpo")
class DPOLoss(LossTerm):
    """``loss = -log sigmoid(beta * h)``, ``h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))``.

    Summed log-probs over the response tokens. With policy == reference, ``h = 0`` and the loss is ``ln 2``.

    Args:
        beta: inverse temperature of the implicit reward ``beta * log(pi / ref)``; > 0.
    """

    needs = TokenNeeds(reference=True, rejected=True)

    def __init__(self, beta: float = 0.1) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"'beta' must be > 0, got {beta}")
        self.beta = float(beta)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss plus detached reward metrics (TRL names)."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "dpo")
        margin = chosen_logratios - rejected_logratios
        loss = -F.logsigmoid(self.beta * margin)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
