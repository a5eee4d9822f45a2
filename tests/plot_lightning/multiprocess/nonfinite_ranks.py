"""Two gloo processes hold a gradient as a DTensor sharded in two (as FSDP2 holds it); one NaN sits in rank 1's
shard. Each rank writes what ``nonfinite_names`` found on its own shard to ``<out>/rank<r>.txt``.

    python nonfinite_ranks.py <port> <out folder>
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def run(rank: int, port: int, out: Path) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    from plot_lightning.checkpointing.nonfinite import nonfinite_names

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    mesh = init_device_mesh("cpu", (2,))
    full = torch.arange(64, dtype=torch.float32).view(8, 8)
    full[6, 3] = float("nan")  # row 6: rank 1's half of Shard(0)
    gradient = distribute_tensor(full, mesh, [Shard(0)])
    healthy = distribute_tensor(torch.ones(8, 8), mesh, [Shard(0)])
    found = nonfinite_names([("healthy", healthy), ("poisoned", gradient)])
    (out / f"rank{rank}.txt").write_text(",".join(found) or "-")
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(run, args=(int(sys.argv[1]), Path(sys.argv[2])), nprocs=2)
