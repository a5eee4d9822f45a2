"""Export: every checkpoint layout (single file, FSDP1 sharded, FSDP2 DCP) -> a Hugging Face folder whose
``from_pretrained`` model gives exactly the trained policy's logits; LoRA adapters are merged."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from plot_lightning.export import export_checkpoint, load_checkpoint, policy_state_dict
from plot_lightning.models.lora import LoraSettings
from plot_lightning.module import PLOTModule

IDS = torch.tensor([[1, 17, 42, 99, 5, 2], [1, 8, 250, 3, 2, 0]])


def _trained_module(**kwargs) -> PLOTModule:
    """A tiny PLOTModule whose trainable weights moved away from their initial values (as after training)."""
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0], **kwargs)
    module.configure_model()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in module.policy.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return module


def _policy_logits(module: PLOTModule) -> torch.Tensor:
    module.policy.eval()
    with torch.no_grad():
        return module.policy(input_ids=IDS).logits


def _exported_logits(folder) -> torch.Tensor:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(input_ids=IDS).logits


def _hparams(module: PLOTModule) -> dict:
    return {key: value for key, value in dict(module.hparams).items()}


def _save_sharded(module: PLOTModule, folder, weights_key: str) -> None:
    """Lightning's sharded layout: a torch.distributed.checkpoint folder + ``meta.pt`` (non-tensor state)."""
    import torch.distributed.checkpoint as dcp

    dcp.save({weights_key: module.state_dict()}, checkpoint_id=str(folder))
    torch.save({"hyper_parameters": _hparams(module), "global_step": 3}, folder / "meta.pt")


@pytest.fixture(scope="module")
def module() -> PLOTModule:
    return _trained_module()


def test_single_file_checkpoint_exports_the_same_logits(module, tmp_path) -> None:
    ckpt = tmp_path / "last.ckpt"
    torch.save(
        {"state_dict": module.state_dict(), "hyper_parameters": _hparams(module), "global_step": 3}, ckpt
    )
    folder = export_checkpoint(ckpt, tmp_path / "export")
    torch.testing.assert_close(_exported_logits(folder), _policy_logits(module), rtol=0, atol=0)
    assert AutoTokenizer.from_pretrained(folder).chat_template
    provenance = json.loads((folder / "plot_export.json").read_text())
    assert provenance["global_step"] == 3 and provenance["model"] == "tiny" and not provenance["lora_merged"]


@pytest.mark.parametrize("weights_key", ["model", "state_dict"], ids=["fsdp1-sharded", "fsdp2-dcp"])
def test_sharded_checkpoint_folders_are_consolidated(module, tmp_path, weights_key) -> None:
    ckpt = tmp_path / "last.ckpt"
    _save_sharded(module, ckpt, weights_key)
    assert ckpt.is_dir()
    checkpoint = load_checkpoint(ckpt)
    assert checkpoint["global_step"] == 3 and "state_dict" in checkpoint
    folder = export_checkpoint(ckpt, tmp_path / "export")
    torch.testing.assert_close(_exported_logits(folder), _policy_logits(module), rtol=0, atol=0)


def test_config_file_rebuilds_the_module(module, tmp_path) -> None:
    """The training YAML (model section) replaces missing hyperparameters; a subcommand-nested dump works too."""
    ckpt = tmp_path / "weights-only.ckpt"
    torch.save({"state_dict": module.state_dict()}, ckpt)
    config = tmp_path / "config.yaml"
    model_section = {"model": "tiny", "losses": ["dpo"], "weights": [1.0]}
    config.write_text(yaml.safe_dump({"fit": {"trainer": {"max_steps": 1}, "model": model_section}}))
    folder = export_checkpoint(ckpt, tmp_path / "export", config_path=config)
    torch.testing.assert_close(_exported_logits(folder), _policy_logits(module), rtol=0, atol=0)


def test_lora_adapters_are_merged(tmp_path) -> None:
    lora_module = _trained_module(reference="lora_disabled", lora=LoraSettings(r=4, alpha=8.0))
    assert hasattr(lora_module.policy, "merge_and_unload")
    ckpt = tmp_path / "lora.ckpt"
    hparams = _hparams(lora_module)
    torch.save({"state_dict": lora_module.state_dict(), "hyper_parameters": hparams}, ckpt)
    folder = export_checkpoint(ckpt, tmp_path / "export")
    assert not (folder / "adapter_config.json").exists()
    torch.testing.assert_close(_exported_logits(folder), _policy_logits(lora_module), rtol=1e-5, atol=1e-5)
    assert json.loads((folder / "plot_export.json").read_text())["lora_merged"]


def test_export_command_line(module, tmp_path, capsys) -> None:
    from plot_lightning.cli.main import main

    ckpt = tmp_path / "last.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": _hparams(module)}, ckpt)
    main(["export", "--ckpt_path", str(ckpt), "--output_dir", str(tmp_path / "out")])
    assert f"exported policy to {tmp_path / 'out'}" in capsys.readouterr().out
    torch.testing.assert_close(_exported_logits(tmp_path / "out"), _policy_logits(module), rtol=0, atol=0)


def test_clear_errors(module, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="neither a .ckpt file"):
        export_checkpoint(tmp_path / "missing.ckpt", tmp_path / "a")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        export_checkpoint(tmp_path / "missing.ckpt", tmp_path / "busy")
    with pytest.raises(ValueError, match="no 'policy"):
        policy_state_dict({"reference.lm_head.weight": torch.zeros(1)})
    ckpt = tmp_path / "bare.ckpt"
    torch.save({"state_dict": module.state_dict()}, ckpt)
    with pytest.raises(ValueError, match="--config"):
        export_checkpoint(ckpt, tmp_path / "b")
