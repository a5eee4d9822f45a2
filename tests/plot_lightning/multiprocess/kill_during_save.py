"""Train the tiny model, checkpointing to the same ``latest.ckpt`` after every step, and SIGKILL this process
half-way through writing the checkpoint of step ``--kill-at-save`` (a real kill, mid-write, on real files).

    python kill_during_save.py --data pairs.jsonl --dir ckpts --kill-at-save 2

Expected: the process dies by SIGKILL and ``ckpts/latest.ckpt`` still holds the previous complete checkpoint,
because Lightning writes checkpoints through an fsspec transaction (temporary file, then rename).
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import lightning.pytorch as pl
import torch
from fsspec.implementations.local import LocalFileOpener

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule


def kill_on_write(kill_at_save: int) -> None:
    """Make the ``kill_at_save``-th write of a ``.ckpt`` file write half its bytes, then SIGKILL the process."""
    original = LocalFileOpener.write
    saves = {"count": 0}

    def write(self, data, *args, **kwargs):
        if str(self.path).endswith(".ckpt"):
            saves["count"] += 1
            if saves["count"] == kill_at_save:
                original(self, data[: len(data) // 2])
                self.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return original(self, data, *args, **kwargs)

    LocalFileOpener.write = write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--kill-at-save", type=int, default=2)
    args = parser.parse_args()
    kill_on_write(args.kill_at_save)
    pl.seed_everything(0)
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], optimizer=lambda p: torch.optim.SGD(p, lr=0.5)
    )
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=args.dir, filename="latest", every_n_train_steps=1, save_top_k=1, enable_version_counter=False
    )
    pl.Trainer(
        accelerator="cpu",
        max_steps=args.kill_at_save + 1,
        logger=False,
        callbacks=[checkpoint],
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    ).fit(
        module, datamodule=PreferenceDataModule(str(args.data), tokenizer="tiny", batch_size=2, shuffle=False)
    )


if __name__ == "__main__":
    main()
