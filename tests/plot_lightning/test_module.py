"""PLOTModule end to end on the tiny model with real collated batches (single process)."""

from __future__ import annotations

import json
import math

import lightning.pytorch as pl
import pytest
import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.forward import align_batch
from plot_lightning.losses.plot_cost import CostEmbedding, normalise_embedding
from plot_lightning.module import PLOTModule

SUBPREFERENCES = ["helpfulness", "math"]


def write_pairs(path, count: int = 8) -> str:
    """Standard-format preference pairs with a subpreference column; responses of varied lengths."""
    rows = [
        {
            "prompt": f"Question {i}: how do I bake bread?",
            "chosen": "Mix flour, water, yeast and salt, knead, then bake. " * (1 + i % 3),
            "rejected": "I am sorry, but I cannot help with that." + " No." * (i % 2),
            "subpreference": SUBPREFERENCES[i % 2],
        }
        for i in range(count)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


def datamodule(data: str, batch_size: int = 2) -> PreferenceDataModule:
    return PreferenceDataModule(data, val_files=data, tokenizer="tiny", batch_size=batch_size, shuffle=False)


@pytest.fixture
def pairs(tmp_path) -> str:
    return write_pairs(tmp_path / "pairs.jsonl")


def test_dpo_is_ln2_at_step_zero_with_subpreference_metrics(pairs, quiet_trainer) -> None:
    """Policy == reference gives log-ratios 0, so DPO = -log sigmoid(0) = ln 2 on every pair; rewards are 0."""
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    (results,) = quiet_trainer(limit_val_batches=None).validate(
        module, datamodule=datamodule(pairs), verbose=False
    )
    assert results["val/loss/dpo"] == pytest.approx(math.log(2), abs=1e-6)
    assert results["val/loss"] == pytest.approx(math.log(2), abs=1e-6)
    assert results["val/rewards/margins"] == pytest.approx(0.0, abs=1e-6)
    for name in SUBPREFERENCES:
        assert results[f"val/{name}/loss/dpo"] == pytest.approx(math.log(2), abs=1e-6)
        assert f"val/{name}/rewards/accuracies" in results
    assert {"val/logps/chosen", "val/logps/rejected", "val/logits/chosen"} <= set(results)


def test_configure_model_is_idempotent_and_reference_frozen(pairs) -> None:
    module = PLOTModule(model="tiny", losses=["dpo", "sft"], weights=[1.0, 0.5])
    module.configure_model()
    policy, reference = module.policy, module.reference
    module.configure_model()
    assert module.policy is policy and module.reference is reference
    assert all(not p.requires_grad for p in reference.parameters())
    optimizer = module.configure_optimizers()
    in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not in_optimizer & {id(p) for p in reference.parameters()}
    assert in_optimizer == {id(p) for p in policy.parameters()}
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-6)
    module.train()
    assert not reference.training and policy.training


def test_ot_embedding_is_a_frozen_copy_outside_buffers_and_state() -> None:
    """Not a buffer: precision plugins, FSDP buffer_dtype and DDP's buffer broadcast never see it."""
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1], share_cost_embedding=False)
    module.configure_model()
    embedding = module.cost_embedding
    assert embedding.dtype == torch.float32
    assert not any(buffer is embedding for buffer in module.buffers())
    assert not any(key.startswith("loss.") for key in module.state_dict())
    module.to(torch.bfloat16)  # what bf16-true does to the module
    assert module.cost_embedding.dtype == torch.float32
    weight = module.policy.get_output_embeddings().weight.detach().float()
    torch.testing.assert_close(embedding, torch.nn.functional.normalize(weight, dim=-1), atol=1e-2, rtol=0)
    before = embedding.clone()
    with torch.no_grad():
        module.policy.get_output_embeddings().weight.add_(1.0)  # training the policy does not move it
    assert module.cost_embedding is embedding
    torch.testing.assert_close(embedding, before, rtol=0, atol=0)  # a copy, not a view of the weight


def test_warmup_scheduler_is_stepped_per_step() -> None:
    module = PLOTModule(model="tiny", losses=["sft"], weights=[1.0], warmup_steps=4)
    module.configure_model()
    config = module.configure_optimizers()
    assert config["lr_scheduler"]["interval"] == "step"
    assert config["optimizer"].param_groups[0]["lr"] == pytest.approx(5e-6 / 4)


def test_non_finite_loss_names_step_and_term(pairs, quiet_trainer) -> None:
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    module.configure_model()
    with torch.no_grad():
        module.policy.get_output_embeddings().weight[5].fill_(float("inf"))
    with pytest.raises(ValueError, match=r"train step 0 \(batch 0\): .*non-finite"):
        quiet_trainer(max_steps=1).fit(module, datamodule=datamodule(pairs))


@pytest.mark.slow
def test_resume_from_mid_run_checkpoint_reproduces_losses(
    pairs, tmp_path, quiet_trainer, loss_recorder
) -> None:
    """2 epochs straight vs 1 epoch + checkpoint + resume for epoch 2: identical per-step losses (4 steps).

    The checkpoint is taken at an epoch boundary: mid-epoch resume needs a resumable dataloader.
    """
    options = dict(model="tiny", losses=["dpo", "sft"], weights=[1.0, 0.5], optimizer=_adamw_fast)
    pl.seed_everything(0)
    straight = loss_recorder()
    quiet_trainer(max_epochs=2, callbacks=[straight]).fit(
        PLOTModule(**options), datamodule=datamodule(pairs, 4)
    )

    pl.seed_everything(0)
    first = loss_recorder()
    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", save_top_k=-1)
    quiet_trainer(max_epochs=1, callbacks=[first, checkpoint], enable_checkpointing=True).fit(
        PLOTModule(**options), datamodule=datamodule(pairs, 4)
    )
    second = loss_recorder()
    quiet_trainer(max_epochs=2, callbacks=[second]).fit(
        PLOTModule(**options), datamodule=datamodule(pairs, 4), ckpt_path=checkpoint.best_model_path
    )
    assert len(straight.losses) == 4 and len(first.losses) == 2
    assert first.losses + second.losses == pytest.approx(straight.losses, abs=1e-6)
    assert straight.losses[2] != pytest.approx(straight.losses[0], abs=1e-3)  # it did train


def _adamw_fast(params):
    return torch.optim.AdamW(params, lr=1e-2)


def write_rows(path, subpreferences: list[str]) -> str:
    rows = [
        {
            "prompt": f"Question {i}: how do I bake bread?",
            "chosen": "Mix flour, water, yeast and salt, knead, then bake. " * (1 + i % 3),
            "rejected": "I am sorry, but I cannot help with that." + " No." * (i % 2),
            "subpreference": name,
        }
        for i, name in enumerate(subpreferences)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


def test_subpreference_metrics_are_exact_at_every_batch_size(tmp_path, quiet_trainer) -> None:
    """``val/<sub>/loss`` is the mean of the per-example total loss over that subpreference's rows, the same at
    batch sizes 4, 2 and 1 (torchmetrics' MeanMetric(nan_strategy="disable") ignored the weights: 0.658,
    0.329, 0.165). "math" has training rows only: nothing is logged for it (it was logged as 0.0)."""
    from plot_lightning.forward import align_batch, causal_logits, preference_forward, select_examples

    train = write_rows(tmp_path / "train.jsonl", ["code", "helpfulness", "math", "code"])
    val = write_rows(tmp_path / "val.jsonl", ["code", "code", "helpfulness", "code"])
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 1.0])
    logged = {}
    for batch_size in (4, 2, 1):
        data = PreferenceDataModule(
            train, val_files=val, tokenizer="tiny", batch_size=batch_size, shuffle=False
        )
        (logged[batch_size],) = quiet_trainer(limit_val_batches=None).validate(
            module, datamodule=data, verbose=False
        )
    data.setup("fit")
    (batch,) = list(
        PreferenceDataModule(train, val_files=val, tokenizer="tiny", batch_size=4).val_dataloader()
    )
    with torch.no_grad():
        aligned = align_batch(batch)
        forward = preference_forward(
            causal_logits(module.policy, aligned),
            aligned,
            module._reference_outputs(aligned, batch, "val"),
            cost_embedding=module.cost_embedding,
        )
        per_example = [
            float(module.loss(select_examples(forward, torch.arange(4) == i))[0]) for i in range(4)
        ]
    names = data.subpreferences
    assert names == ["code", "helpfulness", "math"]
    expected = {}
    for index, name in enumerate(names):
        rows = [per_example[i] for i in range(4) if int(batch["subpreference_id"][i]) == index]
        if rows:
            expected[name] = sum(rows) / len(rows)
    assert len(set(per_example)) > 1  # the per-example losses differ, so a wrong weighting would show
    for batch_size, results in logged.items():
        for name, value in expected.items():
            assert results[f"val/{name}/loss"] == pytest.approx(value, abs=1e-6), (batch_size, name)
        assert results["val/loss"] == pytest.approx(sum(per_example) / 4, abs=1e-6), batch_size
        assert not any(key.startswith("val/math/") for key in results), sorted(results)


def test_logged_rewards_follow_the_loss_beta(pairs, quiet_trainer) -> None:
    """One beta: with dpo beta 0.5 and metrics_beta unset, rewards/* use 0.5 and dpo/rewards/* are not logged
    twice; an explicit metrics_beta wins; different betas without metrics_beta are refused."""
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0], loss_args={"dpo": {"beta": 0.5}})
    assert module.reward_beta == 0.5
    assert PLOTModule(model="tiny", losses=["dpo"], weights=[1.0], metrics_beta=0.2).reward_beta == 0.2
    assert PLOTModule(model="tiny", losses=["sft"], weights=[1.0]).reward_beta == 0.1
    with pytest.raises(ValueError, match="different betas"):
        PLOTModule(model="tiny", losses=["dpo", "ipo"], weights=[1.0, 1.0], loss_args={"ipo": {"beta": 0.3}})
    module.configure_model()
    with torch.no_grad():  # make policy != reference so rewards are not all 0
        module.policy.get_output_embeddings().weight.mul_(1.5)
    (results,) = quiet_trainer(limit_val_batches=None).validate(
        module, datamodule=datamodule(pairs), verbose=False
    )
    assert not any(key.startswith("val/dpo/rewards/") for key in results)
    forward_margin = results["val/rewards/margins"]
    assert forward_margin != pytest.approx(0.0, abs=1e-4)
    module.reward_beta = 0.1  # what the old metrics_beta default logged: 5x smaller margins
    (old,) = quiet_trainer(limit_val_batches=None).validate(
        module, datamodule=datamodule(pairs), verbose=False
    )
    assert old["val/rewards/margins"] == pytest.approx(forward_margin / 5, rel=1e-5)


def test_ot_cost_reads_the_reference_embedding_instead_of_a_copy() -> None:
    """With a frozen fp32 reference copy the cost embedding is the reference's lm_head weight itself plus
    inverse norms (no V x d copy), equal to the normalised copy; the policy training does not move it."""
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1])
    module.configure_model()
    shared = module.cost_embedding
    assert isinstance(shared, CostEmbedding) and shared.is_shared
    reference_weight = module.reference.get_output_embeddings().weight
    assert shared.weight is reference_weight
    assert not any(tensor is shared.weight for tensor in module.policy.parameters())
    weight = module.policy.get_output_embeddings().weight.detach()
    torch.testing.assert_close(shared.unit_rows(), normalise_embedding(weight), rtol=0, atol=1e-6)
    with torch.no_grad():
        module.policy.get_output_embeddings().weight.add_(1.0)  # a policy step
    torch.testing.assert_close(shared.unit_rows(), normalise_embedding(weight - 1.0), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"share_cost_embedding": False}, "switched off"),
        ({"model_dtype": "bfloat16"}, "bf16 weights"),
        ({"losses": ["sft", "plot"], "weights": [1.0, 0.1]}, "no reference"),
    ],
)
def test_ot_cost_keeps_its_copy_where_sharing_is_not_safe(kwargs, reason) -> None:
    module = PLOTModule(model="tiny", **{"losses": ["dpo", "plot"], "weights": [1.0, 0.1], **kwargs})
    module.configure_model()
    embedding = module.cost_embedding
    assert isinstance(embedding, torch.Tensor) and embedding.dtype == torch.float32, reason


@pytest.mark.parametrize(
    ("precision", "shared"), [("32-true", True), ("bf16-mixed", True), ("bf16-true", False)]
)
def test_ot_cost_sharing_follows_the_trainer_precision(precision, shared, pairs, quiet_trainer) -> None:
    """bf16-true casts the reference after configure_model: PLOT then keeps its fp32 copy."""
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1])
    quiet_trainer(max_steps=1, precision=precision).fit(module, datamodule=datamodule(pairs))
    embedding = module.cost_embedding
    assert isinstance(embedding, CostEmbedding) == shared
    if not shared:
        assert embedding.dtype == torch.float32


def test_a_shared_cost_embedding_cast_behind_the_trainer_is_refused(pairs) -> None:
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1])
    module.configure_model()
    module.to(torch.bfloat16)  # outside a Trainer's precision plugin
    data = datamodule(pairs)
    data.setup("fit")
    aligned = align_batch(next(iter(data.train_dataloader())))
    with pytest.raises(RuntimeError, match="share_cost_embedding=False"):
        module._policy_forward(aligned, None)


class GradientsSeen(pl.Callback):
    """Whether any trainable weight holds a gradient when each batch starts (before its forward)."""

    def __init__(self) -> None:
        self.at_batch_start: list[bool] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.at_batch_start.append(any(p.grad is not None for p in pl_module.policy.parameters()))


class LightningOrder(PLOTModule):
    """Lightning's own order: the gradients are freed in the next step's closure, after its forward."""

    def optimizer_step(self, *args, **kwargs) -> None:
        pl.LightningModule.optimizer_step(self, *args, **kwargs)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_gradients_are_freed_after_the_step_and_the_weights_are_unchanged(pairs, quiet_trainer, accumulate):
    """No forward runs beside the previous step's gradients (inside an accumulation window they stay, as they
    must); freeing them early trains the same weights, bit for bit, as Lightning's order."""
    weights = []
    for cls in (PLOTModule, LightningOrder):
        torch.manual_seed(0)
        module, seen = cls(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1]), GradientsSeen()
        trainer = quiet_trainer(max_steps=2, accumulate_grad_batches=accumulate, callbacks=[seen])
        trainer.fit(module, datamodule=datamodule(pairs))
        weights.append([p.detach().clone() for p in module.policy.parameters()])
        if cls is PLOTModule:
            assert seen.at_batch_start == ([False, True] * 2 if accumulate == 2 else [False, False])
        else:
            assert any(seen.at_batch_start)  # the mechanism the override removes
    for ours, lightning in zip(*weights, strict=True):
        assert torch.equal(ours, lightning)
