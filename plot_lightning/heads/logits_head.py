r"""Logits head: per-token log-probs of the targets and the PLOT dirac cost from the model's full logits, in
one autograd function whose backward writes one gradient buffer (the unfused path, ``fused_head=False``).

For the model's output ``z (N, T, V)`` (position ``t < T-1`` predicts ``targets[:, t]``) and the masked
positions::

    logp_t = log_softmax(z_t)[y_t]                        every masked position
    cost_t = sum_v p_t(v) C(v, y_t)                       the masked positions of the cost rows
    dL/dz_t = g_logp (onehot(y_t) - p_t) + g_cost p_t (C(., y_t) - cost_t),   dL/dz_{T-1} = 0

Why one function. Computed apart (``token_logps`` on ``z[:, :-1]`` and ``dirac_transport_cost`` on its
chosen half), autograd builds three more full-size tensors in backward: the dirac kernel's zero-filled
``(B, T-1, V)`` gradient, the chosen-half slice's zero-filled ``(2B, T-1, V)`` expansion and their sum with
the log-prob gradient, and then the ``[:, :-1]`` slice's ``(2B, T, V)`` expansion. Each is a fresh
allocation and a pass over 100-200 MB at SmolLM2's vocabulary (``benchmarks/plot_overhead_counts.py``).
Here backward writes the ``(N, T, V)`` gradient once, block by block, adding the stored PLOT gradient rows
``p (C - W)`` (``(M, V)`` in the logits' dtype, kept from forward as in ``plot_dirac``) to their positions.
Forward reads the probabilities for the cost from the log-softmax it computes for the log-probs.

It reads what the model returns as ``logits``, after whatever the architecture does to its lm_head's output
(Gemma 2/3 soft-capping, Cohere's ``logit_scale``, Granite's ``logits_scaling``): its log-probs and PLOT costs
are those of the model's own distribution on every architecture (``tests/plot_lightning/heads/test_exactness.py``).

The math runs in fp32 (fp64 for fp64 logits) with autocast off, whatever the logits' dtype; the gradient is
returned in the logits' dtype. Memory besides the kept gradient rows: one ``(chunk, V)`` fp32 block.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.losses.logprobs import DEFAULT_CHUNK, masked_logps, position_blocks
from plot_lightning.losses.plot_cost import COST_KINDS, CostEmbedding, as_cost_embedding, check_cost_embedding
from plot_lightning.losses.plot_dirac import dirac_cost_rows, dirac_from_cost_rows
from plot_lightning.losses.precision import fp32_math
from plot_lightning.section_timer import NO_TIMER, SectionTimer
from plot_lightning.tensor_checks import check_labels_in_range, check_shape


def _compute_dtype(logits: Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


class LogitsHeadFunction(torch.autograd.Function):
    """``forward(logits (N,T,V), targets (N,T-1), cost_mask (N,T-1) bool, unit_embedding (V,d)|None, cost,
    chunk, keep_grad, timer) -> (logps (N,T-1), costs (M,))``: ``logps`` at every position (meaningful where masked),
    ``costs`` at the ``M`` True positions of ``cost_mask`` in row-major order."""

    @staticmethod
    def forward(ctx, logits, targets, cost_mask, unit_embedding, cost, chunk, keep_grad, timer):
        dtype = _compute_dtype(logits)
        batch, length = targets.shape
        aligned = logits[:, :-1]  # (N, T-1, V) strided view, never copied whole
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
                with timer.section(logits.device):
                    offset = _block_costs(
                        log_probs, labels, picked, embedding, cost, costs, grad_rows, offset
                    )
        ctx.chunk, ctx.dtype, ctx.store, ctx.timer = chunk, dtype, store, timer
        ctx.save_for_backward(logits, targets, cost_mask, grad_rows if store else None)
        return logps, costs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_logps, grad_costs):
        logits, targets, cost_mask, grad_rows = ctx.saved_tensors
        batch, length = targets.shape
        grad = torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)  # (N, T, V), written once
        grad[:, -1].zero_()  # the last position predicts nothing
        aligned, aligned_grad = logits[:, :-1], grad[:, :-1]
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
                with ctx.timer.section(logits.device):
                    _add_cost_grads(block_grad, picked, grad_rows[part], grad_costs[part])
            offset += n
            aligned_grad[block] = block_grad
        return grad, None, None, None, None, None, None, None


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
def logits_head(
    logits: Tensor,
    targets: Tensor,
    mask: Tensor,
    *,
    unit_embedding: Tensor | CostEmbedding | None = None,
    cost_rows: range = range(0),
    cost: str = "cosine",
    chunk: int = DEFAULT_CHUNK,
    timer: SectionTimer = NO_TIMER,
) -> tuple[Tensor, Tensor | None]:
    """Per-token log-probs of ``targets`` and PLOT dirac costs from the model's full logits.

    Args:
        logits: ``(N, T, V)`` the model's output logits, any float dtype, NOT shifted: position ``t < T-1``
            predicts ``targets[:, t]`` (the module's ``aligned`` tensors); the last position gets gradient 0.
        targets: ``(N, T-1)`` long, in ``[0, V)`` where ``mask`` is True.
        mask: ``(N, T-1)`` bool, True on the response tokens that count.
        unit_embedding: ``(V, d)`` frozen unit-row cost embedding (``normalise_embedding``); needed when
            ``cost_rows`` is not empty.
        cost_rows: the rows that get a PLOT dirac cost (e.g. ``range(0, B)``: the chosen half).
        cost: ``"cosine"`` or ``"l2"``, as :mod:`plot_lightning.losses.plot_dirac`.
        chunk: positions per fp32 block (as ``token_logps``).
        timer: times the PLOT-only work (the costs in forward, their gradient in backward) for
            ``perf/plot_share`` (:mod:`plot_lightning.section_timer`).

    Returns:
        ``(logps (N, T-1), costs (N, T-1) or None)``: fp32 (fp64 for fp64 logits), 0 where ``mask`` is False
        (``costs`` also 0 outside ``cost_rows``); ``costs`` is None when ``cost_rows`` is empty.

    Raises:
        ValueError: naming the argument and its shape, for bad shapes or options, ids out of range, or
            non-finite log-probs (NaN/inf logits) on masked tokens.
    """
    check_shape("logits", logits, (None, None, None))
    rows, length, vocab = logits.shape
    if not logits.is_floating_point():
        raise ValueError(f"'logits' (shape {tuple(logits.shape)}) must be floating point, got {logits.dtype}")
    check_shape("targets", targets, (rows, length - 1))
    check_shape("mask", mask, (rows, length - 1))
    if mask.dtype != torch.bool:
        raise ValueError(f"'mask' (shape {tuple(mask.shape)}) must be bool, got {mask.dtype}")
    if cost not in COST_KINDS:
        raise ValueError(f"'cost' must be one of {COST_KINDS}, got {cost!r}")
    if chunk < 1:
        raise ValueError(f"'chunk' must be >= 1, got {chunk}")
    with_cost = len(cost_rows) > 0
    if with_cost:
        if cost_rows.step != 1 or cost_rows.start < 0 or cost_rows.stop > rows:
            raise ValueError(f"'cost_rows' must be a contiguous range within [0, {rows}), got {cost_rows}")
        if unit_embedding is None:
            raise ValueError("'unit_embedding' is needed when 'cost_rows' is not empty")
        check_cost_embedding("unit_embedding", unit_embedding, vocab)
    check_labels_in_range("targets", targets, vocab, mask)
    safe_targets = targets.masked_fill(~mask, 0).long()
    cost_mask = torch.zeros_like(mask)
    if with_cost:
        cost_mask[cost_rows.start : cost_rows.stop] = mask[cost_rows.start : cost_rows.stop]
    keep_grad = torch.is_grad_enabled() and logits.requires_grad
    logps, costs = LogitsHeadFunction.apply(
        logits, safe_targets, cost_mask, unit_embedding if with_cost else None, cost, chunk, keep_grad, timer
    )
    logps = masked_logps(logps, mask, logits.shape)
    if not with_cost:
        return logps, None
    token_costs = logps.new_zeros(mask.shape).index_put(cost_mask.nonzero(as_tuple=True), costs)
    return logps, token_costs
