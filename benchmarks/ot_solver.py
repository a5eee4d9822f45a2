"""Benchmark: our batched log-domain Sinkhorn vs POT, forward + backward.

How to run::

    .venv/bin/python benchmarks/ot_solver.py            # N in {1024, 8192}, sizes {16, 32, 64}
    .venv/bin/python benchmarks/ot_solver.py --quick    # N in {256, 1024}, sizes {16, 32}

Solvers, all at the same fixed number of iterations (tol too small to stop early), fp32, epsilon in cost
units, costs ``1 - cos`` between random unit vectors (in [0, 2], like PLOT's), marginals softmax(logits):

* ``ours``: ``plot_lightning.ot.sinkhorn_cost`` (iterations without autograd, implicit backward);
* ``pot_autodiff``: ``ot.solve_batch(method="log_sinkhorn", grad="autodiff")``, ``value_linear``
  (skipped when its autograd graph would exceed ``--autodiff-budget-gb``);
* ``pot_last_step``: the same with ``grad="last_step"`` (one differentiable iteration; an approximate
  gradient of the linear term);
* ``sinkhorn2_loop``: ``ot.sinkhorn2(method="sinkhorn_log")`` problem by problem, timed on the first
  ``--loop-problems`` problems and extrapolated linearly to N (labelled "extrap").

Each cell is the fastest of ``--repeats`` timed runs of ``sum(values).backward()`` with gradients to the
cost and to the marginals' logits. ``maxdiff`` columns: largest absolute difference of the values (and of
the cost gradients) from ours. Timings depend on the machine's load; run on an idle machine.
"""

from __future__ import annotations

import argparse
import time
import warnings

import ot
import torch

from plot_lightning.ot import SinkhornConvergenceWarning, sinkhorn_cost


def make_problems(count: int, size: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    points = torch.nn.functional.normalize(torch.randn(count, 2 * size, 16, generator=generator), dim=-1)
    cost = 1 - points[:, :size] @ points[:, size:].transpose(-1, -2)  # (N, size, size)
    logits_a = torch.randn(count, size, generator=generator)
    logits_b = torch.randn(count, size, generator=generator)
    return cost.clamp(0, 2), logits_a, logits_b


def run_ours(cost, za, zb, epsilon, iterations):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinkhornConvergenceWarning)
        return sinkhorn_cost(
            cost, za.softmax(-1), zb.softmax(-1), epsilon=epsilon, max_iter=iterations, tol=1e-30
        )


def run_pot_batch(grad):
    def run(cost, za, zb, epsilon, iterations):
        result = ot.solve_batch(cost, epsilon, za.softmax(-1), zb.softmax(-1), max_iter=iterations, tol=1e-30,
                                method="log_sinkhorn", grad=grad)  # fmt: skip
        return result.value_linear

    return run


def run_loop(cost, za, zb, epsilon, iterations):
    values = [
        ot.sinkhorn2(za[i].softmax(-1), zb[i].softmax(-1), cost[i], epsilon, method="sinkhorn_log",
                     numItermax=iterations, stopThr=1e-30)
        for i in range(cost.shape[0])
    ]  # fmt: skip
    return torch.stack([torch.as_tensor(v) for v in values])


def timed(solver, problems, epsilon, iterations, repeats):
    """Fastest fwd+bwd seconds (robust to other load), values and cost gradient of the last run."""
    times = []
    for _ in range(repeats):
        cost, za, zb = (t.detach().clone().requires_grad_(True) for t in problems)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = solver(cost, za, zb, epsilon, iterations)
        values.sum().backward()
        times.append(time.perf_counter() - start)
    return min(times), values.detach(), cost.grad


def benchmark_cell(count, size, args):
    problems = make_problems(count, size, args.seed)
    ours_t, ours_v, ours_g = timed(run_ours, problems, args.epsilon, args.iterations, args.repeats)
    row = {"N": count, "n=m": size, "ours_ms": 1e3 * ours_t}
    graph_gb = 4 * 3 * count * size * size * 2 * args.iterations / 1e9
    for name, solver in (
        ("pot_autodiff", run_pot_batch("autodiff")),
        ("pot_last_step", run_pot_batch("last_step")),
    ):
        if name == "pot_autodiff" and graph_gb > args.autodiff_budget_gb:
            row[name] = f"skipped (graph ~{graph_gb:.0f} GB)"
            continue
        pot_t, pot_v, pot_g = timed(solver, problems, args.epsilon, args.iterations, args.repeats)
        row[name] = (f"{1e3 * pot_t:.0f} ms ({pot_t / ours_t:.2f}x) dv={float((pot_v - ours_v).abs().max()):.1e}"
                     f" dg={float((pot_g - ours_g).abs().max()):.1e}")  # fmt: skip
    subset = min(args.loop_problems, count)
    loop_t, loop_v, _ = timed(run_loop, [t[:subset] for t in problems], args.epsilon, args.iterations, 1)
    extrapolated = loop_t * count / subset
    row["sinkhorn2_loop"] = (f"{1e3 * extrapolated:.0f} ms extrap from {subset} ({extrapolated / ours_t:.1f}x)"
                             f" dv={float((loop_v - ours_v[:subset]).abs().max()):.1e}")  # fmt: skip
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N in {256, 1024}, sizes {16, 32}")
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loop-problems", type=int, default=64)
    parser.add_argument("--autodiff-budget-gb", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    counts, sizes = ((256, 1024), (16, 32)) if args.quick else ((1024, 8192), (16, 32, 64))
    print(f"torch {torch.__version__}, POT {ot.__version__}, threads {torch.get_num_threads()}, fp32, "
          f"epsilon {args.epsilon}, iterations {args.iterations}, best of {args.repeats}, "
          f"seed {args.seed}; fwd+bwd; dv/dg = max |value / cost-grad difference| vs ours")  # fmt: skip
    columns = ("N", "n=m", "ours_ms", "pot_autodiff", "pot_last_step", "sinkhorn2_loop")
    print(" | ".join(columns))
    for count in counts:
        for size in sizes:
            row = benchmark_cell(count, size, args)
            row["ours_ms"] = f"{row['ours_ms']:.0f}"
            print(" | ".join(str(row[c]) for c in columns), flush=True)


if __name__ == "__main__":
    main()
