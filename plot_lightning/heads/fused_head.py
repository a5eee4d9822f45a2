r"""Fused output head: per-token log-probs of the targets, the PLOT dirac cost and the PLOT sinkhorn support
straight from the final hidden states, in chunks of tokens, never materialising the ``(N, T, V)`` logits.

For the ``M`` selected (response) positions with hidden state ``h_t (d,)`` and target ``y_t``::

    z_t = W h_t + b                      (V,)   recomputed per chunk, never stored
    logp_t = z_t[y_t] - logsumexp(z_t)
    cost_t = sum_v p_t(v) C(v, y_t)      p_t = softmax(z_t), C the frozen cosine / L2 token cost
    S_t = [topK(z_t), extra_t, y_t]      (L,) support ids (sinkhorn: extra_t = the reference's top-K)
    slogp_t = z_t[S_t] - logsumexp(z_t)  (L,) support log-probs; the top-K selection is not differentiated

Gradients (``g`` the upstream gradients of ``logp``, ``cost`` and ``slogp``)::

    dL/dz_t = g_logp (onehot(y_t) - p_t) + g_cost p_t (C(., y_t) - cost_t) + sum_s g_s (onehot(S_ts) - p_t)
    dL/dh_t = dL/dz_t W,   dL/dW = sum_t dL/dz_t^T h_t,   dL/db = sum_t dL/dz_t

This is exactly the gradient the unfused path gets through ``log_softmax(logits).gather(S)`` (the sinkhorn
loss differentiates the support log-probs, not the top-K choice). Backward recomputes each chunk's logits and
cost row (two ``(chunk, d) @ (d, V)`` products) and then takes two more products for the gradients, so the
extra memory is ``O(chunk * V)``, not ``O(M * V)``; what is saved for backward is the hidden states,
``logsumexp``, ``cost`` and the support ids (``O(M * d + M * L)``). The math runs in fp32 (fp64 for fp64
inputs) with autocast disabled, whatever the training precision; gradients are returned in the inputs'
dtypes (the weight gradient is accumulated in fp32 first).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from plot_lightning.heads.checks import check_fused_inputs, check_support_inputs
from plot_lightning.losses.plot_cost import CostEmbedding, as_cost_embedding
from plot_lightning.losses.plot_dirac import dirac_rows
from plot_lightning.losses.precision import compute_dtype

DEFAULT_CHUNK = 512  # tokens per chunk: 512 x 49,152 vocab x 4 bytes = 100 MB per (chunk, V) fp32 block
BLOCK_ELEMENTS = 1 << 25  # at most 128 MiB per (chunk, V) fp32 block: 128 tokens at Gemma 3's V = 262,144


@dataclass(frozen=True)
class TokenLayout:
    """Which of the ``M`` selected tokens (row-major) get what: the dirac cost on tokens
    ``[cost_start, cost_end)``, the support (top-``top_k`` + extra ids + target) on tokens ``[0, support_end)``."""

    cost_start: int = 0
    cost_end: int = 0
    support_end: int = 0
    top_k: int = 0
    cost: str = "cosine"

    def chunks(self, count: int, size: int) -> Iterator[tuple[slice, bool, bool]]:
        """``(tokens, with_cost, with_support)``: chunks of at most ``size``; none straddles a boundary."""
        bounds = sorted({0, count, self.cost_start, self.cost_end, self.support_end})
        for begin, end in zip(bounds, bounds[1:], strict=False):
            with_cost = self.cost_start <= begin < self.cost_end
            for start in range(begin, end, size):
                yield slice(start, min(start + size, end)), with_cost, begin < self.support_end


def _chunk_logits(hidden: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``(n, V)`` logits ``hidden (n, d) @ weight (V, d)^T + bias``, in the compute dtype."""
    if bias is None:
        return hidden @ weight.T
    return torch.addmm(bias, hidden, weight.T)


def _support_ids(logits: Tensor, top_k: int, extra: Tensor, targets: Tensor) -> Tensor:
    """``(n, L)`` ids ``[topK(logits), extra (n, E), targets (n,)]`` (the sinkhorn slot layout)."""
    top = logits.topk(top_k, dim=-1).indices if top_k else extra.new_zeros(extra.shape[0], 0)
    return torch.cat([top, extra, targets.unsqueeze(1)], dim=1)


class FusedHeadFunction(torch.autograd.Function):
    """``forward(hidden (M,d), weight (V,d), bias (V,)|None, targets (M,), unit_embedding (V,d)|None,
    extra_ids (S,E), layout, chunk) -> (logps (M,), costs (M,), support_logps (S,L), support_ids (S,L))``
    with ``S = layout.support_end``, ``L = top_k + E + 1``; ``costs`` is 0 outside the layout's cost tokens."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, unit_embedding, extra_ids, layout, chunk):
        dtype = compute_dtype(hidden, weight)
        count, device = hidden.shape[0], hidden.device
        width = layout.top_k + extra_ids.shape[1] + 1
        with torch.autocast(device_type=device.type, enabled=False):
            weight_c = weight.to(dtype)
            bias_c = None if bias is None else bias.to(dtype)
            embedding = (
                None if unit_embedding is None else as_cost_embedding(unit_embedding).to(device, dtype)
            )
            logps = torch.empty(count, dtype=dtype, device=device)
            lse = torch.empty(count, dtype=dtype, device=device)
            costs = torch.zeros(count, dtype=dtype, device=device)
            support_logps = torch.empty(layout.support_end, width, dtype=dtype, device=device)
            support_ids = torch.empty(layout.support_end, width, dtype=torch.long, device=device)
            for rows, with_cost, with_support in layout.chunks(count, chunk):
                logits = _chunk_logits(hidden[rows].to(dtype), weight_c, bias_c)  # (n, V)
                lse[rows] = torch.logsumexp(logits, dim=-1)
                logps[rows] = logits.gather(1, targets[rows, None]).squeeze(1) - lse[rows]
                if with_support:
                    support_ids[rows] = _support_ids(logits, layout.top_k, extra_ids[rows], targets[rows])
                    support_logps[rows] = logits.gather(1, support_ids[rows]) - lse[rows, None]
                if with_cost:
                    probs = logits.sub_(lse[rows, None]).exp_()  # in place: the logits are not needed again
                    costs[rows] = dirac_rows(probs, embedding, targets[rows], layout.cost, grad_rows=False)[0]
                del logits
        ctx.save_for_backward(hidden, weight, bias, targets, lse, support_ids)
        ctx.embedding = embedding  # frozen; not a tensor autograd could version-check
        ctx.layout, ctx.chunk, ctx.dtype = layout, chunk, dtype
        ctx.mark_non_differentiable(support_ids)
        return logps, costs, support_logps, support_ids

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_logps, grad_costs, grad_support, _grad_ids):
        hidden, weight, bias, targets, lse, support_ids = ctx.saved_tensors
        embedding = ctx.embedding
        dtype, layout = ctx.dtype, ctx.layout
        want_hidden, want_weight, want_bias = ctx.needs_input_grad[:3]
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            weight_c = weight.to(dtype)
            bias_c = None if bias is None else bias.to(dtype)
            grad_hidden = torch.empty_like(hidden) if want_hidden else None
            grad_weight = torch.zeros_like(weight_c) if want_weight else None
            grad_bias = torch.zeros_like(bias_c) if want_bias else None
            g_logp = torch.zeros_like(lse) if grad_logps is None else grad_logps.to(dtype)
            g_cost = torch.zeros_like(lse) if grad_costs is None else grad_costs.to(dtype)
            g_support = None if grad_support is None else grad_support.to(dtype)
            for rows, with_cost, with_support in layout.chunks(hidden.shape[0], ctx.chunk):
                h = hidden[rows].to(dtype)  # (n, d)
                dz = _chunk_logits(h, weight_c, bias_c).sub_(lse[rows, None]).exp_()  # p (n, V)
                if with_cost:  # p (C - W) (n, V), from the recomputed cost row
                    cost_grad = dirac_rows(dz, embedding, targets[rows], layout.cost, grad_rows=True)[1]
                scale = g_logp[rows]  # (n,) total upstream weight on log-probs of this row
                with_support = with_support and g_support is not None
                if with_support:
                    scale = scale + g_support[rows].sum(dim=1)
                dz.mul_(-scale[:, None]).scatter_add_(1, targets[rows, None], g_logp[rows, None])
                if with_support:
                    dz.scatter_add_(1, support_ids[rows], g_support[rows])  # duplicate ids add up
                if with_cost:
                    dz.addcmul_(cost_grad, g_cost[rows, None])  # + g_c p (C - W)
                    del cost_grad
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
        costs: ``(N, T)`` fp32 PLOT dirac costs ``W_t`` on the ``cost_rows``, 0 elsewhere (differentiable).
        mean_logits: ``(N, T)`` fp32 mean logit over the vocabulary, detached (TRL's ``logits/*`` metric).
        support_logps: ``(N, T, L)`` fp32 log-probs of ``support_ids`` (differentiable), 0 on rows
            ``>= support_rows``; None when ``support_rows == 0``.
        support_ids: ``(N, T, L)`` long ``[top-K ids, extra_ids, target]``, 0 where not computed; or None.
    """

    logps: Tensor
    costs: Tensor
    mean_logits: Tensor
    support_logps: Tensor | None = None
    support_ids: Tensor | None = None


def fused_head(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    targets: Tensor,
    mask: Tensor,
    *,
    unit_embedding: Tensor | CostEmbedding | None = None,
    cost_rows: int | range = 0,
    cost: str = "cosine",
    support_rows: int = 0,
    top_k: int = 0,
    extra_ids: Tensor | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> FusedOutputs:
    """Log-probs of ``targets``, PLOT dirac costs and the sinkhorn support from hidden states, without logits.

    Args:
        hidden: ``(N, T, d)`` final hidden states aligned with ``targets`` (position t predicts targets[:, t]).
        weight: ``(V, d)`` output embedding (lm_head weight; the input embedding for tied models).
        bias: ``(V,)`` lm_head bias or None.
        targets: ``(N, T)`` long target ids, in ``[0, V)`` where ``mask`` is True.
        mask: ``(N, T)`` bool, True on the response tokens that count.
        unit_embedding: ``(V, d)`` frozen unit-row cost embedding (``normalise_embedding``); needed when
            ``cost_rows`` is not empty.
        cost_rows: the rows with a PLOT dirac cost: ``range(a, b)``, or an int ``n`` for ``range(0, n)``.
        cost: ``"cosine"`` or ``"l2"``, as :mod:`plot_lightning.losses.plot_dirac`.
        support_rows: rows ``[0, support_rows)`` get ``support_logps`` / ``support_ids``.
        top_k: the support's leading ``top_k`` ids are the largest logits of the row (sorted, decreasing).
        extra_ids: ``(N, T, E)`` long ids appended to the support after the top-K (e.g. the reference's
            top-K), in ``[0, V)`` where masked on the support rows; None: ``E = 0``.
        chunk: tokens per chunk, at most; fewer where ``chunk * V`` would exceed ``BLOCK_ELEMENTS`` (peak extra
            memory about ``3 * chunk * V`` fp32 values, so at most about 384 MiB at any vocabulary).

    Raises:
        ValueError: bad shapes or options, ids out of range, or non-finite log-probs / costs.
    """
    cost_rows = range(cost_rows) if isinstance(cost_rows, int) else cost_rows
    check_fused_inputs(hidden, weight, bias, targets, mask, unit_embedding, cost_rows, cost, chunk)
    chunk = max(1, min(chunk, BLOCK_ELEMENTS // weight.shape[0]))
    check_support_inputs(targets, mask, weight.shape[0], support_rows, top_k, extra_ids)
    row_idx, time_idx = mask.nonzero(as_tuple=True)  # (M,), (M,) row-major
    starts = [int((row_idx < row).sum()) for row in (cost_rows.start, cost_rows.stop, support_rows)]
    layout = TokenLayout(*starts, top_k=top_k, cost=cost)
    selected = hidden[row_idx, time_idx]  # (M, d)
    token_targets = targets[row_idx, time_idx].long()
    kept = slice(0, layout.support_end)
    extra = (
        targets.new_zeros(layout.support_end, 0)
        if extra_ids is None
        else extra_ids[row_idx[kept], time_idx[kept]].long()
    )  # (S, E)
    logps, costs, support_logps, support_ids = FusedHeadFunction.apply(
        selected, weight, bias, token_targets, unit_embedding, extra, layout, chunk
    )
    for name, values in (("log-probs", logps), ("costs", costs), ("support log-probs", support_logps)):
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
    shape, index = targets.shape, (row_idx, time_idx)
    outputs = FusedOutputs(
        _scatter(logps, index, shape), _scatter(costs, index, shape), _scatter(means, index, shape)
    )
    if support_rows:
        index = (row_idx[kept], time_idx[kept])
        outputs.support_logps = _scatter(support_logps, index, shape)
        outputs.support_ids = _scatter(support_ids, index, shape)
    return outputs


def _scatter(values: Tensor, index: tuple[Tensor, Tensor], shape: torch.Size) -> Tensor:
    """``(N, T, *rest)`` tensor holding ``values (M, *rest)`` at ``index`` and 0 elsewhere (differentiable)."""
    return values.new_zeros((*shape, *values.shape[1:])).index_put(index, values)
