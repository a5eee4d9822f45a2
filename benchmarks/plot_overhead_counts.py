"""Where PLOT's step overhead comes from, by deterministic counts (no timings): FLOPs, bytes allocated and
aten op counts of the loss head, DPO alone vs DPO + PLOT (dirac), unfused and fused.

How to run (safe on a loaded machine: nothing here is a time):

    .venv/bin/python benchmarks/plot_overhead_counts.py --pairs 2 --seq-len 256
    .venv/bin/python benchmarks/plot_overhead_counts.py --pairs 4 --seq-len 1024 --analytic-only

What is counted, for one step on ``2 x pairs`` rows of ``seq-len`` tokens (the first quarter prompt):

* analytic FLOPs: the model step (policy forward + backward = 3 x forward, reference forward), using
  ``2 x parameters x tokens`` per forward plus attention, and PLOT's extra products: the cost-row product
  ``2 N_c d V`` (N_c chosen response tokens) once in the unfused kernel's forward (its backward reuses the
  stored rows) and twice in the fused head (forward and the recomputing backward);
* counted on the head alone (the unfused rows through ``heads.logits_head``, as the module runs them; the
  "separate" rows compose ``token_logps`` and the dirac kernel as the module did before, for comparison) (from the policy's final hidden states to the loss gradients, forward and
  backward), by a ``TorchDispatchMode`` that sees every aten op: the number of ops, the bytes of every
  newly allocated result, the number of allocations of at least one ``(pairs x tokens, V)`` fp32 block
  (the chosen half's logits size), and ``FlopCounterMode``'s FLOPs (matrix products). The model body is
  the same in every configuration and is left out.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from plot_lightning.heads.fused_head import fused_head
from plot_lightning.heads.logits_head import logits_head
from plot_lightning.losses.logprobs import token_logps
from plot_lightning.losses.plot_cost import normalise_embedding
from plot_lightning.losses.plot_dirac import dirac_token_costs

SMOLLM2 = {"vocab": 49152, "width": 576, "layers": 30, "ffn": 1536, "heads": 9, "kv_heads": 3}


def model_flops(pairs: int, seq_len: int, shape: dict) -> float:
    """FLOPs of one DPO step: policy fwd + bwd (3x fwd) + reference fwd = 4 forwards, 2 FLOPs per MAC."""
    d, layers, ffn, vocab = shape["width"], shape["layers"], shape["ffn"], shape["vocab"]
    kv = d * shape["kv_heads"] // shape["heads"]
    per_token_layer = 2 * (d * d * 2 + d * kv * 2 + 3 * d * ffn) + 2 * 2 * seq_len * d  # linear + attention
    tokens = 2 * pairs * seq_len
    forward = tokens * (layers * per_token_layer + 2 * d * vocab)
    return 4.0 * forward


def plot_flops(pairs: int, seq_len: int, shape: dict, fused: bool) -> float:
    chosen_tokens = pairs * (seq_len - 1 - seq_len // 4)
    product = 2.0 * chosen_tokens * shape["width"] * shape["vocab"]
    return product * (2 if fused else 1)


def head_inputs(pairs: int, seq_len: int, shape: dict):
    """Final hidden states ``(2B, seq_len, d)`` at every position (as the model's lm_head sees them), the
    output embedding, aligned targets / mask ``(2B, seq_len - 1)`` and the unit cost embedding."""
    gen = torch.Generator().manual_seed(0)
    rows, vocab, width = 2 * pairs, shape["vocab"], shape["width"]
    hidden = (torch.randn(rows, seq_len, width, generator=gen) * 0.5).requires_grad_()
    weight = (torch.randn(vocab, width, generator=gen) * 0.05).requires_grad_()
    targets = torch.randint(0, vocab, (rows, seq_len - 1), generator=gen)
    mask = torch.zeros(rows, seq_len - 1, dtype=torch.bool)
    mask[:, seq_len // 4 :] = True
    return hidden, weight, targets, mask, normalise_embedding(weight.detach())


def separate_step(hidden, weight, targets, mask, embedding, with_plot: bool) -> None:
    """The unfused step before the logits head: ``token_logps`` on ``z[:, :-1]`` and the dirac kernel on its
    chosen half, each with its own gradient through autograd."""
    logits = (hidden @ weight.T)[:, :-1]  # (2B, T-1, V) view of what the model's lm_head returns
    total = token_logps(logits, targets, mask).sum()
    if with_plot:
        half = logits.shape[0] // 2
        costs, _ = dirac_token_costs(logits[:half], targets[:half], mask[:half], embedding)
        total = total + 0.1 * costs.sum()
    total.backward()


def unfused_step(hidden, weight, targets, mask, embedding, with_plot: bool) -> None:
    """The unfused step as the module runs it: the logits head (log-probs and dirac costs in one function)."""
    logits = hidden @ weight.T  # (2B, T, V): what the model's lm_head returns
    half = logits.shape[0] // 2
    cost_rows = range(half) if with_plot else range(0)
    logps, costs = logits_head(logits, targets, mask, unit_embedding=embedding, cost_rows=cost_rows)
    total = logps.sum() + (0.1 * costs.sum() if with_plot else 0.0)
    total.backward()


def fused_step(hidden, weight, targets, mask, embedding, with_plot: bool) -> None:
    half = hidden.shape[0] // 2
    outputs = fused_head(
        hidden[:, :-1],
        weight,
        None,
        targets,
        mask,
        unit_embedding=embedding,
        cost_rows=half if with_plot else 0,
    )
    (outputs.logps.sum() + 0.1 * outputs.costs.sum()).backward()


class AllocationCounter(TorchDispatchMode):
    """Every aten op run under it (backward included): op count and bytes of the new tensors it returns
    (outputs sharing storage with an input, i.e. in-place ops and views, allocate nothing)."""

    def __init__(self, block_bytes: int) -> None:
        super().__init__()
        self.block_bytes, self.ops, self.allocated, self.big = block_bytes, 0, 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        inputs = {t.untyped_storage().data_ptr() for t in pytree.tree_leaves((args, kwargs)) if _is_tensor(t)}
        for tensor in pytree.tree_leaves(out):
            if _is_tensor(tensor) and tensor.untyped_storage().data_ptr() not in inputs:
                size = tensor.untyped_storage().nbytes()
                self.allocated += size
                self.big += size >= self.block_bytes
        return out


def _is_tensor(value) -> bool:
    return isinstance(value, torch.Tensor)


def counts(step, inputs, with_plot: bool, block_bytes: int) -> dict:
    hidden, weight = inputs[:2]
    hidden.grad = weight.grad = None
    flops = FlopCounterMode(display=False)
    with flops, AllocationCounter(block_bytes) as counter:
        step(*inputs, with_plot)
    return {
        "allocated_mb": counter.allocated / 2**20,
        "big_allocations": counter.big,
        "aten_ops": counter.ops,
        "gflop": flops.get_total_flops() / 1e9,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--vocab", type=int, default=SMOLLM2["vocab"])
    parser.add_argument("--analytic-only", action="store_true")
    args = parser.parse_args()
    shape = {**SMOLLM2, "vocab": args.vocab}
    base = model_flops(args.pairs, args.seq_len, shape)
    print(f"shape {args.pairs} pairs x {args.seq_len} tokens, SmolLM2-135M body, V = {shape['vocab']}")
    print(f"model step (policy fwd+bwd, reference fwd): {base / 1e12:.3f} TFLOP")
    for fused in (False, True):
        extra = plot_flops(args.pairs, args.seq_len, shape, fused)
        label = "fused head" if fused else "unfused kernel"
        print(
            f"PLOT cost-row products, {label}: {extra / 1e9:.1f} GFLOP = {100 * extra / base:.2f}% of the step"
        )
    if args.analytic_only:
        return
    inputs = head_inputs(args.pairs, args.seq_len, shape)
    block = args.pairs * (args.seq_len - 1) * shape["vocab"] * 4
    print(f"\nhead only (hidden states -> loss gradients); 'big' = allocations >= {block / 2**20:.0f} MB")
    print(f"{'config':28s} {'allocated MB':>13s} {'big allocs':>11s} {'aten ops':>9s} {'GFLOP':>9s}")
    for name, step, with_plot in (
        ("separate dpo (before)", separate_step, False),
        ("separate dpo+plot (before)", separate_step, True),
        ("unfused dpo", unfused_step, False),
        ("unfused dpo+plot(dirac)", unfused_step, True),
        ("fused dpo", fused_step, False),
        ("fused dpo+plot(dirac)", fused_step, True),
    ):
        row = counts(step, inputs, with_plot, block)
        print(
            f"{name:28s} {row['allocated_mb']:13.1f} {row['big_allocations']:11d} {row['aten_ops']:9d} "
            f"{row['gflop']:9.1f}"
        )


if __name__ == "__main__":
    main()
