"""Tests for plot_lightning/ot/sinkhorn.py with POT as the independent oracle (fp64 where it matters).

A zero-mass atom carries no plan mass, so the oracle for a padded problem is POT on the problem with those
atoms removed. Gradients are compared with POT's autodiff through its own iterations; gradcheck perturbs
marginals through a softmax (a marginal must stay on the simplex).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import ot
import pytest
import torch

from plot_lightning.ot import SinkhornConvergenceWarning, sinkhorn_cost

CONVERGED = {"max_iter": 20000, "tol": 1e-12}


def _random_marginal(generator, count, size, zero_fraction=0.0):
    weights = torch.rand(count, size, generator=generator, dtype=torch.float64) + 0.05
    if zero_fraction:
        zero = torch.rand(count, size, generator=generator) < zero_fraction
        zero[:, 0] = False  # keep at least one atom with mass
        weights = weights.masked_fill(zero, 0.0)
    return weights / weights.sum(-1, keepdim=True)


def _pot_value(cost, a, b, epsilon):
    """ot.sinkhorn2 on the support with zero-mass atoms removed (the independent oracle)."""
    rows, cols = a > 0, b > 0
    return float(
        ot.sinkhorn2(
            a[rows].numpy(),
            b[cols].numpy(),
            cost[rows][:, cols].numpy(),
            epsilon,
            method="sinkhorn_log",
            numItermax=20000,
            stopThr=1e-13,
        )
    )


@pytest.mark.parametrize("zero_fraction", [0.0, 0.4])
def test_matches_pot_sinkhorn2_random_problems(zero_fraction):
    generator = torch.Generator().manual_seed(1)
    cost = torch.rand(6, 5, 7, generator=generator, dtype=torch.float64)
    a = _random_marginal(generator, 6, 5, zero_fraction)
    b = _random_marginal(generator, 6, 7, zero_fraction)
    ours = sinkhorn_cost(cost, a, b, epsilon=0.1, **CONVERGED)
    expected = [_pot_value(cost[i], a[i], b[i], 0.1) for i in range(6)]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-10)


def test_one_atom_supports():
    """One source atom: the only feasible plan is a -> b, so the cost is sum_j b_j C_0j exactly."""
    generator = torch.Generator().manual_seed(2)
    cost = torch.rand(3, 1, 4, generator=generator, dtype=torch.float64)
    b = _random_marginal(generator, 3, 4)
    ours = sinkhorn_cost(cost, torch.ones(3, 1, dtype=torch.float64), b, epsilon=0.05, **CONVERGED)
    torch.testing.assert_close(ours, (cost[:, 0] * b).sum(-1))
    one_by_one = sinkhorn_cost(
        cost[:, :, :1], torch.ones(3, 1).double(), torch.ones(3, 1).double(), epsilon=1
    )
    torch.testing.assert_close(one_by_one, cost[:, 0, 0])


def test_costs_spanning_four_orders_of_magnitude():
    """Costs in [1e-2, 1e2]; epsilon = 1 (1% of the largest cost) keeps the problem well posed."""
    generator = torch.Generator().manual_seed(3)
    cost = 10 ** (4 * torch.rand(4, 6, 6, generator=generator, dtype=torch.float64) - 2)
    a, b = _random_marginal(generator, 4, 6), _random_marginal(generator, 4, 6)
    ours = sinkhorn_cost(cost, a, b, epsilon=1.0, **CONVERGED)
    expected = [_pot_value(cost[i], a[i], b[i], 1.0) for i in range(4)]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-9, atol=1e-9)


def test_small_epsilon_approaches_exact_ot():
    """0 <= <P_eps, C> - OT_0 <= eps * log(n m).

    P_eps is feasible, so its linear cost is at least OT_0. Optimality of P_eps for <P,C> - eps H(P) gives
    <P_eps,C> - OT_0 <= eps (H(P_eps) - H(P_0)) <= eps (H(a) + H(b)) <= eps log(n m).
    """
    generator = torch.Generator().manual_seed(4)
    cost = torch.rand(5, 4, 5, generator=generator, dtype=torch.float64)
    a, b = _random_marginal(generator, 5, 4), _random_marginal(generator, 5, 5)
    epsilon = 0.01
    ours = sinkhorn_cost(cost, a, b, epsilon=epsilon, **CONVERGED)
    exact = torch.tensor(
        [ot.emd2(a[i].numpy(), b[i].numpy(), cost[i].numpy()) for i in range(5)], dtype=torch.float64
    )
    gap = ours - exact
    assert bool((gap >= -1e-9).all()), gap
    assert bool((gap <= epsilon * math.log(4 * 5)).all()), gap


def test_plan_marginals_and_zero_mass_rows():
    generator = torch.Generator().manual_seed(5)
    cost = torch.rand(4, 6, 5, generator=generator, dtype=torch.float64)
    a, b = _random_marginal(generator, 4, 6, 0.3), _random_marginal(generator, 4, 5, 0.3)
    value, plan = sinkhorn_cost(cost, a, b, epsilon=0.05, return_plan=True, **CONVERGED)
    assert plan.shape == (4, 6, 5) and not plan.requires_grad
    torch.testing.assert_close(plan.sum(-1), a, atol=1e-11, rtol=0)
    torch.testing.assert_close(plan.sum(-2), b, atol=1e-11, rtol=0)
    assert bool((plan[a == 0] == 0).all()) and bool((plan.transpose(-1, -2)[b == 0] == 0).all())
    torch.testing.assert_close(value, (plan * cost).sum((-1, -2)))


def test_gradcheck_wrt_cost_and_marginals():
    generator = torch.Generator().manual_seed(6)
    cost = torch.rand(2, 3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    logits_a = torch.randn(2, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    logits_b = torch.randn(2, 4, generator=generator, dtype=torch.float64, requires_grad=True)

    def value(c, za, zb):
        return sinkhorn_cost(c, za.softmax(-1), zb.softmax(-1), epsilon=0.2, **CONVERGED)

    assert torch.autograd.gradcheck(value, (cost, logits_a, logits_b))


def test_gradcheck_with_zero_mass_atoms():
    """Fixed padded marginals: the gradient to the cost is exact; padded entries get none."""
    generator = torch.Generator().manual_seed(7)
    cost = torch.rand(2, 4, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([[0.5, 0.0, 0.3, 0.2], [0.0, 1.0, 0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.6, 0.4, 0.0], [0.2, 0.3, 0.5]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda c: sinkhorn_cost(c, a, b, epsilon=0.2, **CONVERGED), (cost,))
    sinkhorn_cost(cost, a, b, epsilon=0.2, **CONVERGED).sum().backward()
    assert bool((cost.grad[0, 1] == 0).all()) and bool((cost.grad[0, :, 2] == 0).all())


def test_gradients_match_pot_autodiff():
    generator = torch.Generator().manual_seed(8)
    cost = torch.rand(3, 5, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    logits_a = torch.randn(3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    logits_b = torch.randn(3, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    sinkhorn_cost(cost, logits_a.softmax(-1), logits_b.softmax(-1), epsilon=0.1, **CONVERGED).sum().backward()
    for i in range(3):
        c, za, zb = (t[i].detach().clone().requires_grad_(True) for t in (cost, logits_a, logits_b))
        ot.sinkhorn2(za.softmax(-1), zb.softmax(-1), c, 0.1, method="sinkhorn_log", numItermax=20000,
                     stopThr=1e-14).backward()  # fmt: skip
        torch.testing.assert_close(cost.grad[i], c.grad, atol=1e-9, rtol=0)
        torch.testing.assert_close(logits_a.grad[i], za.grad, atol=1e-9, rtol=0)
        torch.testing.assert_close(logits_b.grad[i], zb.grad, atol=1e-9, rtol=0)


def test_nonnegative_and_transpose_symmetric():
    generator = torch.Generator().manual_seed(9)
    cost = torch.rand(8, 5, 6, generator=generator, dtype=torch.float64)
    a, b = _random_marginal(generator, 8, 5), _random_marginal(generator, 8, 6)
    forward = sinkhorn_cost(cost, a, b, epsilon=0.1, **CONVERGED)
    backward = sinkhorn_cost(cost.transpose(-1, -2), b, a, epsilon=0.1, **CONVERGED)
    assert bool((forward >= 0).all())
    torch.testing.assert_close(forward, backward)
    symmetric = cost[:, :5, :5] + cost[:, :5, :5].transpose(-1, -2)
    c = _random_marginal(generator, 8, 5)
    torch.testing.assert_close(
        sinkhorn_cost(symmetric, a, c, epsilon=0.1, **CONVERGED),
        sinkhorn_cost(symmetric, c, a, epsilon=0.1, **CONVERGED),
    )


def test_debiased_divergence():
    """S(a, b) = OT(a,b) - (OT(a,a) + OT(b,b)) / 2 on one support: 0 for a == b, POT's value otherwise."""
    generator = torch.Generator().manual_seed(10)
    points = torch.randn(4, 5, 2, generator=generator, dtype=torch.float64)
    cost = torch.cdist(points, points)
    a, b = _random_marginal(generator, 4, 5, 0.3), _random_marginal(generator, 4, 5)
    same = sinkhorn_cost(cost, a, a, epsilon=0.5, debias=True, **CONVERGED)
    torch.testing.assert_close(same, torch.zeros(4, dtype=torch.float64), atol=1e-12, rtol=0)
    ours = sinkhorn_cost(cost, a, b, epsilon=0.5, debias=True, **CONVERGED)
    expected = [
        _pot_value(cost[i], a[i], b[i], 0.5)
        - 0.5 * (_pot_value(cost[i], a[i], a[i], 0.5) + _pot_value(cost[i], b[i], b[i], 0.5))
        for i in range(4)
    ]
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-10)
    logits = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    sinkhorn_cost(cost, logits.softmax(-1), b, epsilon=0.5, debias=True, **CONVERGED).sum().backward()
    assert bool(torch.isfinite(logits.grad).all()) and float(logits.grad.abs().max()) > 0


def test_dtype_in_equals_dtype_out():
    generator = torch.Generator().manual_seed(11)
    cost = torch.rand(3, 4, 4, generator=generator, dtype=torch.float64)
    a, b = _random_marginal(generator, 3, 4), _random_marginal(generator, 3, 4)
    double = sinkhorn_cost(cost, a, b, epsilon=0.1, **CONVERGED)
    single = sinkhorn_cost(cost.float(), a.float(), b.float(), epsilon=0.1, max_iter=2000, tol=1e-5)
    assert double.dtype == torch.float64 and single.dtype == torch.float32
    torch.testing.assert_close(single.double(), double, atol=1e-5, rtol=0)


def test_warns_when_not_converged_and_not_otherwise():
    generator = torch.Generator().manual_seed(12)
    cost = torch.rand(2, 5, 5, generator=generator, dtype=torch.float64)
    a, b = _random_marginal(generator, 2, 5), _random_marginal(generator, 2, 5)
    with pytest.warns(SinkhornConvergenceWarning, match="did not converge"):
        sinkhorn_cost(cost, a, b, epsilon=0.001, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sinkhorn_cost(cost, a, b, epsilon=0.5, **CONVERGED)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"cost": torch.rand(4, 3)}, "'cost'"),
        ({"cost": torch.full((1, 4, 3), float("nan"))}, "'cost'"),
        ({"cost": torch.full((1, 4, 3), float("inf"))}, "'cost'"),
        ({"a": torch.full((1, 3), 1 / 3)}, "'a'"),
        ({"a": torch.tensor([[1.5, -0.5, 0.0, 0.0]])}, "'a'"),
        ({"b": torch.tensor([[0.5, 0.2, 0.2]])}, "'b'"),
        ({"epsilon": 0.0}, "'epsilon'"),
        ({"max_iter": 0}, "'max_iter'"),
        ({"debias": True}, "'cost'"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(changes, name):
    arguments = {"cost": torch.rand(1, 4, 3), "a": torch.full((1, 4), 0.25), "b": torch.full((1, 3), 1 / 3)}
    arguments.update({"epsilon": 0.1}, **changes)
    with pytest.raises(ValueError, match=name):
        sinkhorn_cost(
            arguments.pop("cost"), arguments.pop("a"), arguments.pop("b"), **arguments
        )  # fmt: skip


def test_empty_batch():
    value, plan = sinkhorn_cost(torch.zeros(0, 3, 2), torch.zeros(0, 3), torch.zeros(0, 2), epsilon=0.1,
                                return_plan=True)  # fmt: skip
    assert value.shape == (0,) and plan.shape == (0, 3, 2)
