"""``reference="precomputed"``: log-probs (and top-K) cached once on disk; no reference model in memory."""

from __future__ import annotations

from typing import Any

from torch import nn

from plot_lightning.forward import ReferenceOutputs
from plot_lightning.reference.cache import ReferenceCache, cache_file
from plot_lightning.reference.mode import REFERENCE_MODES, ReferenceMode, ReferenceSettings
from plot_lightning.reference.precompute import (
    ensure_reference_cache,
    expected_fingerprint,
    reference_loaders,
)


@REFERENCE_MODES.register("precomputed")
class PrecomputedReference(ReferenceMode):
    """Reads ``reference-<stage>.safetensors`` in ``cache_dir``; builds the cache from the Trainer's
    datamodule at setup when the folder has none (rank 0 builds, the others wait)."""

    def __init__(self, settings: ReferenceSettings) -> None:
        if not settings.cache_dir:
            raise ValueError("reference='precomputed' needs 'reference_cache_dir'")
        super().__init__(settings)
        self._caches: dict[str, ReferenceCache] = {}
        self._fingerprint: dict | None = None

    def setup(self, policy: nn.Module, trainer: Any | None) -> None:
        settings = self.settings
        self._fingerprint = expected_fingerprint(policy, settings.model, settings.model_dtype)
        datamodule = trainer.datamodule if trainer is not None else None

        def loaders():
            if datamodule is None:
                raise ValueError(
                    f"reference='precomputed': no cache in {settings.cache_dir} and no datamodule to build "
                    "it from; run plot_lightning.reference.precompute.precompute_reference first"
                )
            return reference_loaders(datamodule)

        ensure_reference_cache(
            policy,
            loaders,
            settings.cache_dir,
            top_k=settings.top_k,
            fingerprint=self._fingerprint,
            is_builder=trainer is None or trainer.is_global_zero,
            barrier=trainer.strategy.barrier if trainer is not None else lambda: None,
        )
        return None

    def outputs(self, policy, reference, aligned, batch, stage) -> ReferenceOutputs:
        if stage not in self._caches:  # the cache's split names are the stage names ("train", "val")
            path = cache_file(self.settings.cache_dir, stage)
            self._caches[stage] = ReferenceCache(path, self._fingerprint, self.settings.top_k)
        return self._caches[stage].lookup(aligned, batch["example_index"])
