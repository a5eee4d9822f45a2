"""Overhead of PLOT on one preference training step, SmolLM2-135M architecture (random init).

How to run (CPU, a few steps):  .venv/bin/python benchmarks/plot_overhead.py --steps 3
On a GPU:                       .venv/bin/python benchmarks/plot_overhead.py --device cuda --steps 20

One step = policy forward+backward on chosen+rejected in one batch (2 pairs x seq-len tokens = 4 rows),
reference forward under no_grad, loss, AdamW step. Configurations, all in ONE process on ONE model and
optimiser, one warm-up step each, then measured in rounds, forward and reversed in turn (ABBA), so drift and
the position in a round (other load, allocator state) hit all of them alike; the table gives the median over
``--steps`` rounds:

* ``dpo``: CompositeLoss([dpo]);
* ``dpo+plot(dirac)``: CompositeLoss([dpo, plot]), weights [1, 0.1] (custom autograd, stored gradient rows);
* ``dpo+dirac(naive)``: plain autograd ``sum(softmax(z) * C[y])`` (keeps p and C for backward);
* ``dpo+plot(sinkhorn)``: CompositeLoss([dpo, plot]) with ``variant=sinkhorn``, K = ``--top-k``,
  including the reference top-K extraction;
* ``dpo(fused)``: CompositeLoss([dpo]) through the fused head: the base for the fused PLOT rows:
  their overhead is their ratio to it, as ``dpo`` is for the unfused rows;
* ``dpo+plot(fused)``: CompositeLoss([dpo, plot]) through the fused head (``PLOTModule(fused_head=True)``):
  log-probs and the dirac cost from the final hidden states, policy and reference, no (B, T, V) logits;
* ``dpo+sinkhorn(fused)``: the sinkhorn variant through the fused head (policy and reference top-K from
  the head's chunks).

Timings are refused (not printed) when ``benchmarks/machine_load.py`` finds the machine loaded: a 1-minute
load average above ``--max-load`` at start, or other processes using CPU during the measured steps. The
deterministic counts behind the overhead (FLOPs, bytes allocated) are in ``benchmarks/plot_overhead_counts.py``.

Saved for backward (``saved+``, deterministic, independent of load): the bytes of the distinct tensor storages
autograd keeps from forward to backward beyond the parameters and the model's own logits, counted with
``torch.autograd.graph.saved_tensors_hooks``; a copy of the logits made for the loss shows up here.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (live tensors).
On CPU the process's peak resident set (VmHWM), reset before each step through /proc/self/clear_refs;
the script re-executes itself with ``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc returns every freed
block >= 64 KiB to the OS and RSS follows live tensor memory (interpreter and libraries are included
in the absolute figure; the "delta" column subtracts the RSS measured just before the step).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine_load import LoadProbe  # noqa: E402
from step_memory import resident_mb, start_step_window, step_peak_mb  # noqa: E402

from plot_lightning.forward import AlignedBatch, causal_logits, model_logits, reference_outputs_from_logits
from plot_lightning.heads.preference import (
    fused_reference_outputs,
    policy_preference_forward,
)
from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.plot_cost import normalise_embedding

PLOT_WEIGHT = 0.1


def smollm2_135m_architecture(
    seed: int, layers: int = 30, vocab: int = 49152
) -> transformers.LlamaForCausalLM:
    config = transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        tie_word_embeddings=True,
        max_position_embeddings=2048,
        rope_theta=100000.0,
        rms_norm_eps=1e-5,
    )
    torch.manual_seed(seed)
    return transformers.LlamaForCausalLM(config)


def naive_dirac(logits, labels, mask, unit_embedding):
    """Plain autograd dirac cost (B,): keeps softmax(z) and the cost rows (N, V) for backward."""
    probs = torch.softmax(logits[mask].float(), dim=-1)  # (N, V)
    cost_rows = 1.0 - unit_embedding[labels[mask]] @ unit_embedding.T  # (N, V)
    per_token = (probs * cost_rows).sum(-1)
    rows = mask.nonzero()[:, 0]
    totals = torch.zeros(mask.shape[0], device=logits.device).index_add(0, rows, per_token)
    return totals / mask.sum(-1)


def make_batch(pairs: int, seq_len: int, vocab: int, device: torch.device):
    """Random token ids; the first quarter of each row is the prompt (label -100), aligned as the module does."""
    gen = torch.Generator().manual_seed(1)
    input_ids = torch.randint(3, vocab, (2 * pairs, seq_len), generator=gen)
    labels = input_ids.clone()
    labels[:, : seq_len // 4] = -100
    targets = labels[:, 1:]
    mask = targets != -100
    return input_ids.to(device), targets.masked_fill(~mask, 0).to(device), mask.to(device)


class Config:
    def __init__(self, name: str, composite: CompositeLoss, extra: Callable | None = None, fused=False):
        self.name, self.composite, self.extra, self.fused = name, composite, extra, fused
        self.embedding = None


def build_configs(unit_embedding, top_k: int, device) -> list[Config]:
    plot_args = None  # PLOTLoss has no chunk option: its direct path uses the kernel's default chunk (1024)
    sinkhorn_args = {"plot": {"variant": "sinkhorn", "top_k": top_k}}
    configs = [
        Config("dpo", CompositeLoss(["dpo"], [1.0])),
        Config("dpo+plot(dirac)", CompositeLoss(["dpo", "plot"], [1.0, PLOT_WEIGHT], plot_args)),
        Config(
            "dpo+dirac(naive)",
            CompositeLoss(["dpo"], [1.0]),
            lambda z, y, m: naive_dirac(z, y, m, unit_embedding),
        ),
        Config("dpo+plot(sinkhorn)", CompositeLoss(["dpo", "plot"], [1.0, PLOT_WEIGHT], sinkhorn_args)),
        Config("dpo(fused)", CompositeLoss(["dpo"], [1.0]), fused=True),  # the base of the fused PLOT rows
        Config("dpo+plot(fused)", CompositeLoss(["dpo", "plot"], [1.0, PLOT_WEIGHT], plot_args), fused=True),
        Config(
            "dpo+sinkhorn(fused)",
            CompositeLoss(["dpo", "plot"], [1.0, PLOT_WEIGHT], sinkhorn_args),
            fused=True,
        ),
    ]
    for config in configs:
        config.composite.to(device)
        config.embedding = unit_embedding.float()  # the module's fp32 cost embedding, given to the heads
    return configs


class SavedForBackward:
    """Bytes of the distinct storages autograd saves for backward beyond the parameters and the model's own
    logits (which the step holds anyway): e.g. a copy of the logits made for the loss (deterministic)."""

    def __init__(self, policy) -> None:
        self.parameters = {p.untyped_storage().data_ptr() for p in policy.parameters()}
        self.storages: dict[int, int] = {}

    def pack(self, tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in self.parameters:
            self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    def megabytes(self, model_logits) -> float:
        logits = None if model_logits is None else model_logits.untyped_storage().data_ptr()
        return sum(size for pointer, size in self.storages.items() if pointer != logits) / 2**20


def train_step(config: Config, policy, reference, optimiser, batch, memory=None) -> tuple[float, float]:
    """One step; returns the peak memory (MB) reached before the optimiser step (nan without ``memory``)
    and the MB autograd saved for backward (activations, no parameters)."""
    saved = SavedForBackward(policy)
    with torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda tensor: tensor):
        loss = _fused_loss if config.fused else _loss
        total, model_logits = loss(config, policy, reference, batch)
    saved_mb = saved.megabytes(model_logits)
    del model_logits
    total.backward()
    forward_backward_peak = memory.peak() if memory is not None else float("nan")
    optimiser.step()
    optimiser.zero_grad(set_to_none=True)
    return forward_backward_peak, saved_mb


def _loss(config: Config, policy, reference, batch):
    """The unfused step as ``PLOTModule(fused_head=False)`` runs it: the reference's log-probs (and top-K)
    from its logits, then the logits head (log-probs and the dirac cost in one function)."""
    input_ids, targets, mask = batch
    aligned = AlignedBatch(input_ids, torch.ones_like(input_ids), targets, mask, has_rejected=True)
    with torch.no_grad():
        ref = reference_outputs_from_logits(
            causal_logits(reference, aligned), aligned, config.composite.needs.reference_topk
        )
    logits = model_logits(policy, aligned)  # (2B, T, V)
    forward = policy_preference_forward(logits, aligned, ref, config.composite.needs, config.embedding)
    total, _ = config.composite(forward)
    if config.extra is not None:
        chosen = forward.chosen
        total = total + PLOT_WEIGHT * config.extra(chosen.logits, chosen.labels, chosen.mask).mean()
    return total, logits


def _fused_loss(config: Config, policy, reference, batch):
    """The same loss through the fused head (policy and reference), as ``PLOTModule(fused_head=True)``;
    there are no model logits."""
    input_ids, targets, mask = batch
    aligned = AlignedBatch(input_ids, torch.ones_like(input_ids), targets, mask, has_rejected=True)
    ref = fused_reference_outputs(reference, aligned, config.composite.needs.reference_topk)
    needs = config.composite.needs
    total, _ = config.composite(policy_preference_forward(policy, aligned, ref, needs, config.embedding))
    return total, None


class PeakMemory:
    """Peak memory of one step in MB: CUDA allocator peak, or CPU VmHWM reset through clear_refs."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def reset(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return torch.cuda.memory_allocated() / 2**20
        start_step_window()
        return resident_mb()

    def peak(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() / 2**20
        return step_peak_mb()


def measure(configs, policy, reference, optimiser, batch, steps, warmup_rounds, device) -> dict[str, list]:
    """Per config, ``(wall s, peak MB, peak - before MB, cpu s, fwd+bwd peak MB, saved MB)`` per round."""
    memory = PeakMemory(device)
    # Warm-up: AdamW state and first-call overheads; at least one step so the optimiser state exists.
    for config in configs * warmup_rounds or configs[:1]:
        train_step(config, policy, reference, optimiser, batch)
    results = {config.name: [] for config in configs}
    for round_index in range(steps):
        # ABBA order: odd rounds run the configs in reverse, so each config's positions average out. With a
        # fixed order, dpo (always first) measured 1.22x the step time of dpo+plot(dirac), a strict superset.
        for config in configs if round_index % 2 == 0 else configs[::-1]:
            before = memory.reset()
            start, start_cpu = time.perf_counter(), time.process_time()
            fwd_bwd_peak, saved = train_step(config, policy, reference, optimiser, batch, memory)
            if device.type == "cuda":
                torch.cuda.synchronize()
            elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
            peak = memory.peak()
            results[config.name].append((elapsed, peak, peak - before, cpu, fwd_bwd_peak, saved))
            print(
                f"  round {round_index}: {config.name:22s} {elapsed:8.3f} s  cpu {cpu:8.3f} s  "
                f"peak {peak:8.1f} MB  fwd+bwd peak {fwd_bwd_peak:8.1f} MB  saved {saved:8.1f} MB",
                flush=True,
            )
    return results


def print_table(results: dict[str, list], quiet: bool = True) -> None:
    """Medians per config and their ratios to ``dpo``; time columns only when the machine was ``quiet``."""
    base = [statistics.median(r[i] for r in results["dpo"]) for i in range(6)]
    header = (
        "config",
        "step s",
        "time x",
        "cpu s",
        "cpu x",
        "peak MB",
        "peak x",
        "delta MB",
        "f+b MB",
        "f+b x",
        "saved+ MB",
    )
    print("\n{:22s} {:>8s} {:>7s} {:>8s} {:>7s} {:>9s} {:>7s} {:>9s} {:>9s} {:>7s} {:>9s}".format(*header))
    for name, rows in results.items():
        step, peak, delta, cpu, fwd_bwd, saved = (statistics.median(r[i] for r in rows) for i in range(6))
        times = f"{step:8.3f} {step / base[0]:7.3f} {cpu:8.3f} {cpu / base[3]:7.3f}"
        if not quiet:
            times = f"{'refused':>8s} {'-':>7s} {'refused':>8s} {'-':>7s}"
        print(
            f"{name:22s} {times} "
            f"{peak:9.1f} {peak / base[1]:7.3f} {delta:9.1f} {fwd_bwd:9.1f} {fwd_bwd / base[4]:7.3f} {saved:9.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="measured rounds (each runs every config once)")
    parser.add_argument("--warmup-rounds", type=int, default=1, help="0: a single dpo step only")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--top-k", type=int, default=32)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", default="", help="comma-separated config names to run (default: all)")
    parser.add_argument(
        "--layers", type=int, default=30, help="decoder layers (30: SmolLM2-135M; fewer: smoke)"
    )
    parser.add_argument(
        "--vocab", type=int, default=49152, help="vocabulary (49,152: SmolLM2; 128,256: Llama 3)"
    )
    parser.add_argument("--max-load", type=float, default=0.5, help="refuse timings above this load average")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cpu" and os.environ.get("MALLOC_MMAP_THRESHOLD_") != "65536":
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
        )
    torch.set_num_threads(args.threads)
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}"
    )
    print(f"device {device}, threads {torch.get_num_threads()}, {platform.processor() or platform.machine()}")
    print(f"settings: {vars(args)}, plot weight {PLOT_WEIGHT}, fp32 weights, seed 0")
    policy = smollm2_135m_architecture(0, args.layers, args.vocab).to(device).train()
    reference = smollm2_135m_architecture(0, args.layers, args.vocab).to(device).eval().requires_grad_(False)
    print(f"attention implementation: {policy.config._attn_implementation}")
    optimiser = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    unit_embedding = normalise_embedding(policy.get_output_embeddings().weight)
    configs = build_configs(unit_embedding, args.top_k, device)
    if args.only:
        wanted = {"dpo", *args.only.split(",")}
        configs = [config for config in configs if config.name in wanted]
    batch = make_batch(args.pairs, args.seq_len, policy.config.vocab_size, device)
    probe = LoadProbe(max_load=args.max_load)
    print(probe.describe())
    results = probe.measure(
        lambda: measure(configs, policy, reference, optimiser, batch, args.steps, args.warmup_rounds, device)
    )
    quiet, reason = probe.verdict()
    print(f"\nmachine: {reason}")
    if not quiet:
        print("TIMINGS REFUSED: the machine was loaded; wall and CPU times are left out of the table.")
    print_table(results, quiet)
    print(
        "\npeak memory:",
        "torch.cuda.max_memory_allocated per step"
        if device.type == "cuda"
        else "process VmHWM per step (clear_refs reset, MALLOC_MMAP_THRESHOLD_=65536); "
        "delta = peak - RSS before the step",
    )
    print("f+b: the same peak read after backward, before the optimiser step (AdamW's own peak excluded).")
    print("saved+: storages autograd keeps for backward beyond parameters and the model's logits (exact).")
    print("time: wall clock per step; cpu: process CPU time (all threads) per step, less sensitive than wall")
    print("time to other processes sharing the cores. All figures are medians over the measured rounds.")


if __name__ == "__main__":
    main()
