"""One base for the losses on the implicit rewards ``r = beta log(pi / ref)`` of both responses (DPO and its
relatives): :class:`RewardLoss`.

A subclass states only its per-example loss from the two log-ratios (:meth:`RewardLoss.pair_loss`); ``beta``
is declared on the class, so the scale of the logged rewards is read from it (:mod:`.reward_beta`).
"""

from __future__ import annotations

from torch import Tensor

from plot_lightning.tensor_checks import positive

from .logprobs import reference_logratios
from .metrics import reward_metrics
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


class RewardLoss(LossTerm):
    """``forward(batch)``: ``pair_loss`` of the ``(B,)`` chosen and rejected log-ratios plus reward metrics.

    Args:
        beta: inverse temperature of the implicit reward ``beta * log(pi / ref)``; > 0.
    """

    needs = TokenNeeds(reference=True, rejected=True)
    beta: float

    def __init__(self, beta: float = 0.1) -> None:
        super().__init__()
        self.beta = positive("beta", beta)

    def pair_loss(
        self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``((B,) loss, extra metrics)`` from the ``(B,)`` log-ratios (``batch`` for what else a loss reads)."""
        raise NotImplementedError

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """Per-example ``(B,)`` loss plus detached reward metrics (TRL names) and the subclass's own."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, type(self).__name__)
        loss, extra = self.pair_loss(chosen_logratios, rejected_logratios, batch)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        return LossOutput(loss=loss, metrics={**metrics, **extra})


class NoisyLabelRewardLoss(RewardLoss):
    """A :class:`RewardLoss` that assumes each preference label is flipped with probability ``eps``.

    Args:
        beta: > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``.
    """

    def __init__(self, beta: float = 0.1, label_smoothing: float = 0.1) -> None:
        super().__init__(beta)
        if not 0.0 <= label_smoothing < 0.5:
            raise ValueError(f"'label_smoothing' must lie in [0, 0.5), got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)
