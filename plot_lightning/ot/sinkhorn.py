r"""Batched, masked, log-domain Sinkhorn returning the linear transport cost ``<P, C>``.

For each of ``N`` problems, with cost ``C (n, m)`` and marginals ``a (n)``, ``b (m)``, the entropic plan is

.. math::
    P^\star = \arg\min_{P \ge 0,\ P 1 = a,\ P^T 1 = b} \langle P, C \rangle + \varepsilon \sum_{ij} P_{ij} \log P_{ij}

(POT's ``reg`` is ``epsilon``) and the returned value is the linear term ``<P*, C>``, as ``ot.sinkhorn2``
returns it. In scaled log potentials ``F = f / eps``, ``G = g / eps``, ``P_ij = exp(F_i + G_j - C_ij / eps)``
and the updates are ``F = log a - LSE_j(G_j - C_ij / eps)``, ``G = log b - LSE_i(F_i - C_ij / eps)``.
A zero-mass atom has potential ``-inf``, hence a zero row or column in ``P``: ragged supports are padded
with zero-mass atoms. Reference: Cuturi 2013 (NeurIPS); Peyré and Cuturi, "Computational OT", ch. 4.

Gradients. The iterations run without autograd; the backward pass differentiates the fixed point
implicitly (one linear solve of size ``m`` per problem), so memory does not grow with the iteration count.
The envelope theorem alone (``dW/dC = P``) is the gradient of the *entropic* value, not of the linear term
returned here; the implicit backward gives the exact gradient of ``<P*, C>`` at convergence (it matches
``torch.autograd.gradcheck`` and POT's unrolled autodiff), and a good approximation before it. With
``H = [[diag(P 1), P], [P^T, diag(P^T 1)]]`` and ``H [u; w] = [(P∘C) 1; (P∘C)^T 1]``:
``dL/da = u``, ``dL/db = w``, ``dL/dC = P ∘ (1 + (u_i + w_j - C_ij) / eps)``.

POT stays the test oracle; README "Benchmarks" has the comparison with ``ot.solve_batch``.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor

from plot_lightning.tensor_checks import check_finite, check_marginal, check_shape

_CHECK_EVERY = 5


class SinkhornConvergenceWarning(RuntimeWarning):
    """The marginal error was still above ``tol`` after ``max_iter`` iterations."""


def _validate(cost: Tensor, a: Tensor, b: Tensor, epsilon: float, max_iter: int, tol: float) -> None:
    check_shape("cost", cost, (None, None, None))
    if not cost.is_floating_point():
        raise ValueError(f"'cost' (shape {tuple(cost.shape)}, dtype {cost.dtype}) must be floating point")
    check_finite("cost", cost)
    count, n, m = cost.shape
    check_shape("a", a, (count, n))
    check_shape("b", b, (count, m))
    check_marginal("a", a)
    check_marginal("b", b)
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"'epsilon' must be a finite positive number, got {epsilon!r}")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ValueError(f"'max_iter' must be a positive integer, got {max_iter!r}")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"'tol' must be a positive number, got {tol!r}")


def _masked_log(weights: Tensor) -> Tensor:
    """``log`` with ``-inf`` (not NaN, no warning) on zero-mass atoms."""
    return torch.where(weights > 0, weights.clamp_min(torch.finfo(weights.dtype).tiny).log(), -math.inf)


def _iterate(scaled_cost: Tensor, a: Tensor, b: Tensor, max_iter: int, tol: float):
    """Run log-domain Sinkhorn; returns scaled potentials ``F (N,n)``, ``G (N,m)``, iterations, error.

    The error is the largest L1 row-marginal violation ``sum_i |(P 1)_i - a_i|`` (columns are exact after
    the ``G`` update). It comes almost free from the log-sum-exp the next ``F`` update needs anyway; it is
    read every ``_CHECK_EVERY`` iterations to limit host-device synchronisation.
    """
    log_a, log_b = _masked_log(a), _masked_log(b)
    potential_a = torch.zeros_like(a)
    potential_b = torch.where(b > 0, 0.0, -math.inf).to(b.dtype)
    error = math.inf
    for iteration in range(max_iter + 1):
        row_lse = torch.logsumexp(potential_b.unsqueeze(-2) - scaled_cost, dim=-1)  # (N, n)
        if iteration == max_iter or (iteration > 0 and iteration % _CHECK_EVERY == 0):
            error = float((torch.exp(potential_a + row_lse) - a).abs().sum(-1).max())
            if error < tol or iteration == max_iter:
                return potential_a, potential_b, iteration, error
        potential_a = log_a - row_lse
        col_lse = torch.logsumexp(potential_a.unsqueeze(-1) - scaled_cost, dim=-2)  # (N, m)
        potential_b = log_b - col_lse
    raise AssertionError("unreachable")


def _implicit_gradients(cost: Tensor, plan: Tensor, potential_a: Tensor, potential_b: Tensor, epsilon: float):
    """Adjoint of the fixed point (see the module docstring): returns ``u (N,n)``, ``w (N,m)``.

    ``u`` is eliminated with the row-conditional plan ``P_ij / (P 1)_i = softmax_j(G_j - C_ij/eps)``, which
    stays defined on zero-mass rows; the Schur complement ``diag(P^T 1) - P^T Prow`` is singular along the
    all-ones vector of the active columns, fixed by adding a rank-one term (the gradient's gauge).
    """
    scaled_cost = cost / epsilon
    row_plan = torch.softmax(potential_b.unsqueeze(-2) - scaled_cost, dim=-1)  # (N, n, m) rows sum to 1
    col_plan = torch.softmax(potential_a.unsqueeze(-1) - scaled_cost, dim=-2)  # (N, n, m) cols sum to 1
    row_cost = (row_plan * cost).sum(-1)  # (N, n)
    col_mass = plan.sum(-2)  # (N, m)
    active = (col_mass > 0).to(cost.dtype)  # (N, m); a column that underflowed entirely counts as padding
    count = active.sum(-1, keepdim=True)  # (N, 1)
    schur = torch.diag_embed(col_mass + (1 - active)) - plan.transpose(-1, -2) @ row_plan  # (N, m, m)
    schur = schur + (active / count).unsqueeze(-1) * (active / count).unsqueeze(-2)
    rhs = (plan * cost).sum(-2) - (plan.transpose(-1, -2) @ row_cost.unsqueeze(-1)).squeeze(-1)
    w = torch.linalg.solve(schur, rhs * active)  # (N, m)
    u = row_cost - (row_plan @ w.unsqueeze(-1)).squeeze(-1)  # (N, n)
    # The column equation w_j = sum_i Pcol_ij (C_ij - u_i) also gives the one-sided slope of zero-mass columns.
    w = (col_plan * (cost - u.unsqueeze(-1))).sum(-2)
    return u, w


class _SinkhornLinearCost(torch.autograd.Function):
    """``<P*, C>`` with the implicit backward; also outputs the (non-differentiable) plan."""

    @staticmethod
    def forward(ctx, cost, a, b, epsilon, max_iter, tol, info):
        scaled_cost = cost / epsilon
        potential_a, potential_b, iterations, error = _iterate(scaled_cost, a, b, max_iter, tol)
        info.update(iterations=iterations, error=error)
        plan = torch.exp(potential_a.unsqueeze(-1) + potential_b.unsqueeze(-2) - scaled_cost)
        ctx.save_for_backward(cost, plan, potential_a, potential_b)
        ctx.epsilon = epsilon
        ctx.mark_non_differentiable(plan)
        return (plan * cost).sum((-1, -2)), plan

    @staticmethod
    def backward(ctx, grad_value, _grad_plan):
        cost, plan, potential_a, potential_b = ctx.saved_tensors
        u, w = _implicit_gradients(cost, plan, potential_a, potential_b, ctx.epsilon)
        scale = grad_value.view(-1, 1)
        grad_cost = plan * (1 + (u.unsqueeze(-1) + w.unsqueeze(-2) - cost) / ctx.epsilon)
        return grad_cost * scale.unsqueeze(-1), u * scale, w * scale, None, None, None, None


def _solve(cost: Tensor, a: Tensor, b: Tensor, epsilon: float, max_iter: int, tol: float):
    # Renormalising makes the value a function of the direction of a and b only, so gradients are
    # well defined for any perturbation (they are tangent to the simplex).
    a = a / a.sum(-1, keepdim=True)
    b = b / b.sum(-1, keepdim=True)
    info: dict = {}
    value, plan = _SinkhornLinearCost.apply(cost, a, b, float(epsilon), max_iter, tol, info)
    if info["error"] >= tol:
        warnings.warn(
            f"sinkhorn_cost did not converge: marginal error {info['error']:.3g} >= tol {tol:g} after "
            f"{info['iterations']} iterations; raise max_iter or epsilon",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    return value, plan


def sinkhorn_cost(
    cost: Tensor,
    a: Tensor,
    b: Tensor,
    *,
    epsilon: float,
    max_iter: int = 100,
    tol: float = 1e-6,
    debias: bool = False,
    return_plan: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Linear transport cost ``<P, cost>`` of the entropic plan for ``N`` problems at once.

    Args:
        cost: ``(N, n, m)`` finite ground costs (any units; choose ``epsilon`` in the same units).
        a: ``(N, n)`` nonnegative source weights summing to 1 (zero-mass atoms pad ragged supports).
        b: ``(N, m)`` nonnegative target weights summing to 1.
        epsilon: entropic regularisation (POT's ``reg``), in cost units.
        max_iter: maximum number of Sinkhorn iterations (one ``F`` and one ``G`` update each).
        tol: stop when the L1 row-marginal error of every problem is below it; otherwise warn.
        debias: return the Sinkhorn divergence ``OT(a,b) - (OT(a,a) + OT(b,b)) / 2`` (POT's convention in
            ``empirical_sinkhorn_divergence``, on linear terms). The self-problems reuse ``cost``, which is
            right when ``a`` and ``b`` live on one support (``n == m``, ``cost[i, j] = C(x_i, x_j)``), as in
            the PLOT sinkhorn variant; it is 0 when ``a == b``.
        return_plan: also return the plan ``(N, n, m)`` (detached; of ``OT(a, b)`` when debiasing).

    Returns:
        ``(N,)`` costs in fp64 if ``cost`` is fp64, else fp32 (``a``, ``b`` are cast to it); gradients
        reach ``cost``, ``a`` and ``b``. Example: ``cost = [[[0., 1.], [1., 0.]]]``, ``a = b = [[.5, .5]]``,
        ``epsilon = 0.01`` gives ~0 (nearly all mass stays on the zero-cost diagonal).
    """
    _validate(cost, a, b, epsilon, max_iter, tol)
    dtype = torch.float64 if cost.dtype == torch.float64 else torch.float32
    cost, a, b = cost.to(dtype), a.to(dtype), b.to(dtype)
    if debias and cost.shape[-1] != cost.shape[-2]:
        raise ValueError(f"'cost' (shape {tuple(cost.shape)}) must be square (one shared support) to debias")
    count = cost.shape[0]
    if count == 0:
        empty = cost.sum((-1, -2)) + a.sum(-1) * 0 + b.sum(-1) * 0
        return (empty, torch.zeros_like(cost)) if return_plan else empty
    if debias:
        values, plans = _solve(
            torch.cat([cost, cost, cost]), torch.cat([a, a, b]), torch.cat([b, a, b]), epsilon, max_iter, tol
        )
        value = values[:count] - 0.5 * (values[count : 2 * count] + values[2 * count :])
        plan = plans[:count]
    else:
        value, plan = _solve(cost, a, b, epsilon, max_iter, tol)
    return (value, plan) if return_plan else value
