"""Optimal transport solvers (torch only)."""

from plot_lightning.ot.sinkhorn import SinkhornConvergenceWarning, sinkhorn_cost

__all__ = ["SinkhornConvergenceWarning", "sinkhorn_cost"]
