"""On-disk reference cache: one safetensors file per data split, keyed by ``example_index``.

Layout of ``<cache_dir>/reference-<split>.safetensors`` (``S`` = 2 sides for pair data, 1 for SFT data; row
key ``r = example_index * S + side``, side 0 = chosen, 1 = rejected):

- ``logps (R,)`` fp32 summed reference log-probs; ``present (R,)`` uint8; ``tokens (R,)`` int64 number of
  response tokens; ``checksum (R,)`` int64 (:func:`row_checksum`: attended input ids, scored positions
  and targets, so an edited prompt of the same length is caught);
- with ``top_k = K > 0``: ``offsets (R+1,)`` int64 and, for the response tokens of all rows in order,
  ``topk_ids (M, K)`` int64 and ``topk_logps (M, K)`` fp32.

The file's metadata holds the JSON fingerprint (model sha256, dtype, model spec, K). A cache whose fingerprint
or per-row checksums disagree with the current model/data is refused (:class:`StaleReferenceCacheError`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, safe_open, save_file
from torch import Tensor

from plot_lightning.forward import AlignedBatch, ReferenceOutputs
from plot_lightning.reference.fingerprint import row_checksum

FORMAT_VERSION = 2  # 2: row checksums cover the whole row (input ids, masks), not only the targets


class StaleReferenceCacheError(ValueError):
    """The cache on disk was computed for another model, other settings or other data."""


def cache_file(cache_dir: str | Path, split: str) -> Path:
    """Path of the cache file of ``split`` ("train", "val") inside ``cache_dir``."""
    return Path(cache_dir) / f"reference-{split}.safetensors"


def write_split(path: Path, rows: dict[int, dict[str, Tensor]], *, top_k: int, metadata: dict) -> None:
    """Write rows ``{row_key: {"logps", "tokens", "checksum", ["topk_ids", "topk_logps"]}}`` to ``path``.

    Written to a temporary name then renamed, so a killed build never leaves a half file behind.
    """
    count = max(rows) + 1 if rows else 0
    tensors = {
        "logps": torch.zeros(count, dtype=torch.float32),
        "present": torch.zeros(count, dtype=torch.uint8),
        "tokens": torch.zeros(count, dtype=torch.int64),
        "checksum": torch.zeros(count, dtype=torch.int64),
    }
    ids, logps, offsets = [], [], torch.zeros(count + 1, dtype=torch.int64)
    for key in range(count):
        row = rows.get(key)
        if row is not None:
            tensors["logps"][key] = row["logps"]
            tensors["present"][key] = 1
            tensors["tokens"][key] = row["tokens"]
            tensors["checksum"][key] = row["checksum"]
            if top_k:
                ids.append(row["topk_ids"])
                logps.append(row["topk_logps"])
        offsets[key + 1] = offsets[key] + (int(row["tokens"]) if row is not None and top_k else 0)
    if top_k:
        tensors["offsets"] = offsets
        tensors["topk_ids"] = torch.cat(ids) if ids else torch.zeros(0, top_k, dtype=torch.int64)
        tensors["topk_logps"] = torch.cat(logps) if logps else torch.zeros(0, top_k)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    save_file(tensors, str(partial), metadata={"fingerprint": json.dumps({**metadata, "top_k": top_k})})
    partial.replace(path)


def check_fingerprint(path: Path, expected: dict, top_k: int) -> dict:
    """Raise :class:`StaleReferenceCacheError` unless ``path`` matches ``expected`` and holds >= ``top_k``."""
    with safe_open(str(path), framework="pt") as handle:
        found = json.loads(handle.metadata()["fingerprint"])
    stale = {key: (found.get(key), value) for key, value in expected.items() if found.get(key) != value}
    if found.get("format") != FORMAT_VERSION:
        stale["format"] = (found.get("format"), FORMAT_VERSION)
    if found.get("top_k", 0) < top_k:
        stale["top_k"] = (found.get("top_k"), f">= {top_k}")
    if stale:
        details = ", ".join(f"{key}: cached {old!r} != current {new!r}" for key, (old, new) in stale.items())
        raise StaleReferenceCacheError(f"{path}: stale reference cache ({details}); delete it to rebuild")
    return found


class ReferenceCache:
    """Read side of the cache: one split file loaded in memory, looked up per batch."""

    def __init__(self, path: Path, expected: dict, top_k: int) -> None:
        self.path = path
        self.fingerprint = check_fingerprint(path, expected, top_k)
        self.sides = int(self.fingerprint["sides"])
        self.top_k = top_k
        self.tensors = load_file(str(path))

    def _row(self, key: int, aligned: AlignedBatch, row: int) -> tuple[Tensor, slice]:
        where = f"{self.path}: row key {key}"
        if key >= self.tensors["present"].shape[0] or not self.tensors["present"][key]:
            raise StaleReferenceCacheError(f"{where}: example missing from the cache; delete it to rebuild")
        rows = slice(row, row + 1)
        tokens = int(aligned.mask[row].sum())
        checksum = int(
            row_checksum(
                aligned.input_ids[rows],
                aligned.attention_mask[rows],
                aligned.targets[rows],
                aligned.mask[rows],
            )[0]
        )
        if int(self.tensors["tokens"][key]) != tokens or int(self.tensors["checksum"][key]) != checksum:
            raise StaleReferenceCacheError(
                f"{where}: input ids, masks or targets differ from the cached data; delete it to rebuild"
            )
        start = int(self.tensors["offsets"][key]) if self.top_k else 0
        return self.tensors["logps"][key], slice(start, start + tokens)

    def lookup(self, aligned: AlignedBatch, example_index: Tensor) -> ReferenceOutputs:
        """Reference outputs for the ``N`` rows of ``aligned`` (rows ``[0, B)`` chosen, ``[B, 2B)`` rejected).

        Positions outside the mask get a uniform top-K over ids ``0..K-1`` (never used by the losses).
        """
        rows, length = aligned.targets.shape
        sides = 2 if aligned.has_rejected else 1
        batch = example_index.shape[0]
        if sides != self.sides or rows != batch * sides:
            raise StaleReferenceCacheError(
                f"{self.path}: cache has {self.sides} side(s) per example, batch has {rows} rows for {batch}"
            )
        logps = torch.empty(rows, dtype=torch.float32)
        ids = logp_k = None
        if self.top_k:
            ids = torch.arange(self.top_k, dtype=torch.int64).expand(rows, length, self.top_k).clone()
            logp_k = torch.full((rows, length, self.top_k), -math.log(self.top_k), dtype=torch.float32)
        for row in range(rows):
            key = int(example_index[row % batch]) * sides + row // batch
            logps[row], span = self._row(key, aligned, row)
            if self.top_k:
                positions = aligned.mask[row].nonzero().squeeze(-1).cpu()
                ids[row, positions] = self.tensors["topk_ids"][span, : self.top_k]
                logp_k[row, positions] = self.tensors["topk_logps"][span, : self.top_k]
        device = aligned.targets.device
        return ReferenceOutputs(
            logps=logps.to(device),
            topk_ids=None if ids is None else ids.to(device),
            topk_logps=None if logp_k is None else logp_k.to(device),
        )
