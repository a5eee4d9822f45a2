"""The README's multi-node launch, run as written: ``torchrun --nnodes 2 --nproc_per_node 1 --rdzv_backend c10d
--rdzv_endpoint HOST:PORT -m plot_lightning fit ... --trainer.num_nodes 2``, two "nodes" of one process each on
127.0.0.1 (gloo), for DDP (configs/tiny.yaml) and FSDP1 (configs/fsdp.yaml on the tiny model).

Each node is its own torchrun process, as on a cluster; rendezvous is c10d, so neither is told its node rank.
The trained policy must equal the same config run as one node of two processes (Lightning's own launcher,
``--trainer.devices 2``): the node boundary changes nothing. (That one node of two processes equals one
process on the same global batch is tests/plot_lightning/multiprocess/test_strategies.py.) Only global rank 0
writes the logs. SGD, not the configs' AdamW: Adam's first step is about ``lr * sign(g)``, so a gradient that
is zero up to rounding in one run and -1e-12 in the other moves a weight by 2 lr; SGD keeps rounding
differences at their own size.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]
DROP = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MLFLOW_TRACKING_URI")
TORCHRUN = [str(Path(sys.executable).with_name("torchrun"))]  # .venv/bin/torchrun, as the README writes it


def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in DROP and not k.startswith(("LT_", "PL_", "TORCHELASTIC"))
    }
    return env | {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _fit_args(config: str, root: Path) -> list[str]:
    return [
        "fit", "--config", str(REPO / "configs" / f"{config}.yaml"), "--model.model", "tiny",
        "--model.optimizer", "torch.optim.SGD", "--model.optimizer.init_args.lr", "0.5", "--model.warmup_steps", "0", "--data.max_length", "96",
        "--data.max_prompt_length", "48", "--data.batch_size", "2", "--trainer.accelerator", "cpu",
        "--trainer.max_steps", "2", "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
        "--trainer.log_every_n_steps", "1", "--trainer.default_root_dir", str(root),
    ]  # fmt: skip


def _initial(keys) -> dict[str, torch.Tensor]:
    from plot_lightning.models.loading import load_causal_lm

    weights = load_causal_lm("tiny").state_dict()
    return {key: weights[key] for key in keys}


def _trained_policy(root: Path) -> dict[str, torch.Tensor]:
    from plot_lightning.export import load_checkpoint, policy_state_dict

    checkpoint = root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert checkpoint.exists(), sorted(str(p.relative_to(root)) for p in root.rglob("*"))[:40]
    return policy_state_dict(load_checkpoint(checkpoint)["state_dict"])


CONFIGS = {"ddp": ("tiny", ["--trainer.strategy", "ddp"]), "fsdp": ("fsdp", [])}


def _one_node_two_processes(name: str, root: Path) -> dict[str, torch.Tensor]:
    config, strategy = CONFIGS[name]
    command = [
        sys.executable,
        "-m",
        "plot_lightning",
        *_fit_args(config, root),
        *strategy,
        "--trainer.devices",
        "2",
    ]
    done = subprocess.run(command, cwd=root.parent, env=_env(), capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-4000:]
    return _trained_policy(root)


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_two_nodes_under_torchrun_equal_one_node(name, tmp_path) -> None:
    config, strategy = CONFIGS[name]
    expected = _one_node_two_processes(name, tmp_path / "one_node")
    root = tmp_path / "run"
    endpoint = f"127.0.0.1:{_free_port()}"
    launch = [*TORCHRUN, "--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d"]
    launch += ["--rdzv_endpoint", endpoint, "--rdzv_id", "plot-test", "-m", "plot_lightning"]
    fit = [*_fit_args(config, root), *strategy, "--trainer.num_nodes", "2", "--trainer.devices", "1"]
    nodes = [
        subprocess.Popen(
            [*launch, *fit],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = []
    try:
        for node in nodes:
            outputs.append(node.communicate(timeout=420))
    finally:
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, 9)
    for node, (_, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err[-4000:]
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]  # rank 0 alone logged

    trained = _trained_policy(root)
    assert trained.keys() == expected.keys()
    initial = _initial(trained.keys())
    assert any(not torch.equal(trained[key], initial[key]) for key in trained)  # it trained
    for key, parameter in trained.items():
        torch.testing.assert_close(parameter, expected[key], rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_two_processes_train_on_the_rows_one_process_would(tmp_path) -> None:
    """DDP with 2 x 2 pairs per step trains what one process does with 4 pairs, with a non-default data seed:
    both ranks share one seeded permutation (data/datamodule.distributed_sampler). Lightning's own sampler
    (seed 0 whatever ``data.seed`` says, always shuffled) made these differ by as much as training moved them."""
    runs = {}
    for name, extra in (
        ("one", ["--data.batch_size", "4"]),
        ("two", ["--trainer.devices", "2", "--trainer.strategy", "ddp"]),
    ):
        root = tmp_path / name
        command = [
            sys.executable,
            "-m",
            "plot_lightning",
            *_fit_args("tiny", root),
            "--data.seed",
            "1",
            *extra,
        ]
        done = subprocess.run(command, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=420)
        assert done.returncode == 0, done.stderr[-4000:]
        runs[name] = _trained_policy(root)
    for key, parameter in runs["two"].items():
        torch.testing.assert_close(parameter, runs["one"][key], rtol=1e-5, atol=1e-5, msg=key)
