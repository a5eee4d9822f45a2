"""Term weights set from the loss values themselves: validation of per-term share options and EMO's per-step
loss-ratio factor.

The published EMO code rescales its transport term every step to the size of the cross-entropy term,
``0.5 * (mle + (mle / emo).detach() * emo)``; :func:`loss_ratio_factor` is that factor with a target share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from torch import Tensor


def check_term_shares(option: str, losses: list[str], shares: Mapping | None, verb: str) -> dict[str, float]:
    """``shares`` as ``{term: float}``, or a one-line ValueError naming ``option``, the term and the value.

    A share belongs to a configured term other than the base term ``losses[0]`` (the share is relative to it)
    and is a finite number > 0. ``verb`` says what the option does to a term ("calibrate", "rescale").
    """
    if shares is None:
        return {}
    if not isinstance(shares, Mapping):
        raise ValueError(f"'{option}' must map loss names to shares, got {shares!r}")
    checked = {}
    for name, share in shares.items():
        if name not in losses:
            raise ValueError(f"'{option}' names '{name}', which is not in 'losses' {list(losses)}")
        if name == losses[0]:
            raise ValueError(
                f"'{option}' cannot {verb} the base term '{name}' (the shares are relative to it)"
            )
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not math.isfinite(share)
            or share <= 0
        ):
            raise ValueError(f"'{option}.{name}' must be a finite number > 0, got {share!r}")
        checked[name] = float(share)
    return checked


def loss_ratio_factor(target: float, base: Tensor, term: Tensor) -> Tensor:
    """``target * (base / term)``, detached: multiplying ``term`` by it gives the value ``target * base`` and
    the gradient ``target * (base / term) * dterm``. ``base`` is the weighted base term, ``term`` a scalar > 0.

    Raises:
        ValueError: when ``term`` is not > 0 (the ratio would be infinite or flip the term's gradient).
    """
    value = float(term.detach())
    if not value > 0:
        raise ValueError(f"loss_ratio needs a term value > 0 to rescale, got {value}")
    return (target * base / term).detach()
