"""Convergence of the PLOT ``sinkhorn`` variant on SmolLM2-sized problems (no timings: iterations and errors).

How to run (needs SmolLM2-135M-Instruct, ``plot-lightning prepare-model``; ``--model tiny`` for a smoke run)::

    .venv/bin/python benchmarks/sinkhorn_convergence.py --rows 4 --max-length 160
    .venv/bin/python benchmarks/sinkhorn_convergence.py --model tiny --rows 2

The problems are the ones the loss builds: the model's own next-token distributions on ``demo.jsonl`` responses
(policy == reference, as at the start of training), support ``topK(p) ∪ topK(p_ref) ∪ {y}`` plus the rest atom,
target ``(1 - lam) δ_y + lam topK(p_ref)``, cosine cost between the model's unit output embeddings. For every
(epsilon, max_iter) it reports, over all response tokens, the largest L1 marginal error
and the error of the gradient with respect to the logits, relative to the converged gradient (fp64, 20,000
iterations by default, tol 1e-12): ``max_t ||g_t - g*_t|| / max_t ||g*_t||`` and the same in the mean over tokens.
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch, causal_logits
from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.plot_sinkhorn import (
    _first_slots,
    _policy_masses,
    _support_cost,
    _target_masses,
    reference_topk,
    support_slots,
    tolerance,
)
from plot_lightning.models.loading import load_causal_lm
from plot_lightning.ot.sinkhorn import SinkhornConvergenceWarning, sinkhorn_cost


def problems(model_spec: str, rows: int, max_length: int, top_k: int, lam: float, sharpen: float = 1.0):
    """``(policy_logits (M, V) fp64, ground_cost (M, L+1, L+1), target (M, L+1), ids, unique)``."""
    model = load_causal_lm(model_spec).eval()
    data = PreferenceDataModule(
        "sample:demo",
        tokenizer=model_spec,
        batch_size=rows,
        max_length=max_length,
        max_prompt_length=max_length // 2,
    )
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    aligned = align_batch(batch)
    with torch.no_grad():
        logits = causal_logits(model, aligned)[:rows]  # chosen rows
    mask = aligned.mask[:rows]
    ref_ids, ref_logps = reference_topk(logits, top_k)
    policy_logits = logits[mask].double() * sharpen  # sharpen > 1: a policy more peaked than the reference
    policy_ids = policy_logits.topk(top_k, dim=-1).indices
    ids = support_slots(policy_ids, ref_ids[mask], aligned.targets[:rows][mask])  # (M, L)
    first, unique = _first_slots(ids)
    unit = normalise_embedding(model.get_output_embeddings().weight).double()
    return (
        policy_logits,
        _support_cost(unit, ids, "cosine"),
        _target_masses(ref_logps[mask].double(), first, lam),
        ids,
        unique,
    )


def gradient(policy_logits, cost, target, ids, unique, **settings) -> tuple[torch.Tensor, float]:
    """Gradient of ``sum_t W_t`` w.r.t. the logits ``(M, V)`` and the largest L1 marginal error."""
    logits = policy_logits.clone().requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SinkhornConvergenceWarning)
        support_logps = logits.gather(-1, ids) - torch.logsumexp(logits, dim=-1, keepdim=True)
        policy = _policy_masses(support_logps, unique)
        values, plan = sinkhorn_cost(cost, policy, target, return_plan=True, **settings)
    values.sum().backward()
    plan = plan.detach()
    error = float(
        torch.maximum((plan.sum(-1) - policy).abs().sum(-1), (plan.sum(-2) - target).abs().sum(-1)).max()
    )
    return logits.grad, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=160)
    parser.add_argument("--top-k", type=int, default=32)
    parser.add_argument("--lam", type=float, default=0.3)
    parser.add_argument("--epsilons", default="0.05,0.1")
    parser.add_argument("--iterations", default="50,100,200,400")
    parser.add_argument(
        "--sharpen", type=float, default=1.0, help="policy logits x this (policy != reference)"
    )
    parser.add_argument(
        "--exact-iter", type=int, default=20000, help="iterations of the fp64 reference solve"
    )
    args = parser.parse_args()
    torch.manual_seed(0)
    logits, cost, target, ids, unique = problems(
        args.model, args.rows, args.max_length, args.top_k, args.lam, args.sharpen
    )
    print(
        f"model {args.model}: {logits.shape[0]} response tokens, support {cost.shape[-1]} atoms, K={args.top_k}"
    )
    rows = []
    for epsilon in (float(e) for e in args.epsilons.split(",")):
        exact, _ = gradient(
            logits, cost, target, ids, unique, epsilon=epsilon, max_iter=args.exact_iter, tol=1e-12
        )
        scale = float(exact.norm(dim=-1).max())
        for max_iter in (int(i) for i in args.iterations.split(",")):
            found, error = gradient(
                logits.float().double(),
                cost.float(),
                target.float(),
                ids,
                unique,
                epsilon=epsilon,
                max_iter=max_iter,
                tol=tolerance(torch.float32),
            )
            diff = (found.float().double() - exact).norm(dim=-1)
            row = dict(
                epsilon=epsilon,
                max_iter=max_iter,
                marginal_error=error,
                grad_error_max=float(diff.max()) / scale,
                grad_error_mean=float(diff.mean()) / scale,
            )
            rows.append(row)
            print(json.dumps(row))


if __name__ == "__main__":
    main()
