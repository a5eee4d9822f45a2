"""Tests for the exact dirac PLOT cost: against hand derivations, POT's exact ``ot.emd2`` and a naive
autograd implementation."""

from __future__ import annotations

import math

import ot
import pytest
import torch

from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.plot_dirac import dirac_token_costs, dirac_transport_cost


def _problem(batch=2, length=5, vocab=11, dim=4, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = (2.0 * torch.randn(batch, length, vocab, generator=gen)).to(dtype)
    labels = torch.randint(0, vocab, (batch, length), generator=gen)
    mask = torch.rand(batch, length, generator=gen) < 0.7
    mask[:, 0] = True
    embedding = normalise_embedding(torch.randn(vocab, dim, generator=gen, dtype=torch.float64))
    return logits, labels, mask, embedding


def _full_cost_matrix(unit_embedding, kind):
    """Independent ``(V, V)`` ground cost: cosine ``1 - ê_u·ê_v`` (0 on the diagonal) or its L2 form."""
    cosine = (1.0 - unit_embedding @ unit_embedding.T).clamp(0.0, 2.0).fill_diagonal_(0.0)
    return cosine if kind == "cosine" else (2.0 * cosine).sqrt()


def _naive_token_costs(logits, labels, mask, unit_embedding, kind):
    """Plain autograd ``W_t = sum_v softmax(z_t)_v C(v, y_t)`` over the masked positions."""
    probs = torch.softmax(logits[mask].to(torch.float64), dim=-1)  # (N, V)
    cost_rows = _full_cost_matrix(unit_embedding.to(torch.float64), kind)[labels[mask]]  # (N, V)
    return (probs * cost_rows).sum(-1)


def test_hand_derived_three_token_example():
    """ê_0=(1,0), ê_1=(0,1), ê_2=(-1,0); target y=0 gives cosine costs C(·,0) = (0, 1, 2).

    Uniform logits: p = (1/3, 1/3, 1/3), so W = (0 + 1 + 2)/3 = 1 and dW/dz = p (C - W) = (-1, 0, 1)/3.
    L2 costs are sqrt(2 C) = (0, sqrt 2, 2), so W = (sqrt 2 + 2)/3.
    """
    embedding = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    logits = torch.zeros(1, 1, 3, dtype=torch.float64, requires_grad=True)
    labels, mask = torch.zeros(1, 1, dtype=torch.long), torch.ones(1, 1, dtype=torch.bool)
    cost = dirac_transport_cost(logits, labels, mask, embedding)
    cost.sum().backward()
    assert cost.item() == pytest.approx(1.0, abs=1e-12)
    torch.testing.assert_close(logits.grad.view(3), torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64) / 3)
    l2 = dirac_transport_cost(logits.detach(), labels, mask, embedding, cost="l2")
    assert l2.item() == pytest.approx((math.sqrt(2.0) + 2.0) / 3.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["cosine", "l2"])
@pytest.mark.parametrize("vocab", [2, 7, 16])
def test_equals_pot_exact_emd(kind, vocab):
    """Transport to a point mass has one feasible plan, so ot.emd2(p, δ_y, C) must equal W exactly."""
    logits, labels, mask, embedding = _problem(vocab=vocab, seed=vocab)
    costs, _ = dirac_token_costs(logits, labels, mask, embedding, cost=kind)
    ground = _full_cost_matrix(embedding, kind)
    probs = torch.softmax(logits[mask], dim=-1)
    for token, (p, y) in enumerate(zip(probs, labels[mask], strict=True)):
        target = torch.zeros(vocab, dtype=torch.float64)
        target[y] = 1.0
        expected = ot.emd2(p.numpy(), target.numpy(), ground.numpy())
        assert costs[token].item() == pytest.approx(expected, abs=1e-12)


def test_zero_when_distribution_is_the_target():
    """p = δ_y (a logit gap of 1e4 underflows every other exp to exactly 0) costs exactly 0; a gap of 50
    leaves off-target mass ~V e^-50, so the cost is below 1e-18."""
    _, labels, mask, embedding = _problem()
    one_hot = torch.nn.functional.one_hot(labels, 11).to(torch.float64)
    assert bool((dirac_token_costs(1e4 * one_hot, labels, mask, embedding)[0] == 0).all())
    assert float(dirac_token_costs(50.0 * one_hot, labels, mask, embedding)[0].max()) < 1e-18


@pytest.mark.parametrize("kind", ["cosine", "l2"])
def test_gradient_is_p_times_cost_minus_w(kind):
    """dW_t/dz_t(v) = p_t(v) (C(v, y_t) - W_t); with upstream weights g_t the logit gradient at a masked
    position is g_t p_t (C - W_t) and 0 elsewhere. Also equal to naive autograd."""
    logits, labels, mask, embedding = _problem()
    logits.requires_grad_(True)
    costs, _ = dirac_token_costs(logits, labels, mask, embedding, cost=kind, chunk_size=3)
    upstream = torch.linspace(0.5, 2.0, costs.shape[0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(costs, logits, upstream)

    probs = torch.softmax(logits.detach()[mask], dim=-1)
    cost_rows = _full_cost_matrix(embedding, kind)[labels[mask]]
    analytic = torch.zeros_like(logits)
    analytic[mask] = upstream[:, None] * probs * (cost_rows - costs.detach()[:, None])
    torch.testing.assert_close(grad, analytic, rtol=1e-10, atol=1e-12)

    naive = _naive_token_costs(logits, labels, mask, embedding, kind)
    (naive_grad,) = torch.autograd.grad(naive, logits, upstream)
    torch.testing.assert_close(costs.detach(), naive.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, naive_grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["cosine", "l2"])
def test_gradcheck(kind):
    logits, labels, mask, embedding = _problem(batch=2, length=3, vocab=5, dim=3)
    logits.requires_grad_(True)

    def per_example(z):
        return dirac_transport_cost(z, labels, mask, embedding, cost=kind, chunk_size=2)

    assert torch.autograd.gradcheck(per_example, (logits,))


def test_masked_positions_contribute_nothing():
    """Logits at unmasked positions (any finite values) change neither the cost nor get any gradient."""
    logits, labels, mask, embedding = _problem()
    other = logits.clone()
    other[~mask] = 1e4
    other.requires_grad_(True)
    base = dirac_transport_cost(logits, labels, mask, embedding)
    cost = dirac_transport_cost(other, labels, mask, embedding)
    torch.testing.assert_close(cost, base, rtol=0, atol=0)
    (grad,) = torch.autograd.grad(cost.sum(), other)
    assert bool((grad[~mask] == 0).all()) and bool(torch.isfinite(grad).all())


def test_per_example_mean_over_masked_tokens():
    logits, labels, mask, embedding = _problem()
    naive = _naive_token_costs(logits, labels, mask, embedding, "cosine")
    rows = mask.nonzero()[:, 0]
    expected = torch.stack([naive[rows == b].mean() for b in range(mask.shape[0])])
    torch.testing.assert_close(dirac_transport_cost(logits, labels, mask, embedding), expected)


@pytest.mark.parametrize("chunk_size", [1, 3, 1024])
def test_chunked_equals_unchunked(chunk_size):
    logits, labels, mask, embedding = _problem(length=9)
    logits.requires_grad_(True)
    whole, _ = dirac_token_costs(logits, labels, mask, embedding, chunk_size=int(mask.sum()))
    (whole_grad,) = torch.autograd.grad(whole.sum(), logits)
    chunked, _ = dirac_token_costs(logits, labels, mask, embedding, chunk_size=chunk_size)
    (chunked_grad,) = torch.autograd.grad(chunked.sum(), logits)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-15)
    torch.testing.assert_close(chunked_grad, whole_grad, rtol=0, atol=1e-15)


def test_fp32_within_1e5_of_fp64():
    logits, labels, mask, embedding = _problem(vocab=300, dim=16, length=8)
    exact = dirac_transport_cost(logits, labels, mask, embedding)
    single = dirac_transport_cost(logits.float(), labels, mask, embedding.float())
    assert single.dtype == torch.float32 and exact.dtype == torch.float64
    assert float((single.double() - exact).abs().max()) < 1e-5


def test_bf16_logits_give_fp32_cost_and_bf16_grad():
    """The cost is computed in fp32 from the bf16 values, so it matches fp32 on the rounded logits."""
    logits, labels, mask, embedding = _problem()
    low = logits.to(torch.bfloat16).requires_grad_(True)
    cost = dirac_transport_cost(low, labels, mask, embedding.float())
    cost.sum().backward()
    assert cost.dtype == torch.float32 and low.grad.dtype == torch.bfloat16
    reference = low.detach().float().requires_grad_(True)
    expected = dirac_transport_cost(reference, labels, mask, embedding.float())
    expected.sum().backward()
    torch.testing.assert_close(cost, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(low.grad.float(), reference.grad, rtol=1e-2, atol=1e-3)


def test_no_grad_forward_keeps_nothing_and_matches():
    logits, labels, mask, embedding = _problem()
    logits.requires_grad_(True)
    with torch.no_grad():
        cost = dirac_transport_cost(logits, labels, mask, embedding)
    assert not cost.requires_grad
    torch.testing.assert_close(cost, dirac_transport_cost(logits, labels, mask, embedding).detach())


def test_non_finite_masked_logits_raise():
    logits, labels, mask, embedding = _problem()
    logits[0, 0, 3] = float("inf")
    with pytest.raises(ValueError, match=r"'logits' \(shape \(2, 5, 11\)"):
        dirac_transport_cost(logits, labels, mask, embedding)


def test_bad_options_raise():
    logits, labels, mask, embedding = _problem()
    with pytest.raises(ValueError, match="'cost'"):
        dirac_transport_cost(logits, labels, mask, embedding, cost="manhattan")
    with pytest.raises(ValueError, match="'chunk_size'"):
        dirac_transport_cost(logits, labels, mask, embedding, chunk_size=0)
