"""lr 1e3: a non-finite gradient stops the run before the update (or is skipped and counted), the healthy
checkpoint survives, non-finite weights are never saved, and ``export`` refuses a non-finite checkpoint."""

from __future__ import annotations

import json

import lightning.pytorch as pl
import pytest
import torch

from plot_lightning.checkpointing.checkpoint_io import AtomicCheckpointIO
from plot_lightning.checkpointing.nonfinite import NonFiniteGuard, is_finite, nonfinite_names
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule


class PoisonGradient(pl.Callback):
    """Puts a NaN into one gradient at the given optimizer steps (as a diverging run produces)."""

    def __init__(self, steps: set[int]) -> None:
        self.steps = steps

    def on_after_backward(self, trainer, pl_module) -> None:
        if trainer.global_step in self.steps:
            next(p for p in pl_module.policy.parameters() if p.grad is not None).grad.view(-1)[0] = float(
                "nan"
            )


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_is_finite_finds_every_nan_and_infinity(dtype) -> None:
    """Oracle: ``torch.isfinite(t).all()``. A NaN, +inf or -inf at the first, a middle, the second-to-last
    or the last entry, in sizes around the vector kernels' widths, contiguous and strided."""
    generator = torch.Generator().manual_seed(0)
    for size in (1, 7, 15, 16, 17, 64, 1000, 65_537):
        for bad in (float("nan"), float("inf"), -float("inf")):
            for position in {0, size // 2, max(0, size - 2), size - 1}:
                tensor = (torch.randn(size, generator=generator) * 1e3).to(dtype)
                tensor[position] = bad
                for view in (tensor, tensor.view(-1, 1)[:, 0], tensor.view(1, -1).t()):
                    assert not is_finite(view) and not bool(torch.isfinite(view).all())
        healthy = (torch.randn(size, generator=generator) * 1e3).to(dtype)
        assert is_finite(healthy) and is_finite(healthy[::2])
    huge = torch.full((8,), torch.finfo(dtype).max, dtype=dtype)  # a sum overflows, the largest |x| cannot
    assert is_finite(huge) and is_finite(torch.empty(0, dtype=dtype))
    strided = torch.randn(30, 31, generator=generator).to(dtype)
    strided[3, 7] = float("nan")
    assert not is_finite(strided.t()) and not is_finite(strided[:, 1::2]) and is_finite(strided[:, ::2])


def test_the_check_copies_nothing_of_the_tensor() -> None:
    """The check runs before every optimizer step on every gradient: ``torch.isfinite(t).all()`` allocated
    ``|t|`` and two masks (1.1 GB beside Gemma 3 270M's embedding gradient, that step's peak). Allocations are
    read from the profiler's memory events (deterministic), not measured."""
    from torch.profiler import ProfilerActivity, profile

    gradient = torch.randn(1 << 20)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        assert nonfinite_names([("w", gradient), ("b", gradient[:10])]) == []
    largest = max((event.cpu_memory_usage for event in recorded.events()), default=0)
    assert largest < gradient.numel() // 64  # bytes; a copy or a boolean mask would be >= numel


def _data(tmp_path) -> str:
    rows = [{"prompt": f"Q {i}?", "chosen": "Bake it. " * (1 + i), "rejected": "No."} for i in range(6)]
    (tmp_path / "pairs.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    return str(tmp_path / "pairs.jsonl")


def _run(
    tmp_path, quiet_trainer, action: str, steps: set[int], lr: float = 1e-3, max_steps: int = 3, **options
):
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], on_nonfinite_grad=action,
        optimizer=lambda p: torch.optim.AdamW(p, lr=lr), **options,
    )  # fmt: skip
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ckpt", every_n_train_steps=1, save_last=True
    )
    trainer = quiet_trainer(
        max_steps=max_steps, callbacks=[PoisonGradient(steps), checkpoint], enable_checkpointing=True,
        plugins=[AtomicCheckpointIO()],
    )  # fmt: skip
    datamodule = PreferenceDataModule(_data(tmp_path), tokenizer="tiny", batch_size=2, shuffle=False)
    return module, trainer, datamodule


def _finite(module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.policy.parameters())


def test_stop_raises_before_the_step_and_keeps_the_healthy_checkpoint(tmp_path, quiet_trainer) -> None:
    module, trainer, datamodule = _run(tmp_path, quiet_trainer, "stop", {1})
    with pytest.raises(FloatingPointError, match="step 1: non-finite gradient in .*policy"):
        trainer.fit(module, datamodule=datamodule)
    assert _finite(module)  # the NaN gradient was never applied
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 1 and all(
        bool(torch.isfinite(v).all()) for v in saved["state_dict"].values()
    )
    assert (tmp_path / "ckpt" / "epoch=0-step=1.ckpt").is_file()  # the healthy checkpoint is still there


def test_skip_counts_the_step_and_leaves_weights_untouched(tmp_path, quiet_trainer) -> None:
    module, trainer, datamodule = _run(tmp_path, quiet_trainer, "skip", {1})
    before = {}

    class Snapshot(pl.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
            if trainer.global_step == 1:
                before.update({n: p.detach().clone() for n, p in pl_module.policy.named_parameters()})

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if batch_idx == 1:  # the skipped step: nothing moved
                for name, parameter in pl_module.policy.named_parameters():
                    assert torch.equal(parameter, before[name]), name

    trainer.callbacks.append(Snapshot())
    trainer.fit(module, datamodule=datamodule)
    guard = next(c for c in trainer.callbacks if isinstance(c, NonFiniteGuard))
    assert guard.skipped_steps == 1 and trainer.global_step == 3 and _finite(module)
    assert float(trainer.callback_metrics["train/nonfinite_grad_steps"]) == 1.0
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["callbacks"]["NonFiniteGuard"] == {"skipped_steps": 1, "consecutive_skips": 0}


def test_skip_stops_a_diverged_run_after_max_consecutive_skips(tmp_path, quiet_trainer) -> None:
    """Every step non-finite from step 1 on: two are skipped, the third in a row raises before its update,
    and the last checkpoint is the healthy step-1 one (a diverged run never ends "successfully")."""
    module, trainer, datamodule = _run(
        tmp_path, quiet_trainer, "skip", {1, 2, 3, 4, 5}, max_steps=6, max_consecutive_skips=2
    )
    with pytest.raises(FloatingPointError, match="step 3: non-finite .* 3 non-finite steps in a row, more than "
                       "max_consecutive_skips=2"):  # fmt: skip
        trainer.fit(module, datamodule=datamodule)
    guard = next(c for c in trainer.callbacks if isinstance(c, NonFiniteGuard))
    assert guard.skipped_steps == 2 and guard.consecutive_skips == 2 and _finite(module)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 3 and saved["callbacks"]["NonFiniteGuard"]["consecutive_skips"] == 2


def test_a_healthy_step_resets_the_run_of_skips(tmp_path, quiet_trainer) -> None:
    module, trainer, datamodule = _run(
        tmp_path, quiet_trainer, "skip", {0, 2, 4}, max_steps=6, max_consecutive_skips=1
    )
    trainer.fit(module, datamodule=datamodule)  # never two in a row: every one is skipped, none raises
    guard = next(c for c in trainer.callbacks if isinstance(c, NonFiniteGuard))
    assert guard.skipped_steps == 3 and guard.consecutive_skips == 0 and trainer.global_step == 6


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_consecutive_skips_must_be_a_positive_integer(bad) -> None:
    with pytest.raises(ValueError, match="max_consecutive_skips"):
        PLOTModule(
            model="tiny", losses=["dpo"], weights=[1.0], on_nonfinite_grad="skip", max_consecutive_skips=bad
        )


def test_non_finite_weights_are_never_saved(tmp_path, quiet_trainer) -> None:
    module, trainer, datamodule = _run(tmp_path, quiet_trainer, "stop", set())

    class PoisonWeight(pl.Callback):  # finite gradients, but the update itself overflows (lr 1e3 style)
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if batch_idx == 1:
                with torch.no_grad():
                    next(pl_module.policy.parameters()).view(-1)[0] = float("inf")

    trainer.callbacks.insert(0, PoisonWeight())
    with pytest.raises(
        FloatingPointError, match="step 2: refusing to save a checkpoint with non-finite weights"
    ):
        trainer.fit(module, datamodule=datamodule)
    saved = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 1 and (tmp_path / "ckpt" / "epoch=0-step=1.ckpt").is_file()


def test_export_refuses_a_checkpoint_with_non_finite_weights(tmp_path, quiet_trainer) -> None:
    from plot_lightning.export import export_checkpoint

    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    module.configure_model()
    state = module.state_dict()
    name = next(key for key in state if key.startswith("policy."))
    state[name].view(-1)[0] = float("nan")
    path = tmp_path / "nan.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": dict(module.hparams), "global_step": 7}, path)
    with pytest.raises(ValueError, match=f"checkpoint {path}.*non-finite.*{name[len('policy.') :]}"):
        export_checkpoint(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_invalid_action_is_rejected() -> None:
    with pytest.raises(ValueError, match="on_nonfinite_grad"):
        PLOTModule(model="tiny", losses=["dpo"], weights=[1.0], on_nonfinite_grad="ignore")
