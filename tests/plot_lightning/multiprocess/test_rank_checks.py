"""Checks each process computes on what it holds, with two real gloo processes: the fused head's exactness
verdict (the same on every rank when one rank's model fails) and the non-finite gradient check on a sharded
DTensor (each rank reads its own shard)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("exactness_ranks.py")
DROPPED = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.multiprocess
def test_one_failing_rank_makes_every_rank_refuse(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith(("LT_", "PL_"))}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, str(SCRIPT), str(_free_port()), str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    rank0, rank1 = ((tmp_path / f"rank{r}.txt").read_text() for r in (0, 1))
    assert rank1.startswith("fused_head is not exact for CohereForCausalLM: it changes its lm_head's output")
    assert rank0.startswith("fused_head is not exact for LlamaForCausalLM: another process's check failed")
    # fused_head=None: both ranks take the logits head together (a rank alone on the fused head would train a
    # different computation), each warning once with its own reason
    auto0, auto1 = ((tmp_path / f"rank{r}_auto.txt").read_text().splitlines() for r in (0, 1))
    assert auto0 == [
        "False",
        "fused_head: LlamaForCausalLM runs the logits head: another process's check failed",
    ]
    assert auto1[0] == "False" and len(auto1) == 2
    assert auto1[1].startswith("fused_head: CohereForCausalLM runs the logits head: it changes its lm_head's")


@pytest.mark.multiprocess
def test_nonfinite_check_reads_each_ranks_own_shard(tmp_path) -> None:
    """FSDP2 gradients are DTensors: the guard checks this process's shard (no collective inside the check;
    the guard's decision is then reduced over ranks), so only the rank holding the NaN names the tensor."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith(("LT_", "PL_"))}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, str(SCRIPT.with_name("nonfinite_ranks.py")), str(_free_port()), str(tmp_path)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["-", "poisoned"]
