"""Loading the models the evaluation runs on.

The contract between training and evaluation is a Hugging Face model folder (config.json, weights,
tokenizer). ``load_model`` reads one fully offline and fails with an error that names the folder when it is
missing or damaged. Fingerprints: eval/models/fingerprint.py; default scorer models: eval/models/defaults.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


class ModelLoadError(OSError):
    """A model folder is missing, incomplete or unreadable; the message names the folder."""


def check_folder(folder: Path) -> None:
    if not folder.exists():
        raise ModelLoadError(f"model folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelLoadError(f"model path {folder} is not a folder (expected a Hugging Face model folder)")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model folder {folder} has no config.json (not a Hugging Face model folder?)")
    if not any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir()):
        raise ModelLoadError(f"model folder {folder} has no weight file (*.safetensors or *.bin)")


def load_model(folder: str | os.PathLike, *, dtype: torch.dtype = torch.float32):
    """``(model, tokenizer)`` of a Hugging Face folder, the model in eval mode with ``dtype`` weights.

    Raises ``ModelLoadError`` naming the folder when it does not exist, lacks config.json or weights, or when
    config, weights or tokenizer cannot be read. Never a hub name: nothing is downloaded.
    """
    folder = Path(folder).expanduser()
    check_folder(folder)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    except Exception as error:  # transformers raises OSError, ValueError, safetensors errors, ...
        raise ModelLoadError(f"cannot load model folder {folder}: {type(error).__name__}: {error}") from error
    model.eval()
    return model, tokenizer
