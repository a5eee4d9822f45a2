"""The fused head against the unfused path (full logits -> token_logps / dirac_token_costs /
sinkhorn_transport_cost) as the oracle: same values (1e-5) and same gradients (1e-4 relative) for hidden
states, weight and bias, chunked so that chunks straddle rows and the cost/support boundaries; fp64
gradcheck; fp32 math for bf16 inputs."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.heads.fused_head import FusedHeadFunction, TokenLayout, fused_head
from plot_lightning.losses.logprobs import token_logps
from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.plot_dirac import dirac_token_costs
from plot_lightning.losses.plot_sinkhorn import (
    PolicySupport,
    reference_topk,
    sinkhorn_transport_cost,
)


def problem(rows=4, length=7, width=8, vocab=50, dtype=torch.float32, bias=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(rows, length, width, generator=gen).to(dtype).requires_grad_()
    weight = torch.randn(vocab, width, generator=gen).to(dtype).requires_grad_()
    offset = (0.1 * torch.randn(vocab, generator=gen)).to(dtype).requires_grad_() if bias else None
    targets = torch.randint(0, vocab, (rows, length), generator=gen)
    mask = torch.rand(rows, length, generator=gen) > 0.3
    mask[:, 0] = True
    embedding = normalise_embedding(torch.randn(vocab, 6, generator=gen))
    return hidden, weight, offset, targets, mask, embedding


def unfused(hidden, weight, bias, targets, mask, embedding, cost_rows, cost):
    """The oracle: full fp32 logits, then the existing log-prob and dirac kernels (cost on rows < cost_rows)."""
    logits = hidden.float() @ weight.float().T + (0 if bias is None else bias.float())
    logps = token_logps(logits, targets, mask)
    cost_mask = mask.clone()
    cost_mask[cost_rows:] = False
    costs = torch.zeros_like(logps)
    if cost_rows:
        values, _ = dirac_token_costs(logits, targets, cost_mask, embedding, cost=cost, chunk_size=3)
        costs = costs.index_put(cost_mask.nonzero(as_tuple=True), values)
    return logps, costs, logits.detach().mean(-1)


def grads(outputs, inputs, seed=1):
    """Gradients of a random linear functional of (logps, costs) with respect to ``inputs``."""
    gen = torch.Generator().manual_seed(seed)
    logps, costs = outputs
    total = (logps * torch.randn(logps.shape, generator=gen)).sum() + (
        costs * torch.randn(costs.shape, generator=gen)
    ).sum()
    return torch.autograd.grad(total, inputs)


@pytest.mark.parametrize("cost", ["cosine", "l2"])
@pytest.mark.parametrize("cost_rows", [0, 2, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_matches_unfused_values_and_gradients(cost: str, cost_rows: int, bias: bool) -> None:
    hidden, weight, offset, targets, mask, embedding = problem(bias=bias)
    inputs = [t for t in (hidden, weight, offset) if t is not None]
    fused = fused_head(
        hidden,
        weight,
        offset,
        targets,
        mask,
        unit_embedding=embedding,
        cost_rows=cost_rows,
        cost=cost,
        chunk=5,
    )
    logps, costs, means = unfused(hidden, weight, offset, targets, mask, embedding, cost_rows, cost)
    torch.testing.assert_close(fused.logps, logps, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused.costs, costs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused.mean_logits, means * mask, rtol=1e-5, atol=1e-5)
    assert not fused.mean_logits.requires_grad
    for got, want in zip(
        grads((fused.logps, fused.costs), inputs), grads((logps, costs), inputs), strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_masked_out_positions_are_zero_and_get_no_gradient() -> None:
    hidden, weight, offset, targets, mask, embedding = problem()
    fused = fused_head(hidden, weight, offset, targets, mask, unit_embedding=embedding, cost_rows=4, chunk=3)
    assert bool((fused.logps[~mask] == 0).all()) and bool((fused.costs[~mask] == 0).all())
    (grad_hidden,) = torch.autograd.grad((fused.logps + fused.costs).sum(), [hidden])
    assert bool((grad_hidden[~mask] == 0).all()) and bool(grad_hidden[mask].abs().sum() > 0)


def test_gradcheck_fp64() -> None:
    """Finite differences in fp64 on a tiny problem: the hand-derived backward is the true gradient."""
    hidden, weight, offset, targets, mask, embedding = problem(
        rows=2, length=3, width=4, vocab=9, dtype=torch.float64
    )
    selected = hidden.detach()[mask].requires_grad_()
    ids = targets[mask]

    extra = torch.randint(0, 9, (2, 3), generator=torch.Generator().manual_seed(4))
    layout = TokenLayout(cost_start=1, cost_end=4, support_end=2, top_k=2)

    def function(h, w, b):
        logps, costs, support_logps, _ = FusedHeadFunction.apply(
            h, w, b, ids, embedding.double(), extra, layout, 2
        )
        return logps, costs, support_logps

    assert torch.autograd.gradcheck(function, (selected, weight, offset), eps=1e-6, atol=1e-6)


def test_bf16_inputs_use_fp32_math_even_under_autocast() -> None:
    """bf16 hidden states and weight: the result equals the fp32 computation on the same (bf16) values,
    with or without a bf16 autocast region around the call, and gradients come back in bf16."""
    hidden, weight, offset, targets, mask, embedding = problem(dtype=torch.bfloat16, bias=False)
    want_logps, want_costs, _ = unfused(
        hidden.detach(), weight.detach(), None, targets, mask, embedding, 4, "cosine"
    )
    for autocast in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            fused = fused_head(
                hidden, weight, None, targets, mask, unit_embedding=embedding, cost_rows=4, chunk=4
            )
        assert fused.logps.dtype == torch.float32
        torch.testing.assert_close(fused.logps, want_logps, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(fused.costs, want_costs, rtol=1e-5, atol=1e-5)
    grad_hidden, grad_weight = grads((fused.logps, fused.costs), [hidden, weight])
    assert grad_hidden.dtype == grad_weight.dtype == torch.bfloat16


def test_bad_inputs_raise_naming_the_argument() -> None:
    hidden, weight, offset, targets, mask, embedding = problem()
    with pytest.raises(ValueError, match="'weight'"):
        fused_head(hidden, weight[:, :3], offset, targets, mask)
    with pytest.raises(ValueError, match="'targets'"):
        fused_head(hidden, weight, offset, targets + 100, mask)
    with pytest.raises(ValueError, match="unit_embedding"):
        fused_head(hidden, weight, offset, targets, mask, cost_rows=2)
    with pytest.raises(ValueError, match="non-finite"):
        fused_head(hidden.detach().fill_(float("nan")), weight, offset, targets, mask)


SINKHORN = dict(top_k=4, epsilon=0.1, max_iter=300, lam=0.3)


def sinkhorn_pair(hidden, weight, bias, targets, mask, embedding, ref_logits, support_rows, chunk, cost):
    """PLOT sinkhorn cost on rows ``[0, support_rows)``: fused (support from the head's chunks) and unfused
    (``sinkhorn_transport_cost`` on the full fp32 logits), both ``(support_rows,)``."""
    ref_ids, ref_logps = reference_topk(ref_logits, SINKHORN["top_k"])
    rows = slice(0, support_rows)
    fused = fused_head(
        hidden, weight, bias, targets, mask, support_rows=support_rows, top_k=SINKHORN["top_k"],
        extra_ids=ref_ids, chunk=chunk,
    )  # fmt: skip
    args = (targets[rows], mask[rows], embedding, ref_ids[rows], ref_logps[rows])
    fused_cost = sinkhorn_transport_cost(
        PolicySupport(fused.support_logps[rows], fused.support_ids[rows]), *args, cost=cost, **SINKHORN
    )
    logits = hidden.float() @ weight.float().T + (0 if bias is None else bias.float())
    plain_cost = sinkhorn_transport_cost(logits[rows], *args, cost=cost, **SINKHORN)
    return fused, fused_cost, plain_cost


@pytest.mark.parametrize("cost", ["cosine", "l2"])
@pytest.mark.parametrize("support_rows", [2, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_sinkhorn_support_matches_unfused_values_and_gradients(cost, support_rows, bias) -> None:
    """The sinkhorn loss from the head's support log-probs equals the unfused one on the full logits, value
    and gradients (through the support log-probs and the whole row's log-softmax), with chunks that straddle
    rows and the support boundary; the support is [policy top-K, reference top-K, target] on masked tokens."""
    hidden, weight, offset, targets, mask, embedding = problem(bias=bias)
    ref_logits = torch.randn(*targets.shape, weight.shape[0], generator=torch.Generator().manual_seed(9))
    inputs = [t for t in (hidden, weight, offset) if t is not None]
    fused, fused_cost, plain_cost = sinkhorn_pair(
        hidden, weight, offset, targets, mask, embedding, ref_logits, support_rows, 5, cost
    )
    torch.testing.assert_close(fused_cost, plain_cost, rtol=1e-5, atol=1e-5)
    logits = (hidden.float() @ weight.float().T + (0 if offset is None else offset.float())).detach()
    on_support = mask.clone()
    on_support[support_rows:] = False
    top = logits.topk(SINKHORN["top_k"], dim=-1).indices
    assert torch.equal(fused.support_ids[..., : SINKHORN["top_k"]][on_support], top[on_support])
    assert torch.equal(fused.support_ids[..., -1][on_support], targets[on_support])
    assert bool((fused.support_logps[~on_support] == 0).all())
    weights = torch.randn(support_rows, generator=torch.Generator().manual_seed(2))
    for got, want in zip(
        torch.autograd.grad((fused_cost * weights).sum(), inputs),
        torch.autograd.grad((plain_cost * weights).sum(), inputs),
        strict=True,
    ):
        assert float(want.abs().max()) > 1e-3  # a real gradient, not a match of zeros
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_bf16_sinkhorn_support_uses_fp32_math() -> None:
    """bf16 hidden states and weight under bf16 autocast: the sinkhorn cost from the fused support equals the
    unfused cost on the fp32 product of the same bf16 values."""
    hidden, weight, _, targets, mask, embedding = problem(dtype=torch.bfloat16, bias=False)
    ref_logits = torch.randn(*targets.shape, weight.shape[0], generator=torch.Generator().manual_seed(9))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused, fused_cost, _ = sinkhorn_pair(
            hidden, weight, None, targets, mask, embedding, ref_logits, 4, 3, "cosine"
        )
    _, _, plain_cost = sinkhorn_pair(
        hidden.detach(), weight.detach(), None, targets, mask, embedding, ref_logits, 4, 3, "cosine"
    )
    assert fused.support_logps.dtype == torch.float32
    torch.testing.assert_close(fused_cost, plain_cost, rtol=1e-5, atol=1e-5)
    grad_hidden, grad_weight = torch.autograd.grad(fused_cost.sum(), [hidden, weight])
    assert grad_hidden.dtype == grad_weight.dtype == torch.bfloat16


def test_bad_support_inputs_raise_naming_the_argument() -> None:
    hidden, weight, offset, targets, mask, _ = problem()
    with pytest.raises(ValueError, match="'top_k'"):
        fused_head(hidden, weight, offset, targets, mask, support_rows=2, top_k=51)
    with pytest.raises(ValueError, match="'support_rows'"):
        fused_head(hidden, weight, offset, targets, mask, support_rows=5, top_k=2)
    with pytest.raises(ValueError, match="'extra_ids'"):
        fused_head(hidden, weight, offset, targets, mask, support_rows=2, top_k=2, extra_ids=targets)
    with pytest.raises(ValueError, match="'extra_ids'"):
        bad = torch.full((*targets.shape, 3), 50)
        fused_head(hidden, weight, offset, targets, mask, support_rows=2, top_k=2, extra_ids=bad)


def test_chunks_shrink_at_large_vocabularies(monkeypatch) -> None:
    """A chunk's ``(chunk, V)`` block stays within ``BLOCK_ELEMENTS`` whatever ``chunk`` asks (at Gemma 3's
    V = 262,144 the default 512 tokens would be 512 MiB per fp32 block), and the values do not change."""
    from plot_lightning.heads import fused_head as module

    vocab, dim = 1000, 8
    monkeypatch.setattr(module, "BLOCK_ELEMENTS", 3 * vocab)  # at most 3 tokens per chunk
    rows: list[int] = []
    plain = module._chunk_logits
    monkeypatch.setattr(module, "_chunk_logits", lambda h, w, b: rows.append(h.shape[0]) or plain(h, w, b))
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(2, 5, dim, generator=gen, dtype=torch.float64)
    weight = torch.randn(vocab, dim, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, vocab, (2, 5), generator=gen)
    mask = torch.ones(2, 5, dtype=torch.bool)
    out = module.fused_head(hidden, weight, None, targets, mask, chunk=512)
    assert rows and max(rows) == 3 and sum(rows) == 10
    own = torch.log_softmax(hidden @ weight.T, dim=-1).gather(-1, targets[..., None]).squeeze(-1)
    torch.testing.assert_close(out.logps, own, atol=1e-12, rtol=1e-12)
