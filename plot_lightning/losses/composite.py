"""Weighted sum of named loss terms, built from configuration (``losses`` + ``weights`` + ``loss_args``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .options import LossOptionError, describe_options, validate_loss_args
from .precision import fp32_math
from .registry import LOSSES
from .term import LossTerm, TokenNeeds
from .types import PreferenceForward
from .weighting import check_term_shares, loss_ratio_factor

PartsObserver = Callable[[dict[str, Tensor], dict[str, Tensor | float]], None]
"""``observe(means, factors)``: called by :meth:`CompositeLoss.forward` before the weighted sum."""


def _check_config(losses: list[str], weights: list[float]) -> None:
    """ValueError on unknown or repeated names, mismatched lengths or bad weights."""
    if not losses:
        raise ValueError("'losses' must name at least one loss")
    unknown = [name for name in losses if name not in LOSSES]
    if unknown:
        raise ValueError(f"unknown loss(es) {unknown} in 'losses'; known: {sorted(LOSSES)}")
    repeated = sorted({name for name in losses if losses.count(name) > 1})
    if repeated:
        raise ValueError(f"'losses' names {repeated} more than once; give each loss a single weight")
    if len(weights) != len(losses):
        raise ValueError(f"'weights' has {len(weights)} entries but 'losses' has {len(losses)}: {losses}")
    for index, (name, weight) in enumerate(zip(losses, weights, strict=True)):
        if isinstance(weight, bool) or not (
            isinstance(weight, int | float) and math.isfinite(weight) and weight >= 0
        ):
            raise ValueError(
                f"the weight of loss '{name}' ('weights'[{index}]) must be a finite number >= 0, got {weight!r}"
            )


def _build(name: str, options: dict[str, Any]) -> LossTerm:
    """The loss ``name`` with ``options``; a value the loss refuses is reported with the loss's name."""
    try:
        term = LOSSES[name](**options)
    except ValueError as error:
        raise LossOptionError(f"loss '{name}': {error}; its options are: {describe_options(name)}") from error
    if not isinstance(term, LossTerm):  # the heads read every term's declared needs
        raise TypeError(f"loss '{name}' is a {type(term).__name__}, not a LossTerm: subclass LossTerm")
    return term


class CompositeLoss(nn.Module):
    """``total = sum_k weight_k * mean_batch(loss_k)`` over the configured terms.

    Args:
        losses: registry names (see :data:`~plot_lightning.losses.registry.LOSSES`), each at most once.
        weights: one finite weight >= 0 per loss.
        loss_args: options per loss name, e.g. ``{"dpo": {"beta": 0.1}}``, or a ``LossArgs``; checked by
            :func:`~plot_lightning.losses.options.validate_loss_args`.
        loss_ratio: ``{name: target}``: that term's weight is replaced, every step, by
            ``target * (w_0 L_0 / L_k).detach()`` (EMO's rescaling; term 0 is the base), logged as
            ``weight/<name>``: its weighted value is ``target * w_0 L_0`` and its gradient
            ``target * (w_0 L_0 / L_k) * dL_k``. Needs ``L_k > 0``.
    """

    def __init__(
        self, losses: list[str], weights: list[float], loss_args: Any = None, loss_ratio: Any = None
    ) -> None:
        super().__init__()
        _check_config(list(losses), list(weights))
        loss_args = validate_loss_args(list(losses), loss_args)
        self.loss_args = loss_args
        self.names = list(losses)
        self.weights = [float(w) for w in weights]
        self.loss_ratio = check_term_shares("loss_ratio", self.names, loss_ratio, "rescale")
        self.terms = nn.ModuleDict({name: _build(name, loss_args.get(name, {})) for name in self.names})
        _ = self.needs  # two terms needing different ground costs fail here, not at the first step

    @property
    def needs(self) -> TokenNeeds:
        """The union of the terms' declared needs: what the heads and the module compute for this loss."""
        return TokenNeeds.union(term.needs for term in self.terms.values())

    def set_weight(self, name: str, weight: float) -> None:
        """Replace the fixed weight of term ``name`` (e.g. a calibrated weight)."""
        self.weights[self.names.index(name)] = float(weight)

    @fp32_math
    def parts(self, batch: PreferenceForward) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """``(means, terms)``: each term's unweighted batch mean, with grad, and the detached values to log
        (``"loss/<name>"`` and each term's metrics as ``"<name>/<key>"``)."""
        means: dict[str, Tensor] = {}
        terms: dict[str, Tensor] = {}
        for name in self.names:
            term = self.terms[name]
            output = term(batch)
            means[name] = output.loss.mean()
            terms[f"loss/{name}"] = means[name].detach()
            terms.update({f"{name}/{key}": value.detach() for key, value in output.metrics.items()})
        return means, terms

    def factors(self, means: dict[str, Tensor]) -> dict[str, Tensor | float]:
        """The weight each term's mean is multiplied by this step: fixed, or the ``loss_ratio`` factor."""
        factors: dict[str, Tensor | float] = dict(zip(self.names, self.weights, strict=True))
        base = factors[self.names[0]] * means[self.names[0]].detach()
        for name, target in self.loss_ratio.items():
            factors[name] = loss_ratio_factor(target, base, means[name])
        return factors

    def combine(
        self, means: dict[str, Tensor], factors: dict[str, Tensor | float], terms: dict[str, Tensor]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, terms)`` with ``total = sum_k factors[k] * means[k]``; ``terms`` gains ``"loss"`` (the
        total, with grad; log it detached) and ``"weight/<name>"`` for the ``loss_ratio`` terms."""
        total = sum(factors[name] * means[name] for name in self.names)
        terms.update({f"weight/{name}": factors[name].detach() for name in self.loss_ratio})
        if not bool(torch.isfinite(total.detach())):  # one sync per step: no NaN reaches the optimiser
            bad = [key for key, value in terms.items() if not bool(torch.isfinite(value).all())]
            weights = dict(zip(self.names, self.weights, strict=True))
            raise ValueError(f"non-finite loss term(s) {bad} (weights {weights})")
        terms["loss"] = total
        return total, terms

    def forward(
        self, batch: PreferenceForward, observe_parts: PartsObserver | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(total, terms)``: :meth:`parts`, :meth:`factors`, then :meth:`combine`.

        ``observe_parts(means, factors)``, if given, sees the terms' batch means (with grad) and this step's
        factors before they are summed, and may replace factors (a calibrated weight).
        """
        means, terms = self.parts(batch)
        factors = self.factors(means)
        if observe_parts is not None:
            observe_parts(means, factors)
        return self.combine(means, factors, terms)
