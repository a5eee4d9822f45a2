"""However a run ends (max_steps between two periodic checkpoints, max_epochs, early stopping, Ctrl-C after or
inside a step), ``last.ckpt`` holds the final weights and the export of it is the trained policy."""

from __future__ import annotations

import json

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from plot_lightning.checkpointing.checkpoint_io import AtomicCheckpointIO
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.export import export_checkpoint
from plot_lightning.module import PLOTModule

BATCHES_PER_EPOCH = 4  # 8 pairs, 2 per batch


class CtrlC(pl.Callback):
    """Raises KeyboardInterrupt (what Ctrl-C raises) after step ``step``, or inside the step after it."""

    def __init__(self, step: int, inside: bool) -> None:
        self.step, self.inside = step, inside

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.inside and trainer.global_step == self.step:
            raise KeyboardInterrupt

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        if self.inside and trainer.global_step == self.step:
            raise KeyboardInterrupt


# name: (Trainer arguments, extra callbacks, steps between periodic checkpoints, the step the run ends at)
ENDS = {
    "max_steps": ({"max_steps": 3}, [], 2, 3),
    "max_epochs": ({"max_epochs": 1}, [], 3, BATCHES_PER_EPOCH),
    "early stop": (
        {"max_steps": 8, "val_check_interval": 3, "limit_val_batches": 1},
        [EarlyStopping(monitor="val/loss", stopping_threshold=1e9, check_on_train_epoch_end=False)],
        2,
        3,
    ),
    "Ctrl-C after a step": ({"max_steps": 8}, [CtrlC(3, inside=False)], 2, 3),
    "Ctrl-C inside a step": ({"max_steps": 8}, [CtrlC(3, inside=True)], 2, 3),
}


def _pairs(tmp_path) -> str:
    rows = [{"prompt": f"Q{i}?", "chosen": "Yes. " * (1 + i % 3), "rejected": "No."} for i in range(8)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize("end", list(ENDS))
def test_the_end_of_a_run_leaves_last_ckpt_with_the_final_weights(tmp_path, quiet_trainer, end) -> None:
    trainer_args, callbacks, every, final_step = ENDS[end]
    folder = tmp_path / "checkpoints"
    periodic = ModelCheckpoint(dirpath=folder, every_n_train_steps=every, save_last=True)
    trainer = quiet_trainer(
        **{"limit_val_batches": 0, **trainer_args},
        callbacks=[*callbacks, periodic],
        enable_checkpointing=True,
        plugins=[AtomicCheckpointIO()],
    )
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], optimizer=lambda p: torch.optim.AdamW(p, 1e-2)
    )
    data = _pairs(tmp_path)
    datamodule = PreferenceDataModule(data, val_files=data, tokenizer="tiny", batch_size=2, seed=1)
    if end.startswith("Ctrl-C"):
        with pytest.raises(SystemExit):  # Lightning's graceful shutdown after a KeyboardInterrupt
            trainer.fit(module, datamodule=datamodule)
    else:
        trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == final_step and final_step % every != 0  # the last periodic one is older
    final_weights = {name: value.detach().clone() for name, value in module.policy.state_dict().items()}

    checkpoint = torch.load(folder / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == final_step
    saved = {
        k.removeprefix("policy."): v for k, v in checkpoint["state_dict"].items() if k.startswith("policy.")
    }
    assert saved.keys() == final_weights.keys()
    assert all(torch.equal(saved[name], value) for name, value in final_weights.items())

    exported = export_checkpoint(folder / "last.ckpt", tmp_path / "export")
    assert json.loads((exported / "plot_export.json").read_text())["global_step"] == final_step
    from transformers import AutoModelForCausalLM

    reloaded = AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32).state_dict()
    assert all(torch.equal(reloaded[name], value) for name, value in final_weights.items())


class CtrlCHalfwayThroughStep4(torch.optim.SGD):
    """SGD whose 4th ``step()`` runs the closure (forward, backward), changes one weight, then gets Ctrl-C."""

    calls = 0

    def step(self, closure=None):
        self.calls += 1
        if self.calls < 4:
            return super().step(closure)
        closure()
        with torch.no_grad():
            self.param_groups[0]["params"][0].add_(1.0)  # the update has begun ...
        raise KeyboardInterrupt  # ... and is cut short


def test_ctrl_c_inside_the_optimizer_update_keeps_the_last_checkpoint_and_says_so(
    tmp_path, quiet_trainer
) -> None:
    """Inside an optimizer update the weights may be half-updated: they are not saved; ``last.ckpt`` keeps
    the last periodic step and a warning names it."""
    folder = tmp_path / "checkpoints"
    trainer = quiet_trainer(
        max_steps=8,
        callbacks=[ModelCheckpoint(dirpath=folder, every_n_train_steps=2, save_last=True)],
        enable_checkpointing=True,
    )
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], optimizer=lambda p: CtrlCHalfwayThroughStep4(p, 0.1)
    )
    datamodule = PreferenceDataModule(_pairs(tmp_path), tokenizer="tiny", batch_size=2, seed=1)
    with pytest.warns(UserWarning, match=f"inside the optimizer update of step 4.*{folder / 'last.ckpt'}"):
        with pytest.raises(SystemExit):
            trainer.fit(module, datamodule=datamodule)
    assert trainer.global_step == 3
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 2


def test_a_run_that_never_checkpointed_writes_last_ckpt_once(tmp_path, quiet_trainer) -> None:
    """Lightning's own ``ModelCheckpoint.on_train_end`` writes ``last.ckpt`` when nothing was saved yet: the
    final weights are written once, not twice (a second write of a large model is minutes of I/O)."""

    class CountSaves(pl.Callback):
        saves = 0

        def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
            self.saves += 1

    counter = CountSaves()
    folder = tmp_path / "checkpoints"
    periodic = ModelCheckpoint(dirpath=folder, every_n_train_steps=100, save_last=True)
    trainer = quiet_trainer(max_steps=2, callbacks=[counter, periodic], enable_checkpointing=True)
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    trainer.fit(module, datamodule=PreferenceDataModule(_pairs(tmp_path), tokenizer="tiny", batch_size=2))
    assert counter.saves == 1 and torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 2


def test_save_last_link_gets_the_final_weights_without_writing_through_the_link(
    tmp_path, quiet_trainer
) -> None:
    """``save_last="link"`` (the experiment's cells): ``last.ckpt`` links to the step-2 checkpoint; the final
    save replaces the link by a step-3 file and leaves the step-2 checkpoint as it was."""
    folder = tmp_path / "checkpoints"
    periodic = ModelCheckpoint(dirpath=folder, every_n_train_steps=2, save_last="link", filename="{step}")
    trainer = quiet_trainer(max_steps=3, callbacks=[periodic], enable_checkpointing=True)
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    trainer.fit(module, datamodule=PreferenceDataModule(_pairs(tmp_path), tokenizer="tiny", batch_size=2))
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 3
    assert torch.load(folder / "step=2.ckpt", weights_only=False)["global_step"] == 2
