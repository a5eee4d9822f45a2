"""A loss named as a TRL loss is TRL's loss: side by side with TRL's own code (DPOTrainer._compute_loss,
ORPOTrainer.get_batch_loss_metrics) on one fixed batch from TRL's collator, through our forward.

The policy is a perturbed copy of the reference, so every log-ratio is nonzero and the batch tells the
variants apart (checked too: a test that could not fail would prove nothing).
"""

from __future__ import annotations

import pytest
import torch

trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from plot_lightning.forward import (  # noqa: E402
    align_batch,
    causal_logits,
    preference_forward,
    reference_outputs_from_logits,
)
from plot_lightning.losses.composite import CompositeLoss  # noqa: E402
from plot_lightning.models.tiny import tiny_model, tiny_tokenizer  # noqa: E402

ROWS = [
    {
        "prompt": f"Question {i}: what is {i} + {i}?",
        "chosen": f"It is {2 * i}." * (1 + i % 2),
        "rejected": f"No {i}",
    }
    for i in range(5)
]


def _our_loss(name: str, options: dict, batch: dict, policy, reference=None) -> torch.Tensor:
    aligned = align_batch(batch)
    with torch.no_grad():
        ref = (
            None
            if reference is None
            else reference_outputs_from_logits(causal_logits(reference, aligned), aligned)
        )
        forward = preference_forward(causal_logits(policy, aligned), aligned, ref)
        return CompositeLoss([name], [1.0], {name: options})(forward)[0]


@pytest.fixture(scope="module")
def dpo_trainer(tmp_path_factory):
    tokenizer = tiny_tokenizer()
    args = trl.DPOConfig(
        output_dir=str(tmp_path_factory.mktemp("trl")),
        per_device_train_batch_size=len(ROWS),
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        max_length=64,
        beta=0.3,
    )
    trainer = trl.DPOTrainer(
        model=tiny_model(len(tokenizer), seed=0),
        ref_model=tiny_model(len(tokenizer), seed=0),
        args=args,
        train_dataset=datasets.Dataset.from_list(ROWS),
        processing_class=tokenizer,
    )
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        for parameter in trainer.model.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    collated = trainer.data_collator([trainer.train_dataset[i] for i in range(len(ROWS))])
    ours = {
        "input_ids": collated["input_ids"],
        "attention_mask": collated["attention_mask"],
        "labels": collated["input_ids"].masked_fill(collated["completion_mask"] == 0, -100),
    }
    return trainer, collated, ours


def _trl_loss(trainer, collated, loss_type: str, label_smoothing: float) -> torch.Tensor:
    trainer.loss_types, trainer.loss_weights, trainer.label_smoothing = [loss_type], [1.0], label_smoothing
    with torch.no_grad():
        return trainer._compute_loss(trainer.model, collated, return_outputs=False)


CASES = [  # (our name, our options, TRL loss_type, TRL label_smoothing)
    ("dpo", {"beta": 0.3}, "sigmoid", 0.0),
    ("robust", {"beta": 0.3, "label_smoothing": 0.2}, "robust", 0.2),
    ("hinge", {"beta": 0.3}, "hinge", 0.0),
    ("ipo", {"beta": 0.3}, "ipo", 0.0),
    ("aot", {"beta": 0.3, "label_smoothing": 0.1}, "aot", 0.1),
    ("aot_unpaired", {"beta": 0.3, "label_smoothing": 0.1}, "aot_unpaired", 0.1),
    ("sft", {}, "sft", 0.0),
]


@pytest.mark.parametrize(("name", "options", "loss_type", "smoothing"), CASES, ids=[c[0] for c in CASES])
def test_matches_trl_dpo_trainer(dpo_trainer, name, options, loss_type, smoothing):
    trainer, collated, ours = dpo_trainer
    expected = _trl_loss(trainer, collated, loss_type, smoothing)
    got = _our_loss(name, options, ours, trainer.model, trainer.ref_model)
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-6)


def test_the_batch_tells_the_variants_apart(dpo_trainer):
    """Swapped names, cDPO for robust or a per-example SFT mean would fail the parity tests above."""
    trainer, collated, ours = dpo_trainer

    def differs(a, b) -> bool:
        return not torch.allclose(a, b, rtol=1e-4, atol=1e-5)

    assert differs(
        _trl_loss(trainer, collated, "aot", 0.1), _trl_loss(trainer, collated, "aot_unpaired", 0.1)
    )
    cdpo = _our_loss("cdpo", {"beta": 0.3, "label_smoothing": 0.2}, ours, trainer.model, trainer.ref_model)
    assert differs(cdpo, _trl_loss(trainer, collated, "robust", 0.2))
    per_example = _our_loss("sft", {"reduction": "example"}, ours, trainer.model)
    assert differs(per_example, _trl_loss(trainer, collated, "sft", 0.0))


def test_matches_trl_orpo_trainer(tmp_path):
    orpo = pytest.importorskip("trl.experimental.orpo")
    tokenizer = tiny_tokenizer()
    args = orpo.ORPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=len(ROWS),
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        max_length=64,
        beta=0.25,
    )
    trainer = orpo.ORPOTrainer(
        model=tiny_model(len(tokenizer), seed=2),
        args=args,
        train_dataset=datasets.Dataset.from_list(ROWS),
        processing_class=tokenizer,
    )
    collated = trainer.data_collator([trainer.train_dataset[i] for i in range(len(ROWS))])
    with torch.no_grad():
        expected, metrics = trainer.get_batch_loss_metrics(trainer.model, collated)
    joined = trainer.concatenated_inputs(
        collated, is_encoder_decoder=False, padding_value=trainer.padding_value
    )
    ours = {
        "input_ids": joined["concatenated_input_ids"],
        "attention_mask": joined["concatenated_attention_mask"],
        "labels": joined["concatenated_labels"],
    }
    got = _our_loss("orpo", {"beta": 0.25}, ours, trainer.model)
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-6)
    response_only = _our_loss("orpo", {"beta": 0.25, "nll": "response"}, ours, trainer.model)
    assert not torch.allclose(response_only, expected.float(), rtol=1e-4, atol=1e-5)


def test_simpo_matches_trl_cpo_trainer_simpo(tmp_path):
    """TRL's SimPO is CPOTrainer with loss_type="simpo" and cpo_alpha=0 (no NLL term); its simpo_gamma is our
    gamma (the margin in reward units)."""
    cpo = pytest.importorskip("trl.experimental.cpo")
    tokenizer = tiny_tokenizer()
    args = cpo.CPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=len(ROWS),
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        max_length=64,
        loss_type="simpo",
        cpo_alpha=0.0,
        beta=2.0,
        simpo_gamma=0.7,
    )
    trainer = cpo.CPOTrainer(
        model=tiny_model(len(tokenizer), seed=3),
        args=args,
        train_dataset=datasets.Dataset.from_list(ROWS),
        processing_class=tokenizer,
    )
    collated = trainer.data_collator([trainer.train_dataset[i] for i in range(len(ROWS))])
    with torch.no_grad():
        expected, _ = trainer.get_batch_loss_metrics(trainer.model, collated)
    joined = trainer.concatenated_inputs(
        collated, is_encoder_decoder=False, padding_value=trainer.pad_token_id
    )
    ours = {
        "input_ids": joined["concatenated_input_ids"],
        "attention_mask": joined["concatenated_attention_mask"],
        "labels": joined["concatenated_labels"],
    }
    got = _our_loss("simpo", {"beta": 2.0, "gamma": 0.7}, ours, trainer.model)
    torch.testing.assert_close(got, expected.float(), rtol=1e-5, atol=1e-6)
