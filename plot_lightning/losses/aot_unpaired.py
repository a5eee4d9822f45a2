"""AOT, unpaired (Melnyk et al., NeurIPS 2024, arXiv 2406.05882), TRL's ``aot_unpaired``: the distribution
of chosen rewards ``r_w = log pi(y_w)/ref(y_w)`` should dominate that of the rejected rewards ``r_l`` in the
first order. As in :mod:`.aot`, the 1-D OT relaxation is solved by sorting: the logistic loss is applied to
``sort(r_w)_i - sort(r_l)_i``. Only the two batch distributions matter, not which chosen goes with which
rejected, so it works for unpaired data.
"""

from __future__ import annotations

from .aot import quantile_logistic_loss, quantile_violations
from .logprobs import reference_logratios
from .metrics import reward_metrics
from .registry import LOSSES
from .robust import check_noise_args
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward


@LOSSES.register("aot_unpaired")
class AOTUnpairedLoss(LossTerm):
    """Unpaired AOT: ``mean_i h(sort(r_w)_i - sort(r_l)_i)`` over the batch; with ``B = 1`` it is DPO.

    Args:
        beta: scale of the logistic loss, > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``.
    """

    needs = TokenNeeds(reference=True, rejected=True)

    def __init__(self, beta: float = 0.1, label_smoothing: float = 0.0) -> None:
        super().__init__()
        check_noise_args(beta, label_smoothing)
        self.beta = float(beta)
        self.label_smoothing = float(label_smoothing)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        """``(B,)`` loss per quantile rank; metrics: rewards and the fraction of violated quantiles."""
        chosen_logratios, rejected_logratios = reference_logratios(batch, "aot_unpaired")
        loss = quantile_logistic_loss(chosen_logratios, rejected_logratios, self.beta, self.label_smoothing)
        metrics = reward_metrics(self.beta * chosen_logratios, self.beta * rejected_logratios)
        metrics["quantile_violations"] = quantile_violations(chosen_logratios, rejected_logratios)
        return LossOutput(loss=loss, metrics=metrics)
