"""Precompute the reference once over the dataset (``reference="precomputed"``), so that only the policy sits
in memory during training.

The module calls :func:`ensure_reference_cache` in ``configure_model`` (rank 0 builds, the others wait) with the
freshly loaded, not yet trained policy; :func:`precompute_reference` does the same from a model spec, e.g. to
build the cache ahead of a multi-node run::

    from plot_lightning.reference.precompute import precompute_reference
    precompute_reference("smollm2-135m-instruct", datamodule, "runs/ref-cache", top_k=32)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from plot_lightning.forward import align_batch, causal_logits, reference_outputs_from_logits
from plot_lightning.reference.cache import FORMAT_VERSION, cache_file, check_fingerprint, write_split
from plot_lightning.reference.fingerprint import model_fingerprint, row_checksum


def expected_fingerprint(model: nn.Module, model_spec: str, model_dtype: str) -> dict:
    """What a cache must have been built with to be used for ``model`` (the untrained policy)."""
    return {
        "model": model_fingerprint(model),
        "spec": model_spec,
        "dtype": model_dtype,
        "format": FORMAT_VERSION,
    }


def _batch_rows(model: nn.Module, batch: Mapping, top_k: int) -> tuple[int, list[tuple[int, dict]]]:
    """``(sides, [(row_key, entry), ...])`` for one collated batch."""
    device = next(model.parameters()).device
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    aligned = align_batch(batch)
    reference = reference_outputs_from_logits(causal_logits(model, aligned), aligned, top_k)
    sides = 2 if aligned.has_rejected else 1
    examples = batch["example_index"].shape[0]
    checksums = row_checksum(aligned.input_ids, aligned.attention_mask, aligned.targets, aligned.mask)
    entries = []
    for row in range(aligned.targets.shape[0]):
        mask = aligned.mask[row]
        entry = {"logps": reference.logps[row].cpu(), "tokens": int(mask.sum()), "checksum": checksums[row]}
        if top_k:
            entry["topk_ids"] = reference.topk_ids[row][mask].cpu().to(torch.int64)
            entry["topk_logps"] = reference.topk_logps[row][mask].cpu().float()
        entries.append((int(batch["example_index"][row % examples]) * sides + row // examples, entry))
    return sides, entries


@torch.no_grad()
def build_reference_cache(
    model: nn.Module,
    loaders: Mapping[str, Iterable[Mapping]],
    cache_dir: str | Path,
    *,
    top_k: int,
    fingerprint: dict,
) -> list[Path]:
    """Run ``model`` (the frozen reference) once over every batch of each split and write the cache files;
    return them. ``loaders``: ``{split: collated batches}``, every example once; ``top_k``: reference top-K per
    response token to store (0: summed log-probs only); ``fingerprint``: from :func:`expected_fingerprint`.
    """
    was_training = model.training
    model.eval()
    written = []
    for split, loader in loaders.items():
        rows, sides, digest = {}, 2, hashlib.sha256()
        for batch in loader:
            sides, entries = _batch_rows(model, batch, top_k)
            for key, entry in entries:
                rows[key] = entry
                digest.update(f"{key}:{entry['tokens']}:{int(entry['checksum'])};".encode())
        path = cache_file(cache_dir, split)
        metadata = {**fingerprint, "sides": sides, "split": split, "data": digest.hexdigest()}
        write_split(path, rows, top_k=top_k, metadata=metadata)
        written.append(path)
    model.train(was_training)
    return written


def ensure_reference_cache(
    model: nn.Module,
    loaders: Callable[[], Mapping[str, Iterable[Mapping]]],
    cache_dir: str | Path,
    *,
    top_k: int,
    fingerprint: dict,
    is_builder: bool = True,
    barrier: Callable[[], None] = lambda: None,
) -> None:
    """Build the cache if no split file exists (only where ``is_builder``, then ``barrier()``); refuse a stale one.

    ``loaders`` is called only when building.
    """
    existing = sorted(Path(cache_dir).glob("reference-*.safetensors"))
    if not existing and is_builder:
        with torch.random.fork_rng(devices=[]):  # iterating shuffled loaders must not shift training's RNG
            build_reference_cache(model, loaders(), cache_dir, top_k=top_k, fingerprint=fingerprint)
    barrier()
    for path in sorted(Path(cache_dir).glob("reference-*.safetensors")):
        check_fingerprint(path, fingerprint, top_k)


def precompute_reference(
    model_spec: str, datamodule, cache_dir: str | Path, *, top_k: int = 0, model_dtype: str = "float32"
) -> list[Path]:
    """Load ``model_spec`` and build the cache over ``datamodule``'s train and validation data."""
    from plot_lightning.models.loading import load_causal_lm

    model = load_causal_lm(model_spec, dtype=getattr(torch, model_dtype))
    fingerprint = expected_fingerprint(model, model_spec, model_dtype)
    return build_reference_cache(
        model, reference_loaders(datamodule), cache_dir, top_k=top_k, fingerprint=fingerprint
    )


def reference_loaders(datamodule) -> dict[str, Iterable[Mapping]]:
    """``{"train": ..., "val": ...}`` loaders of ``datamodule`` covering every example (val if it has one)."""
    datamodule.setup("fit")
    loaders = {"train": datamodule.train_dataloader()}
    val = datamodule.val_dataloader()
    if val is not None and len(val) > 0:
        loaders["val"] = val
    return loaders
