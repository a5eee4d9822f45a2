"""Any GGUF file, offline: check its SHA256, convert it once into a cached fp32 Hugging Face folder, reuse it.

``transformers`` (with ``gguf``) dequantises a GGUF into a fp32 model but refuses to ``save_pretrained`` a
GGUF-loaded one, so the state dict is copied into a model built ``from_config`` (without the
``quantization_config``) and that one is saved, with the tokenizer and ``gguf_source.json`` (the SHA256 read).
The folder is written to a temporary sibling and renamed into place: never half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer_config.json", "generation_config.json")
SOURCE_RECORD = "gguf_source.json"


class ChecksumError(ValueError):
    """The GGUF read does not have the expected SHA256."""


def model_cache_dir() -> Path:
    """The cache root: ``$PLOT_MODEL_CACHE`` or ``~/.cache/plot-lightning/models``."""
    root = os.environ.get("PLOT_MODEL_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "plot-lightning" / "models"


def sha256_of(path: Path) -> str:
    """Hex SHA256 of the file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str | None) -> str:
    """Return the file's SHA256; raise :class:`ChecksumError` when ``expected`` is given and differs."""
    actual = sha256_of(path)
    if expected is not None and actual != expected.strip().lower():
        raise ChecksumError(
            f"{path}: SHA256 {actual} does not match the expected {expected}; refusing to convert"
        )
    return actual


def is_valid_folder(folder: Path) -> bool:
    """True when ``folder`` holds a complete converted model (config, weights, tokenizer)."""
    return all((folder / name).is_file() for name in _REQUIRED_FILES)


def _add_stop_tokens(model, tokenizer, stop_tokens: tuple[str, ...]) -> None:
    """Make generation also stop at ``stop_tokens`` (e.g. Gemma's ``<end_of_turn>``, which ends each turn of
    its chat template while the GGUF's EOS is ``<eos>``): their ids join ``generation_config.eos_token_id``."""
    ids = tokenizer.convert_tokens_to_ids(list(stop_tokens))
    unknown = [
        token for token, token_id in zip(stop_tokens, ids, strict=True) if token_id == tokenizer.unk_token_id
    ]
    if unknown or None in ids:
        raise ValueError(f"stop tokens {unknown or list(stop_tokens)} are not in the GGUF's vocabulary")
    current = model.generation_config.eos_token_id
    current = [] if current is None else [current] if isinstance(current, int) else list(current)
    model.generation_config.eos_token_id = current + [i for i in ids if i not in current]


def _load_dequantised(gguf_file: Path, chat_template: str | None, stop_tokens: tuple[str, ...]):
    """The fp32 model (rebuilt ``from_config``: no quantisation left) and tokenizer of a GGUF."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source_dir, name = str(gguf_file.parent), gguf_file.name
    quantized = AutoModelForCausalLM.from_pretrained(source_dir, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(source_dir, gguf_file=name)
    if not tokenizer.chat_template and chat_template:
        tokenizer.chat_template = chat_template
    config = quantized.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    if stop_tokens:
        _add_stop_tokens(model, tokenizer, stop_tokens)
    return model, tokenizer


def convert(
    gguf_file: Path,
    destination: Path,
    *,
    sha256: str | None = None,
    chat_template: str | None = None,
    stop_tokens: tuple[str, ...] = (),
) -> Path:
    """Convert ``gguf_file`` into a fp32 Hugging Face folder at ``destination`` (atomically; replaces it).

    ``sha256``: the expected hex digest (checked before loading; None: only recorded). ``chat_template``: a
    Jinja template used when the GGUF carries none. ``stop_tokens``: tokens that also end generation.
    """
    gguf_file = Path(gguf_file)
    digest = check_sha256(gguf_file, sha256)
    model, tokenizer = _load_dequantised(gguf_file, chat_template, stop_tokens)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.tmp-", dir=destination.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        record = {"gguf_file": gguf_file.name, "sha256": digest, "sha256_checked": sha256 is not None}
        (staging / SOURCE_RECORD).write_text(json.dumps(record, indent=2) + "\n")
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


def _other_file_recorded(folder: Path, sha256: str | None) -> bool:
    """True when ``sha256`` is given and the folder records another digest (a folder without a record: False)."""
    record = folder / SOURCE_RECORD
    if sha256 is None or not record.is_file():
        return False
    return json.loads(record.read_text()).get("sha256") != sha256.strip().lower()


def cached_folder(
    gguf_file: Path,
    folder: Path,
    *,
    sha256: str | None = None,
    chat_template: str | None = None,
    force: bool = False,
) -> Path:
    """``folder``, converting ``gguf_file`` into it first when it is missing or incomplete (or ``force``), or
    when ``sha256`` is given and differs from the digest recorded in the folder (another file, same name)."""
    if force or not is_valid_folder(folder) or _other_file_recorded(folder, sha256):
        convert(gguf_file, folder, sha256=sha256, chat_template=chat_template)
    return folder


def prepare_folder(folder: Path, rebuild) -> Path:
    """Check that ``folder`` loads (config and tokenizer); on a corrupt cache call ``rebuild()`` once."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        AutoConfig.from_pretrained(folder)
        AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError):
        # A corrupt cache (e.g. a file truncated by hand): rebuild it once.
        folder = rebuild()
    return folder
