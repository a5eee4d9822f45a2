r"""PLOT, ``sinkhorn`` variant: entropic OT between the policy's next-token distribution and a target
anchored to the frozen reference, on a small per-token support (the README's "What PLOT is here").

At a response position with policy ``p = softmax(z)``, target token ``y`` and reference top-K ``R``:

* target ``q = (1 - lam) δ_y + lam * renorm(p_ref restricted to R)``;
* support ``S = topK(p) ∪ R ∪ {y}``, stored in ``L = 2K + 1`` fixed slots (policy top-K, reference
  top-K, label); a slot repeating an earlier slot's id is a duplicate with zero mass on both sides;
* one extra "rest" atom holding the policy's tail mass ``1 - sum_{v in S} p_v`` (the target has no tail);
  its cost is 1 to every token and 0 to itself;
* ``W = sinkhorn_cost(C, p_S, q_S)`` with ``C`` the cosine (or L2) cost between unit token embeddings.

Gradients reach the logits through ``p`` on the support and through the rest mass. Only masked positions
are processed; the result is the mean of ``W`` over each example's masked tokens.

The iterations run without autograd; the backward is the implicit derivative of ``<P, C>``
(:mod:`plot_lightning.ot.sinkhorn`) at the potentials the last iteration reached: exact at convergence, off
by about the marginal error before it. Hence ``max_iter=200`` with an early stop at :func:`tolerance`, and a
warning (once per setting) when a step ends unconverged (README "Benchmarks": Sinkhorn convergence).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from plot_lightning.losses.plot_cost import (
    COST_KINDS,
    CostEmbedding,
    as_cost_embedding,
    check_cost_embedding,
    pairwise_token_cost,
)
from plot_lightning.losses.precision import compute_dtype, fp32_math
from plot_lightning.ot.sinkhorn import SinkhornConvergenceWarning, sinkhorn_cost
from plot_lightning.tensor_checks import (
    check_bool,
    check_choice,
    check_finite,
    check_labels_in_range,
    check_mask_nonempty,
    check_shape,
)


@fp32_math
def reference_topk(logits: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-``k`` token ids ``(B, T, k)`` long and their log-probabilities ``(B, T, k)`` (detached).

    Log-probabilities are fp32 (fp64 if ``logits`` is fp64), sorted in decreasing order.
    """
    check_shape("logits", logits, (None, None, None))
    if not (isinstance(k, int) and 1 <= k <= logits.shape[-1]):
        raise ValueError(f"'k' must be an integer in [1, {logits.shape[-1]}], got {k!r}")
    dtype = compute_dtype(logits)
    with torch.no_grad():
        logits = logits.to(dtype)
        top_logits, ids = logits.topk(k, dim=-1)
        logps = top_logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return ids, logps


def _check_bool_mask(mask: Tensor, batch: int, length: int) -> None:
    check_shape("mask", mask, (batch, length))
    check_bool("mask", mask)
    check_mask_nonempty("mask", mask)


def _validate(logits, labels, mask, unit_embedding, ref_ids, ref_logps, top_k, lam, cost) -> None:
    check_shape("logits", logits, (None, None, None))
    batch, length, vocab = logits.shape
    check_shape("labels", labels, (batch, length))
    _check_bool_mask(mask, batch, length)
    check_labels_in_range("labels", labels, vocab, mask)
    check_cost_embedding("unit_embedding", unit_embedding, vocab)
    if not (isinstance(top_k, int) and 1 <= top_k <= vocab):
        raise ValueError(f"'top_k' must be an integer in [1, {vocab}], got {top_k!r}")
    check_shape("ref_topk_ids", ref_ids, (batch, length, top_k))
    check_shape("ref_topk_logps", ref_logps, (batch, length, top_k))
    check_labels_in_range("ref_topk_ids", ref_ids, vocab, mask)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"'lam' must lie in [0, 1], got {lam!r}")
    check_choice("cost", cost, COST_KINDS)


def support_slots(policy_ids: Tensor, ref_ids: Tensor, labels: Tensor) -> Tensor:
    """Slot ids ``(..., 2K+1)``: policy top-K ``(..., K)``, reference top-K ``(..., K)``, label ``(...)``.

    The one definition of the slot layout, shared with the fused head (``plot_lightning.heads``).
    """
    return torch.cat([policy_ids, ref_ids, labels.unsqueeze(-1)], dim=-1)


def _first_slots(ids: Tensor) -> tuple[Tensor, Tensor]:
    """``first (M, L)`` (each slot's first slot with the same id) and ``unique (M, L)`` bool."""
    same = ids.unsqueeze(-1) == ids.unsqueeze(-2)  # (M, L, L)
    first = same.to(torch.uint8).argmax(dim=-1)  # (M, L): argmax returns the first True
    slots = torch.arange(ids.shape[-1], device=ids.device)
    return first, first == slots


def _policy_masses(support_logps: Tensor, unique: Tensor) -> Tensor:
    """``(M, L+1)``: policy mass on each unique slot (0 on duplicates), then the tail mass."""
    on_support = torch.exp(support_logps) * unique  # (M, L)
    tail = (1.0 - on_support.sum(-1, keepdim=True)).clamp_min(0.0)  # (M, 1)
    return torch.cat([on_support, tail], dim=-1)


def _target_masses(ref_logps: Tensor, first: Tensor, lam: float) -> Tensor:
    """``(M, L+1)``: ``(1-lam) δ_y + lam renorm(p_ref top-K)`` merged onto first slots; no tail."""
    count, top_k = ref_logps.shape
    raw = torch.zeros(count, 2 * top_k + 1, dtype=ref_logps.dtype, device=ref_logps.device)
    raw[:, top_k : 2 * top_k] = lam * torch.softmax(ref_logps, dim=-1)
    raw[:, 2 * top_k] = 1.0 - lam
    merged = torch.zeros_like(raw).scatter_add_(-1, first, raw)
    return torch.cat([merged, torch.zeros_like(merged[:, :1])], dim=-1)


def _support_cost(unit_embedding: CostEmbedding, ids: Tensor, kind: str) -> Tensor:
    """``(M, L+1, L+1)``: token costs on the slots, cost 1 between the rest atom and any slot."""
    token_cost = pairwise_token_cost(unit_embedding, ids, ids, kind=kind)  # (M, L, L)
    return torch.nn.functional.pad(token_cost, (0, 1, 0, 1), value=1.0).diagonal_scatter(
        torch.cat([token_cost.diagonal(dim1=-2, dim2=-1), token_cost.new_zeros(ids.shape[0], 1)], dim=-1),
        dim1=-2,
        dim2=-1,
    )


_WARNED_SETTINGS: set[tuple[int, float]] = set()  # (max_iter, epsilon) already warned about


@dataclass(frozen=True)
class SinkhornSettings:
    """The sinkhorn variant's settings and the defaults every entry point uses (meanings: ``PLOTLoss``)."""

    top_k: int = 32
    epsilon: float = 0.05
    max_iter: int = 200
    lam: float = 0.3
    debias: bool = False


SINKHORN_DEFAULTS = SinkhornSettings()


def tolerance(dtype: torch.dtype) -> float:
    """L1 marginal error at which the solve stops: 1e-5 in fp32 (its floor here is ~1e-6), 1e-9 in fp64."""
    return 1e-9 if dtype == torch.float64 else 1e-5


class PolicySupport(NamedTuple):
    """The policy's side of the problem computed elsewhere (the fused head, ``plot_lightning.heads``, inside
    its chunks of tokens): ``logps (B, T, 2K+1)`` fp32 policy log-probs of ``ids (B, T, 2K+1)`` long, the
    :func:`support_slots` of the policy top-K, the reference top-K and the labels (checked under the mask)."""

    logps: Tensor
    ids: Tensor


@fp32_math
def sinkhorn_transport_cost(
    logits: Tensor | PolicySupport,
    labels: Tensor,
    mask: Tensor,
    unit_embedding: Tensor,
    ref_topk_ids: Tensor,
    ref_topk_logps: Tensor,
    *,
    cost: str = "cosine",
    **settings,
) -> Tensor:
    """Per-example mean entropic transport cost ``(B,)`` between the policy and the anchored target.

    Arguments as :func:`plot_lightning.losses.plot.plot_transport_cost` (``mask`` bool only), except that
    ``logits`` may instead be the policy's log-probs on the support slots (:class:`PolicySupport`);
    ``settings`` are :class:`SinkhornSettings` fields (an unknown name is a TypeError).
    """
    options = SinkhornSettings(**settings)
    if isinstance(logits, PolicySupport):
        logps, ids = _given_support(logits, labels, mask, ref_topk_ids, ref_topk_logps, options.top_k)
    else:
        logps, ids = _support_from_logits(logits, labels, mask, unit_embedding, ref_topk_ids, ref_topk_logps,
                                          options, cost)  # fmt: skip
    return _mean_transport(logps, ids, ref_topk_logps[mask], mask, unit_embedding, cost, options)


def _support_from_logits(logits, labels, mask, unit_embedding, ref_topk_ids, ref_topk_logps, options, cost):
    """``(logps (M, L), ids (M, L))`` on the masked tokens, from the full ``(B, T, V)`` logits."""
    top_k = options.top_k
    _validate(logits, labels, mask, unit_embedding, ref_topk_ids, ref_topk_logps, top_k, options.lam, cost)
    dtype = compute_dtype(logits)
    policy_logits = logits[mask].to(dtype)  # (M, V): masked positions only
    check_finite("logits", policy_logits)
    policy_ids = (
        policy_logits.detach().topk(top_k, dim=-1).indices
    )  # (M, K): the support is not differentiated
    ids = support_slots(policy_ids, ref_topk_ids[mask], labels[mask])  # (M, L)
    # Gradients reach the logits through these L log-probs only (their log-softmax includes the whole row).
    return policy_logits.gather(-1, ids) - torch.logsumexp(policy_logits, dim=-1, keepdim=True), ids


def _given_support(support: PolicySupport, labels, mask, ref_topk_ids, ref_topk_logps, top_k: int):
    """``(logps (M, L), ids (M, L))`` on the masked tokens of a :class:`PolicySupport`, checked."""
    batch, length = mask.shape
    slots = 2 * top_k + 1
    check_shape("support_logps", support.logps, (batch, length, slots))
    check_shape("support_ids", support.ids, (batch, length, slots))
    check_shape("ref_topk_ids", ref_topk_ids, (batch, length, top_k))
    check_shape("ref_topk_logps", ref_topk_logps, (batch, length, top_k))
    _check_bool_mask(mask, batch, length)
    ids = support.ids[mask]  # (M, L)
    if not (torch.equal(ids[:, top_k:-1], ref_topk_ids[mask]) and torch.equal(ids[:, -1], labels[mask])):
        raise ValueError(
            f"'support_ids' (shape {tuple(support.ids.shape)}) must hold [policy top-K, 'ref_topk_ids', "
            "'labels'] on the masked tokens (support_slots)"
        )
    logps = support.logps[mask].to(compute_dtype(support.logps))
    check_finite("support_logps", logps)
    return logps, ids


def _mean_transport(support_logps, ids, ref_logps, mask, unit_embedding, cost, options: SinkhornSettings):
    """``(B,)`` mean over ``mask (B, T)`` of the per-token costs of the ``M`` masked tokens ``(M, L)``."""
    lam, epsilon, max_iter, debias = options.lam, options.epsilon, options.max_iter, options.debias
    dtype = support_logps.dtype
    ref_logps = ref_logps.to(dtype)  # (M, K)
    check_finite("ref_topk_logps", ref_logps)
    first, unique = _first_slots(ids)
    policy = _policy_masses(support_logps, unique)  # (M, L+1)
    target = _target_masses(ref_logps, first, lam)  # (M, L+1)
    ground_cost = _support_cost(as_cost_embedding(unit_embedding).to(dtype=dtype), ids, cost)  # (M, L+1, L+1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SinkhornConvergenceWarning)
        per_token = sinkhorn_cost(
            ground_cost,
            policy,
            target,
            epsilon=epsilon,
            max_iter=max_iter,
            tol=tolerance(dtype),
            debias=debias,
        )
    setting = (max_iter, float(epsilon))
    if caught and setting not in _WARNED_SETTINGS:
        # Called every training step: warn once per setting and process, not once per step (Python's own
        # once-per-location memory is reset by catch_warnings, so it cannot be relied on here).
        _WARNED_SETTINGS.add(setting)
        warnings.warn(
            f"PLOT sinkhorn: Sinkhorn did not converge within max_iter={max_iter} at epsilon={epsilon}; "
            "the loss uses the unconverged plan (raise max_iter or epsilon to silence this)",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    example = mask.nonzero()[:, 0]  # (M,) row of each masked token
    totals = per_token.new_zeros(mask.shape[0]).index_add(0, example, per_token)
    return totals / mask.sum(-1).to(dtype)
