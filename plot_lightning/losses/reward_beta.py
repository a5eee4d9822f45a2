"""One beta for the logged implicit rewards: the loss's own, unless the user sets another.

The module logs ``rewards/*`` (:mod:`.metrics`); a :class:`.reward_term.RewardLoss` also returns its own
``<term>/rewards/*``. With one beta both are the same numbers, so the term's copies are dropped.
"""

from __future__ import annotations

from torch import Tensor

from .composite import CompositeLoss
from .reward_term import RewardLoss

DEFAULT_BETA = 0.1  # TRL's DPOConfig.beta, for runs with no reference-based term that has a beta


def _reference_betas(loss: CompositeLoss) -> dict[str, float]:
    return {name: term.beta for name, term in loss.terms.items() if isinstance(term, RewardLoss)}


def reward_beta(loss: CompositeLoss, metrics_beta: float | None) -> float:
    """``metrics_beta`` when given, else the single beta of the reference-based terms (0.1 when none).

    Raises:
        ValueError: ``metrics_beta`` is None and the reference-based terms have different betas.
    """
    if metrics_beta is not None:
        if not metrics_beta > 0:
            raise ValueError(f"'metrics_beta' must be > 0 (or None: the loss's beta), got {metrics_beta!r}")
        return float(metrics_beta)
    betas = _reference_betas(loss)
    if len(set(betas.values())) > 1:
        raise ValueError(
            f"loss terms have different betas {betas}: set 'metrics_beta' to the one the logged rewards use"
        )
    return next(iter(betas.values()), DEFAULT_BETA)


def drop_duplicate_rewards(loss: CompositeLoss, terms: dict[str, Tensor], beta: float) -> dict[str, Tensor]:
    """``terms`` without ``<term>/rewards/*`` of reference-based terms whose beta is ``beta`` (same numbers)."""
    same = [name for name, value in _reference_betas(loss).items() if value == beta]
    prefixes = tuple(f"{name}/rewards/" for name in same)
    return {key: value for key, value in terms.items() if not (prefixes and key.startswith(prefixes))}
