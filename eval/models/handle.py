"""A model under evaluation: a folder path or an in-memory (model, tokenizer), loaded only when needed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from plot_eval.models.fingerprint import model_fingerprint
from plot_eval.models.loading import load_model

ModelInput = str | os.PathLike | tuple[Any, Any]


class ModelHandle:
    """Name + content fingerprint of a model, loading the weights lazily on first use of `.pair`.

    A run whose generations are all cached never loads the model; the fingerprint of a folder hashes the
    files without loading them.
    """

    def __init__(self, spec: ModelInput, *, role: str):
        self.role = role
        self._pair: tuple[Any, Any] | None = None
        if isinstance(spec, tuple):
            if len(spec) != 2:
                raise ValueError(f"{role}: expected (model, tokenizer), got a tuple of {len(spec)}")
            self._pair = spec
            self.name = f"in-memory:{type(spec[0]).__name__}"
            self.path: Path | None = None
            self.fingerprint = model_fingerprint(spec[0], spec[1])
        else:
            self.path = Path(spec).expanduser().resolve()
            self.name = str(self.path)
            self.fingerprint = model_fingerprint(self.path)  # raises naming the folder when missing/corrupt

    @property
    def pair(self) -> tuple[Any, Any]:
        """(model, tokenizer), loading the folder the first time."""
        if self._pair is None:
            self._pair = load_model(self.path)
        return self._pair

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "fingerprint": self.fingerprint}


class ModelPool:
    """Scorer / judge models by folder, loaded once and shared (a judge may also be the scorer LM)."""

    def __init__(self) -> None:
        self._handles: dict[str, ModelHandle] = {}

    def get(self, path: str | os.PathLike) -> ModelHandle:
        key = str(Path(path).expanduser().resolve())
        if key not in self._handles:
            self._handles[key] = ModelHandle(key, role=f"model {key}")
        return self._handles[key]
