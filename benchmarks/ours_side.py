"""Our side of ``benchmarks/vs_trl.py``: ``PLOTModule`` in a Lightning ``Trainer`` on the same tokenised
pairs, in order, recording per step the batch ``input_ids``, the loss and the TRL-named metrics."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import torch
from step_memory import start_step_window, synchronize
from torch.utils.data import DataLoader

from plot_lightning.data.collate import PreferenceCollator
from plot_lightning.module import PLOTModule
from plot_lightning.stage_metrics import TRL_METRICS

METRICS = TRL_METRICS  # the TRL-named metrics the module logs as train/<name>


class StepRecorder(pl.Callback):
    """Per step: the batch's ``input_ids``, the total loss, ``train/<metric>`` values and step times; the first
    step's start opens the step-memory window (:mod:`step_memory`)."""

    def __init__(self) -> None:
        self.seen_input_ids: list[torch.Tensor] = []
        self.step_records: list[dict[str, float]] = []
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.checkpointing: bool | None = None
        self.fused_adamw: bool | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self.starts:
            start_step_window()
            self.checkpointing = bool(pl_module.policy.is_gradient_checkpointing)  # what actually ran
            self.fused_adamw = bool(trainer.optimizers[0].defaults.get("fused"))
        synchronize()
        self.starts.append(time.perf_counter())
        self.seen_input_ids.append(batch["input_ids"].detach().cpu().clone())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        synchronize()
        self.ends.append(time.perf_counter())
        logged = trainer.callback_metrics
        record = {"loss": float(outputs["loss"].detach())}
        for name in METRICS:
            for key in (f"train/{name}_step", f"train/{name}"):
                if key in logged:
                    record[name] = float(logged[key])
                    break
        self.step_records.append(record)


# configuration -> (with PLOT dirac, fused head, prefix sharing)
CONFIGS = {
    "dpo": (False, False, False),
    "dpo_plot": (True, False, False),
    "fused": (True, True, False),
    "fused_dpo": (False, True, False),
    "shared": (True, True, True),
    "shared_dpo": (False, True, True),
}


def run_ours(model_spec: str, examples: list[dict], pad_id: int, settings: dict, config: str) -> StepRecorder:
    """Train ``settings["steps"]`` steps of ``config`` (see :data:`CONFIGS`; PLOT weight ``plot_weight``), with
    the decoder layers' activations recomputed in backward when ``settings["gradient_checkpointing"]``."""
    with_plot, fused, shared = CONFIGS[config]
    losses, weights = (["dpo", "plot"], [1.0, settings["plot_weight"]]) if with_plot else (["dpo"], [1.0])
    lr = settings["lr"]
    module = PLOTModule(
        model=model_spec,
        losses=losses,
        weights=weights,
        loss_args={"dpo": {"beta": settings["beta"]}},
        metrics_beta=settings["beta"],
        optimizer=lambda params: torch.optim.AdamW(
            params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, fused=settings["fused_adamw"]
        ),  # TRL's default optim is "adamw_torch_fused" (transformers, torch >= 2.8): the same kernel
        fused_head=fused,
        prefix_sharing=shared,
        gradient_checkpointing=settings["gradient_checkpointing"],
    )
    loader = DataLoader(
        examples, batch_size=settings["pairs"], shuffle=False, collate_fn=PreferenceCollator(pad_id)
    )
    recorder = StepRecorder()
    trainer = pl.Trainer(
        accelerator=settings["device"],
        devices=1,
        strategy=settings.get("strategy", "auto"),  # gpu_check's FSDP step passes one
        precision=settings.get("precision", "32-true"),
        max_steps=settings["steps"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[recorder],
        deterministic=False,
    )
    trainer.fit(module, train_dataloaders=loader)
    return recorder
