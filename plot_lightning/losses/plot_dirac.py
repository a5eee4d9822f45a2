"""Exact PLOT transport cost to a point mass (the ``dirac`` variant): the math and the logits kernel.

Optimal transport from ``p_t = softmax(z_t)`` to the point mass ``δ_{y_t}`` has a single feasible plan (all
mass goes to ``y_t``), so the distance is exact and linear in ``p_t``::

    W_t = sum_v p_t(v) C(v, y_t),            dW_t / dz_t(v) = p_t(v) (C(v, y_t) - W_t)

with ``C`` the cosine or L2 cost of :mod:`plot_lightning.losses.plot_cost`. :func:`dirac_rows` is the one
per-chunk math: :class:`DiracLogitsFunction` (from full logits) and the fused head (from hidden states) call it.

:class:`DiracLogitsFunction` computes the targets' log-probs and the chosen positions' costs in one pass over
the logits; its backward writes the logits gradient once, block by block, adding the rows ``p (C - W)`` kept
from forward (``(M, V)`` in the logits' dtype, M = cost tokens). The math runs in fp32 (fp64 for fp64
logits); memory besides the kept rows: one ``(chunk, V)`` block.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.losses.logprobs import DEFAULT_CHUNK, masked_logps, position_blocks
from plot_lightning.losses.plot_cost import COST_KINDS, CostEmbedding, as_cost_embedding
from plot_lightning.losses.precision import compute_dtype, fp32_math
from plot_lightning.tensor_checks import check_choice


def dirac_cost_rows(
    unit_embedding: Tensor | CostEmbedding, targets: Tensor, cost: str, out: Tensor | None = None
) -> Tensor:
    """``(n, V)`` cost from every vocabulary token to each of ``targets (n,)``, written into ``out``.

    Cosine: ``1 - ê_y · ê_v`` (one product of the negated target rows, then one in-place pass), exactly 0 at
    ``v = y``; in ``[0, 2]`` up to rounding. L2 clamps first: ``sqrt`` of a rounding-negative value is NaN.
    """
    cost_rows = (
        as_cost_embedding(unit_embedding).negated_similarity(targets, out=out).add_(1.0)
    )  # (n, V) 1 - S
    if cost == "l2":
        cost_rows.clamp_(min=0.0)
    cost_rows.scatter_(1, targets.unsqueeze(1), 0.0)  # rounding leaves ~1e-7 at v = y; the cost is 0
    if cost == "l2":
        cost_rows.mul_(2.0).sqrt_()  # ||ê_v - ê_y|| = sqrt(2 - 2 ê_v·ê_y)
    return cost_rows


def dirac_from_cost_rows(
    probs: Tensor, cost_rows: Tensor, *, grad_rows: bool
) -> tuple[Tensor, Tensor | None]:
    """``W (n,) = sum_v p_v C(v, y)`` in ``[0, 2]`` and, with ``grad_rows``, ``dW / dz = p (C - W) (n, V)``, made
    in place in ``cost_rows`` (``(n, V)``, from :func:`dirac_cost_rows`); ``probs (n, V)`` softmax rows."""
    transport = torch.bmm(probs.unsqueeze(1), cost_rows.unsqueeze(2)).view(-1)  # (n,) sum_v p C
    if not grad_rows:
        return transport.clamp_(0.0, 2.0), None
    grads = cost_rows.sub_(transport.unsqueeze(1)).mul_(probs)  # p (C - W), in place
    return transport.clamp_(0.0, 2.0), grads


def dirac_rows(
    probs: Tensor,
    unit_embedding: Tensor | CostEmbedding,
    targets: Tensor,
    cost: str,
    *,
    grad_rows: bool,
    out: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Exact dirac cost of each row of ``probs`` and, with ``grad_rows``, its gradient rows w.r.t. the logits.

    Args: ``probs (n, V)`` softmax rows in the compute dtype, ``unit_embedding (V, d)`` unit rows in the same
    dtype, ``targets (n,)`` long, ``cost`` as :data:`COST_KINDS`; ``out (n, V)`` an optional buffer for the
    cost rows (the gradient rows are made in it in place).
    Returns ``(W (n,) in [0, 2], p (C - W) (n, V) or None)``, as :func:`dirac_from_cost_rows`. The product
    reads the whole ``(V, d)`` embedding whatever ``n``, so call it once per chunk of tokens, not per few rows.
    """
    return dirac_from_cost_rows(
        probs, dirac_cost_rows(unit_embedding, targets, cost, out=out), grad_rows=grad_rows
    )


class DiracLogitsFunction(torch.autograd.Function):
    """``forward(logits (N,T,V), targets (N,S), cost_mask (N,S) bool, unit_embedding (V,d)|None, cost, chunk,
    keep_grad) -> (logps (N,S), costs (M,))`` with ``S <= T``: position ``t < S`` of ``logits`` predicts
    ``targets[:, t]`` (positions ``>= S`` get gradient 0); ``logps`` at every position (meaningful where
    masked), ``costs`` at the ``M`` True positions of ``cost_mask`` in row-major order."""

    @staticmethod
    def forward(ctx, logits, targets, cost_mask, unit_embedding, cost, chunk, keep_grad):
        dtype = compute_dtype(logits)
        batch, length = targets.shape
        aligned = logits[:, :length]  # (N, S, V) strided view, never copied whole
        embedding = (
            None if unit_embedding is None else as_cost_embedding(unit_embedding).to(logits.device, dtype)
        )
        count = int(cost_mask.sum()) if embedding is not None else 0
        store = keep_grad and count > 0
        grad_rows = logits.new_empty((count, logits.shape[-1])) if store else None  # (M, V) p (C - W)
        logps = torch.empty(batch, length, dtype=dtype, device=logits.device)
        costs = torch.empty(count, dtype=dtype, device=logits.device)
        offset = 0
        for block in position_blocks(batch, length, chunk):
            log_probs = torch.log_softmax(aligned[block].to(dtype), dim=-1)  # (r, t, V)
            labels = targets[block]
            logps[block] = log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            picked = cost_mask[block]
            if count and bool(picked.any()):
                # blocks run in row-major order, and so do the cost tokens: they fill rows [offset, offset + n)
                offset = _block_costs(log_probs, labels, picked, embedding, cost, costs, grad_rows, offset)
        ctx.chunk, ctx.dtype, ctx.store = chunk, dtype, store
        ctx.save_for_backward(logits, targets, cost_mask, grad_rows if store else None)
        return logps, costs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_logps, grad_costs):
        logits, targets, cost_mask, grad_rows = ctx.saved_tensors
        batch, length = targets.shape
        grad = torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)  # (N, T, V), written once
        grad[:, length:].zero_()  # positions past the targets predict nothing
        aligned, aligned_grad = logits[:, :length], grad[:, :length]
        offset = 0
        for block in position_blocks(batch, length, ctx.chunk):
            weight = (
                torch.zeros(targets[block].shape, dtype=ctx.dtype, device=logits.device)
                if grad_logps is None
                else grad_logps[block].to(ctx.dtype)
            ).unsqueeze(-1)
            block_grad = torch.softmax(aligned[block].to(ctx.dtype), dim=-1).mul_(-weight)
            block_grad.scatter_add_(-1, targets[block].unsqueeze(-1), weight)
            picked = cost_mask[block]
            n = int(picked.sum()) if ctx.store else 0
            if n and grad_costs is not None:
                part = slice(offset, offset + n)
                _add_cost_grads(block_grad, picked, grad_rows[part], grad_costs[part])
            offset += n
            aligned_grad[block] = block_grad
        return grad, None, None, None, None, None, None


_TEMP_ELEMENTS = 2**21  # elements per (rows, V) temporary: 8 MB fp32, below glibc's mmap threshold


def _slices(count: int, vocab: int):
    """Slices of at most ``_TEMP_ELEMENTS // vocab`` rows covering ``range(count)``.

    A fresh ``(n, V)`` temporary (75 MB for 382 tokens at SmolLM2's vocabulary) is a new memory mapping whose
    first touch costs page faults on every step; temporaries of this size come from reused heap memory.
    """
    step = max(1, _TEMP_ELEMENTS // vocab)
    for start in range(0, count, step):
        yield slice(start, min(start + step, count))


def _block_costs(log_probs, labels, picked, embedding, cost, costs, grad_rows, offset: int) -> int:
    """The dirac costs (and stored gradient rows) of the ``picked (r, t)`` positions of one block's
    ``log_probs (r, t, V)``, written at ``[offset, offset + n)``; returns ``offset + n``.

    One cost-row product for the whole block (it reads the whole embedding whatever the row count), written
    straight into the stored gradient rows when the dtypes agree; the probabilities in slices (:func:`_slices`).
    """
    vocab = log_probs.shape[-1]
    positions = picked.reshape(-1).nonzero().squeeze(1)
    flat, targets = log_probs.view(-1, vocab), labels.reshape(-1)[positions]
    count, store = positions.shape[0], grad_rows is not None
    stored = None if grad_rows is None else grad_rows[offset : offset + count]
    out = stored if store and stored.dtype == log_probs.dtype else None
    cost_rows = dirac_cost_rows(embedding, targets, cost, out=out)  # (n, V)
    for part in _slices(count, vocab):
        probs = flat[positions[part]].exp_()  # (n_part, V) p
        rows = slice(offset + part.start, offset + part.stop)
        costs[rows], grads = dirac_from_cost_rows(probs, cost_rows[part], grad_rows=store)
        if store and out is None:
            stored[part].copy_(grads)
    return offset + count


def _add_cost_grads(block_grad: Tensor, picked: Tensor, grad_rows: Tensor, upstream: Tensor) -> None:
    """``block_grad (r, t, V) += upstream * grad_rows`` at the ``picked (r, t)`` positions, in place.

    The stored rows stay intact (a retained graph may run backward again); they are scaled in slices
    (:func:`_slices`).
    """
    flat_grad = block_grad.view(-1, block_grad.shape[-1])
    positions = picked.reshape(-1).nonzero().squeeze(1)  # block positions of the cost tokens, in order
    for part in _slices(positions.shape[0], block_grad.shape[-1]):
        scaled = grad_rows[part].to(block_grad.dtype) * upstream[part].to(block_grad.dtype).unsqueeze(1)
        flat_grad.index_add_(0, positions[part], scaled)


@fp32_math
def dirac_token_costs(
    logits: Tensor,
    labels: Tensor,
    mask: Tensor,
    unit_embedding: Tensor | CostEmbedding,
    *,
    cost: str = "cosine",
    chunk_size: int = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor]:
    """Per-token exact cost ``W_t`` at the masked positions, in row-major order of ``mask``.

    Args: ``logits (B,T,V)`` aligned with ``labels (B,T)`` (long, in ``[0, V)`` where masked), any float
    dtype; ``mask (B,T)`` bool; ``unit_embedding (V,d)`` unit rows (see ``normalise_embedding``);
    ``chunk_size``: positions per fp32 block.
    Returns ``(costs (N,), batch_idx (N,))``: fp32 costs (fp64 for fp64 logits) in ``[0, 2]`` and the example
    each masked token belongs to. ValueError for an unknown ``cost`` or NaN/inf logits on masked tokens.
    """
    check_choice("cost", cost, COST_KINDS)
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be >= 1, got {chunk_size}")
    keep_grad = torch.is_grad_enabled() and logits.requires_grad
    targets = labels.masked_fill(~mask, 0).long()
    logps, costs = DiracLogitsFunction.apply(
        logits, targets, mask, unit_embedding, cost, chunk_size, keep_grad
    )
    masked_logps(logps, mask, logits.shape)  # NaN/inf logits on a masked token: a ValueError, not a NaN cost
    return costs, mask.nonzero(as_tuple=True)[0]


def dirac_transport_cost(logits: Tensor, labels: Tensor, mask: Tensor, unit_embedding, **options) -> Tensor:
    """``(B,)`` per-example mean of ``W_t`` over the masked tokens: :func:`dirac_token_costs` with the same
    arguments (``options``: its ``cost`` and ``chunk_size``), averaged per example."""
    costs, batch_idx = dirac_token_costs(logits, labels, mask, unit_embedding, **options)
    batch = logits.shape[0]
    totals = torch.zeros(batch, dtype=costs.dtype, device=costs.device).index_add(0, batch_idx, costs)
    counts = mask.sum(dim=-1).to(costs.dtype).clamp(min=1.0)
    return totals / counts
