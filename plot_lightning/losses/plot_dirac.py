"""Exact PLOT transport cost to a point mass (the ``dirac`` variant), as a chunked custom autograd function.

Optimal transport from ``p_t = softmax(z_t)`` to the point mass ``δ_{y_t}`` has a single feasible plan (all
mass goes to ``y_t``), so the distance is exact and linear in ``p_t``::

    W_t = sum_v p_t(v) C(v, y_t),            dW_t / dz_t(v) = p_t(v) (C(v, y_t) - W_t)

with ``C`` the cosine (``1 - ê_v · ê_y``) or L2 (``||ê_v - ê_y|| = sqrt(2 - 2 ê_v · ê_y)``) cost between
unit embedding rows, the same convention as :mod:`plot_lightning.losses.plot_cost` (cosine in ``[0, 2]`` up
to rounding, ``W_t`` clamped to ``[0, 2]``, exactly 0 for ``v = y``). :func:`dirac_rows` is the per-chunk
math, shared with the logits head (``plot_lightning.heads.logits_head``) and the fused head.

Memory. Only masked (response) positions are touched, ``chunk_size`` tokens at a time, so the forward holds
at most two ``(chunk_size, V)`` compute-dtype temporaries besides what it keeps for backward; no second
``(B, T, V)`` fp32 tensor is made. The cost row ``C(·, y_t)`` costs one ``(chunk, d) @ (d, V)`` product.

Backward, two strategies (``recompute``):

* ``recompute=False`` (default): the forward turns the cost row it already has into the gradient rows
  ``p (C - W)`` and keeps them, ``(N, V)`` in the logits' dtype (N = masked tokens), for backward, which only
  scales them by the upstream gradient. No second matrix product; the price is ``N * V`` elements held from
  forward to backward, no more than the ``p`` (and ``C``) a naive autograd graph would save, and in bf16 when
  the logits are bf16 (the dtype the gradient is returned in anyway).
* ``recompute=True``: nothing ``(N, V)``-sized is kept; backward recomputes ``p`` and the cost row chunk by
  chunk, i.e. a second ``(N, d) @ (d, V)`` product. Less memory, more time.

``benchmarks/plot_overhead.py`` measures both against naive autograd.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.losses.plot_cost import COST_KINDS, CostEmbedding, as_cost_embedding
from plot_lightning.losses.precision import fp32_math


def _compute_dtype(logits: Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def dirac_cost_rows(
    unit_embedding: Tensor | CostEmbedding, targets: Tensor, cost: str, out: Tensor | None = None
) -> Tensor:
    """``(n, V)`` cost from every vocabulary token to each of ``targets (n,)``, written into ``out``.

    Cosine: ``1 - ê_y · ê_v``, one product into ``out`` (of the negated target rows, so that ``-S`` comes out
    of the product and one in-place pass makes the cost) and the exact 0 at ``v = y``. For unit rows the
    similarity lies in ``[-1, 1]`` up to rounding (about 1e-7 in fp32), so the cost lies in ``[0, 2]`` up to
    that rounding; the per-token ``W`` is clamped to ``[0, 2]`` (:func:`dirac_rows`). L2 clamps first, since
    ``sqrt`` of a rounding-negative value would be NaN.
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
    Returns ``(W (n,) in [0, 2], p (C - W) (n, V) or None)``: the cost ``W = sum_v p_v C(v, y)`` and
    ``dW / dz = p (C - W)``. One ``(n, d) @ (d, V)`` product and four passes over ``(n, V)``. The product
    reads the whole ``(V, d)`` embedding whatever ``n``, so one call per chunk of tokens, not per few rows.
    """
    return dirac_from_cost_rows(
        probs, dirac_cost_rows(unit_embedding, targets, cost, out=out), grad_rows=grad_rows
    )


def _chunk_cost(
    logits: Tensor,
    rows: tuple[Tensor, Tensor],
    targets: Tensor,
    unit_embedding: Tensor | CostEmbedding,
    cost: str,
    *,
    grad_rows: bool,
    out: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """``W (n,)`` and (with ``grad_rows``) ``p (C - W) (n, V)`` for the positions ``rows`` of ``logits``."""
    probs = logits[rows].to(_compute_dtype(logits))  # (n, V); indexing copies, so in-place ops are safe
    if not bool(torch.isfinite(probs).all()):
        raise ValueError(
            f"'logits' (shape {tuple(logits.shape)}, dtype {logits.dtype}) holds NaN or infinite values "
            "at masked (response) positions"
        )
    return dirac_rows(_softmax_(probs), unit_embedding, targets, cost, grad_rows=grad_rows, out=out)


def _softmax_(values: Tensor) -> Tensor:
    """Row softmax computed in place (saves one ``(n, V)`` temporary)."""
    values.sub_(values.amax(dim=-1, keepdim=True)).exp_()
    return values.div_(values.sum(dim=-1, keepdim=True))


class DiracTransportCost(torch.autograd.Function):
    """Per-token ``W_t`` for the masked positions of ``logits``; see the module docstring.

    ``forward(logits (B,T,V), batch_idx (N,), time_idx (N,), targets (N,), unit_embedding (V,d), cost,
    chunk_size, recompute, keep_grad) -> (N,)`` in fp32 (fp64 for fp64 logits). ``keep_grad`` says whether a
    backward will follow (autograd's ``needs_input_grad`` is also True under ``no_grad``).
    """

    @staticmethod
    def forward(
        ctx, logits, batch_idx, time_idx, targets, unit_embedding, cost, chunk_size, recompute, keep_grad
    ):
        dtype = _compute_dtype(logits)
        embedding = as_cost_embedding(unit_embedding).to(logits.device, dtype)
        count = targets.shape[0]
        store = keep_grad and not recompute
        grads = logits.new_empty((count, logits.shape[-1])) if store else None  # (N, V), logits dtype
        transport = torch.empty(count, dtype=dtype, device=logits.device)
        for start in range(0, count, chunk_size):
            part = slice(start, start + chunk_size)
            # Write the cost row straight into the kept gradient buffer when the dtypes allow it.
            out = grads[part] if store and grads.dtype == dtype else None
            transport[part], rows = _chunk_cost(
                logits,
                (batch_idx[part], time_idx[part]),
                targets[part],
                embedding,
                cost,
                grad_rows=store,
                out=out,
            )
            if store and out is None:
                grads[part].copy_(rows)
        ctx.chunk_size, ctx.cost, ctx.recompute = chunk_size, cost, recompute
        ctx.logits_meta = (logits.shape, logits.dtype, logits.device)
        if recompute:
            ctx.embedding = embedding  # frozen; not a tensor autograd could version-check
            ctx.save_for_backward(batch_idx, time_idx, targets, logits)
        else:
            ctx.save_for_backward(batch_idx, time_idx, grads)
        return transport

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_transport):
        shape, dtype, device = ctx.logits_meta
        grad_logits = torch.zeros(shape, dtype=dtype, device=device)
        batch_idx, time_idx = ctx.saved_tensors[:2]
        for start in range(0, batch_idx.shape[0], ctx.chunk_size):
            part = slice(start, start + ctx.chunk_size)
            upstream = grad_transport[part].unsqueeze(1)  # (n, 1)
            if ctx.recompute:
                rows = _recomputed_grad_rows(ctx, part)
            else:
                rows = ctx.saved_tensors[2][part].to(grad_transport.dtype)
            grad_logits[batch_idx[part], time_idx[part]] = (rows * upstream).to(dtype)
        return grad_logits, None, None, None, None, None, None, None, None


def _recomputed_grad_rows(ctx, part: slice) -> Tensor:
    """``p (C - W)`` for one chunk, recomputed from the saved logits (``recompute=True``)."""
    batch_idx, time_idx, targets, logits = ctx.saved_tensors
    embedding = ctx.embedding
    _, rows = _chunk_cost(
        logits, (batch_idx[part], time_idx[part]), targets[part], embedding, ctx.cost, grad_rows=True
    )
    return rows


@fp32_math
def dirac_token_costs(
    logits: Tensor,
    labels: Tensor,
    mask: Tensor,
    unit_embedding: Tensor | CostEmbedding,
    *,
    cost: str = "cosine",
    chunk_size: int = 1024,
    recompute: bool = False,
) -> tuple[Tensor, Tensor]:
    """Per-token exact cost ``W_t`` at the masked positions, in row-major order of ``mask``.

    Args: ``logits (B,T,V)`` any float dtype, ``labels (B,T)`` long in ``[0, V)`` where masked,
    ``mask (B,T)`` bool, ``unit_embedding (V,d)`` unit rows (see ``normalise_embedding``).
    Returns ``(costs (N,), batch_idx (N,))``: fp32 costs (fp64 for fp64 logits), in ``[0, 2]``, and the
    example each masked token belongs to. Inputs are checked by ``plot.plot_transport_cost`` except
    finiteness of the masked logits, which is checked here chunk by chunk.
    """
    if cost not in COST_KINDS:
        raise ValueError(f"'cost' must be one of {COST_KINDS}, got {cost!r}")
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be >= 1, got {chunk_size}")
    batch_idx, time_idx = mask.nonzero(as_tuple=True)  # (N,), (N,)
    targets = labels[batch_idx, time_idx]  # (N,)
    keep_grad = torch.is_grad_enabled() and logits.requires_grad
    costs = DiracTransportCost.apply(
        logits, batch_idx, time_idx, targets, unit_embedding, cost, chunk_size, recompute, keep_grad
    )
    return costs, batch_idx


def dirac_transport_cost(
    logits: Tensor,
    labels: Tensor,
    mask: Tensor,
    unit_embedding: Tensor | CostEmbedding,
    *,
    cost: str = "cosine",
    chunk_size: int = 1024,
    recompute: bool = False,
) -> Tensor:
    """``(B,)`` per-example mean of ``W_t`` over the masked tokens (see :func:`dirac_token_costs`)."""
    costs, batch_idx = dirac_token_costs(
        logits, labels, mask, unit_embedding, cost=cost, chunk_size=chunk_size, recompute=recompute
    )
    batch = logits.shape[0]
    totals = torch.zeros(batch, dtype=costs.dtype, device=costs.device).index_add(0, batch_idx, costs)
    counts = mask.sum(dim=-1).to(costs.dtype).clamp(min=1.0)
    return totals / counts
