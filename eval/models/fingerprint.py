"""Content fingerprints of models, so results and caches are keyed by what a model *is*, not where it lives.

A folder's fingerprint hashes every file of it but documentation and hidden files (weights, configs, tokenizer
files, chat template). An in-memory model hashes its config, generation config and state dict, plus its
tokenizer's vocabulary, special tokens and chat template when the tokenizer is given."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from plot_eval.models.loading import check_folder

_HASH_CHUNK_BYTES = 1 << 20
_NOT_CONTENT = (".md", ".txt.license")
"""README / model cards: they never change generation (LICENSE-like files are skipped by name too)."""


def generation_files(folder: Path) -> list[Path]:
    """Every file of `folder` (recursively, sorted) that a fingerprint covers."""
    files = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.name.lower().endswith(_NOT_CONTENT) or path.name.upper().startswith("LICENSE"):
            continue
        files.append(path)
    return files


def _hash_file(digest, path: Path, relative: str) -> None:
    digest.update(relative.encode() + b"\0")
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)


def _fingerprint_folder(folder: Path) -> str:
    check_folder(folder)
    digest = hashlib.sha256()
    for path in generation_files(folder):
        _hash_file(digest, path, path.relative_to(folder).as_posix())
    return digest.hexdigest()


def _json_update(digest, value) -> None:
    digest.update(json.dumps(value, sort_keys=True, default=str).encode())


def _tokenizer_update(digest, tokenizer) -> None:
    _json_update(digest, sorted(tokenizer.get_vocab().items()))
    _json_update(digest, getattr(tokenizer, "chat_template", None))
    _json_update(digest, {k: str(v) for k, v in tokenizer.special_tokens_map.items()})


def _fingerprint_model(model: torch.nn.Module, tokenizer=None) -> str:
    digest = hashlib.sha256()
    config = getattr(model, "config", None)
    if config is not None:
        settings = {k: v for k, v in config.to_dict().items() if k != "_name_or_path"}  # path is not content
        _json_update(digest, settings)
    generation_config = getattr(model, "generation_config", None)
    if generation_config is not None:
        _json_update(digest, generation_config.to_dict())
    if tokenizer is not None:
        _tokenizer_update(digest, tokenizer)
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_fingerprint(path_or_model: str | os.PathLike | torch.nn.Module, tokenizer=None) -> str:
    """sha256 hex digest of a model folder (every generation-relevant file) or of an in-memory module
    (config, generation config, state dict; plus `tokenizer` when given). Same content -> same digest."""
    if isinstance(path_or_model, torch.nn.Module):
        return _fingerprint_model(path_or_model, tokenizer)
    return _fingerprint_folder(Path(path_or_model).expanduser())
