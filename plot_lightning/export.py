"""Export a trained policy from a Lightning checkpoint as a Hugging Face folder (the contract with ``eval/``).

Reads any checkpoint the training strategies write:

- a single ``.ckpt`` file (single device, DDP, FSDP with ``state_dict_type="full"``);
- an FSDP1 sharded folder (``CPUFSDPStrategy``, ``state_dict_type="sharded"``): a
  ``torch.distributed.checkpoint`` (DCP) folder plus Lightning's ``meta.pt``, with the weights under ``model``;
- an FSDP2 folder (``ModelParallelStrategy``): a DCP folder with the weights under ``state_dict``.

Sharded folders are consolidated on one process (``dcp_to_torch_save``), no process group needed. A NaN or
infinite policy weight is refused; an empty or truncated file raises ``CorruptCheckpointError``. The folder
also holds ``plot_export.json`` (where it came from).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from plot_lightning.checkpointing.checkpoint_io import check_readable, read_checkpoint
from plot_lightning.checkpointing.nonfinite import nonfinite_names

POLICY_PREFIX = "policy."
_META_FILE = "meta.pt"


def load_checkpoint(ckpt_path: str | Path) -> dict[str, Any]:
    """The checkpoint as a plain dict with ``state_dict`` (full tensors on CPU) and, if saved, ``hyper_parameters``."""
    path = check_readable(ckpt_path)
    if path.is_file():
        return read_checkpoint(path)
    if not (path.is_dir() and (path / ".metadata").is_file()):
        raise FileNotFoundError(
            f"checkpoint {path}: neither a .ckpt file nor a sharded (torch.distributed.checkpoint) folder"
        )
    from lightning.pytorch.utilities.consolidate_checkpoint import _format_checkpoint
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    with tempfile.TemporaryDirectory(prefix="plot-export-") as scratch:
        consolidated = Path(scratch) / "consolidated.pt"
        dcp_to_torch_save(str(path), str(consolidated))
        checkpoint = torch.load(consolidated, map_location="cpu", weights_only=False)
    if (path / _META_FILE).is_file():
        checkpoint.update(torch.load(path / _META_FILE, map_location="cpu", weights_only=False))
    if "model" in checkpoint and "state_dict" not in checkpoint:  # FSDP1 layout
        checkpoint = _format_checkpoint(checkpoint)
    return checkpoint


def _model_section(config_path: str | Path | None, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The ``model`` init arguments, from a LightningCLI YAML or else the checkpoint's hyperparameters."""
    if config_path is None:
        hparams = checkpoint.get("hyper_parameters")
        if not hparams:
            raise ValueError("the checkpoint holds no hyper_parameters: pass the training config (--config)")
        return {key: value for key, value in dict(hparams).items() if not key.startswith("_")}
    config = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    if "model" not in config:  # a config nested under its subcommand, e.g. {"fit": {...}}
        config = next((v for v in config.values() if isinstance(v, dict) and "model" in v), config)
    if "model" not in config:
        raise ValueError(f"config {config_path}: no 'model' section")
    model = config["model"] or {}
    return dict(model.get("init_args", model)) if "class_path" in model else dict(model)


def build_module(model_args: dict[str, Any]) -> nn.Module:
    """Instantiate ``PLOTModule`` from its init arguments (parsed like the CLI does) and build its models."""
    from lightning.pytorch.cli import LightningArgumentParser

    from plot_lightning.module import PLOTModule

    parser = LightningArgumentParser(exit_on_error=False)
    parser.add_lightning_class_args(PLOTModule, "model", subclass_mode=False)
    config = parser.parse_object({"model": model_args})
    module = parser.instantiate_classes(config).model
    module.configure_model()
    return module


def policy_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The policy's entries of a module state dict, prefix removed; ValueError when there are none."""
    policy = {k[len(POLICY_PREFIX) :]: v for k, v in state_dict.items() if k.startswith(POLICY_PREFIX)}
    if not policy:
        sample = ", ".join(list(state_dict)[:5])
        raise ValueError(f"no '{POLICY_PREFIX}*' weights in the checkpoint (keys start: {sample})")
    return policy


def export_checkpoint(
    ckpt_path: str | Path, output_dir: str | Path, *, config_path: str | Path | None = None
) -> Path:
    """Write the checkpoint's policy (+ tokenizer) to ``output_dir`` as a Hugging Face folder; return it."""
    from plot_lightning.models.loading import load_tokenizer

    output = Path(output_dir)
    if output.exists() and any(output.iterdir()):
        raise FileExistsError(f"output_dir {output} exists and is not empty")
    checkpoint = load_checkpoint(ckpt_path)
    model_args = _model_section(config_path, checkpoint)
    module = build_module(model_args)
    policy_weights = policy_state_dict(checkpoint["state_dict"])
    bad = nonfinite_names(policy_weights.items())
    if bad:
        raise ValueError(
            f"checkpoint {ckpt_path} (step {checkpoint.get('global_step')}) has non-finite weights in {bad}: "
            "refusing to export a broken model"
        )
    module.policy.load_state_dict(policy_weights, strict=True)
    # LoRA adapters merged into the base weights when the policy is a peft model
    policy = module.policy.merge_and_unload() if hasattr(module.policy, "merge_and_unload") else module.policy
    output.mkdir(parents=True, exist_ok=True)
    policy.save_pretrained(output)
    load_tokenizer(str(model_args.get("model", "tiny"))).save_pretrained(output)
    provenance = {
        "checkpoint": str(Path(ckpt_path).resolve()),
        "config": str(Path(config_path).resolve()) if config_path else None,
        "global_step": checkpoint.get("global_step"),
        "model": model_args.get("model"),
        "lora_merged": policy is not module.policy,
    }
    (output / "plot_export.json").write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
    return output
