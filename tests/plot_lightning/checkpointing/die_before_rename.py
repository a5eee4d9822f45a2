"""Write a checkpoint with ``atomic_torch_save`` and get killed (SIGKILL, by itself) right before the rename:

    python die_before_rename.py --target ckpts/epoch=0-step=7.ckpt

The complete temporary file already has its hidden ``.<name>.<random>.partial`` name: what a ``kill -9``
between naming it and renaming it leaves behind.
"""

from __future__ import annotations

import argparse
import os
import signal

import torch

from plot_lightning.checkpointing.atomic_write import atomic_torch_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)  # the kill lands between name and rename
    atomic_torch_save({"step": 7, "payload": torch.ones(1000)}, args.target)


if __name__ == "__main__":
    main()
