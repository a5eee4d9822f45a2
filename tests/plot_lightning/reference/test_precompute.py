"""Precomputed reference: same losses as the live frozen copy; a stale cache is refused."""

from __future__ import annotations

import importlib.util
import json

import lightning.pytorch as pl
import pytest
import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch, causal_logits, reference_outputs_from_logits
from plot_lightning.models.loading import load_causal_lm
from plot_lightning.module import PLOTModule
from plot_lightning.reference.cache import ReferenceCache, StaleReferenceCacheError, cache_file
from plot_lightning.reference.precompute import expected_fingerprint, precompute_reference

HAS_SINKHORN = importlib.util.find_spec("plot_lightning.losses.plot_sinkhorn") is not None


def write_pairs(path, count: int = 6) -> str:
    rows = [
        {
            "prompt": f"Question {i}: how do I bake bread?",
            "chosen": "Mix flour, water, yeast and salt, then bake. " * (1 + i % 3),
            "rejected": "I am sorry, but I cannot help with that." + " No." * (i % 2),
        }
        for i in range(count)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


def datamodule(data: str) -> PreferenceDataModule:
    return PreferenceDataModule(data, val_files=data, tokenizer="tiny", batch_size=2, shuffle=True, seed=0)


def train_losses(quiet_trainer, loss_recorder, data: str, **module_args) -> list[float]:
    pl.seed_everything(0)
    recorder = loss_recorder()
    module = PLOTModule(model="tiny", optimizer=lambda p: torch.optim.SGD(p, lr=0.5), **module_args)
    quiet_trainer(max_steps=3, callbacks=[recorder]).fit(module, datamodule=datamodule(data))
    return recorder.losses


CONFIGS = [pytest.param({"losses": ["dpo"], "weights": [1.0]}, id="dpo")]
if HAS_SINKHORN:
    CONFIGS.append(
        pytest.param(
            {
                "losses": ["dpo", "plot"],
                "weights": [1.0, 0.5],
                "loss_args": {"plot": {"variant": "sinkhorn"}},
            },
            id="dpo+plot_sinkhorn",
        )
    )
    CONFIGS.append(
        pytest.param(
            {
                "losses": ["dpo", "plot"],
                "weights": [1.0, 0.5],
                "loss_args": {"plot": {"variant": "sinkhorn", "top_k": 8, "epsilon": 0.1}},
                "fused_head": True,  # the cached top-K feeds the fused head's support
            },
            id="dpo+plot_sinkhorn_fused",
        )
    )


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_precomputed_reference_gives_live_losses(tmp_path, config, quiet_trainer, loss_recorder) -> None:
    """Shuffled batches exercise the lookup by example_index; the cache is built on first use."""
    data = write_pairs(tmp_path / "pairs.jsonl")
    live = train_losses(quiet_trainer, loss_recorder, data, **config)
    cache = tmp_path / "cache"
    cached = train_losses(
        quiet_trainer, loss_recorder, data, reference="precomputed", reference_cache_dir=str(cache), **config
    )
    assert cache_file(cache, "train").exists() and cache_file(cache, "val").exists()
    assert len(live) == 3
    assert cached == pytest.approx(live, rel=1e-5, abs=1e-6)


def test_cache_matches_live_reference_and_refuses_stale(tmp_path) -> None:
    data = write_pairs(tmp_path / "pairs.jsonl")
    model = load_causal_lm("tiny")
    precompute_reference("tiny", datamodule(data), tmp_path / "cache", top_k=4)
    fingerprint = expected_fingerprint(model, "tiny", "float32")
    cache = ReferenceCache(cache_file(tmp_path / "cache", "train"), fingerprint, top_k=3)

    data_module = datamodule(data)
    data_module.setup("fit")
    batch = next(iter(data_module.train_dataloader()))
    aligned = align_batch(batch)
    with torch.no_grad():
        live = reference_outputs_from_logits(causal_logits(model, aligned), aligned, top_k=3)
    cached = cache.lookup(aligned, batch["example_index"])
    torch.testing.assert_close(cached.logps, live.logps)
    torch.testing.assert_close(cached.topk_logps[aligned.mask], live.topk_logps[aligned.mask])
    assert torch.equal(cached.topk_ids[aligned.mask], live.topk_ids[aligned.mask])

    with pytest.raises(StaleReferenceCacheError, match="model"):
        ReferenceCache(cache_file(tmp_path / "cache", "train"), {**fingerprint, "model": "0" * 64}, top_k=3)
    with pytest.raises(StaleReferenceCacheError, match="top_k"):
        ReferenceCache(cache_file(tmp_path / "cache", "train"), fingerprint, top_k=8)
    changed = dict(batch, labels=batch["labels"].clone())
    changed["labels"][0, -1] = 7 if changed["labels"][0, -1] != 7 else 8
    with pytest.raises(StaleReferenceCacheError, match="differ"):
        cache.lookup(align_batch(changed), batch["example_index"])
    # An edited prompt of the same length (the old checksum covered only the response tokens).
    prompt = dict(batch, input_ids=batch["input_ids"].clone())
    first_prompt_token = int((batch["labels"][0] == -100).nonzero()[1])
    prompt["input_ids"][0, first_prompt_token] += 1
    with pytest.raises(StaleReferenceCacheError, match="differ"):
        cache.lookup(align_batch(prompt), batch["example_index"])
    # The same rows padded wider are the same data.
    rows = batch["input_ids"].shape[0]
    wider = dict(batch)
    for name, value in (("input_ids", 0), ("attention_mask", 0), ("labels", -100)):
        wider[name] = torch.cat([batch[name], torch.full((rows, 5), value, dtype=batch[name].dtype)], dim=1)
    torch.testing.assert_close(cache.lookup(align_batch(wider), batch["example_index"]).logps, cached.logps)
