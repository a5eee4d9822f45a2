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


def _looks_like_path(path_or_name: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else (absolute, relative, deeper) is a folder."""
    return path_or_name.startswith((".", "/", "~")) or path_or_name.count("/") > 1


def check_folder(folder: Path) -> None:
    if not folder.exists():
        raise ModelLoadError(f"model folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelLoadError(f"model path {folder} is not a folder (expected a Hugging Face model folder)")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model folder {folder} has no config.json (not a Hugging Face model folder?)")
    if not any(p.suffix in WEIGHT_SUFFIXES for p in folder.iterdir()):
        raise ModelLoadError(f"model folder {folder} has no weight file (*.safetensors or *.bin)")


def load_model(path_or_name: str | os.PathLike, *, dtype: torch.dtype = torch.float32):
    """Load ``(model, tokenizer)`` from a Hugging Face folder (or a hub name, honouring offline mode).

    The model is returned in eval mode with ``dtype`` weights. Raises ``ModelLoadError`` naming the folder when
    it does not exist, lacks config.json or weights, or when config/weights/tokenizer cannot be read.
    """
    spec = str(path_or_name)
    folder = Path(spec).expanduser()
    is_local = folder.exists() or _looks_like_path(spec)
    if is_local:
        check_folder(folder)
        spec = str(folder)
    where = f"model folder {folder}" if is_local else f"model {spec!r} (no such folder; tried as a hub name)"
    try:
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(spec)
    except Exception as error:  # transformers raises OSError, ValueError, safetensors errors, ...
        raise ModelLoadError(f"cannot load {where}: {type(error).__name__}: {error}") from error
    model.eval()
    return model, tokenizer
