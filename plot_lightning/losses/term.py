"""What a loss term needs from the forward pass, declared once: :class:`TokenNeeds` on :class:`LossTerm`.
The heads and the module compute the union of the active terms' needs, never looking a term up by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import nn

SIDES = ("chosen", "rejected")


@dataclass(frozen=True)
class TokenNeeds:
    """Declared needs of a loss term (the defaults: the policy's summed log-probs of the chosen side only).

    Attributes:
        reference: the reference's summed log-probs (``SequenceSide.ref_logps``).
        rejected: the rejected side (pair data).
        logits: the full ``(B, T, V)`` policy logits (``SequenceSide.logits``); the fused head refuses such a term.
        reference_topk: K of the reference's per-token top-K (``ref_topk_ids``/``ref_topk_logps``), 0 for none.
        cost: the ground cost (``"cosine"``/``"l2"``) of the per-token transport costs and of
            ``PreferenceForward.cost_embedding``, the module's frozen cost embedding; None for neither.
        cost_sides: the sides whose per-token dirac costs ``W_t = sum_v p_t(v) C(v, y_t)`` the term reads
            (``SequenceSide.head.token_costs``), a subset of ``("chosen", "rejected")``.
        support_top_k: K of the policy's log-probs on the support ``[topK(policy), reference top-K, target]``
            of the chosen side (``head.support_logps``/``support_ids``), given by the fused head; 0 for none.
    """

    reference: bool = False
    rejected: bool = False
    logits: bool = False
    reference_topk: int = 0
    cost: str | None = None
    cost_sides: tuple[str, ...] = ()
    support_top_k: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.cost_sides) - set(SIDES)
        if unknown or (self.cost_sides and self.cost is None):
            raise ValueError(f"'cost_sides' {self.cost_sides} must name {SIDES} and come with a 'cost'")

    @staticmethod
    def union(needs: Iterable[TokenNeeds]) -> TokenNeeds:
        """What the heads compute for these terms: every flag any term sets, the largest reference top-K,
        the sides any term reads; ValueError when two terms ask for different ground costs or support sizes
        (the heads compute one of each)."""
        needs = list(needs)
        single = {name: {getattr(n, name) for n in needs} - {None, 0} for name in ("cost", "support_top_k")}
        for name, values in single.items():
            if len(values) > 1:
                raise ValueError(
                    f"loss terms need different '{name}': {' and '.join(map(repr, sorted(values)))}"
                )
        sides = {side for n in needs for side in n.cost_sides}
        return TokenNeeds(
            reference=any(n.reference for n in needs),
            rejected=any(n.rejected for n in needs),
            logits=any(n.logits for n in needs),
            reference_topk=max((n.reference_topk for n in needs), default=0),
            cost=next(iter(single["cost"]), None),
            cost_sides=tuple(side for side in SIDES if side in sides),
            support_top_k=next(iter(single["support_top_k"]), 0),
        )


class LossTerm(nn.Module):
    """Base of every registered loss: ``forward(PreferenceForward) -> LossOutput`` and declared :attr:`needs`."""

    @property
    def needs(self) -> TokenNeeds:
        """What this term reads from the forward pass; override where it reads more than the defaults."""
        return TokenNeeds()
