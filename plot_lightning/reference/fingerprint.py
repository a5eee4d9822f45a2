"""Fingerprints that tie a reference cache to the model and rows it was computed with."""

from __future__ import annotations

import hashlib

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


def row_checksum(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
):
    """``(N,)`` int64 digest of everything in a row that determines its reference log-probs.

    Covers the attended input ids (prompt and response, in order), which of them are scored, and the scored
    targets; padding is left out, so the same example padded to another batch width keeps its digest.

    Args:
        input_ids: ``(N, T)`` long; attention_mask: ``(N, T)`` 0/1 or bool (right padding).
        targets: ``(N, T-1)`` long aligned targets; mask: ``(N, T-1)`` bool, True on scored tokens.
    """
    scored = torch.zeros(input_ids.shape, dtype=torch.uint8)
    scored[:, 1:] = mask.cpu().to(torch.uint8)  # position t + 1 is the token predicted at aligned position t
    digests = []
    for row in range(input_ids.shape[0]):
        attended = attention_mask[row].cpu().bool()
        digest = hashlib.blake2b(digest_size=8)
        digest.update(input_ids[row].cpu()[attended].to(torch.int64).numpy().tobytes())
        digest.update(scored[row][attended].numpy().tobytes())
        digest.update(targets[row].cpu()[mask[row].cpu()].to(torch.int64).numpy().tobytes())
        digests.append(int.from_bytes(digest.digest(), "little") & (2**63 - 1))
    return torch.tensor(digests, dtype=torch.int64)
