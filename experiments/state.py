"""A cell's folder and its stage markers: ``<out>/cells/<cell name>/<stage>.json``, written atomically.

A stage whose marker exists is finished and is never run again; a marker is written only after everything
the stage produces is on disk, so a crash or kill leaves either a finished stage or none (then it reruns,
training from its ``last.ckpt``). ``settings.json`` records what the cell's identity hashes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plot_lightning.checkpointing.atomic_write import atomic_write

STAGES = ("trained", "exported", "measured", "evaluated", "done")


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` through the checkpoints' :func:`atomic_write`: readers see the old file or the new one."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
    return path


def atomic_write_json(path: Path, payload: Any) -> Path:
    """:func:`atomic_write_text` of ``payload`` as indented JSON (keys sorted)."""
    return atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path) -> Any:
    """The JSON in ``path``; ValueError naming the file when it is not valid JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from error


class CellState:
    """The folder of one cell: its marker files and the paths its stages write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checkpoints = root / "checkpoints"
        self.export = root / "export"
        self.eval_dir = root / "eval"
        self.train_config = root / "train.yaml"
        self.cost_file = root / "cost.json"

    def marker(self, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages: {STAGES}")
        return self.root / f"{stage}.json"

    def finished(self, stage: str) -> bool:
        return self.marker(stage).is_file()

    def mark(self, stage: str, payload: dict[str, Any]) -> None:
        atomic_write_json(self.marker(stage), payload)

    def read(self, stage: str) -> dict[str, Any]:
        return read_json(self.marker(stage))

    @property
    def last_checkpoint(self) -> Path:
        """``last.ckpt``: a file, or a folder for FSDP sharded / DCP checkpoints."""
        return self.checkpoints / "last.ckpt"
