"""Fingerprints that tie a reference cache to the model and settings it was computed with."""

from __future__ import annotations

import hashlib
import json

import torch
from torch import nn


def model_fingerprint(model: nn.Module) -> str:
    """sha256 over every state-dict entry's name, dtype, shape and bytes (in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        data = tensor.detach().to("cpu").contiguous()
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def settings_fingerprint(settings: dict) -> str:
    """sha256 of a JSON-able settings dict (sorted keys)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def row_checksum(targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(N,)`` int64 position-weighted checksum of each row's masked targets (detects changed data).

    Args:
        targets: ``(N, L)`` long aligned targets.
        mask: ``(N, L)`` bool.
    """
    positions = torch.arange(1, targets.shape[1] + 1, device=targets.device, dtype=torch.int64)
    weights = positions * (positions + 7)
    return ((targets.to(torch.int64) + 1) * weights * mask).sum(dim=-1) % (2**61 - 1)
