r"""Fused output head: per-token log-probs of the targets and the PLOT dirac cost straight from the final
hidden states, in chunks of tokens, never materialising the ``(N, T, V)`` logits in any dtype.

For the ``M`` selected (response) positions with hidden state ``h_t (d,)`` and target ``y_t``::

    z_t = W h_t + b                      (V,)   recomputed per chunk, never stored
    logp_t = z_t[y_t] - logsumexp(z_t)
    cost_t = sum_v p_t(v) C(v, y_t)      p_t = softmax(z_t), C the frozen cosine / L2 token cost

Gradients (``g`` the upstream gradients of ``logp`` and ``cost``)::

    dL/dz_t = g_logp (onehot(y_t) - p_t) + g_cost p_t (C(., y_t) - cost_t)
    dL/dh_t = dL/dz_t W,   dL/dW = sum_t dL/dz_t^T h_t,   dL/db = sum_t dL/dz_t

Backward recomputes each chunk's logits and cost row (two ``(chunk, d) @ (d, V)`` products) and then takes
two more products for the gradients, so the extra memory is ``O(chunk * V)``, not ``O(M * V)``; what is saved
for backward is the hidden states, ``logsumexp`` and ``cost`` (``O(M * d + M)``). The math runs in fp32 (fp64
for fp64 inputs) with autocast disabled, whatever the training precision; gradients are returned in the
inputs' dtypes (the weight gradient is accumulated in fp32 first).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from plot_lightning.losses.plot_cost import COST_KINDS
from plot_lightning.losses.plot_dirac import _cost_rows
from plot_lightning.tensor_checks import check_shape

DEFAULT_CHUNK = 512  # tokens per chunk: 512 x 49,152 vocab x 4 bytes = 100 MB per (chunk, V) fp32 block


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _chunks(count: int, cost_count: int, size: int) -> Iterator[tuple[slice, bool]]:
    """``(rows, with_cost)``: chunks of at most ``size`` rows; none straddles the ``cost_count`` boundary."""
    for begin, end, with_cost in ((0, cost_count, True), (cost_count, count, False)):
        for start in range(begin, end, size):
            yield slice(start, min(start + size, end)), with_cost


def _chunk_logits(hidden: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``(n, V)`` logits ``hidden (n, d) @ weight (V, d)^T + bias``, in the compute dtype."""
    if bias is None:
        return hidden @ weight.T
    return torch.addmm(bias, hidden, weight.T)


class FusedHeadFunction(torch.autograd.Function):
    """``forward(hidden (M,d), weight (V,d), bias (V,)|None, targets (M,), unit_embedding (V,d)|None,
    cost_count, cost, chunk) -> (logps (M,), costs (M,))``; ``costs`` is 0 beyond row ``cost_count``."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, unit_embedding, cost_count, cost, chunk):
        dtype = _compute_dtype(hidden, weight)
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            weight_c = weight.to(dtype)
            bias_c = None if bias is None else bias.to(dtype)
            embedding = None if unit_embedding is None else unit_embedding.to(dtype)
            count = hidden.shape[0]
            logps = torch.empty(count, dtype=dtype, device=hidden.device)
            lse = torch.empty(count, dtype=dtype, device=hidden.device)
            costs = torch.zeros(count, dtype=dtype, device=hidden.device)
            for rows, with_cost in _chunks(count, cost_count, chunk):
                logits = _chunk_logits(hidden[rows].to(dtype), weight_c, bias_c)  # (n, V)
                lse[rows] = torch.logsumexp(logits, dim=-1)
                logps[rows] = logits.gather(1, targets[rows, None]).squeeze(1) - lse[rows]
                if with_cost:
                    probs = logits.sub_(lse[rows, None]).exp_()  # in place: the logits are not needed again
                    cost_rows = _cost_rows(embedding, targets[rows], cost)  # (n, V)
                    costs[rows] = torch.bmm(probs.unsqueeze(1), cost_rows.unsqueeze(2)).view(-1)
                del logits
        ctx.save_for_backward(hidden, weight, bias, targets, embedding, lse, costs)
        ctx.cost_count, ctx.cost, ctx.chunk, ctx.dtype = cost_count, cost, chunk, dtype
        return logps, costs

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_logps, grad_costs):
        hidden, weight, bias, targets, embedding, lse, costs = ctx.saved_tensors
        dtype = ctx.dtype
        want_hidden, want_weight, want_bias = ctx.needs_input_grad[:3]
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            weight_c = weight.to(dtype)
            bias_c = None if bias is None else bias.to(dtype)
            grad_hidden = torch.empty_like(hidden) if want_hidden else None
            grad_weight = torch.zeros_like(weight_c) if want_weight else None
            grad_bias = torch.zeros_like(bias_c) if want_bias else None
            g_logp = torch.zeros_like(lse) if grad_logps is None else grad_logps.to(dtype)
            g_cost = torch.zeros_like(lse) if grad_costs is None else grad_costs.to(dtype)
            for rows, with_cost in _chunks(hidden.shape[0], ctx.cost_count, ctx.chunk):
                h = hidden[rows].to(dtype)  # (n, d)
                dz = _chunk_logits(h, weight_c, bias_c).sub_(lse[rows, None]).exp_()  # p (n, V)
                if with_cost:
                    cost_rows = _cost_rows(embedding, targets[rows], ctx.cost)  # (n, V)
                    cost_rows.sub_(costs[rows, None]).mul_(dz).mul_(g_cost[rows, None])  # g_c p (C - W)
                dz.mul_(-g_logp[rows, None]).scatter_add_(1, targets[rows, None], g_logp[rows, None])
                if with_cost:
                    dz.add_(cost_rows)
                    del cost_rows
                if want_hidden:
                    grad_hidden[rows] = (dz @ weight_c).to(hidden.dtype)
                if want_weight:
                    grad_weight.addmm_(dz.T, h)
                if want_bias:
                    grad_bias.add_(dz.sum(dim=0))
                del dz
        grad_weight = None if grad_weight is None else grad_weight.to(weight.dtype)
        grad_bias = None if grad_bias is None else grad_bias.to(bias.dtype)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None


@dataclass
class FusedOutputs:
    """Per-token outputs of the fused head, aligned with ``targets (N, T)``; 0 where the mask is False.

    Attributes:
        logps: ``(N, T)`` fp32 log-probs of the targets (differentiable).
        costs: ``(N, T)`` fp32 PLOT dirac costs ``W_t`` on rows ``[0, cost_rows)``, 0 elsewhere (differentiable).
        mean_logits: ``(N, T)`` fp32 mean logit over the vocabulary, detached (TRL's ``logits/*`` metric).
    """

    logps: Tensor
    costs: Tensor
    mean_logits: Tensor


def _check(hidden, weight, bias, targets, mask, unit_embedding, cost_rows, cost, chunk) -> None:
    check_shape("hidden", hidden, (None, None, None))
    rows, length, width = hidden.shape
    check_shape("weight", weight, (None, width))
    if bias is not None:
        check_shape("bias", bias, (weight.shape[0],))
    check_shape("targets", targets, (rows, length))
    check_shape("mask", mask, (rows, length))
    if mask.dtype != torch.bool:
        raise ValueError(f"'mask' (shape {tuple(mask.shape)}) must be bool, got {mask.dtype}")
    if unit_embedding is None and cost_rows:
        raise ValueError(f"'cost_rows' = {cost_rows} needs a 'unit_embedding' (V, d)")
    if unit_embedding is not None:
        check_shape("unit_embedding", unit_embedding, (weight.shape[0], None))
    if not 0 <= cost_rows <= rows:
        raise ValueError(f"'cost_rows' must lie in [0, {rows}], got {cost_rows}")
    if cost not in COST_KINDS:
        raise ValueError(f"'cost' must be one of {COST_KINDS}, got {cost!r}")
    if chunk < 1:
        raise ValueError(f"'chunk' must be >= 1, got {chunk}")
    vocab = weight.shape[0]
    picked = targets[mask]
    if picked.numel() and (int(picked.min()) < 0 or int(picked.max()) >= vocab):
        raise ValueError(
            f"'targets' (shape {tuple(targets.shape)}) hold ids outside [0, {vocab}) under 'mask'"
        )


def fused_head(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    targets: Tensor,
    mask: Tensor,
    *,
    unit_embedding: Tensor | None = None,
    cost_rows: int = 0,
    cost: str = "cosine",
    chunk: int = DEFAULT_CHUNK,
) -> FusedOutputs:
    """Log-probs of ``targets`` and PLOT dirac costs from hidden states, without full logits.

    Args:
        hidden: ``(N, T, d)`` final hidden states aligned with ``targets`` (position t predicts targets[:, t]).
        weight: ``(V, d)`` output embedding (lm_head weight; the input embedding for tied models).
        bias: ``(V,)`` lm_head bias or None.
        targets: ``(N, T)`` long target ids, in ``[0, V)`` where ``mask`` is True.
        mask: ``(N, T)`` bool, True on the response tokens that count.
        unit_embedding: ``(V, d)`` frozen unit-row cost embedding (``normalise_embedding``); needed when
            ``cost_rows > 0``.
        cost_rows: the PLOT cost is computed for rows ``[0, cost_rows)`` only (e.g. the chosen half).
        cost: ``"cosine"`` or ``"l2"``, as :mod:`plot_lightning.losses.plot_dirac`.
        chunk: tokens per chunk (peak extra memory about ``3 * chunk * V`` fp32 values).

    Raises:
        ValueError: bad shapes or options, targets out of range, or non-finite log-probs / costs.
    """
    _check(hidden, weight, bias, targets, mask, unit_embedding, cost_rows, cost, chunk)
    row_idx, time_idx = mask.nonzero(as_tuple=True)  # (M,), (M,) row-major: rows [0, cost_rows) come first
    cost_count = int((row_idx < cost_rows).sum())
    selected = hidden[row_idx, time_idx]  # (M, d)
    token_targets = targets[row_idx, time_idx].long()
    logps, costs = FusedHeadFunction.apply(
        selected, weight, bias, token_targets, unit_embedding, cost_count, cost, chunk
    )
    for name, values in (("log-probs", logps), ("costs", costs)):
        if not bool(torch.isfinite(values.detach()).all()):
            raise ValueError(
                f"fused head: non-finite {name} on masked tokens (hidden shape {tuple(hidden.shape)}, "
                f"dtype {hidden.dtype}): NaN/inf hidden states or weights"
            )
    with torch.no_grad(), torch.autocast(device_type=hidden.device.type, enabled=False):
        dtype = logps.dtype
        mean_row = weight.detach().to(dtype).mean(dim=0)  # mean_v z_v = h . mean_v W_v + mean(b)
        offset = 0.0 if bias is None else bias.detach().to(dtype).mean()
        means = selected.detach().to(dtype) @ mean_row + offset
    shape = targets.shape
    return FusedOutputs(
        logps=_scatter(logps, row_idx, time_idx, shape),
        costs=_scatter(costs, row_idx, time_idx, shape),
        mean_logits=_scatter(means, row_idx, time_idx, shape),
    )


def _scatter(values: Tensor, row_idx: Tensor, time_idx: Tensor, shape: torch.Size) -> Tensor:
    """``(N, T)`` tensor holding ``values (M,)`` at ``(row_idx, time_idx)`` and 0 elsewhere (differentiable)."""
    return values.new_zeros(shape).index_put((row_idx, time_idx), values)
