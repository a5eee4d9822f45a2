r"""Logits head: per-token log-probs of the targets and the PLOT dirac cost from the model's full logits, in
one autograd function whose backward writes one gradient buffer (the unfused path, ``fused_head=False``).

For the model's output ``z (N, T, V)`` (position ``t < T-1`` predicts ``targets[:, t]``) and the masked
positions::

    logp_t = log_softmax(z_t)[y_t]                        every masked position
    cost_t = sum_v p_t(v) C(v, y_t)                       the masked positions of the cost rows
    dL/dz_t = g_logp (onehot(y_t) - p_t) + g_cost p_t (C(., y_t) - cost_t),   dL/dz_{T-1} = 0

Why one function. Computed apart (log-probs on ``z[:, :-1]`` and a dirac kernel on its chosen half),
autograd builds three more full-size tensors in backward: the dirac kernel's zero-filled ``(B, T-1, V)``
gradient, the chosen-half slice's zero-filled ``(2B, T-1, V)`` expansion and their sum with the log-prob
gradient, and then the ``[:, :-1]`` slice's ``(2B, T, V)`` expansion, each a fresh allocation and a pass over
100-200 MB at SmolLM2's vocabulary (``benchmarks/plot_overhead_counts.py``). The kernel,
:class:`plot_lightning.losses.plot_dirac.DiracLogitsFunction`, writes the gradient once; this module checks
the inputs and places the costs.

It reads what the model returns as ``logits``, after whatever the architecture does to its lm_head's output
(Gemma 2/3 soft-capping, Cohere's ``logit_scale``, Granite's ``logits_scaling``): its log-probs and PLOT costs
are those of the model's own distribution on every architecture (``tests/plot_lightning/heads/test_exactness.py``).

The math runs in fp32 (fp64 for fp64 logits) with autocast off, whatever the logits' dtype; the gradient is
returned in the logits' dtype. Memory besides the kept gradient rows: one ``(chunk, V)`` fp32 block.
"""

from __future__ import annotations

import torch
from torch import Tensor

from plot_lightning.heads.checks import check_cost_rows
from plot_lightning.losses.logprobs import DEFAULT_CHUNK, masked_logps
from plot_lightning.losses.plot_cost import COST_KINDS, CostEmbedding
from plot_lightning.losses.plot_dirac import DiracLogitsFunction
from plot_lightning.losses.precision import fp32_math
from plot_lightning.tensor_checks import check_bool, check_choice, check_labels_in_range, check_shape


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
    check_bool("mask", mask)
    check_choice("cost", cost, COST_KINDS)
    if chunk < 1:
        raise ValueError(f"'chunk' must be >= 1, got {chunk}")
    with_cost = len(cost_rows) > 0
    check_cost_rows(cost_rows, rows, unit_embedding if with_cost else None, vocab)
    check_labels_in_range("targets", targets, vocab, mask)
    safe_targets = targets.masked_fill(~mask, 0).long()
    cost_mask = torch.zeros_like(mask)
    if with_cost:
        cost_mask[cost_rows.start : cost_rows.stop] = mask[cost_rows.start : cost_rows.stop]
    keep_grad = torch.is_grad_enabled() and logits.requires_grad
    logps, costs = DiracLogitsFunction.apply(
        logits, safe_targets, cost_mask, unit_embedding if with_cost else None, cost, chunk, keep_grad
    )
    logps = masked_logps(logps, mask, logits.shape)
    if not with_cost:
        return logps, None
    token_costs = logps.new_zeros(mask.shape).index_put(cost_mask.nonzero(as_tuple=True), costs)
    return logps, token_costs
