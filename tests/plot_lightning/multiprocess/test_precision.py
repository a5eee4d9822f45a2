"""Under every precision setting and strategy, the PLOT cost and the policy log-probs the module computes equal a
plain fp32 computation on the same logits with the fp32 embedding (within 1e-6), the cost embedding stays fp32,
and DDP broadcasts no copy of it before each forward.

One invocation of ``precision_probe.py`` per strategy checks all three precisions (32-true, bf16-mixed,
bf16-true): the 2-process strategies start both ranks here with torchrun-style variables, so one pair of
processes serves all three Trainers (bounded CI time: about 20 s of start-up per strategy).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("precision_probe.py")
TOLERANCE = 1e-6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(strategy: str, tmp_path: Path, script: Path = SCRIPT, extra: tuple[str, ...] = ()) -> dict:
    """Run ``script`` as one process (single) or two ranks; returns rank 0's JSON."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from test_strategies import clean_env
        from train_strategy import write_pairs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    data = write_pairs(tmp_path / "pairs.jsonl")
    out = tmp_path / f"{strategy}.json"
    command = [sys.executable, str(script), "--strategy", strategy, "--data", str(data), "--out", str(out)]
    command += list(extra)
    ranks = 1 if strategy == "single" else 2
    env = clean_env(tmp_path)
    port = str(free_port())
    processes = []
    for rank in range(ranks):
        rank_env = dict(env)
        if ranks > 1:
            rank_env.update(
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
                WORLD_SIZE=str(ranks),
                RANK=str(rank),
                LOCAL_RANK=str(rank),
                NODE_RANK="0",
            )
        log = open(tmp_path / f"rank{rank}.log", "w")  # noqa: SIM115 - closed below
        processes.append((subprocess.Popen(command, env=rank_env, stdout=log, stderr=subprocess.STDOUT), log))
    codes = []
    for process, log in processes:
        try:
            codes.append(process.wait(timeout=400))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
        log.close()
    logs = "\n".join((tmp_path / f"rank{rank}.log").read_text()[-4000:] for rank in range(ranks))
    assert codes == [0] * ranks, f"{strategy} failed (exit codes {codes}):\n{logs}"
    return json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("strategy", ["single", "ddp", "fsdp1", "fsdp2"])
def test_ot_and_logps_are_fp32_under_every_precision(strategy: str, tmp_path: Path) -> None:
    results = launch(strategy, tmp_path)
    precisions = ("32-true", "bf16-mixed", "bf16-true")
    table = {
        p: (results[p]["cost"][0], results[p]["logps"][0], results[p]["embedding_dtype"]) for p in precisions
    }
    print(f"\n{strategy}: (max |cost - fp32|, max |logps - fp32|, embedding dtype): {table}")
    print(f"{strategy}: DDP broadcast bytes: {[results[p]['broadcast_bytes'] for p in precisions]}")
    for precision in precisions:
        row = results[precision]
        assert row["embedding_dtype"] == "torch.float32", (precision, row)
        assert row["embedding_error"] == 0.0, (precision, row)
        assert row["cost_dtype"] == row["logps_dtype"] == "torch.float32", (precision, row)
        assert not row["autocast_in_step"], (precision, row)  # seen from inside the PLOT term
        assert row["cost"][0] <= TOLERANCE, (precision, row)
        # Summed log-probs (tens of nats): absolute error relative to max(1, |logps|).
        assert row["logps"][1] <= TOLERANCE, (precision, row)
    if strategy == "ddp":
        # No module buffer of the embedding's size is broadcast before each forward (113 MB on SmolLM2).
        for precision in precisions:
            assert results[precision]["broadcast_bytes"] < results["embedding_bytes"], results[precision]
