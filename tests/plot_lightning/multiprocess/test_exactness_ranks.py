"""The fused head's exactness verdict is the same on every rank: when one process's model fails the check and
the other's passes, both refuse (neither trains on alone into a collective the other never joins)."""

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
