"""Hinge preference loss (SLiC-style, Zhao et al., 2023, arXiv 2305.10425, with a reference model)."""

from __future__ import annotations

import torch

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("hinge")
class HingeLoss(LossTerm):
    """``loss = max(0, 1 - beta * h)``, ``h`` the difference of policy/reference log-ratios (TRL's hinge).

    Zero, with zero gradient, once the scaled margin ``beta * h`` reaches 1.

    Args:
        beta: scale of the margin (the hinge's margin is ``1/beta`` in log-ratio units); > 0.
    """

    needs = TokenNeeds(reference=True, rejected=True)

    def __init__(self, beta: float = 0.1) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"'beta' must be > 0, got {beta}")
        self.beta = float(beta)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` hinge loss plus reward metrics."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "hinge")
        loss = torch.relu(1.0 - self.beta * (chosen_logratios - rejected_logratios))
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
