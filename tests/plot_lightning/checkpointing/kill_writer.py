"""Write a checkpoint-sized file again and again to one path, announcing each write on stdout, until killed.

    TMPDIR=/some/tmpfs python kill_writer.py --target ckpts/last.ckpt --writer atomic --mb 48

Each write ``i`` saves ``{"step": i, "payload": <mb MiB of float32 all equal to i>}``; the lines are
``begin i`` before and ``end i <seconds>`` after it. ``--writer lightning`` uses Lightning's own
``_atomic_save`` (the default TorchCheckpointIO path) for the before/after comparison.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def _writer(name: str):
    if name == "lightning":
        from lightning.fabric.utilities.cloud_io import _atomic_save

        return _atomic_save
    from plot_lightning.checkpointing.atomic_write import atomic_torch_save

    return atomic_torch_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--writer", choices=["atomic", "lightning"], default="atomic")
    parser.add_argument("--mb", type=int, default=48)
    args = parser.parse_args()
    save = _writer(args.writer)
    for step in range(1_000_000):
        payload = torch.full((args.mb * 2**18,), float(step))
        print(f"begin {step}", flush=True)
        start = time.perf_counter()
        save({"step": step, "payload": payload}, args.target)
        print(f"end {step} {time.perf_counter() - start:.4f}", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
