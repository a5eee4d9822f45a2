"""AOT, unpaired (Melnyk et al., NeurIPS 2024, arXiv 2406.05882), TRL's ``aot_unpaired``: the distribution
of chosen rewards ``r_w = log pi(y_w)/ref(y_w)`` should dominate that of the rejected rewards ``r_l`` in the
first order. As in :mod:`.aot`, the 1-D OT relaxation is solved by sorting: the logistic loss is applied to
``sort(r_w)_i - sort(r_l)_i``. Only the two batch distributions matter, not which chosen goes with which
rejected, so it works for unpaired data.
"""

from __future__ import annotations

from torch import Tensor

from .aot import AOTLoss
from .registry import LOSSES
from .types import PreferenceForward


@LOSSES.register("aot_unpaired")
class AOTUnpairedLoss(AOTLoss):
    """Unpaired AOT: ``mean_i h(sort(r_w)_i - sort(r_l)_i)`` over the batch; with ``B = 1`` it is DPO.

    Args:
        beta: scale of the logistic loss, > 0.
        label_smoothing: ``eps`` in ``[0, 0.5)``.
    """

    def samples(self, chosen_logratios: Tensor, rejected_logratios: Tensor, batch: PreferenceForward):
        """The chosen and the rejected log-ratios themselves."""
        return chosen_logratios, rejected_logratios
