"""One FSDP2 training step against the same step without FSDP (``gpu_check.py``).

FSDP2 through Lightning's ``ModelParallelStrategy(data_parallel_size=1, tensor_parallel_size=1)``: the module's
``configure_model`` shards each decoder layer and each model (``plot_lightning.strategies.fsdp2``). A lent GPU
machine has one GPU, so the mesh has one rank and sharding is trivial; what this checks is that the
FSDP-wrapped step runs (wrapping, the fused head through FSDP's output hooks, the optimizer on DTensors) and
gives the same step-0 loss as the plain step (1e-5 relative), plus the peak memory of each. Two ranks are
covered on CPU by the project's tests (``tests/plot_lightning/strategies``).
"""

from __future__ import annotations

from ours_side import run_ours

LOSS_RTOL = 1e-5


def fsdp_step_rows(model: str, examples: list[dict], device: str) -> list[dict]:
    """Rows for the plain and the FSDP2 step (DPO + 0.1 PLOT dirac, fused head, fp32, one step)."""
    from lightning.pytorch.strategies import ModelParallelStrategy
    from step_memory import step_peak_mb

    settings = {
        "steps": 1,
        "pairs": len(examples),
        "lr": 5e-6,
        "beta": 0.1,
        "seed": 0,
        "device": device,
        "plot_weight": 0.1,
        "gradient_checkpointing": False,
        "fused_adamw": False,  # the for-loop AdamW: this checks FSDP, not the fused kernel on DTensors
    }
    rows = []
    for name, strategy in (("single device", "auto"), ("FSDP2, 1 rank", "fsdp2")):
        if strategy == "fsdp2":
            strategy = ModelParallelStrategy(data_parallel_size=1, tensor_parallel_size=1)
        recorder = run_ours(model, examples, 0, {**settings, "strategy": strategy}, "fused")
        rows.append({"run": name, "loss": recorder.step_records[0]["loss"], "peak_mb": step_peak_mb()})
    reference = rows[0]["loss"]
    for row in rows:
        row["loss_rel_diff"] = abs(row["loss"] - reference) / max(abs(reference), 1e-12)
        row["pass"] = row["loss_rel_diff"] <= LOSS_RTOL
    return rows
